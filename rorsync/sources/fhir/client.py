"""The ROR FHIR API as rorsync uses it: paged searches, reads and ``$export``.

One :class:`FhirClient` per process owns the source's HTTP client (TLS, retries, timeouts), the
OAuth2 token manager and the four ``Ror-*`` headers. It deals in protocol facts — pages, totals,
links, manifests, files — and leaves decisions (what to fetch, what a truncation means) to the sync
engine.

Pages of one search are fetched strictly in order by following ``link[next]`` as given (HAPI times out
on parallel page requests and never documents its page URLs); paging stops on an empty page even if
a ``next`` link is present.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final
from urllib.parse import urlencode, urljoin

import orjson

from rorsync.config import FhirSettings
from rorsync.sources.fhir.errors import FhirParseError
from rorsync.sources.fhir.parse import SearchPage, parse_search_page
from rorsync.sources.fhir.profile import REGION_TAG_SYSTEM
from rorsync.store.state import parse_instant
from rorsync.transport import HttpClient, Response, StaticHeaders, TokenManager, TransportObserver, http_date

log = logging.getLogger(__name__)

RESULT_CAP: Final = 10_000  # the ROR truncates every search at 10 000 results
EXPORT_POLL_DEFAULT: Final = 10.0  # seconds between polls when the server gives no Retry-After
EXPORT_POLL_MAX: Final = 300.0


class SearchTruncated(Exception):
    """A search matched more than the server will return, or fewer results came than announced."""

    def __init__(self, resource_type: str, total: int, received: int, cap: int) -> None:
        self.resource_type, self.total, self.received = resource_type, total, received
        if total > cap:
            reason = f"matches {total} resources, above the {cap}-result cap"
        else:
            reason = f"announced {total} results but delivered {received}"
        super().__init__(f"{resource_type} search {reason}")


class ExportFailed(Exception):
    """The server reported an ``$export`` error, or it did not finish in time."""


@dataclass(frozen=True, slots=True)
class ExportOutput:
    resource_type: str
    url: str


@dataclass(frozen=True, slots=True)
class ExportManifest:
    status_url: str
    transaction_time: dt.datetime  # snapshot instant (the kick-off's server Date when absent)
    outputs: tuple[ExportOutput, ...]


def ror_headers(settings: FhirSettings) -> dict[str, str]:
    headers = settings.headers
    return {
        "Accept": "application/fhir+json",
        "Ror-Profil-Utilisateur-Code": headers.user_profile_code,
        "Ror-Profil-Utilisateur-System": headers.user_profile_system,
        "Ror-Role-Metier-Code": headers.role_code,
        "Ror-Role-Metier-System": headers.role_system,
    }


def region_tag(region: str) -> str:
    return f"{REGION_TAG_SYSTEM}|{region}"


class FhirClient:
    def __init__(
        self,
        settings: FhirSettings,
        *,
        observer: TransportObserver | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        result_cap: int = RESULT_CAP,
    ) -> None:
        self.base_url = settings.base_url
        self.page_size = settings.page_size
        self.result_cap = result_cap
        self._sleep = sleep
        self._http = HttpClient("fhir", settings.http, settings.tls, observer=observer, sleep=sleep)
        self._api = self._http.with_hooks(
            StaticHeaders(ror_headers(settings)), TokenManager.for_fhir(self._http, settings)
        )

    async def close(self) -> None:
        await self._http.close()

    async def __aenter__(self) -> FhirClient:
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.close()

    def _url(self, path: str, params: Sequence[tuple[str, str]] = ()) -> str:
        url = f"{self.base_url}/{path.lstrip('/')}"
        return f"{url}?{urlencode(params)}" if params else url

    async def metadata(self) -> dict[str, Any]:
        body: dict[str, Any] = (await self._api.get(self._url("metadata"))).json()
        return body

    async def read(self, resource_type: str, resource_id: str) -> bytes | None:
        """The raw JSON of one resource, or None when the server says it does not exist (404/410)."""
        response = await self._api.get(
            self._url(f"{resource_type}/{resource_id}"), accept=lambda r: r.status in (404, 410)
        )
        return None if response.status in (404, 410) else response.body

    async def search(
        self, resource_type: str, params: Sequence[tuple[str, str]], *, started: list[dt.datetime] | None = None
    ) -> AsyncIterator[SearchPage]:
        """Yield the pages of one search, in order; raise :class:`SearchTruncated` when incomplete.

        The first page is checked before it is yielded: a search above the result cap raises at once,
        so the caller can split it without paging through 10 000 results first. ``started``, when
        given, receives the server's ``Date`` of the first page (a cursor bound that does not depend
        on the local clock).
        """
        url: str | None = self._url(resource_type, [*params, ("_count", str(self.page_size))])
        total: int | None = None
        received = 0
        while url:
            response = await self._api.get(url)
            page = parse_search_page(response.body)
            if total is None:
                total = page.total
                if started is not None and (date := http_date(response.headers.get("Date"))):
                    started.append(date)
                if total is not None and total > self.result_cap:
                    raise SearchTruncated(resource_type, total, 0, self.result_cap)
            if page.empty:
                break
            received += page.matched
            yield page
            url = urljoin(self.base_url + "/", page.next_url) if page.next_url else None
        if total is not None and received < total:
            raise SearchTruncated(resource_type, total, received, self.result_cap)

    # --- $export ---------------------------------------------------------------------------------------

    async def start_export(self, resource_types: Sequence[str], regions: Sequence[str] = ()) -> tuple[str, dt.datetime]:
        """Kick off a system export; returns the status URL and the server's time of the kick-off."""
        params = [("_outputFormat", "application/fhir+json"), ("_type", ",".join(resource_types))]
        params += [("_typeFilter", f"HealthcareService?_tag={region_tag(region)}") for region in regions]
        response = await self._api.get(self._url("$export", params), headers={"Prefer": "respond-async"})
        location = response.headers.get("Content-Location")
        if response.status not in (200, 202) or not location:
            raise ExportFailed(f"$export kick-off answered {response.status} without a Content-Location header")
        kicked_off = http_date(response.headers.get("Date")) or dt.datetime.now(dt.UTC)
        return urljoin(self.base_url + "/", location), kicked_off

    async def wait_export(
        self, status_url: str, *, kicked_off: dt.datetime, give_up_after: dt.timedelta
    ) -> ExportManifest:
        """Poll the status URL (honouring ``Retry-After``) until the manifest is ready."""
        deadline = asyncio.get_running_loop().time() + give_up_after.total_seconds()
        while True:
            response = await self._api.get(status_url)
            if response.status == 200:
                return _manifest(status_url, response.body, kicked_off)
            if response.status != 202:
                raise ExportFailed(f"$export status answered {response.status}")
            wait = _retry_after(response)
            if asyncio.get_running_loop().time() + wait > deadline:
                raise ExportFailed(f"$export not ready after {give_up_after}")
            log.debug("export not ready (%s), polling again in %.0fs", response.headers.get("X-Progress", ""), wait)
            await self._sleep(wait)

    async def download(self, url: str, destination: Path) -> Path:
        await self._api.download(url, destination)
        return destination


def _retry_after(response: Response) -> float:
    value = response.headers.get("Retry-After", "")
    try:
        return min(max(float(value), 0.0), EXPORT_POLL_MAX)
    except ValueError:
        return EXPORT_POLL_DEFAULT


def _manifest(status_url: str, body: bytes, kicked_off: dt.datetime) -> ExportManifest:
    try:
        data = orjson.loads(body)
        errors = data.get("error") or []
        if errors:
            raise ExportFailed(f"$export reported errors: {orjson.dumps(errors).decode()[:500]}")
        outputs = tuple(ExportOutput(item["type"], item["url"]) for item in data.get("output") or [])
        transaction = data.get("transactionTime")
        when = parse_instant(transaction) if transaction else kicked_off
    except (orjson.JSONDecodeError, AttributeError, KeyError, TypeError, ValueError) as error:
        raise FhirParseError(f"$export manifest: unreadable ({error})") from None
    return ExportManifest(status_url, when, outputs)

"""The FHIR read side of the simulator, independent of HTTP: search, paging, read, the served world.

Synchronous by design: the aiohttp handlers run these methods in an executor so the event loop never
waits on SQLite. Searches follow HAPI: the first request fixes the ordered list of matching resources
(at most ``result_cap`` of them, while ``Bundle.total`` reports the true count), later pages are served
from that list through opaque ``_getpages`` links; resources deleted in between simply drop out.
"""

from __future__ import annotations

import threading
import time
import uuid
from array import array
from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass, field

from rorsync.policy.rules import PolicySettings, Rules
from rorsync.simulator.fhir import includes
from rorsync.simulator.fhir.auth import Caller
from rorsync.simulator.fhir.filtering import Redactor
from rorsync.simulator.fhir.outcome import FhirError
from rorsync.simulator.fhir.search import Include, parse_search
from rorsync.simulator.fhir.sql import search_sql
from rorsync.simulator.world.elements import Json
from rorsync.simulator.world.instants import fhir_instant, now_micros
from rorsync.simulator.world.store import WorldResource, WorldStore

PAGE_CACHE_SIZE = 256
PAGE_CACHE_SECONDS = 3600.0


@dataclass(frozen=True, slots=True)
class FhirSettings:
    """Behaviour knobs of the simulated server (the real values are the defaults)."""

    base_path: str = "/ws-diffusion-fhir"
    result_cap: int = 10_000  # a search never reaches more than this many results
    token_lifetime: float = 300.0
    export_polls: int = 1  # 202 answers before a finished export job shows its manifest
    export_retry_after: int = 1  # seconds, in Retry-After of those answers
    export_file_max_resources: int = 1_000  # HAPI FHIR's default bulk-export file capacity
    policy: PolicySettings = field(default_factory=PolicySettings)


@dataclass(frozen=True, slots=True)
class _Search:
    access_profile: int
    resource_type: str
    pks: array[int]
    total: int
    includes: tuple[Include, ...]
    created: float


class FhirService:
    def __init__(self, world: WorldStore, settings: FhirSettings) -> None:
        self.world = world
        self.settings = settings
        self.rules: Rules = settings.policy.rules()
        self.redactor = Redactor(self.rules)
        self._searches: OrderedDict[str, _Search] = OrderedDict()
        self._lock = threading.Lock()

    # --- search -------------------------------------------------------------------------------------
    def search(
        self, resource_type: str, query: list[tuple[str, str]], caller: Caller, *, base_url: str, self_url: str
    ) -> Json:
        request = parse_search(resource_type, query)
        conn = self.world.reader()
        where = search_sql(request, self.rules, caller.profile)
        total = int(conn.execute(f"SELECT count(*) FROM resource r WHERE {where.where()}", where.params).fetchone()[0])
        order = "r.pk"
        if request.sort_descending is not None:
            direction = "DESC" if request.sort_descending else "ASC"
            order = f"r.last_updated {direction}, r.pk {direction}"
        rows = conn.execute(
            f"SELECT r.pk FROM resource r WHERE {where.where()} ORDER BY {order} LIMIT ?",
            [*where.params, self.settings.result_cap],
        )
        found = _Search(
            caller.profile,
            resource_type,
            array("q", (row[0] for row in rows)),
            total,
            tuple(request.includes),
            time.monotonic(),
        )
        search_id = str(uuid.uuid4())
        with self._lock:
            self._searches[search_id] = found
            while len(self._searches) > PAGE_CACHE_SIZE:
                self._searches.popitem(last=False)
        return self._page(search_id, found, 0, request.count, base_url=base_url, self_url=self_url)

    def page(self, search_id: str, offset: int, count: int, caller: Caller, *, base_url: str, self_url: str) -> Json:
        with self._lock:
            found = self._searches.get(search_id)
        if found is None or time.monotonic() - found.created > PAGE_CACHE_SECONDS:
            raise FhirError(410, "not-found", f"search {search_id} does not exist and may have expired")
        if found.access_profile != caller.profile:
            raise FhirError(404, "not-found", f"search {search_id} belongs to another access profile")
        return self._page(search_id, found, offset, min(count, 200), base_url=base_url, self_url=self_url)

    def _page(self, search_id: str, found: _Search, offset: int, count: int, *, base_url: str, self_url: str) -> Json:
        pks = list(found.pks[offset : offset + count])
        matches = self.world.by_pks(pks)
        visible = [resource for resource in matches if self.redactor.visible(resource, found.access_profile)]
        included = includes.resolve(
            self.world.reader(), visible, found.includes, lambda r: self.redactor.visible(r, found.access_profile)
        )
        entries = [self._entry(r, found.access_profile, base_url, "match") for r in visible]
        entries += [self._entry(r, found.access_profile, base_url, "include") for r in included]
        kept = [entry for entry in entries if entry is not None]
        links = [{"relation": "self", "url": self_url}]
        if count and offset + count < len(found.pks):
            links.append(
                {
                    "relation": "next",
                    "url": f"{base_url}?_getpages={search_id}&_getpagesoffset={offset + count}"
                    f"&_count={count}&_bundletype=searchset",
                }
            )
        bundle: Json = {
            "resourceType": "Bundle",
            "id": search_id,
            "meta": {"lastUpdated": fhir_instant(now_micros())},
            "type": "searchset",
            "total": found.total,
            "link": links,
        }
        if kept:
            bundle["entry"] = kept
        return bundle

    def _entry(self, resource: WorldResource, access_profile: int, base_url: str, mode: str) -> Json | None:
        body = self.redactor.redact(resource, access_profile)
        if body is None:
            return None
        return {
            "fullUrl": f"{base_url}/{resource.resource_type}/{resource.resource_id}",
            "resource": body,
            "search": {"mode": mode},
        }

    # --- read ---------------------------------------------------------------------------------------
    def read(self, resource_type: str, resource_id: str, caller: Caller) -> Json:
        parse_search(resource_type, [])  # refuses unknown types
        found = self.world.get(resource_type, resource_id)
        body = self.redactor.redact(found, caller.profile) if found is not None else None
        if body is None:
            raise FhirError(404, "not-found", f"resource {resource_type}/{resource_id} is not known")
        return body

    # --- assertions ---------------------------------------------------------------------------------
    def served(self, access_profile: int, resource_type: str | None = None) -> Iterator[Json]:
        """Exactly what a client of ``access_profile`` currently receives (redacted FHIR dicts)."""
        for resource in self.world.iter_resources(resource_type):
            body = self.redactor.redact(resource, access_profile)
            if body is not None:
                yield body

"""The ROR CSD MEV2.4 services as rorsync uses them: TR-Notif, both TR-Lecture, TR-Extraction.

One :class:`CsdClient` per process owns the source's HTTP client (mutual TLS, retries, timeouts,
bounded concurrency). Requests are built offline from the shipped WSDL (``messages``), posted over
the shared transport, and the raw answers are parsed with lxml (``parse``, ``responses``) — never
turned into zeep objects. Like the FHIR client, it deals in protocol facts (establishments, records,
files) and leaves every decision to the sync engine.

Both error forms of the ROR are business answers, not transport failures: a SOAP 1.2 Fault or an
in-band ``careServicesResponse/error`` is accepted whatever its HTTP status (the ANS mock sends 500)
and raised as :class:`~rorsync.sources.csd.errors.CsdServiceError`, so it is neither retried nor
mistaken for an outage.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from cryptography import x509

from rorsync.config import ConfigError, CsdSettings
from rorsync.sources.csd.errors import ExtractionError
from rorsync.sources.csd.extraction import extraction_instant
from rorsync.sources.csd.messages import (
    SoapRequest,
    build_lecture_establishment_request,
    build_lecture_internal_organisation_request,
    build_notif_request,
)
from rorsync.sources.csd.parse import LectureResult, parse_lecture
from rorsync.sources.csd.responses import NotifResult, parse_notif
from rorsync.sources.csd.vihf import PROFILE_CU_CODES, VihfSettings
from rorsync.transport import HttpClient, Response, TransportObserver, http_date

_SOAP_ERROR: Final = re.compile(rb"<(?:[\w.-]+:)?(?:Fault|error)[\s>/]")


@dataclass(frozen=True, slots=True)
class NotifAnswer:
    establishments: NotifResult
    server_time: dt.datetime | None  # the answer's ``Date``: when the server computed the list


@dataclass(frozen=True, slots=True)
class DownloadedExtraction:
    path: Path
    extracted_at: dt.datetime  # from the timestamped file name (Paris wall time), as UTC


def vihf_settings(settings: CsdSettings) -> VihfSettings | None:
    """The VIHF assertion's contents from the configuration, or None when the header is off."""
    vihf = settings.vihf
    if not vihf.enabled:
        return None
    issuer = vihf.issuer or _certificate_subject(settings)
    return VihfSettings(
        subject_name_id=vihf.subject_id,
        issuer=issuer,
        user_profile_code=vihf.user_profile_code or PROFILE_CU_CODES[settings.profile],
        role_code=vihf.role_code,
    )


def _certificate_subject(settings: CsdSettings) -> str:
    """X509SubjectName of the TLS client certificate, as PLATINES puts it in the Issuer."""
    path = settings.tls.client_cert
    if path is None:  # the configuration refuses VIHF without an issuer or a certificate
        raise ConfigError("csd.vihf: no issuer and no tls.client_cert to take it from")
    try:
        certificate = x509.load_pem_x509_certificate(path.read_bytes())
    except (OSError, ValueError) as error:
        raise ConfigError(f"csd.tls.client_cert {path}: cannot read the certificate's subject: {error}") from error
    return certificate.subject.rfc4514_string()


def _is_soap_error(response: Response) -> bool:
    """A refusal in SOAP form (Fault or in-band error): a business answer to parse, not to retry."""
    return response.status in (400, 404, 500) and _SOAP_ERROR.search(response.body[:65536]) is not None


class CsdClient:
    def __init__(
        self,
        settings: CsdSettings,
        *,
        observer: TransportObserver | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        if settings.endpoint is None:
            raise ValueError("csd.endpoint is not set")
        self.endpoint = settings.endpoint
        self.extraction_url = settings.extraction_url
        self._vihf = vihf_settings(settings)
        self._http = HttpClient("csd", settings.http, settings.tls, observer=observer, sleep=sleep)

    async def close(self) -> None:
        await self._http.close()

    async def __aenter__(self) -> CsdClient:
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.close()

    async def _post(self, request: SoapRequest) -> Response:
        return await self._http.request(
            "POST", self.endpoint, data=request.body, headers=request.headers, accept=_is_soap_error
        )

    async def notif(self, since: dt.datetime) -> NotifAnswer:
        """TR-Notif: the establishments (EG) whose offer changed after ``since``."""
        response = await self._post(build_notif_request(since, vihf=self._vihf))
        result = await asyncio.to_thread(parse_notif, response.body)
        return NotifAnswer(result, http_date(response.headers.get("Date")))

    async def lecture_establishment(self, id_nat_struct: str, *, since: dt.datetime | None = None) -> LectureResult:
        """TR-Lecture-OffresSanteEtablissement, unfiltered and unrestricted: the EG's whole offer
        (or, with ``since``, its subtree if it changed after that instant)."""
        request = build_lecture_establishment_request(id_nat_struct, date_ref=since, vihf=self._vihf)
        response = await self._post(request)
        return await asyncio.to_thread(parse_lecture, response.body)

    async def lecture_organisation(self, organisation_id: str) -> LectureResult:
        """TR-Lecture-OffresSanteOrganisationInterne: one internal organisation and its subtree."""
        response = await self._post(build_lecture_internal_organisation_request(organisation_id, vihf=self._vihf))
        return await asyncio.to_thread(parse_lecture, response.body)

    async def download_extraction(self, destination: Path) -> DownloadedExtraction:
        """TR-Extraction: the ZIP of the consumer's profile, streamed to ``destination``."""
        if self.extraction_url is None:
            raise ExtractionError("csd.extraction_url is not set: no TR-Extraction to download")
        download = await self._http.download(self.extraction_url, destination)
        return DownloadedExtraction(download.path, extraction_instant(download.headers))

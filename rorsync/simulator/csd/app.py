"""The aiohttp routes of the CSD side: the SOAP 1.2 endpoint and TR-Extraction.

The caller's CSD access profile (0–3): with ``--tls``, from the client certificate (CN
``rorsync-sim-p<N>``; no certificate is profile 0, a profile-4/5 certificate is refused); over plain
HTTP, a simulator convenience, from the query (``?profil=N``), default 1. The extraction URL names a
profile too: over TLS it must be 0 or the certificate's.
"""

from __future__ import annotations

import asyncio
import re
from typing import Final

from aiohttp import web

from rorsync.simulator.csd import documents
from rorsync.simulator.csd.extraction import ExtractionCache
from rorsync.simulator.csd.service import CSD_PROFILES, CsdService
from rorsync.simulator.faults import CORRUPT_DIGEST_KEY, FileBodyResponse
from rorsync.simulator.fhir.app import EXECUTOR_KEY, in_executor
from rorsync.simulator.fhir.auth import peer_certificate_subject

EXTRACTION_PATH: Final = "/V1/extraction/ExtractionOffresSante_Profil{profile}"
SOAP_MEDIA_TYPE: Final = "application/soap+xml"
CLIENT_NAME: Final = re.compile(r"rorsync-sim-p(\d)")
SERVICE_KEY: Final = web.AppKey("csd_service", CsdService)
EXTRACTIONS_KEY: Final = web.AppKey("csd_extractions", ExtractionCache)


class CallerRefused(Exception):
    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


def add_csd_routes(app: web.Application, service: CsdService, extractions: ExtractionCache) -> None:
    app[SERVICE_KEY] = service
    app[EXTRACTIONS_KEY] = extractions
    app.router.add_post(service.settings.path, soap_endpoint)
    app.router.add_get(EXTRACTION_PATH, extraction)


def certificate_profile(request: web.Request) -> int:
    """The CSD profile of a TLS caller: its certificate's, or 0 without one."""
    subject = peer_certificate_subject(request)
    if subject is None:
        return 0
    match = CLIENT_NAME.fullmatch(subject)
    profile = int(match.group(1)) if match else -1
    if profile not in CSD_PROFILES:
        raise CallerRefused(403, f"certificate {subject!r} grants no CSD access profile (0-3)")
    return profile


def caller_profile(request: web.Request, default: int) -> int:
    if request.secure:
        return certificate_profile(request)
    text = request.query.get("profil")
    if text is None:
        return default
    if not text.isdigit() or int(text) not in CSD_PROFILES:
        raise CallerRefused(400, f"profil={text!r}: the CSD access profiles are 0, 1, 2 and 3")
    return int(text)


def _soap(status: int, body: bytes) -> web.Response:
    return web.Response(status=status, body=body, content_type=SOAP_MEDIA_TYPE, charset="utf-8")


async def soap_endpoint(request: web.Request) -> web.Response:
    service = request.app[SERVICE_KEY]
    try:
        profile = caller_profile(request, service.settings.default_profile)
    except CallerRefused as refused:
        return _soap(refused.status, documents.sender_fault(refused.reason))
    if request.content_type != SOAP_MEDIA_TYPE:
        reason = f"Content-Type {request.content_type!r}: SOAP 1.2 requests are {SOAP_MEDIA_TYPE}"
        return _soap(415, documents.sender_fault(reason))
    answer = await in_executor(request, service.answer, await request.read(), profile)
    return _soap(answer.status, answer.body)


async def extraction(request: web.Request) -> web.StreamResponse:
    text = request.match_info["profile"]
    if not text.isdigit() or int(text) not in CSD_PROFILES:
        raise web.HTTPNotFound(text=f"no extraction for profile {text!r} (0-3)")
    profile = int(text)
    if request.secure:
        try:
            allowed = certificate_profile(request)
        except CallerRefused as refused:
            raise web.HTTPForbidden(text=refused.reason) from None
        if profile not in (0, allowed):
            raise web.HTTPForbidden(text=f"your certificate grants profile {allowed}, not {profile}")
    corrupt = bool(request.get(CORRUPT_DIGEST_KEY))
    job = request.app[EXTRACTIONS_KEY].start(request.app[EXECUTOR_KEY], profile, corrupt_digest=corrupt)
    wait = request.app[SERVICE_KEY].settings.extraction_wait
    try:
        built = job.result() if job.done() else await asyncio.wait_for(asyncio.shield(asyncio.wrap_future(job)), wait)
    except TimeoutError:
        retry = str(max(1, round(wait)))
        text = f"<html><body>Extraction of profile {profile} in preparation, retry in {retry} s.</body></html>"
        return web.Response(status=503, text=text, content_type="text/html", headers={"Retry-After": retry})
    headers = {
        "Content-Type": "application/octet-stream",
        "Content-Disposition": f"attachment; filename={built.filename}",
    }
    return FileBodyResponse(built.path, headers=headers)

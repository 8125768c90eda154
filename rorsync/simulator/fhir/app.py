"""The aiohttp routes of the simulated FHIR server (base path ``/ws-diffusion-fhir``) and its token endpoint."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable
from concurrent.futures import Executor
from functools import partial
from typing import Any, TypeVar

from aiohttp import web

from rorsync.simulator.faults import FileBodyResponse
from rorsync.simulator.fhir.auth import ISSUER_KEY, TOKEN_PATH, TokenIssuer, token_endpoint
from rorsync.simulator.fhir.capability import capability_statement
from rorsync.simulator.fhir.export import ExportManager
from rorsync.simulator.fhir.outcome import FHIR_JSON, FhirError, fhir_response, operation_outcome, outcome_middleware
from rorsync.simulator.fhir.service import FhirService

T = TypeVar("T")
SERVICE_KEY = web.AppKey("fhir_service", FhirService)
EXECUTOR_KEY = web.AppKey("executor", Executor)
EXPORTS_KEY = web.AppKey("exports", ExportManager)


def create_app(
    service: FhirService,
    issuer: TokenIssuer,
    executor: Executor,
    exports: ExportManager,
    *,
    middlewares: Iterable[Any] = (),
) -> web.Application:
    """The whole simulated ROR HTTP surface; ``middlewares`` run first (fault injection)."""
    app = web.Application(middlewares=[*middlewares, outcome_middleware])
    app[SERVICE_KEY] = service
    app[ISSUER_KEY] = issuer
    app[EXECUTOR_KEY] = executor
    app[EXPORTS_KEY] = exports
    base = service.settings.base_path
    app.router.add_post(TOKEN_PATH, token_endpoint)
    app.router.add_get(f"{base}/metadata", metadata)
    app.router.add_get(f"{base}/$export", export_kick_off)
    app.router.add_get(f"{base}/$export-poll-status", export_poll)
    app.router.add_delete(f"{base}/$export-poll-status", export_cancel)
    app.router.add_get(f"{base}/$export-get-file", export_file)
    app.router.add_get(base, pages)
    app.router.add_get(f"{base}/{{resource_type}}", search)
    app.router.add_get(f"{base}/{{resource_type}}/{{resource_id}}", read)
    return app


def base_url(request: web.Request) -> str:
    return f"{request.scheme}://{request.host}{request.app[SERVICE_KEY].settings.base_path}"


async def in_executor(request: web.Request, function: Callable[..., T], *args: Any) -> T:
    """Run blocking world work off the event loop."""
    return await asyncio.get_running_loop().run_in_executor(request.app[EXECUTOR_KEY], partial(function, *args))


async def metadata(request: web.Request) -> web.Response:
    request.app[ISSUER_KEY].caller(request)
    return fhir_response(capability_statement(base_url(request)))


async def search(request: web.Request) -> web.Response:
    caller = request.app[ISSUER_KEY].caller(request)
    service = request.app[SERVICE_KEY]
    query = list(request.query.items())
    run = partial(service.search, base_url=base_url(request), self_url=str(request.url))
    bundle = await in_executor(request, run, request.match_info["resource_type"], query, caller)
    return fhir_response(bundle)


async def pages(request: web.Request) -> web.Response:
    caller = request.app[ISSUER_KEY].caller(request)
    search_id = request.query.get("_getpages")
    if not search_id:
        raise FhirError(
            400, "not-supported", "a search on the base URL needs _getpages (system search is not supported)"
        )
    try:
        offset = int(request.query.get("_getpagesoffset", "0"))
        count = int(request.query.get("_count", "200"))
    except ValueError as error:
        raise FhirError(400, "invalid", "_getpagesoffset and _count must be integers") from error
    service = request.app[SERVICE_KEY]
    run = partial(service.page, base_url=base_url(request), self_url=str(request.url))
    bundle = await in_executor(request, run, search_id, offset, count, caller)
    return fhir_response(bundle)


async def read(request: web.Request) -> web.Response:
    caller = request.app[ISSUER_KEY].caller(request)
    service = request.app[SERVICE_KEY]
    body = await in_executor(
        request, service.read, request.match_info["resource_type"], request.match_info["resource_id"], caller
    )
    return fhir_response(body)


async def export_kick_off(request: web.Request) -> web.Response:
    caller = request.app[ISSUER_KEY].caller(request)
    exports = request.app[EXPORTS_KEY]
    job_id = exports.kick_off(caller, request.query.items(), request_url=str(request.url), base_url=base_url(request))
    location = f"{base_url(request)}/$export-poll-status?_jobId={job_id}"
    outcome = operation_outcome("informational", f"export job {job_id} started", severity="information")
    return fhir_response(outcome, 202, {"Content-Location": location})


async def export_poll(request: web.Request) -> web.Response:
    caller = request.app[ISSUER_KEY].caller(request)
    answer = request.app[EXPORTS_KEY].poll(_job_id(request), caller)
    if answer.manifest is None:
        headers = {"Retry-After": str(answer.retry_after), "X-Progress": answer.progress}
        return web.Response(status=202, headers=headers)
    return web.json_response(answer.manifest)


async def export_cancel(request: web.Request) -> web.Response:
    caller = request.app[ISSUER_KEY].caller(request)
    await in_executor(request, request.app[EXPORTS_KEY].cancel, _job_id(request), caller)
    return web.Response(status=202)


async def export_file(request: web.Request) -> FileBodyResponse:
    caller = request.app[ISSUER_KEY].caller(request)
    path = request.app[EXPORTS_KEY].file(_job_id(request), request.query.get("_file", ""), caller)
    return FileBodyResponse(path, headers={"Content-Type": FHIR_JSON})


def _job_id(request: web.Request) -> str:
    job_id = request.query.get("_jobId")
    if not job_id:
        raise FhirError(400, "required", "_jobId is required")
    return job_id

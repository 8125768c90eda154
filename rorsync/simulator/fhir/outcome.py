"""Errors as the FHIR server reports them: an HTTP status with an ``OperationOutcome`` body."""

from __future__ import annotations

from typing import Any

import orjson
from aiohttp import web

FHIR_JSON = "application/fhir+json"


class FhirError(Exception):
    """A request the server refuses; becomes ``status`` + an OperationOutcome naming what was wrong."""

    def __init__(self, status: int, code: str, diagnostics: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(diagnostics)
        self.status = status
        self.code = code
        self.diagnostics = diagnostics
        self.headers = headers or {}


def operation_outcome(code: str, diagnostics: str, severity: str = "error") -> dict[str, Any]:
    return {
        "resourceType": "OperationOutcome",
        "issue": [{"severity": severity, "code": code, "diagnostics": diagnostics}],
    }


def fhir_response(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    return web.Response(
        body=orjson.dumps(body), status=status, headers=headers, content_type=FHIR_JSON, charset="utf-8"
    )


def error_response(error: FhirError) -> web.Response:
    return fhir_response(operation_outcome(error.code, error.diagnostics), error.status, error.headers)


@web.middleware
async def outcome_middleware(request: web.Request, handler: Any) -> web.StreamResponse:
    """Turn :class:`FhirError` into its OperationOutcome, and aiohttp's own 404/405 into FHIR ones."""
    try:
        response: web.StreamResponse = await handler(request)
    except FhirError as error:
        return error_response(error)
    except web.HTTPNotFound:
        return error_response(FhirError(404, "not-found", f"no such endpoint: {request.path}"))
    except web.HTTPMethodNotAllowed:
        return error_response(FhirError(405, "not-supported", f"{request.method} is not supported on {request.path}"))
    return response

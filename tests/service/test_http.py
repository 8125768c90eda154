"""/healthz follows the sources' health; /metrics exposes the rorsync metrics."""

from __future__ import annotations

from typing import Any

import aiohttp

from rorsync.config import Settings
from rorsync.metrics import MetricsObserver
from rorsync.store.engine import Database
from tests import factories as f
from tests.service.conftest import Configure, Register, eventually, make_daemon, running
from tests.service.fakes import FakeEngine


async def get(url: str) -> tuple[int, Any]:
    async with aiohttp.ClientSession() as session, session.get(url) as response:
        body = await (response.json() if response.content_type == "application/json" else response.text())
        return response.status, body


async def test_healthz_turns_503_when_a_source_fails_past_stale_after_and_200_after_recovery(
    configure: Configure, mirror: Database, engines: Register
) -> None:
    settings = configure(schedule={"fhir_delta": "50ms"}, service={"stale_after": "400ms"})
    engine = engines(FakeEngine(settings, mirror))
    engine.behaviour["delta"].fail = True
    url = f"http://{settings.service.listen}/healthz"

    async def answer_is(expected: int) -> bool:
        status, _ = await get(url)
        return status == expected

    async with running(make_daemon(settings, mirror)):
        await eventually(lambda: engine.started["delta"] >= 1, what="a first failure")
        status, body = await get(url)
        assert status == 200 and body["sources"]["fhir"]["state"] == "failing"  # not yet for long
        await eventually(lambda: answer_is(503), what="503")
        status, body = await get(url)
        fhir = body["sources"]["fhir"]
        assert (body["status"], fhir["healthy"], fhir["state"]) == ("unhealthy", False, "stale")
        assert fhir["last_error"] == "RuntimeError: fhir delta broke" and fhir["consecutive_failures"] >= 2
        engine.behaviour["delta"].fail = False
        await eventually(lambda: answer_is(200), what="200 after recovery")
        status, body = await get(url)
    fhir = body["sources"]["fhir"]
    assert (fhir["state"], fhir["failing_since"], fhir["last_error"]) == ("ok", None, None)
    assert fhir["last_success"] is not None


async def test_metrics_expose_runs_cursor_lag_and_capacity_freshness(
    settings: Settings, mirror: Database, engines: Register
) -> None:
    engine = engines(FakeEngine(settings, mirror))
    engine.remote = {"o1": f.at(1)}
    transport = MetricsObserver()  # what the engines hand their HTTP transport
    transport.on_request("fhir", "GET", "api-fhir.ror.esante.gouv.fr", 200, 0.2)
    transport.on_request("fhir", "GET", "api-fhir.ror.esante.gouv.fr", None, 30.0)
    transport.on_retry("fhir", "http_503")
    transport.on_error("fhir", "timeout")
    async with running(make_daemon(settings, mirror)):
        await eventually(lambda: engine.started["delta"] >= 1 and not engine.running["delta"], what="a delta run")
        status, text = await get(f"http://{settings.service.listen}/metrics")
        _, health = await get(f"http://{settings.service.listen}/healthz")
    assert status == 200
    lines = text.splitlines()
    for expected in (
        'rorsync_cursor_lag_seconds{source="fhir",stream="delta"}',
        'rorsync_capacity_newest_update_age_seconds{source="fhir"}',
        'rorsync_last_success_timestamp_seconds{kind="delta",source="fhir"}',
        'rorsync_run_seconds_count{kind="delta",source="fhir",status="ok"}',
        'rorsync_records_written_total{entity="organization",op="inserted",source="fhir"}',
        'rorsync_http_requests_total{source="fhir",status="2xx"}',
        'rorsync_http_requests_total{source="fhir",status="none"}',
        'rorsync_http_retries_total{reason="http_503",source="fhir"}',
        'rorsync_http_failures_total{kind="timeout",source="fhir"}',
        'rorsync_http_request_seconds_count{source="fhir"}',
    ):
        assert any(line.startswith(expected) for line in lines), expected
    lag = next(float(line.split()[-1]) for line in lines if line.startswith("rorsync_cursor_lag_seconds{"))
    assert lag > 0 and health["sources"]["fhir"]["lag_seconds"] > 0

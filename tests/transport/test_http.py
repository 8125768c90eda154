"""Retries, timeouts, limits, hooks and safe messages of the HTTP client, against servers on 127.0.0.1."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import timedelta
from email.utils import formatdate

import pytest
from aiohttp import web

from rorsync.config import TlsSettings
from rorsync.transport import (
    HttpClient,
    HttpStatusError,
    InsecureUrlError,
    OutgoingRequest,
    RequestHook,
    RetriesExhausted,
    StaticHeaders,
    TransportError,
    failure_kind,
)
from tests.transport.conftest import (
    FakeTime,
    RecordingObserver,
    Serve,
    http_settings,
    partial_body,
    scripted,
    status,
)


def client(fake_time: FakeTime, observer: RecordingObserver | None = None, **settings: object) -> HttpClient:
    return HttpClient(
        "fhir",
        http_settings(**settings),
        TlsSettings(),
        observer=observer,
        sleep=fake_time.sleep,
        clock=fake_time.clock,
    )


async def test_a_503_is_retried_then_the_answer_returned(serve: Serve, fake_time: FakeTime) -> None:
    observer = RecordingObserver()
    app, seen = scripted(status(503), status(200, '{"ok": true}'))
    async with client(fake_time, observer) as http:
        response = await http.get(await serve(app) + "/metadata")
    assert response.json() == {"ok": True}
    assert len(seen) == 2
    assert [r[3] for r in observer.requests] == [503, 200]
    assert observer.retries == ["http_503"]
    assert observer.errors == []


async def test_retry_after_in_seconds_sets_the_wait(serve: Serve, fake_time: FakeTime) -> None:
    app, _ = scripted(status(429, **{"Retry-After": "1"}), status(200))
    async with client(fake_time) as http:
        await http.get(await serve(app))
    assert fake_time.sleeps == [1.0]


async def test_retry_after_as_an_http_date(serve: Serve, fake_time: FakeTime) -> None:
    app, _ = scripted(status(503, **{"Retry-After": formatdate(fake_time.now + 30, usegmt=True)}), status(200))
    async with client(fake_time) as http:
        await http.get(await serve(app))
    assert fake_time.sleeps == [pytest.approx(30.0)]


async def test_retry_after_is_capped_at_backoff_max(serve: Serve, fake_time: FakeTime) -> None:
    app, _ = scripted(status(503, **{"Retry-After": "86400"}), status(200))
    async with client(fake_time, backoff_max=timedelta(seconds=45)) as http:
        await http.get(await serve(app))
    assert fake_time.sleeps == [45.0]


async def test_backoff_grows_exponentially_with_jitter_and_a_ceiling(serve: Serve, fake_time: FakeTime) -> None:
    app, _ = scripted(status(502))
    async with client(fake_time, max_attempts=7, backoff_max=timedelta(seconds=10)) as http:
        with pytest.raises(RetriesExhausted):
            await http.get(await serve(app))
    for retry, wait in enumerate(fake_time.sleeps):
        full = min(2.0**retry, 10.0)
        assert full / 2 <= wait <= full, (retry, wait)


@pytest.mark.parametrize("code", [400, 403, 404, 410])
async def test_other_client_errors_are_not_retried(serve: Serve, fake_time: FakeTime, code: int) -> None:
    observer = RecordingObserver()
    outcome = '{"resourceType": "OperationOutcome", "issue": [{"diagnostics": "unknown parameter _foo"}]}'
    app, seen = scripted(status(code, outcome))
    async with client(fake_time, observer) as http:
        base = await serve(app)
        with pytest.raises(HttpStatusError) as raised:
            await http.get(base + "/Location", params={"_foo": "1"})
    assert raised.value.status == code
    assert len(seen) == 1
    assert fake_time.sleeps == []
    assert f"GET {base}/Location?_foo=1 answered {code}" in str(raised.value)
    assert "unknown parameter _foo" in str(raised.value)
    assert observer.errors == [f"http_{code}"]


async def test_exhausted_retries_name_the_attempts_and_the_last_error(serve: Serve, fake_time: FakeTime) -> None:
    observer = RecordingObserver()
    app, seen = scripted(status(503, "maintenance"))
    async with client(fake_time, observer, max_attempts=4) as http:
        base = await serve(app)
        with pytest.raises(RetriesExhausted) as raised:
            await http.get(base + "/Organization")
    assert raised.value.attempts == 4
    assert len(seen) == 4
    assert len(fake_time.sleeps) == 3
    assert isinstance(raised.value.last_error, HttpStatusError)
    assert (
        str(raised.value)
        == f"GET {base}/Organization failed after 4 attempts: answered 503 Service Unavailable: maintenance"
    )
    assert observer.retries == ["http_503"] * 3
    assert observer.errors == ["http_503"]


@pytest.mark.parametrize("reset", [True, False], ids=["connection reset", "truncated body"])
async def test_a_body_cut_short_is_retried(serve: Serve, fake_time: FakeTime, reset: bool) -> None:
    observer = RecordingObserver()
    app, seen = scripted(partial_body(1000, 100, reset=reset), status(200, "complete"))
    async with client(fake_time, observer) as http:
        response = await http.get(await serve(app))
    assert response.body == b"complete"
    assert len(seen) == 2
    assert observer.retries in (["truncated"], ["connection"])


async def test_a_body_always_cut_short_fails_with_the_cause(serve: Serve, fake_time: FakeTime) -> None:
    app, _ = scripted(partial_body(1000, 100, reset=False))
    async with client(fake_time) as http:
        with pytest.raises(RetriesExhausted) as raised:
            await http.get(await serve(app))
    assert raised.value.attempts == 3
    assert failure_kind(raised.value) == "truncated"


async def test_a_hung_server_hits_the_read_timeout_and_is_retried(serve: Serve, fake_time: FakeTime) -> None:
    seen = 0

    async def hang(request: web.Request) -> web.Response:
        nonlocal seen
        seen += 1
        await asyncio.sleep(3600)
        raise AssertionError("unreachable")

    app = web.Application()
    app.router.add_get("/", hang)
    observer = RecordingObserver()
    async with client(fake_time, observer, read_timeout=timedelta(seconds=0.2), max_attempts=2) as http:
        with pytest.raises(RetriesExhausted) as raised:
            await http.get(await serve(app) + "/")
    assert seen == 2
    assert failure_kind(raised.value) == "timeout"
    assert [r[3] for r in observer.requests] == [None, None]
    assert observer.retries == ["timeout"]


@dataclass
class InFlight:
    """Counts the requests a server is handling at once."""

    now: int = 0
    peak: int = 0

    def app(self) -> web.Application:
        async def slow(request: web.Request) -> web.Response:
            self.now += 1
            self.peak = max(self.peak, self.now)
            await asyncio.sleep(0.02)
            self.now -= 1
            return web.Response(text="ok")

        app = web.Application()
        app.router.add_get("/", slow)
        return app


async def test_concurrency_never_exceeds_the_limit(serve: Serve, fake_time: FakeTime) -> None:
    in_flight = InFlight()
    async with client(fake_time, max_concurrency=3) as http:
        base = await serve(in_flight.app())
        responses = await asyncio.gather(*(http.get(base + "/") for _ in range(15)))
    assert all(r.status == 200 for r in responses)
    assert in_flight.peak == 3


async def test_views_share_the_concurrency_limit(serve: Serve, fake_time: FakeTime) -> None:
    in_flight = InFlight()
    async with client(fake_time, max_concurrency=2) as http:
        view = http.with_hooks(StaticHeaders({"Ror-Role-Metier-Code": "AUTOMATE"}))
        base = await serve(in_flight.app())
        await asyncio.gather(*(c.get(base + "/") for c in (http, view) * 4))
    assert in_flight.peak == 2


async def test_hooks_and_per_call_headers_reach_the_server_on_every_attempt(serve: Serve, fake_time: FakeTime) -> None:
    calls: list[int] = []

    class CountingHook(RequestHook):
        async def before_request(self, request: OutgoingRequest) -> None:
            calls.append(1)
            request.headers["X-Attempt"] = str(len(calls))

    app, seen = scripted(status(502), status(200))
    async with client(fake_time) as http:
        api = http.with_hooks(StaticHeaders({"Ror-Profil-Utilisateur-Code": "CU22"}), CountingHook())
        await api.get(await serve(app), headers={"Accept": "application/fhir+json"})
    assert [r.headers["X-Attempt"] for r in seen] == ["1", "2"]
    assert all(r.headers["Ror-Profil-Utilisateur-Code"] == "CU22" for r in seen)
    assert all(r.headers["Accept"] == "application/fhir+json" for r in seen)


async def test_the_root_client_does_not_run_the_hooks_of_its_views(serve: Serve, fake_time: FakeTime) -> None:
    app, seen = scripted(status(200))
    async with client(fake_time) as http:
        http.with_hooks(StaticHeaders({"X-View": "1"}))
        await http.get(await serve(app))
    assert "X-View" not in seen[0].headers


async def test_an_accepted_error_status_is_returned_without_retry(serve: Serve, fake_time: FakeTime) -> None:
    fault = "<env:Envelope><env:Body><env:Fault><env:Code><env:Value>444</env:Value></env:Code></env:Fault></env:Body>"
    app, seen = scripted(status(500, fault))
    async with client(fake_time) as http:
        response = await http.request(
            "POST", await serve(app), data=b"<soap/>", accept=lambda r: r.status == 500 and b"Fault" in r.body
        )
    assert response.status == 500
    assert b"444" in response.body
    assert len(seen) == 1


async def test_post_bodies_are_sent_again_on_retry(serve: Serve, fake_time: FakeTime) -> None:
    bodies: list[bytes] = []

    async def record(request: web.Request) -> web.Response:
        bodies.append(await request.read())
        return web.Response(status=503 if len(bodies) == 1 else 200)

    app = web.Application()
    app.router.add_post("/", record)
    async with client(fake_time) as http:
        await http.request("POST", await serve(app) + "/", data=b"<envelope/>")
    assert bodies == [b"<envelope/>", b"<envelope/>"]


async def test_plain_http_outside_loopback_is_refused_before_any_connection(fake_time: FakeTime) -> None:
    async with client(fake_time) as http:
        with pytest.raises(InsecureUrlError, match=r"http://ror\.example\.org/fhir/metadata"):
            await http.get("http://ror.example.org/fhir/metadata")
    assert fake_time.sleeps == []


async def test_a_redirect_to_plain_http_is_refused(serve: Serve, fake_time: FakeTime) -> None:
    async def redirect(request: web.Request) -> web.Response:
        raise web.HTTPFound("http://files.example.org/export/1.json")

    app = web.Application()
    app.router.add_get("/", redirect)
    async with client(fake_time) as http:
        with pytest.raises(InsecureUrlError, match=r"http://files\.example\.org/export/1\.json"):
            await http.get(await serve(app) + "/")


async def test_redirects_within_loopback_are_followed(serve: Serve, fake_time: FakeTime) -> None:
    async def moved(request: web.Request) -> web.Response:
        raise web.HTTPFound("/there")

    async def there(request: web.Request) -> web.Response:
        return web.Response(text="here")

    app = web.Application()
    app.router.add_get("/", moved)
    app.router.add_get("/there", there)
    async with client(fake_time) as http:
        response = await http.get(await serve(app) + "/")
    assert response.body == b"here"
    assert response.url.endswith("/there")


async def test_log_lines_carry_no_secret(serve: Serve, fake_time: FakeTime, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="rorsync.transport")
    app, _ = scripted(status(503, "Bearer s3cr3t-token is not welcome"), status(200))
    async with client(fake_time) as http:
        api = http.with_hooks(StaticHeaders({"Authorization": "Bearer s3cr3t-token"}))
        base = await serve(app)
        await api.get(base + "/export/1.json", params={"sig": "s3cr3t-signature", "page": "2"})
    records = [r for r in caplog.records if r.name.startswith("rorsync.transport")]
    url = f"{base}/export/1.json?sig=***&page=2"
    assert [(r.levelno, r.getMessage().split(" in ")[0]) for r in records] == [
        (logging.DEBUG, f"fhir GET {url} -> 503"),
        (
            logging.WARNING,
            f"fhir GET {url} failed (answered 503 Service Unavailable: *** is not welcome), retrying",
        ),
        (logging.DEBUG, f"fhir GET {url} -> 200"),
    ]
    assert records[1].getMessage().endswith("(attempt 2 of 3)")
    assert records[2].getMessage().endswith("(attempt 2)")
    assert not [r for r in records if "s3cr3t" in r.getMessage()]


async def test_a_closed_client_refuses_new_calls(fake_time: FakeTime) -> None:
    http = client(fake_time)
    await http.close()
    with pytest.raises(TransportError, match="closed"):
        await http.get("http://127.0.0.1:9/")

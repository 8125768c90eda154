"""In-process servers on 127.0.0.1 and the seams that keep retry tests instant (a fake sleep and clock)."""

from __future__ import annotations

import socket
import ssl
import struct
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from rorsync.config import HttpSettings

Serve = Callable[..., Awaitable[str]]
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@pytest.fixture
async def serve() -> AsyncIterator[Serve]:
    """``await serve(app, ssl=context)`` starts ``app`` on 127.0.0.1 and returns its base URL."""
    servers: list[TestServer] = []

    async def start(app: web.Application, ssl: ssl.SSLContext | None = None) -> str:
        server = TestServer(app, host="127.0.0.1")
        await server.start_server(ssl=ssl)
        servers.append(server)
        return str(server.make_url("")).rstrip("/")

    yield start
    for server in servers:
        await server.close()


@dataclass
class FakeTime:
    """A wall clock that only moves when the code under test sleeps (or the test advances it)."""

    now: float = 1_800_000_000.0
    sleeps: list[float] = field(default_factory=list)

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


@pytest.fixture
def fake_time() -> FakeTime:
    return FakeTime()


def http_settings(**overrides: Any) -> HttpSettings:
    """Short timeouts and few attempts: failures show up in tenths of a second."""
    values: dict[str, Any] = {
        "connect_timeout": timedelta(seconds=2),
        "read_timeout": timedelta(seconds=2),
        "max_attempts": 3,
        "backoff_initial": timedelta(seconds=1),
        "backoff_max": timedelta(seconds=60),
        "max_concurrency": 4,
    }
    values.update(overrides)
    return HttpSettings(**values)


@dataclass
class RecordingObserver:
    requests: list[tuple[str, str, str, int | None]] = field(default_factory=list)
    retries: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def on_request(self, source: str, method: str, host: str, status: int | None, seconds: float) -> None:
        self.requests.append((source, method, host, status))

    def on_retry(self, source: str, reason: str) -> None:
        self.retries.append(reason)

    def on_error(self, source: str, kind: str) -> None:
        self.errors.append(kind)


def scripted(
    *responses: Callable[[web.Request], Awaitable[web.StreamResponse]],
) -> tuple[web.Application, list[web.Request]]:
    """An app answering every path with the scripted handlers in turn (the last one repeats)."""
    seen: list[web.Request] = []

    async def handler(request: web.Request) -> web.StreamResponse:
        seen.append(request)
        if request.can_read_body:
            await request.read()
        return await responses[min(len(seen), len(responses)) - 1](request)

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", handler)
    return app, seen


def status(code: int, body: str = "", **headers: str) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    async def respond(request: web.Request) -> web.StreamResponse:
        return web.Response(status=code, text=body, headers=headers)

    return respond


def partial_body(announced: int, sent: int, *, reset: bool) -> Handler:
    """Announce ``announced`` bytes, send ``sent``, then close the connection (with a TCP reset if asked)."""

    async def respond(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "application/json"})
        response.content_length = announced
        await response.prepare(request)
        await response.write(b"x" * sent)
        transport = request.transport
        assert transport is not None
        if reset:
            transport.get_extra_info("socket").setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        transport.close()
        return response

    return respond

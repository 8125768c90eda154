"""The daemon's HTTP endpoint: ``/healthz`` (JSON, 503 when a source is stale) and ``/metrics``.

It listens on loopback by default (``service.listen``): health details name sources and errors,
and Prometheus scrapes locally or through a proxy the operator controls.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import orjson
from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from rorsync import metrics

HealthProvider = Callable[[], Awaitable[tuple[bool, dict[str, object]]]]
GaugeRefresher = Callable[[], Awaitable[None]]


def build_app(health: HealthProvider, refresh_gauges: GaugeRefresher) -> web.Application:
    async def healthz(_: web.Request) -> web.Response:
        healthy, document = await health()
        return web.Response(
            body=orjson.dumps(document, option=orjson.OPT_INDENT_2),
            status=200 if healthy else 503,
            content_type="application/json",
        )

    async def metrics_page(_: web.Request) -> web.Response:
        await refresh_gauges()
        return web.Response(body=generate_latest(metrics.REGISTRY), headers={"Content-Type": CONTENT_TYPE_LATEST})

    app = web.Application()
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/metrics", metrics_page)
    return app


def split_listen(listen: str) -> tuple[str, int]:
    """``127.0.0.1:9464`` or ``[::1]:9464`` → (host, port)."""
    host, _, port = listen.rpartition(":")
    return host.strip("[]"), int(port)


async def start_server(app: web.Application, listen: str) -> web.AppRunner:
    runner = web.AppRunner(app, access_log=None, handle_signals=False)
    await runner.setup()
    host, port = split_listen(listen)
    try:
        await web.TCPSite(runner, host, port).start()
    except BaseException:
        await runner.cleanup()
        raise
    return runner

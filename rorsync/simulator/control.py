"""The loopback control endpoint: faults and changes on demand for tests of other processes.

``POST /_control/faults`` (JSON: ``{"kind": ..., "path": ..., "count": ..., ...}``), ``GET`` lists
them, ``DELETE /_control/faults[/<id>]`` removes them; ``POST /_control/changes?count=N[&kind=K]`` makes
changes of the world now. Only loopback callers are served.
"""

from __future__ import annotations

import asyncio
import ipaddress
from concurrent.futures import Executor

from aiohttp import web

from rorsync.simulator.faults import CONTROL_PREFIX, FaultInjector
from rorsync.simulator.world.churn import ChangeFeed


def add_control_routes(app: web.Application, faults: FaultInjector, changes: ChangeFeed, executor: Executor) -> None:
    async def list_faults(request: web.Request) -> web.Response:
        _loopback_only(request)
        return web.json_response([fault.as_json() for fault in faults.active()])

    async def add_fault(request: web.Request) -> web.Response:
        _loopback_only(request)
        try:
            options = dict(await request.json())
            fault = faults.inject(str(options.pop("kind")), **options)
        except (ValueError, KeyError, TypeError) as error:
            return web.json_response({"error": f"invalid fault: {error}"}, status=400)
        return web.json_response(fault.as_json(), status=201)

    async def remove_faults(request: web.Request) -> web.Response:
        _loopback_only(request)
        removed = faults.clear(request.match_info.get("fault_id"))
        return web.json_response({"removed": removed})

    async def make_changes(request: web.Request) -> web.Response:
        _loopback_only(request)
        try:
            count = int(request.query.get("count", "1"))
        except ValueError:
            return web.json_response({"error": "count must be an integer"}, status=400)
        kind = request.query.get("kind")
        try:
            applied = await asyncio.get_running_loop().run_in_executor(executor, changes.apply_changes, count, kind)
        except ValueError as error:
            return web.json_response({"error": str(error)}, status=400)
        return web.json_response(
            [{"change": c.change_id, "kind": c.kind, "written": c.written, "deleted": c.deleted} for c in applied]
        )

    app.router.add_get(f"{CONTROL_PREFIX}faults", list_faults)
    app.router.add_post(f"{CONTROL_PREFIX}faults", add_fault)
    app.router.add_delete(f"{CONTROL_PREFIX}faults", remove_faults)
    app.router.add_delete(f"{CONTROL_PREFIX}faults/{{fault_id}}", remove_faults)
    app.router.add_post(f"{CONTROL_PREFIX}changes", make_changes)


def _loopback_only(request: web.Request) -> None:
    remote = request.remote or ""
    try:
        loopback = ipaddress.ip_address(remote).is_loopback
    except ValueError:
        loopback = False
    if not loopback:
        raise web.HTTPForbidden(text="the control endpoint only answers loopback callers")

"""The resync request queue and the heartbeats, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import datetime as dt

from rorsync.store.engine import Database
from rorsync.store.instances import (
    DAEMON,
    Instance,
    beat,
    list_instances,
    live_daemons,
    prune_dead,
    remove_instance,
)
from rorsync.store.requests import (
    add_request,
    claim_requests,
    finish_requests,
    get_request,
    pending_requests,
    requeue_requests,
    running_owners,
    take_over_request,
)
from tests import factories as f


async def ask(db: Database, **options: object) -> int:
    values = {"source": "fhir", "full": False, "organization": None, "resource": None, **options}
    return await add_request(db, now=f.T0, **values)  # type: ignore[arg-type]


async def test_a_request_is_claimed_by_exactly_one_process(database: Database) -> None:
    ids = [await ask(database), await ask(database, full=True, source=None)]
    claims = await asyncio.gather(
        claim_requests(database, ids, by="daemon:a:1", now=f.at(1)),
        claim_requests(database, ids, by="daemon:b:2", now=f.at(1)),
    )
    assert sorted(len(claim) for claim in claims) == [0, 2]
    assert await pending_requests(database) == []
    winner = "daemon:a:1" if claims[0] else "daemon:b:2"
    assert await running_owners(database) == {winner}
    await finish_requests(database, ids[:1], status="partial", error="Organization/x: bad", now=f.at(2))
    first = await get_request(database, ids[0])
    assert first is not None and (first.status, first.error, first.done_at, first.finished) == (
        "partial",
        "Organization/x: bad",
        f.at(2),
        True,
    )


async def test_requests_of_a_stopped_daemon_go_back_to_the_queue_and_can_be_taken_over(database: Database) -> None:
    request = await ask(database, organization="750000001")
    await claim_requests(database, [request], by="daemon:a:1", now=f.at(1))
    assert not await take_over_request(database, request, by="foreground:c:3", abandoned_by="", now=f.at(2))
    assert await take_over_request(database, request, by="foreground:c:3", abandoned_by="daemon:a:1", now=f.at(2))
    assert await requeue_requests(database, picked_by=["daemon:a:1"]) == 0  # not its request any more
    assert await requeue_requests(database, picked_by=["foreground:c:3"]) == 1
    stored = await get_request(database, request)
    assert stored is not None and (stored.status, stored.picked_by, stored.picked_at) == ("pending", None, None)


def daemon(name: str, at: dt.datetime) -> Instance:
    return Instance(f"daemon:{name}:1", DAEMON, name, 1, "0.1.0", at, at)


async def test_heartbeats_tell_live_daemons_from_dead_ones(database: Database) -> None:
    ttl = dt.timedelta(seconds=20)
    await beat(database, daemon("old", f.T0), now=f.T0)
    await beat(database, daemon("new", f.T0), now=f.T0)
    await beat(database, daemon("new", f.T0), now=f.T0 + dt.timedelta(seconds=30))  # an update, not a new row
    now = f.T0 + dt.timedelta(seconds=40)
    assert [i.host for i in await live_daemons(database, now=now, ttl=ttl)] == ["new"]
    assert await prune_dead(database, now=now, ttl=ttl) == ["daemon:old:1"]
    await remove_instance(database, daemon("new", f.T0))
    assert await list_instances(database) == []

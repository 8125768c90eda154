"""``_include`` / ``_revinclude`` over the world's link table, restricted to what the caller may see.

HAPI applies a plain ``_include`` to the matches only and ``:iterate`` to everything included so far.
The ANS guide's own full-load example (``HealthcareService?…&_revinclude=PractitionerRole:service&
_include=PractitionerRole:practitioner``) relies on a plain include reaching revincluded resources, so a
plain include whose source type is not the searched type is also applied once to the first layer.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Sequence

from rorsync.simulator.fhir.search import Include
from rorsync.simulator.world.store import WorldResource, chunks, resource_columns

Key = tuple[str, str]


def resolve(
    conn: sqlite3.Connection,
    matches: Sequence[WorldResource],
    includes: Sequence[Include],
    visible: Callable[[WorldResource], bool],
) -> list[WorldResource]:
    if not includes or not matches:
        return []
    match_type = matches[0].resource_type
    seen: set[Key] = {(m.resource_type, m.resource_id) for m in matches}

    def follow(include: Include, sources: Sequence[WorldResource]) -> list[WorldResource]:
        wanted = include.target_type if include.reverse else include.source_type
        relevant = [source for source in sources if source.resource_type == wanted]
        found = _reverse(conn, include, relevant) if include.reverse else _forward(conn, include, relevant)
        fresh = []
        for resource in found:
            key = (resource.resource_type, resource.resource_id)
            if key not in seen and visible(resource):
                seen.add(key)
                fresh.append(resource)
        return fresh

    plain = [include for include in includes if not include.iterate]
    first = [r for i in plain if i.reverse or i.source_type == match_type for r in follow(i, matches)]
    second = [r for i in plain if not i.reverse and i.source_type != match_type for r in follow(i, first)]
    included = first + second
    iterating = [include for include in includes if include.iterate]
    frontier: list[WorldResource] = [*matches, *included]
    while iterating and frontier:
        frontier = [r for include in iterating for r in follow(include, frontier)]
        included += frontier
    return included


def _forward(conn: sqlite3.Connection, include: Include, sources: Sequence[WorldResource]) -> list[WorldResource]:
    """The targets of ``include``'s reference from ``sources``."""
    sql = (
        f"SELECT {resource_columns('t')} FROM link l JOIN resource t ON t.rtype = l.dst_type AND t.id = l.dst_id"
        " WHERE l.pk IN ({marks}) AND l.param = ? AND l.dst_type = ? ORDER BY t.pk"
    )
    return _select(conn, sql, [source.pk for source in sources], [include.parameter, include.target_type])


def _reverse(conn: sqlite3.Connection, include: Include, targets: Sequence[WorldResource]) -> list[WorldResource]:
    """The resources whose ``include`` reference points to one of ``targets``."""
    sql = (
        f"SELECT {resource_columns('s')} FROM link l JOIN resource s ON s.pk = l.pk"
        " WHERE l.dst_id IN ({marks}) AND l.dst_type = ? AND l.param = ? AND s.rtype = ? ORDER BY s.pk"
    )
    ids = [target.resource_id for target in targets]
    return _select(conn, sql, ids, [include.target_type, include.parameter, include.source_type])


def _select(conn: sqlite3.Connection, sql: str, keys: Sequence[object], params: list[object]) -> list[WorldResource]:
    """Run ``sql`` (whose ``{marks}`` receives the placeholders of a chunk of ``keys``) chunk by chunk."""
    found: list[WorldResource] = []
    for chunk in chunks(keys):
        rows = conn.execute(sql.format(marks=",".join("?" * len(chunk))), [*chunk, *params])
        found += [WorldResource.from_row(row) for row in rows]
    return found

"""What every synthetic resource starts with: id, meta (lastUpdated, region tag) and creation date."""

from __future__ import annotations

from dataclasses import dataclass

from rorsync.simulator.world.elements import Json, creation_date, meta


@dataclass(frozen=True, slots=True)
class Stamp:
    """When a resource was created and last changed (µs, millisecond-aligned), and its region."""

    region: str
    created: int
    last_updated: int


def skeleton(resource_type: str, resource_id: str, stamp: Stamp) -> Json:
    """The common head of a ROR resource, in FHIR element order."""
    return {
        "resourceType": resource_type,
        "id": resource_id,
        "meta": meta(stamp.last_updated, stamp.region),
        "extension": [creation_date(stamp.created)],
    }


def touch(resource: Json, last_updated: int) -> None:
    """Record a change: bump ``meta.lastUpdated`` (the region tag stays)."""
    region = resource["meta"]["tag"][0]["code"]
    resource["meta"] = meta(last_updated, region)

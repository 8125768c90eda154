"""The change feed: updates, capacity moves, closures, creations and hard deletions, some committed late.

``apply_changes(n)`` makes ``n`` changes now (tests); ``run(per_minute)`` keeps making them at about
that rate (the ``--churn`` option). A change is stamped when it is made (``meta.lastUpdated``) but may
only become visible up to ``late_commit_lag`` seconds later, as on real servers: a client can then
receive a change whose timestamp is older than changes it already has. Hard deletions make resources
disappear without a trace in the API; the world's journal keeps them for assertions.
"""

from __future__ import annotations

import asyncio
import random
import threading
from collections.abc import Callable
from concurrent.futures import Executor
from dataclasses import dataclass

from rorsync.simulator.world import locations, offers, organizations
from rorsync.simulator.world.apply import Key, ResourceWrite
from rorsync.simulator.world.elements import Json, concept_code, reference_id
from rorsync.simulator.world.generator import SCALES, Site, WorldGenerator
from rorsync.simulator.world.geography import pick_place
from rorsync.simulator.world.ids import IdAllocator
from rorsync.simulator.world.instants import MICROS_PER_SECOND, truncate_to_millis
from rorsync.simulator.world.names import phone
from rorsync.simulator.world.organizations import KINDS, EstablishmentKind
from rorsync.simulator.world.stamps import Stamp, touch
from rorsync.simulator.world.store import Change, WorldResource, WorldStore
from rorsync.sources.fhir import profile

KIND_WEIGHTS = {"capacity": 40, "update": 20, "closure": 8, "create": 17, "delete": 15}
DAY = 24 * 3600 * MICROS_PER_SECOND
Draft = tuple[list[ResourceWrite], list[Key]]


@dataclass(frozen=True, slots=True)
class AppliedChange:
    """What one change did (see also :meth:`WorldStore.journal`)."""

    change_id: int
    kind: str
    made_at: int  # µs: the meta.lastUpdated of what it wrote
    visible_at: int  # µs: when it becomes visible (later than made_at for a late commit)
    written: list[Key]
    deleted: list[Key]


class _Drafts(WorldGenerator):
    """The generator's builders, stamped with the instant of a change and without forced showcases."""

    def __init__(self, ids: IdAllocator, made_at: int) -> None:
        super().__init__(SCALES["small"], 0, made_at)
        self.ids = ids

    def stamp(self, rng: random.Random, region: str, not_before: int | None = None) -> Stamp:
        return Stamp(region, self.anchor, self.anchor)

    def first(self, feature: str) -> bool:
        return False


class ChangeFeed:
    def __init__(self, world: WorldStore, *, seed: int = 0, late_commit_lag: float = 0.0) -> None:
        self.world = world
        self.rng = random.Random(f"churn/{seed}")
        self.lag = int(late_commit_lag * MICROS_PER_SECOND)
        self.ids = world.load_ids()
        self._last_made = 0
        self._lock = threading.Lock()

    # --- driving ------------------------------------------------------------------------------------
    def apply_changes(self, count: int, kind: str | None = None) -> list[AppliedChange]:
        """Make ``count`` changes now (of ``kind`` if given: capacity, update, closure, create, delete)."""
        if kind is not None and kind not in KIND_WEIGHTS:
            raise ValueError(f"unknown change kind {kind!r}; choose one of {', '.join(KIND_WEIGHTS)}")
        with self._lock:
            return [self._one(kind) for _ in range(count)]

    async def run(self, per_minute: float, executor: Executor | None = None) -> None:
        """Make about ``per_minute`` changes a minute (Poisson arrivals) until cancelled."""
        timing = random.Random(self.rng.random())
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(timing.expovariate(per_minute / 60.0))
            await loop.run_in_executor(executor, self.apply_changes, 1)

    def _one(self, kind: str | None) -> AppliedChange:
        makers: dict[str, Callable[[int], Draft | None]] = {
            "capacity": self._capacity,
            "update": self._update,
            "closure": self._closure,
            "create": self._create,
            "delete": self._delete,
        }
        for _ in range(50):
            chosen = kind or self.rng.choices(list(KIND_WEIGHTS), weights=list(KIND_WEIGHTS.values()))[0]
            made_at = max(truncate_to_millis(self.world.clock()), self._last_made)
            draft = makers[chosen](made_at)
            if draft is None:
                continue
            writes, deletions = draft
            for write in writes:
                touch(write.resource, made_at)
            visible_at = made_at + (self.rng.randint(0, self.lag) if self.lag else 0)
            change_id = self.world.record_change(Change(chosen, made_at, visible_at, writes, deletions), self.ids)
            self._last_made = made_at
            written = [(w.resource["resourceType"], w.resource["id"]) for w in writes]
            return AppliedChange(change_id, chosen, made_at, visible_at, written, deletions)
        raise RuntimeError(f"no {kind or 'change'} could be made: the world is empty or entirely pending")

    def _pick(self, resource_type: str, wanted: Callable[[WorldResource], bool] | None = None) -> WorldResource | None:
        for _ in range(40):
            found = self.world.sample(resource_type, self.rng)
            if found is None:
                return None
            if not self.world.has_pending((found.resource_type, found.resource_id)) and (
                wanted is None or wanted(found)
            ):
                return found
        return None

    # --- kinds of change ----------------------------------------------------------------------------
    def _capacity(self, made_at: int) -> Draft | None:
        """A bed-management update: counts move, capacityUpdateDate and lastUpdated follow."""
        found = self._pick("Location", lambda r: profile.EXT_LOC_SUPPORTED_CAPACITY.encode() in r.body)
        if found is None:
            return None
        body = found.json()
        locations.refresh_capacity(body, self.rng, made_at)
        return [ResourceWrite(body, found.establishment)], []

    def _update(self, made_at: int) -> Draft | None:
        """A descriptive change; now and then an offer's sensitivity flips (its Locations' served form changes)."""
        resource_type = self.rng.choice(profile.RESOURCE_TYPES)
        found = self._pick(resource_type)
        if found is None:
            return None
        body = found.json()
        if resource_type == "HealthcareService" and self.rng.random() < 0.1:
            for ext in body["extension"]:
                if ext["url"] == profile.EXT_HS_SENSITIVE_UNIT:
                    ext["valueBoolean"] = not ext["valueBoolean"]
        elif body.get("telecom") and self.rng.random() < 0.5:
            body["telecom"][0]["value"] = phone(self.rng, found.region or "11")
        elif "name" in body and isinstance(body["name"], str):
            body["name"] = f"{body['name'].split(' (')[0]} ({self.rng.randint(2, 99)})"
        else:
            body["active"] = True
        return [ResourceWrite(body, found.establishment)], []

    def _closure(self, made_at: int) -> Draft | None:
        """A closure (data, not deletion): offer notAvailable, Location FT/FD, organization period end."""
        choice = self.rng.random()
        if choice < 0.5:
            found = self._pick("HealthcareService", lambda r: b'"notAvailable"' not in r.body)
            if found is None:
                return None
            body = found.json()
            offers.close_offer(body, made_at, made_at + 30 * DAY if self.rng.random() < 0.5 else None)
        elif choice < 0.8:
            found = self._pick("Location", lambda r: b'"code":"OP"' in r.body)
            if found is None:
                return None
            body = found.json()
            locations.close_location(body, definitive=self.rng.random() < 0.4)
        else:
            found = self._pick("Organization", lambda r: r.establishment is not None and b'"end"' not in r.body)
            if found is None:
                return None
            body = found.json()
            internal = found.establishment != found.resource_id
            reopening = made_at + 60 * DAY if internal and self.rng.random() < 0.5 else None
            organizations.close_organization(body, self.rng, made_at, reopening)
        return [ResourceWrite(body, found.establishment)], []

    def _create(self, made_at: int) -> Draft | None:
        """New offers (with new Locations, roles, practitioners), a Location for an offer, or a whole EG."""
        drafts = _Drafts(self.ids, made_at)
        choice = self.rng.random()
        if choice < 0.05:
            legal_entity = self._pick("Organization", lambda r: r.establishment is None)
            if legal_entity is None:
                return None
            kind = self.rng.choice(list(KINDS.values()))
            place = pick_place(self.rng, legal_entity.region or "11")
            return list(drafts.establishment_subtree(self.rng, kind, legal_entity.resource_id, place)), []
        sibling = self._pick("HealthcareService", lambda r: r.establishment is not None)
        if sibling is None or sibling.establishment is None:
            return None
        establishment = self.world.get("Organization", sibling.establishment)
        if establishment is None:
            return None
        site = drafts_site(drafts, self.rng, establishment)
        if choice < 0.15:
            body = sibling.json()
            while not site.locations_for(concept_code(body["type"][0]), []):
                pass  # until the draw gives at least one Location
            new_locations = list(site.pending_writes())
            body.setdefault("location", []).extend({"reference": f"Location/{w.resource['id']}"} for w in new_locations)
            return [*new_locations, ResourceWrite(body, sibling.establishment)], []
        unit = reference_id(sibling.json().get("providedBy"), "Organization") or sibling.establishment
        writes = list(site.offer(unit, []))
        return [*writes, *site.pending_writes()], []

    def _delete(self, made_at: int) -> Draft | None:
        """Hard deletions, keeping references consistent: an offer with what only it used, a Location
        (its offers stop pointing to it), a role, or now and then a whole EG."""
        choice = self.rng.random()
        if choice < 0.55:
            return self._delete_offer()
        if choice < 0.8:
            found = self._pick("Location")
            if found is None:
                return None
            users = self.world.referrers("Location", found.resource_id, "location", "HealthcareService")
            writes = []
            for user in users:
                body = user.json()
                body["location"] = [
                    ref for ref in body["location"] if reference_id(ref, "Location") != found.resource_id
                ]
                if not body["location"]:
                    del body["location"]
                writes.append(ResourceWrite(body, user.establishment))
            return writes, [("Location", found.resource_id)]
        if choice < 0.95:
            role = self._pick("PractitionerRole")
            return None if role is None else ([], self._roles_and_orphans([role]))
        return self._delete_establishment()

    def _delete_offer(self) -> Draft | None:
        offer = self._pick("HealthcareService")
        if offer is None:
            return None
        deletions: list[Key] = [("HealthcareService", offer.resource_id)]
        for ref in offer.json().get("location", ()):
            location_id = reference_id(ref, "Location")
            users = self.world.referrers("Location", location_id or "", "location", "HealthcareService")
            if location_id and {user.resource_id for user in users} == {offer.resource_id}:
                deletions.append(("Location", location_id))
        roles = self.world.referrers("HealthcareService", offer.resource_id, "service", "PractitionerRole")
        deletions += self._roles_and_orphans(roles)
        if any(self.world.has_pending(key) for key in deletions):
            return None
        return [], deletions

    def _roles_and_orphans(self, roles: list[WorldResource]) -> list[Key]:
        """The roles, and the practitioners left without any role once they are gone."""
        deleted = {role.resource_id for role in roles}
        keys: list[Key] = [("PractitionerRole", role_id) for role_id in sorted(deleted)]
        for role in roles:
            practitioner = reference_id(role.json().get("practitioner"), "Practitioner")
            if practitioner is None or ("Practitioner", practitioner) in keys:
                continue
            others = self.world.referrers("Practitioner", practitioner, "practitioner", "PractitionerRole")
            if {other.resource_id for other in others} <= deleted:
                keys.append(("Practitioner", practitioner))
        return keys

    def _delete_establishment(self) -> Draft | None:
        establishment = self._pick("Organization", lambda r: r.establishment == r.resource_id)
        if establishment is None:
            return None
        members = list(self.world.iter_resources(establishment=establishment.resource_id))
        deletions: list[Key] = [(m.resource_type, m.resource_id) for m in members]
        legal_entity = reference_id(establishment.json().get("partOf"), "Organization")
        if legal_entity is not None:
            siblings = self.world.referrers("Organization", legal_entity, "partof", "Organization")
            if {s.resource_id for s in siblings} == {establishment.resource_id}:
                deletions.append(("Organization", legal_entity))
        if any(self.world.has_pending(key) for key in deletions):
            return None
        return [], deletions


def drafts_site(drafts: WorldGenerator, rng: random.Random, establishment: WorldResource) -> Site:
    """A generator site for an existing EG, so new offers look like the EG's own."""
    body: Json = establishment.json()
    category = concept_code(body["type"][0])
    kind: EstablishmentKind = next((k for k in KINDS.values() if category in k.categories), KINDS["hospital"])
    return Site(drafts, rng, kind, pick_place(rng, establishment.region or "11"), body)

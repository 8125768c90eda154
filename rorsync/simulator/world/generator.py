"""Deterministic, streaming generation of a synthetic ROR world from a seed and a scale preset.

Each legal entity (EJ) is generated from its own random stream (``seed`` and its index), in a fixed
order, with identifiers drawn from sequences: the same seed gives the same world, byte for byte, and
nothing but one EJ's subtree is ever held in memory.
"""

from __future__ import annotations

import datetime as dt
import gc
import random
import sqlite3
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from rorsync.simulator.world import apply, locations, names, offers, organizations, practitioners
from rorsync.simulator.world.apply import ResourceWrite
from rorsync.simulator.world.elements import Json
from rorsync.simulator.world.geography import REGION_CODES, Place, pick_place, pick_region
from rorsync.simulator.world.ids import IdAllocator
from rorsync.simulator.world.instants import MICROS_PER_SECOND, to_micros, truncate_to_millis
from rorsync.simulator.world.organizations import AMBULATORY, HOSPITAL, MEDICO_SOCIAL, EstablishmentKind
from rorsync.simulator.world.schema import INDEXES, SCHEMA_VERSION, TABLES
from rorsync.simulator.world.stamps import Stamp
from rorsync.simulator.world.store import set_meta

DEFAULT_ANCHOR = to_micros(dt.datetime(2025, 6, 1, tzinfo=dt.UTC))
HISTORY = 3 * 365 * 24 * 3600 * MICROS_PER_SECOND
DAY = 24 * 3600 * MICROS_PER_SECOND


@dataclass(frozen=True, slots=True)
class Scale:
    """A preset: how many establishments (EG), and how large hospitals grow."""

    name: str
    establishments: int
    max_poles: int
    max_units_per_service: int


SCALES = {
    scale.name: scale
    for scale in (
        Scale("tiny", 24, 2, 2),
        Scale("small", 330, 3, 3),
        Scale("medium", 6_300, 3, 3),
        Scale("national", 63_000, 3, 3),
    )
}
KIND_WEIGHTS = ((HOSPITAL, 0.10), (MEDICO_SOCIAL, 0.60), (AMBULATORY, 0.30))
ACTIVITY_FIELDS = ("01", "02", "03", "04", "05")  # TRE_R227


class WorldGenerator:
    """Yields the resources of a world, EJ subtree after EJ subtree."""

    def __init__(self, scale: Scale, seed: int, anchor: int = DEFAULT_ANCHOR) -> None:
        self.scale = scale
        self.seed = seed
        self.anchor = anchor
        self.ids = IdAllocator()
        self._shown: set[str] = set()

    def first(self, feature: str) -> bool:
        """True the first time ``feature`` is asked for: rare cases are forced once, early, so that even
        the tiny preset holds every category whatever the seed."""
        if feature in self._shown:
            return False
        self._shown.add(feature)
        return True

    def resources(self) -> Iterator[ResourceWrite]:
        establishments = 0
        index = 0
        while establishments < self.scale.establishments:
            rng = random.Random(f"{self.seed}/{index}")
            kind = rng.choices([k for k, _ in KIND_WEIGHTS], weights=[w for _, w in KIND_WEIGHTS])[0]
            wanted = self._establishment_count(rng, kind)
            if self.first("hospital group"):
                kind, wanted = HOSPITAL, 2
            count = min(wanted, self.scale.establishments - establishments)
            establishments += count
            # The first EJs visit every region in turn, so that every world of some size covers them all.
            region = REGION_CODES[index] if index < len(REGION_CODES) else pick_region(rng)
            index += 1
            yield from self._legal_entity_subtree(rng, kind, count, region)

    @staticmethod
    def _establishment_count(rng: random.Random, kind: EstablishmentKind) -> int:
        if kind is AMBULATORY:
            return 1
        return rng.choices((1, 2, 3, 4), weights=(6, 2, 1, 0.5))[0]

    def stamp(self, rng: random.Random, region: str, not_before: int | None = None) -> Stamp:
        earliest = not_before if not_before is not None else self.anchor - HISTORY
        created = truncate_to_millis(rng.randint(earliest, self.anchor - DAY))
        last_updated = truncate_to_millis(rng.randint(created, self.anchor))
        return Stamp(region, created, last_updated)

    def _legal_entity_subtree(
        self, rng: random.Random, kind: EstablishmentKind, count: int, region: str
    ) -> Iterator[ResourceWrite]:
        place = pick_place(rng, region)
        legal_entity = organizations.legal_entity(self.ids, rng, self.stamp(rng, region), place, kind)
        yield ResourceWrite(legal_entity, None)
        for position in range(count):
            site_kind = MEDICO_SOCIAL if kind is HOSPITAL and position > 0 and rng.random() < 0.3 else kind
            yield from self.establishment_subtree(rng, site_kind, legal_entity["id"], pick_place(rng, region))

    def establishment_subtree(
        self, rng: random.Random, kind: EstablishmentKind, legal_entity_id: str, place: Place
    ) -> Iterator[ResourceWrite]:
        """One EG with its OIs, offers, locations, roles and practitioners."""
        stamp = self.stamp(rng, place.region)
        establishment = organizations.establishment(
            self.ids,
            rng,
            stamp,
            place,
            legal_entity_id=legal_entity_id,
            kind=kind,
            very_restricted=kind is HOSPITAL and self.first("zones"),
        )
        eg = establishment["id"]
        if rng.random() < 0.02:
            organizations.close_organization(establishment, rng, stamp.last_updated, None)
        yield ResourceWrite(establishment, eg)
        site = Site(self, rng, kind, place, establishment)
        for unit_id, unit_writes in self._units(rng, kind, place, eg, stamp.created):
            yield from unit_writes
            yield from site.offers_of(unit_id)
        if self.first("location managed by its EG") or rng.random() < 0.05:
            site.managed_location()
        yield from site.pending_writes()

    def _units(
        self, rng: random.Random, kind: EstablishmentKind, place: Place, eg: str, opened: int
    ) -> Iterator[tuple[str, list[ResourceWrite]]]:
        """The providers of offers: the EG itself, or the UFs of its pôle → service → UF tree."""

        def oi(parent: str, level: str, name: str) -> Json:
            stamp = self.stamp(rng, place.region, not_before=opened)
            unit = organizations.internal_organization(self.ids, rng, stamp, parent, level=level, name=name)
            if self.first("closed OI") or rng.random() < 0.02:
                organizations.close_organization(unit, rng, stamp.last_updated, stamp.last_updated + 30 * DAY)
            return unit

        if kind is HOSPITAL:
            for pole_number in range(1, rng.randint(1, self.scale.max_poles) + 1):
                pole = oi(eg, "1", f"Pôle {pole_number}")
                writes = [ResourceWrite(pole, eg)]
                for service_number in range(1, rng.randint(1, 2) + 1):
                    service = oi(pole["id"], "2", f"Service {pole_number}.{service_number}")
                    writes.append(ResourceWrite(service, eg))
                    for unit_number in range(1, rng.randint(1, self.scale.max_units_per_service) + 1):
                        label = f"UF {pole_number}{service_number}{unit_number:02d}"
                        unit = oi(service["id"], "3", label)
                        writes.append(ResourceWrite(unit, eg))
                        if rng.random() < 0.1:
                            writes.append(ResourceWrite(oi(unit["id"], "4", f"UE {label}"), eg))
                        yield unit["id"], writes
                        writes = []
        elif kind is MEDICO_SOCIAL and rng.random() < 0.3:
            unit = oi(eg, "3", "UF Hébergement")
            yield unit["id"], [ResourceWrite(unit, eg)]
        else:
            yield eg, []


class Site:
    """Per-EG state while its offers are generated: locations to share, practitioners to reuse."""

    def __init__(
        self, generator: WorldGenerator, rng: random.Random, kind: EstablishmentKind, place: Place, establishment: Json
    ) -> None:
        self.generator = generator
        self.rng = rng
        self.kind = kind
        self.place = place
        self.eg = establishment["id"]
        self.nat_struct = establishment["identifier"][0]["value"]
        self.practitioners: list[str] = []
        self._locations: dict[str, Json] = {}  # written once all the offers that share them are known
        self._sensitive_users: dict[str, bool] = {}  # location → does a sensitive offer use it

    def offers_of(self, unit_id: str) -> Iterator[ResourceWrite]:
        pool: list[str] = []
        for _ in range(self.rng.randint(*self.kind.offers_per_unit)):
            yield from self.offer(unit_id, pool)

    def offer(self, unit_id: str, pool: list[str]) -> Iterator[ResourceWrite]:
        """One offer of ``unit_id`` with its roles (and practitioners); its new Locations join ``pool``
        and are written by :meth:`pending_writes`."""
        rng, generator = self.rng, self.generator
        activity_codes, weights = zip(*self.kind.activity_fields, strict=True)
        activity = rng.choices(activity_codes, weights=weights)[0]
        activity = next((code for code in ACTIVITY_FIELDS if generator.first(f"activity {code}")), activity)
        sensitive = rng.random() < offers.SENSITIVE_SHARE
        shareable = [location for location in pool if not self._sensitive_users[location]]
        if shareable and generator.first("location shared by a sensitive offer"):
            location_ids, sensitive = [shareable[0]], True
        else:
            location_ids = self.locations_for(activity, pool)
        for location_id in location_ids:
            self._sensitive_users[location_id] = self._sensitive_users[location_id] or sensitive
        stamp = generator.stamp(rng, self.place.region)
        offer = offers.offer(
            generator.ids,
            rng,
            stamp,
            provided_by=unit_id,
            locations=location_ids,
            activity_field=activity,
            sensitive=sensitive,
        )
        if generator.first("closed offer") or rng.random() < 0.03:
            reopening = stamp.last_updated + 60 * DAY if rng.random() < 0.5 else None
            offers.close_offer(offer, stamp.last_updated, reopening)
        yield ResourceWrite(offer, self.eg)
        yield from self._roles(offer["id"], unit_id)

    def locations_for(self, activity: str, pool: list[str]) -> list[str]:
        rng, generator = self.rng, self.generator
        wanted = rng.choices((0, 1, 2), weights=(40, 55, 5))[0]
        chosen: list[str] = []
        for _ in range(wanted):
            if pool and rng.random() < 0.15:
                candidate = rng.choice(pool)
                if candidate not in chosen:
                    chosen.append(candidate)
                continue
            function = "002" if self.kind is AMBULATORY or rng.random() < 0.2 else "001"
            stamp = self.generator.stamp(rng, self.place.region)
            found = locations.location(
                self.generator.ids,
                rng,
                stamp,
                self.place,
                name=f"{rng.choice(names.UNIT_WORDS)} {rng.choice('ABCDEFGH')}{rng.randint(1, 9)}",
                function=function,
                establishment_nat_struct=self.nat_struct,
                medico_social=activity == "04",
            )
            if generator.first("location FT"):
                locations.close_location(found, definitive=False)
            elif generator.first("location FD"):
                locations.close_location(found, definitive=True)
            elif rng.random() < 0.03:
                locations.close_location(found, definitive=rng.random() < 0.5)
            self._locations[found["id"]] = found
            self._sensitive_users[found["id"]] = False
            pool.append(found["id"])
            chosen.append(found["id"])
        return chosen

    def managed_location(self) -> None:
        """A Location no offer uses yet, attached to its EG by ``managingOrganization`` (IG rule)."""
        found = locations.location(
            self.generator.ids,
            self.rng,
            self.generator.stamp(self.rng, self.place.region),
            self.place,
            name=f"Accueil {self.place.city}",
            function="002",
            establishment_nat_struct=self.nat_struct,
            medico_social=False,
            managing_organization=self.eg,
        )
        self._locations[found["id"]] = found

    def _roles(self, offer_id: str, organization_id: str) -> Iterator[ResourceWrite]:
        rng, generator = self.rng, self.generator
        for _ in range(rng.choices((0, 1, 2, 3), weights=(85, 10, 3, 2))[0]):
            profession = practitioners.pick_profession(rng)
            if self.practitioners and rng.random() < 0.15:
                practitioner_id = rng.choice(self.practitioners)
            else:
                person = practitioners.practitioner(
                    generator.ids,
                    rng,
                    generator.stamp(rng, self.place.region),
                    doctor=profession == practitioners.DOCTOR,
                )
                practitioner_id = person["id"]
                self.practitioners.append(practitioner_id)
                yield ResourceWrite(person, self.eg)
            role = practitioners.practitioner_role(
                generator.ids,
                rng,
                generator.stamp(rng, self.place.region),
                practitioner_id=practitioner_id,
                offer_id=offer_id,
                organization_id=organization_id,
                profession=profession,
            )
            yield ResourceWrite(role, self.eg)

    def pending_writes(self) -> Iterator[ResourceWrite]:
        for found in self._locations.values():
            yield ResourceWrite(found, self.eg)


def build_world(
    path: Path,
    scale: Scale,
    seed: int,
    *,
    anchor: int = DEFAULT_ANCHOR,
    batch_size: int = 2000,
    progress: Callable[[int], None] | None = None,
) -> int:
    """Generate a world file at ``path`` (replacing any previous one); returns the number of resources.

    The file is built beside ``path`` without journal or secondary indexes, then indexed and renamed
    into place: a crash leaves no half-built world behind. The cyclic garbage collector is paused while
    generating (the JSON dicts hold no cycles, and collections would rescan every live batch).
    """
    partial = path.with_name(path.name + ".partial")
    partial.unlink(missing_ok=True)
    path.parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(partial, isolation_level=None)
    collecting = gc.isenabled()
    gc.disable()
    try:
        conn.execute("PRAGMA journal_mode = OFF")
        conn.execute("PRAGMA synchronous = OFF")
        conn.execute("PRAGMA cache_size = -65536")  # 64 MiB
        conn.executescript(TABLES)
        generator = WorldGenerator(scale, seed, anchor)
        total = 0
        for batch in batched(generator.resources(), batch_size):
            conn.execute("BEGIN")
            apply.insert_new(conn, batch, anchor)
            conn.execute("COMMIT")
            total += len(batch)
            if progress is not None:
                progress(total)
        conn.executescript(INDEXES)
        conn.execute("BEGIN")
        apply.refresh_all_contexts(conn)
        parameters = {"scale": scale.name, "seed": str(seed), "anchor": str(anchor), "ids": generator.ids.dumps()}
        for key, value in {**parameters, "schema_version": SCHEMA_VERSION, "complete": "1"}.items():
            set_meta(conn, key, value)
        conn.execute("COMMIT")
        conn.execute("ANALYZE")
    finally:
        conn.close()
        if collecting:
            gc.enable()
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    partial.rename(path)
    return total


def batched(items: Iterable[ResourceWrite], size: int) -> Iterator[list[ResourceWrite]]:
    batch: list[ResourceWrite] = []
    for item in items:
        batch.append(item)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch

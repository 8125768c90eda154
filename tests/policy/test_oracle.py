"""Property: every profile's views show exactly what the access policy allows — no more, no less.

The oracle below is written from the policy text (access-policy.md §4, §6–§9), deliberately
without looking at ``rules.py`` or the view SQL: each function cites the rule it encodes. Where the
text leaves a gap, the oracle follows the documented reading of ``docs/read-model.md`` (flagged
"read-model" below): NULL or unknown levels count as very restricted; statuses 08 "Installé
constaté" and 09 "Autorisé" (TRE_R330, newer than the policy) are installed-capacity counts; people
are visible through their roles, following the offer each role serves.

Generated data covers organizations, offers with random sensitivity, activity field, contacts at
random levels (NULL included) holding telecoms at random levels, locations shared between offers,
capacity lines of every class and assignment, equipment, residential capacity, practitioners and
roles, restricted and public codes, and tombstones. Each example is checked on every profile and
for several feed profiles and switches (SQLite; a smaller fixed sample runs on PostgreSQL).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import itertools
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import delete

from rorsync.model import Entity, Record, Source
from rorsync.policy.catalog import view_name
from rorsync.policy.rules import PolicySettings
from rorsync.policy.views import ensure_views
from rorsync.store import migrate, schema
from rorsync.store.engine import Database
from rorsync.store.sweep import tombstone_unseen
from rorsync.store.upsert import WriteContext, apply_records
from tests import factories as f
from tests.policy.support import NOW, profile_rows

LATER = NOW + dt.timedelta(hours=1)
ALL_PROFILES = range(6)

# --- the generated world ----------------------------------------------------------------------------


@dataclass
class Contact:
    ord: int | None  # None: telecoms without a contact
    level: int | None
    telecoms: list[tuple[str, int | None]]  # (value, level)


@dataclass
class Thing:
    kind: Entity
    id: str
    deleted: bool
    contacts: list[Contact]
    codes: list[tuple[str, str]] = field(default_factory=list)  # (kind, code)
    sensitive: bool = False  # offer
    activity: str | None = None  # offer
    locations: list[str] = field(default_factory=list)  # offer
    capacities: list[tuple[str, str, str, str, int]] = field(default_factory=list)  # status, extra, crisis, temp, nb
    equipment: list[str] = field(default_factory=list)
    residential: list[str] = field(default_factory=list)
    drop_zone: bool | None = None  # organization
    orsan: str | None = None
    practitioner: str | None = None  # role
    offer: str | None = None  # role


@dataclass
class World:
    things: list[Thing]

    def of(self, kind: Entity, *, live: bool = True) -> Iterator[Thing]:
        return (t for t in self.things if t.kind is kind and (not live or not t.deleted))

    def offer(self, offer_id: str | None) -> Thing | None:
        return next((o for o in self.of(Entity.OFFER) if o.id == offer_id), None)


LEVELS = st.sampled_from([None, 1, 2, 3])
_values = itertools.count()


@st.composite
def contacts(draw: st.DrawFn) -> list[Contact]:
    groups = [
        Contact(
            ord_,
            draw(LEVELS),
            [(f"t{next(_values)}", draw(LEVELS)) for _ in range(draw(st.integers(0, 2)))],
        )
        for ord_ in range(draw(st.integers(0, 2)))
    ]
    bare = [(f"t{next(_values)}", draw(LEVELS)) for _ in range(draw(st.integers(0, 1)))]
    return groups + ([Contact(None, None, bare)] if bare else [])


CAPACITY_LINES = st.tuples(
    st.sampled_from(["01", "02", "03", "04", "05", "06", "07", "08", "09"]),
    st.sampled_from(["", "", "01"]),  # additionalBedType
    st.sampled_from(["", "", "02"]),  # crisisType
    st.sampled_from(["01", "02"]),  # temporaryAssignement
    st.integers(0, 40),
)
OFFER_CODES = st.lists(
    st.tuples(
        st.sampled_from(["specialty", "patient_type", "specific_act", "resource_profession"]),
        st.sampled_from(["1", "2"]),
    ),
    max_size=3,
    unique=True,
)


@st.composite
def worlds(draw: st.DrawFn) -> World:
    deleted = st.booleans().map(lambda b: b and draw(st.integers(0, 3)) == 0)  # tombstones, now and then
    location_ids = [f"l{i}" for i in range(draw(st.integers(1, 3)))]
    offer_ids = [f"s{i}" for i in range(draw(st.integers(1, 4)))]
    things = [
        Thing(
            Entity.ORGANIZATION,
            f"o{i}",
            draw(deleted),
            draw(contacts()),
            codes=draw(st.lists(st.tuples(st.just("aggregate"), st.sampled_from(["1", "2"])), max_size=1)),
            drop_zone=draw(st.sampled_from([None, True, False])),
            orsan=draw(st.sampled_from([None, "1", "3"])),
        )
        for i in range(draw(st.integers(1, 2)))
    ]
    things += [
        Thing(
            Entity.OFFER,
            offer_id,
            draw(deleted),
            draw(contacts()),
            codes=draw(OFFER_CODES),
            sensitive=draw(st.booleans()),
            activity=draw(st.sampled_from(["01", "04", "04", "03", None])),
            locations=draw(st.lists(st.sampled_from([*location_ids, "l-missing"]), max_size=2, unique=True)),
        )
        for offer_id in offer_ids
    ]
    for location_id in location_ids:
        lines = draw(st.lists(CAPACITY_LINES, max_size=5, unique_by=lambda line: line[:4]))
        things.append(
            Thing(
                Entity.LOCATION,
                location_id,
                draw(deleted),
                draw(contacts()),
                capacities=lines,
                equipment=draw(st.lists(st.sampled_from(["001", "042"]), max_size=2, unique=True)),
                residential=draw(st.lists(st.sampled_from(["01", "02"]), max_size=1)),
            )
        )
    practitioners = [f"p{i}" for i in range(draw(st.integers(0, 2)))]
    things += [Thing(Entity.PRACTITIONER, p, draw(deleted), draw(contacts())) for p in practitioners]
    things += [
        Thing(
            Entity.PRACTITIONER_ROLE,
            f"r{i}",
            draw(deleted),
            draw(contacts()),
            codes=draw(st.lists(st.tuples(st.just("savoir_faire"), st.sampled_from(["S1", "S2"])), max_size=1)),
            practitioner=draw(st.sampled_from([None, *practitioners])),
            offer=draw(st.sampled_from([None, *offer_ids])),
        )
        for i in range(draw(st.integers(0, 3)))
    ]
    return World(things)


# --- the world as records -----------------------------------------------------------------------------


def _contact_rows(thing: Thing) -> list[Any]:
    rows = []
    for contact in thing.contacts:
        named = {"contact_name": f"c{contact.ord}"} if contact.ord is not None else {}
        telecoms = contact.telecoms or [(None, None)]  # a contact without telecom is one row
        for value, level in telecoms:
            row = f.telecom(value, contact_level=contact.level, telecom_level=level, **named)
            row["contact_ord"] = contact.ord
            if value is None:
                row["channel_code"] = None
            rows.append(row)
    return rows


def _record(thing: Thing) -> Record:
    contacts_ = _contact_rows(thing)
    codes_ = [f.code(kind, code) for kind, code in thing.codes]
    match thing.kind:
        case Entity.ORGANIZATION:
            return f.organization(
                thing.id, contacts=contacts_, codes=codes_, drop_zone=thing.drop_zone, orsan_level_code=thing.orsan
            )
        case Entity.OFFER:
            return f.offer(
                thing.id,
                contacts=contacts_,
                codes=codes_,
                sensitive=thing.sensitive,
                activity_field_code=thing.activity,
                location_refs=thing.locations,
            )
        case Entity.LOCATION:
            lines = [
                f.capacity(status, nb, additional_bed_type=extra, crisis_type=crisis, temporary_assignment=temp)
                for status, extra, crisis, temp, nb in thing.capacities
            ]
            return f.location(
                thing.id,
                contacts=contacts_,
                capacities=lines,
                equipment=[f.equipment(code) for code in thing.equipment],
                residential=[{"residential_type_code": code, "number": 2} for code in thing.residential],
            )
        case Entity.PRACTITIONER:
            return f.practitioner(thing.id, contacts=contacts_)
        case _:
            return f.practitioner_role(
                thing.id, contacts=contacts_, codes=codes_, practitioner_ref=thing.practitioner, offer_ref=thing.offer
            )


# --- the oracle, from the policy text -------------------------------------------------------------------


@dataclass(frozen=True)
class Facts:
    """What the rules look at for one element: its offer's (or location's) flags."""

    sensitive: bool = False
    medico_social: bool = False


ORGANIZATION = Facts()  # organizations carry no sensitivity and are not "MS offers"


def effective_level(level: int | None) -> int:
    return level if level in (1, 2, 3) else 3  # read-model: missing/unknown = very restricted


def public_description(p: int, facts: Facts) -> bool:
    """§4 and §6 row 1: a sensitive offer's whole description is for P1 and P4 only."""
    return p in (1, 4) or not facts.sensitive


def restricted_description(p: int, facts: Facts) -> bool:
    """§7 row 2 (specific acts, equipment...): never P0; P1, P4; P2, P5 unless sensitive; P3 MS only."""
    if p in (1, 4):
        return True
    if p in (2, 5):
        return not facts.sensitive
    return p == 3 and facts.medico_social and not facts.sensitive


def contact_level(p: int, level: int, facts: Facts) -> bool:
    """§6 row 3 / §7 contact rows: P1 all; P2, P5 ≠3 unless sensitive; P3 ≠3 for MS offers, else
    public only, unless sensitive; P4 public only; P0 public unless sensitive."""
    if p == 1:
        return True
    if p == 4:
        return level == 1
    if facts.sensitive:
        return False
    if p in (2, 5) or (p == 3 and facts.medico_social):
        return level in (1, 2)
    return level == 1  # P0, and P3 outside the médico-social field


def location_telecom_level(p: int, level: int, facts: Facts) -> bool:
    """§6 row 8: P1; P2, P5 ≠3 unless sensitive; P3 only MS, ≠3, not sensitive; P4 public; P0 public ns."""
    if p == 3:
        return facts.medico_social and not facts.sensitive and level in (1, 2)
    return contact_level(p, level, facts)


def organization_contact_level(p: int, level: int) -> bool:
    """§7 contact rows with no sensitivity and outside the MS field (the text has no special rule)."""
    return contact_level(p, level, ORGANIZATION)


def very_restricted(p: int) -> bool:
    """§6 last row: zonePoser and niveauRecoursORSAN are for P1 and P4 only."""
    return p in (1, 4)


INSTALLED = {"01", "08", "09"}  # §7 "installed (status 01)" + read-model: 08, 09 are installed counts


def capacity_line(p: int, line: tuple[str, str, str, str, int], facts: Facts, p0_switch: bool) -> bool:
    """§8: supplementary = status 06 or any extra-bed/crisis type; P1/P4 all; P2 all but
    supplementary; P3 as P2 for MS; P5 installed only; all unless sensitive; P0 none, or with the
    switch installed lines with temporaryAssignement 01 Aucune."""
    status, extra, crisis, temp, _ = line
    supplementary = status == "06" or bool(extra) or bool(crisis)
    if p in (1, 4):
        return True
    if facts.sensitive or supplementary:
        return False
    if p == 0:
        return p0_switch and status == "01" and temp == "01"
    if p == 5:
        return status in INSTALLED
    return p == 2 or facts.medico_social


def personal(p: int, facts: Facts, listed: frozenset[int] | None) -> bool:
    """§7 last row: P1 yes, P4 no, others unknown → read-model default: P2/P5 unless the served
    offer is sensitive, P3 for MS offers; P0 no. With [policy].personal_data_profiles, listed
    profiles follow the served offer's description rule (P2/P3/P5 as above)."""
    default = {1: True, 2: not facts.sensitive, 3: facts.medico_social and not facts.sensitive, 5: not facts.sensitive}
    if listed is None:
        return default.get(p, False)
    return p in listed and default.get(p, public_description(p, facts))


class Oracle:
    def __init__(self, world: World, policy: PolicySettings) -> None:
        self.world = world
        self.policy = policy

    # facts -------------------------------------------------------------------------------------
    def offer_facts(self, offer: Thing | None) -> Facts:
        if offer is None:
            return Facts()
        return Facts(offer.sensitive, offer.activity == "04")

    def location_facts(self, location_id: str) -> Facts:
        """§4: a location is sensitive if any offer pointing to it is; §6 note: MS if any
        non-sensitive MS offer points to it."""
        pointing = [o for o in self.world.of(Entity.OFFER) if location_id in o.locations]
        return Facts(any(o.sensitive for o in pointing), any(not o.sensitive and o.activity == "04" for o in pointing))

    def capped(self, allowed: Any) -> bool:
        """§9: no local profile sees more than the feed profile received."""
        return bool(allowed(self.profile) and allowed(self.policy.feed_profile))

    # per element ----------------------------------------------------------------------------------
    def visible(self, thing: Thing) -> bool:
        """The object itself (rows of the entity views, owners of contacts and codes)."""
        match thing.kind:
            case Entity.ORGANIZATION:
                return True
            case Entity.OFFER:
                return self.capped(lambda p: public_description(p, self.offer_facts(thing)))
            case Entity.LOCATION:
                return self.capped(lambda p: public_description(p, self.location_facts(thing.id)))
            case Entity.PRACTITIONER_ROLE:
                return self.capped(lambda p: self.role_personal(p, thing))
            case _:
                return any(self.capped(lambda p, r=role: self.role_personal(p, r)) for role in self.roles_of(thing))

    def role_personal(self, p: int, role: Thing) -> bool:
        return personal(p, self.offer_facts(self.world.offer(role.offer)), self.policy.personal_data_profiles)

    def roles_of(self, practitioner: Thing) -> list[Thing]:
        return [r for r in self.world.of(Entity.PRACTITIONER_ROLE) if r.practitioner == practitioner.id]

    def levels_pass(self, thing: Thing, levels: list[int]) -> bool:
        """A contact telecom passes with both levels (§3), for the owner's rule."""

        def each(p: int, facts: Facts, rule: Any) -> bool:
            return all(rule(p, effective_level(level), facts) for level in levels)

        match thing.kind:
            case Entity.ORGANIZATION:
                return self.capped(lambda p: all(organization_contact_level(p, effective_level(x)) for x in levels))
            case Entity.OFFER:
                return self.capped(lambda p: each(p, self.offer_facts(thing), contact_level))
            case Entity.LOCATION:
                return self.capped(lambda p: each(p, self.location_facts(thing.id), location_telecom_level))
            case Entity.PRACTITIONER_ROLE:
                return self.role_telecom(thing, levels)
            case _:
                return any(self.role_telecom(role, levels) for role in self.roles_of(thing))

    def role_telecom(self, role: Thing, levels: list[int | None]) -> bool:
        """read-model: a person's telecom follows the personal-data rule and the contact rule of the
        offer the role serves."""
        facts = self.offer_facts(self.world.offer(role.offer))
        return self.capped(
            lambda p: self.role_personal(p, role) and all(contact_level(p, effective_level(x), facts) for x in levels)
        )

    # expected view contents --------------------------------------------------------------------------
    def expected(self, profile: int) -> dict[str, set[tuple[Any, ...]]]:
        self.profile = profile
        world, live = self.world, [t for t in self.world.things if not t.deleted]
        shown = {t.id for t in live if self.visible(t)}
        views: dict[str, set[tuple[Any, ...]]] = {kind: set() for kind in PROJECTIONS}
        for thing in live:
            if thing.id not in shown:
                continue
            self._entity_rows(thing, views)
            self._contact_rows(thing, views)
            for kind, code in thing.codes:
                restricted = kind in ("specific_act", "resource_profession")
                offer_ok = thing.kind is Entity.OFFER and self.capped(
                    lambda p, t=thing: restricted_description(p, self.offer_facts(t))
                )
                if not restricted or offer_ok:
                    views["code"].add((thing.kind.value, thing.id, kind, code))
        for offer in world.of(Entity.OFFER):
            for location_id in offer.locations:
                if offer.id in shown and location_id in shown:
                    views["offer_location"].add((offer.id, location_id))
        for thing in world.things:  # change log: the stored state, tombstoned objects included
            if self._visible_ignoring_tombstone(thing):
                views["change_log"].add((thing.kind.value, thing.id, "insert"))
                if thing.deleted:
                    views["change_log"].add((thing.kind.value, thing.id, "tombstone"))
        return views

    def _visible_ignoring_tombstone(self, thing: Thing) -> bool:
        return self.visible(thing)

    def _entity_rows(self, thing: Thing, views: dict[str, set[tuple[Any, ...]]]) -> None:
        match thing.kind:
            case Entity.ORGANIZATION:
                secret = self.capped(very_restricted)
                views["organization"].add(
                    (thing.id, thing.drop_zone if secret else None, thing.orsan if secret else None)
                )
            case Entity.OFFER:
                views["offer"].add((thing.id,))
            case Entity.LOCATION:
                facts = self.location_facts(thing.id)
                views["location"].add((thing.id,))
                for line in thing.capacities:
                    if self.capped(lambda p, x=line: capacity_line(p, x, facts, self.policy.p0_installed_capacity)):
                        views["capacity"].add((thing.id, *line))
                if self.capped(lambda p: restricted_description(p, facts)):
                    views["equipment"].update((thing.id, code) for code in thing.equipment)
                views["residential_capacity"].update((thing.id, code) for code in thing.residential)
            case Entity.PRACTITIONER_ROLE:
                views["practitioner_role"].add((thing.id,))

    def _contact_rows(self, thing: Thing, views: dict[str, set[tuple[Any, ...]]]) -> None:
        for contact in thing.contacts:
            own = [] if contact.ord is None else [contact.level]
            telecoms = [value for value, level in contact.telecoms if self.levels_pass(thing, [*own, level])]
            for value in telecoms:
                views["contact"].add((thing.kind.value, thing.id, contact.ord, value))
            if contact.ord is not None and not telecoms and self.levels_pass(thing, own):
                views["contact"].add((thing.kind.value, thing.id, contact.ord, None))


PROJECTIONS: dict[str, tuple[str, ...]] = {
    "organization": ("resource_id", "drop_zone", "orsan_level_code"),
    "offer": ("resource_id",),
    "offer_location": ("offer_ref", "location_ref"),
    "location": ("resource_id",),
    "capacity": ("location_ref", "status", "additional_bed_type", "crisis_type", "temporary_assignment", "nb"),
    "equipment": ("location_ref", "equipment_type_code"),
    "residential_capacity": ("location_ref", "residential_type_code"),
    "contact": ("owner_kind", "owner_ref", "contact_ord", "value"),
    "code": ("owner_kind", "owner_ref", "kind", "code"),
    "practitioner_role": ("resource_id",),
    "change_log": ("entity", "resource_id", "op"),
}


# --- running an example ----------------------------------------------------------------------------

DATA_TABLES = [
    t
    for t in reversed(schema.metadata.sorted_tables)
    if t.name not in ("policy_state", "nomenclature", "nomenclature_table")
]


async def store(db: Database, world: World) -> None:
    """Write the world as a sync would: tombstoned objects are the ones a later full load missed."""
    async with db.write() as conn:
        for table in DATA_TABLES:
            await conn.execute(delete(table))
        gone = [_record(t) for t in world.things if t.deleted]
        kept = [_record(t) for t in world.things if not t.deleted]
        await apply_records(WriteContext(conn, Source.FHIR, NOW), gone)
        later = WriteContext(conn, Source.FHIR, LATER)
        await apply_records(later, kept)
        for entity in Entity:
            await tombstone_unseen(later, entity, seen_before=LATER)


def compare(profile: int, views: dict[str, list[dict[str, Any]]], expected: dict[str, set[tuple[Any, ...]]]) -> None:
    for kind, columns in PROJECTIONS.items():
        actual = [tuple(row[c] for c in columns) for row in views[kind]]
        assert len(actual) == len(set(actual)), f"p{profile}_{kind} has duplicate rows"
        missing, extra = expected[kind] - set(actual), set(actual) - expected[kind]
        assert not extra, f"p{profile}_{kind} shows what the policy forbids: {sorted(extra, key=str)}"
        assert not missing, f"p{profile}_{kind} lacks what the policy allows: {sorted(missing, key=str)}"


VARIANTS = [
    PolicySettings(),
    PolicySettings(feed_profile=2),
    PolicySettings(feed_profile=3, p0_installed_capacity=True),
    PolicySettings(feed_profile=4, personal_data_profiles=frozenset({0, 3, 4})),
    PolicySettings(feed_profile=5, p0_installed_capacity=True),
    PolicySettings(feed_profile=0, p0_installed_capacity=True, personal_data_profiles=frozenset({0, 1})),
]


class Mirror:
    """One database and one event loop for all the examples of a test (each example replaces the
    data). On SQLite the views are read through the plain driver: it is the SQL under test, and it
    keeps the property fast; PostgreSQL reads go through rorsync's engine."""

    def __init__(self, url: str) -> None:
        self.loop = asyncio.new_event_loop()
        self.db = Database(url)
        self.loop.run_until_complete(migrate.upgrade(self.db))
        self.plain = sqlite3.connect(self.db.url.database or "") if self.db.is_sqlite else None

    def check(self, world: World, policy: PolicySettings) -> None:
        self.loop.run_until_complete(store(self.db, world))
        self.loop.run_until_complete(ensure_views(self.db, policy))
        oracle = Oracle(world, policy)
        for profile in ALL_PROFILES:
            compare(profile, self.read(profile), oracle.expected(profile))

    def read(self, profile: int) -> dict[str, list[dict[str, Any]]]:
        if self.plain is None:
            return self.loop.run_until_complete(profile_rows(self.db, profile, PROJECTIONS))
        views = {}
        for kind in PROJECTIONS:
            cursor = self.plain.execute(f"SELECT * FROM {view_name(profile, kind)}")
            names = [column[0] for column in cursor.description]
            views[kind] = [dict(zip(names, row, strict=True)) for row in cursor]
        return views

    def close(self) -> None:
        async def empty() -> None:
            async with self.db.write() as conn:
                for table in DATA_TABLES:
                    await conn.execute(delete(table))
            await ensure_views(self.db, PolicySettings())
            await self.db.close()

        if self.plain is not None:
            self.plain.close()
        self.loop.run_until_complete(empty())
        self.loop.close()


@pytest.fixture
def sqlite_mirror(tmp_path: Path) -> Iterator[Mirror]:
    mirror = Mirror(f"sqlite:///{tmp_path / 'oracle.sqlite'}")
    yield mirror
    mirror.close()


@pytest.fixture
def postgres_mirror(postgres_url: str) -> Iterator[Mirror]:
    mirror = Mirror(postgres_url)
    yield mirror
    mirror.close()


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(world=worlds(), policy=st.sampled_from(VARIANTS))
def test_views_show_exactly_what_the_policy_allows(sqlite_mirror: Mirror, world: World, policy: PolicySettings) -> None:
    sqlite_mirror.check(world, policy)


@pytest.mark.postgres
@settings(max_examples=8, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(world=worlds(), policy=st.sampled_from(VARIANTS))
def test_views_show_exactly_what_the_policy_allows_on_postgresql(
    postgres_mirror: Mirror, world: World, policy: PolicySettings
) -> None:
    postgres_mirror.check(world, policy)

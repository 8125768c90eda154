"""The concrete cases of access-policy.md §10, checked against the per-profile views.

Case 28 (``HealthcareService?location.capacity-status=06`` as P2) is about FHIR search and has no
SQL counterpart: a view user can only filter on what the view shows, and a P2 view never holds a
supplementary line, so such a filter cannot reveal one (no oracle query is possible by design).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import pytest

from rorsync.config import Settings
from rorsync.model import Record
from rorsync.policy.profiles import AccessDeniedError, resolve_profile
from rorsync.policy.rules import PolicySettings
from rorsync.store.engine import Database
from tests import factories as f
from tests.policy.support import DEFAULT_POLICY, load, view_rows

MCO, MS = "01", "04"


@dataclass(frozen=True)
class Expect:
    kind: str  # view kind
    visible: bool
    match: dict[str, object]  # column values that identify the element looked at


def shown(view: str, /, **match: object) -> Expect:
    return Expect(view, True, match)


def hidden(view: str, /, **match: object) -> Expect:
    return Expect(view, False, match)


@dataclass(frozen=True)
class Case:
    id: str
    data: Callable[[], list[Record]]
    expect: tuple[Expect, ...]
    profiles: tuple[int, ...] = ()
    settings: PolicySettings = DEFAULT_POLICY
    cu: str | None = None  # resolve the profile from this CU code instead of ``profiles``
    cu_profiles: dict[str, int] = field(default_factory=dict)  # overrides of [policy].cu_profiles


def sensitive_offer() -> list[Record]:
    return [f.offer("s1", sensitive=True, location_refs=["l1"]), f.location("l1")]


def shared_location() -> list[Record]:
    return [
        f.offer("s1", sensitive=True, location_refs=["l1"]),
        f.offer("s2", location_refs=["l1"]),
        f.location("l1"),
    ]


def offer_contact(level: int, activity: str = MCO, telecom_level: int | None = None) -> Callable[[], list[Record]]:
    def data() -> list[Record]:
        telecom = f.telecom("0102030405", contact_level=level, telecom_level=telecom_level or level)
        return [f.offer("s1", activity_field_code=activity, contacts=[telecom])]

    return data


def capacity_line(status: str, activity: str = MCO, **codes: str) -> Callable[[], list[Record]]:
    def data() -> list[Record]:
        return [
            f.offer("s1", activity_field_code=activity, location_refs=["l1"]),
            f.location("l1", capacities=[f.capacity(status, 7, **codes)]),
        ]

    return data


def supplementary_flags() -> list[Record]:
    return [
        f.offer("s1", location_refs=["l1"]),
        f.location(
            "l1",
            capacities=[f.capacity("02", 2, additional_bed_type="01"), f.capacity("02", 3, crisis_type="02")],
        ),
    ]


def drop_zone() -> list[Record]:
    return [f.organization("eg", drop_zone=True, orsan_level_code="1")]


def specific_acts() -> list[Record]:
    act = f.code("specific_act", "0123", "TRE_R210")
    return [f.offer("s1", activity_field_code=MCO, codes=[act]), f.offer("s2", activity_field_code=MS, codes=[act])]


def equipment() -> list[Record]:
    return [f.offer("s1", location_refs=["l1"]), f.location("l1", equipment=[f.equipment("042")])]


def personal_data() -> list[Record]:
    return [
        f.offer("s1"),
        f.practitioner("pr1", contacts=[f.telecom("0611111111", telecom_level=1)]),
        f.practitioner_role("ro1", practitioner_ref="pr1", offer_ref="s1"),
    ]


def nothing() -> list[Record]:
    return []


def mapping_edit() -> list[Record]:
    return [*offer_contact(2)(), f.offer("s9", sensitive=True)]


TELECOM = "0102030405"

CASES = [
    Case("01", sensitive_offer, (hidden("offer", resource_id="s1"),), profiles=(2,)),
    Case("02", sensitive_offer, (shown("offer", resource_id="s1"),), profiles=(1, 4)),
    Case("03", sensitive_offer, (hidden("offer", resource_id="s1"),), profiles=(0, 3, 5)),
    Case("04", sensitive_offer, (hidden("location", resource_id="l1"),), profiles=(2,)),
    Case("05", shared_location, (hidden("location", resource_id="l1"), shown("offer", resource_id="s2")), (2,)),
    Case("06", offer_contact(2), (hidden("contact", owner_ref="s1"),), profiles=(4,)),
    Case("07", offer_contact(2), (shown("contact", owner_ref="s1", value=TELECOM),), profiles=(2,)),
    Case("08", offer_contact(2, MCO), (hidden("contact", owner_ref="s1"),), profiles=(3,)),
    Case("09", offer_contact(2, MS), (shown("contact", owner_ref="s1", value=TELECOM),), profiles=(3,)),
    Case("10", offer_contact(3), (hidden("contact", owner_ref="s1"),), profiles=(2, 5)),
    Case("11", offer_contact(3), (shown("contact", owner_ref="s1", value=TELECOM),), profiles=(1,)),
    Case(
        "12",
        offer_contact(1, telecom_level=3),
        (shown("contact", owner_ref="s1", contact_ord=0, value=None), hidden("contact", value=TELECOM)),
        profiles=(2,),
    ),
    Case("13", offer_contact(1), (shown("contact", owner_ref="s1", value=TELECOM),), profiles=(0,)),
    Case("14", capacity_line("06"), (hidden("capacity", status="06"),), profiles=(2,)),
    Case("15", capacity_line("06"), (shown("capacity", status="06", capacity_class="supplementary"),), (1, 4)),
    Case(
        "16",
        supplementary_flags,
        (hidden("capacity", additional_bed_type="01"), hidden("capacity", crisis_type="02")),
        profiles=(2,),
    ),
    Case("17", capacity_line("02"), (hidden("capacity", status="02"),), profiles=(5,)),
    Case("18", capacity_line("01"), (shown("capacity", status="01", nb=7),), profiles=(5,)),
    Case("19-default", capacity_line("01", temporary_assignment="01"), (hidden("capacity", status="01"),), (0,)),
    Case(
        "19-switch",
        capacity_line("01", temporary_assignment="01"),
        (shown("capacity", status="01", temporary_assignment="01"),),
        profiles=(0,),
        settings=PolicySettings(p0_installed_capacity=True),
    ),
    Case("20", capacity_line("02", MCO), (hidden("capacity", status="02"),), profiles=(3,)),
    Case("21", capacity_line("02", MS), (shown("capacity", status="02"),), profiles=(3,)),
    Case(
        "22",
        drop_zone,
        (
            shown("organization", resource_id="eg", drop_zone=None, orsan_level_code=None, orsan_level_label=None),
            hidden("organization", drop_zone=True),
        ),
        profiles=(2,),
    ),
    Case("23", drop_zone, (shown("organization", resource_id="eg", drop_zone=True, orsan_level_code="1"),), (4,)),
    Case("24", specific_acts, (hidden("code", owner_ref="s1", kind="specific_act"),), profiles=(0,)),
    Case(
        "25",
        specific_acts,
        (hidden("code", owner_ref="s1", kind="specific_act"), shown("code", owner_ref="s2", restricted=True)),
        profiles=(3,),
    ),
    Case("26", equipment, (hidden("equipment", location_ref="l1"),), profiles=(0,)),
    Case(
        "27",
        personal_data,
        (
            hidden("practitioner_role", resource_id="ro1"),
            hidden("contact", owner_kind="practitioner"),
            shown("offer", resource_id="s1"),
        ),
        profiles=(4,),
    ),
    Case(
        "29",
        sensitive_offer,
        (hidden("offer_location", offer_ref="s1"), hidden("location", resource_id="l1")),
        profiles=(2,),
    ),
    Case(
        "30",
        offer_contact(3),
        (hidden("contact", owner_ref="s1"),),
        settings=PolicySettings(feed_profile=2),
        cu="CU22",
    ),
    Case(
        "32",
        mapping_edit,
        (shown("contact", owner_ref="s1", value=TELECOM), hidden("offer", resource_id="s9")),
        cu="CU26",
        cu_profiles={"CU26": 2},
    ),
]


def _profiles(case: Case) -> tuple[int, ...]:
    if case.cu is None:
        return case.profiles
    settings = Settings(policy={"cu_profiles": {**Settings().policy.cu_profiles, **case.cu_profiles}})
    return (resolve_profile(case.cu, settings),)


@pytest.mark.parametrize("case", CASES, ids=lambda case: f"case{case.id}")
async def test_access_policy_case(database: Database, case: Case) -> None:
    await load(database, case.data(), case.settings)
    for profile in _profiles(case):
        for expect in case.expect:
            found = [
                row
                for row in await view_rows(database, profile, expect.kind)
                if all(row[name] == value for name, value in expect.match.items())
            ]
            assert bool(found) == expect.visible, f"case {case.id}, profile {profile}: {expect}"


def test_case30_cu22_maps_to_profile_1_whose_views_are_capped_by_the_feed() -> None:
    assert resolve_profile("CU22", Settings()) == 1


@pytest.mark.parametrize("code", ["CU99", "CU05", "CU16", "", None, "cu2"])
def test_case31_unknown_or_unmapped_cu_codes_are_denied(code: str | None) -> None:
    with pytest.raises(AccessDeniedError, match="access denied"):
        resolve_profile(code, Settings())


def test_case31_unknown_codes_fall_back_only_when_configured() -> None:
    assert resolve_profile("CU05", Settings(policy={"unknown_cu": 0})) == 0


def test_case32_the_mapping_is_configuration() -> None:
    assert resolve_profile("CU26", Settings()) == 4
    assert resolve_profile(" cu26 ", Settings(policy={"cu_profiles": {"CU26": 2}})) == 2

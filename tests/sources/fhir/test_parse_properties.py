"""Property: any valid ROR-shaped resource maps without error and keeps its identity fields."""

from __future__ import annotations

import datetime as dt
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from rorsync import codes
from rorsync.model import Entity
from rorsync.sources.fhir import profile
from rorsync.sources.fhir.parse import record_from_resource

FHIR_ID = st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-.", min_size=1, max_size=64)
OFFSETS = st.sampled_from(
    [
        dt.UTC,
        dt.timezone(dt.timedelta(hours=1)),
        dt.timezone(dt.timedelta(hours=2)),
        dt.timezone(dt.timedelta(hours=-3, minutes=-30)),
    ]
)
INSTANTS = st.datetimes(min_value=dt.datetime(2000, 1, 1), max_value=dt.datetime(2099, 12, 31), timezones=OFFSETS)
REGIONS = st.sampled_from(codes.table("TRE_R30").current_codes())
DIGITS = st.integers(min_value=0, max_value=9)
TEXT = st.text(min_size=1, max_size=40)
LEVELS = st.sampled_from(["1", "2", "3"])


def digits(count: int) -> st.SearchStrategy[str]:
    return st.lists(DIGITS, min_size=count, max_size=count).map(lambda ds: "".join(map(str, ds)))


def concept(table: str, code: str) -> dict[str, Any]:
    return {"coding": [{"system": codes.table(table).fhir_system, "code": code}]}


def codes_of(table: str) -> st.SearchStrategy[str]:
    return st.sampled_from(codes.table(table).current_codes())


@st.composite
def telecoms(draw: st.DrawFn) -> list[dict[str, Any]]:
    return [
        {
            "extension": [
                {
                    "url": profile.EXT_TELECOM_CHANNEL,
                    "valueCodeableConcept": concept("TRE_R200", draw(codes_of("TRE_R200"))),
                },
                {"url": profile.EXT_TELECOM_CONFIDENTIALITY, "valueCodeableConcept": concept("TRE_R283", draw(LEVELS))},
            ],
            "system": draw(st.sampled_from(["phone", "email", "fax", "url"])),
            "value": draw(TEXT),
        }
        for _ in range(draw(st.integers(0, 3)))
    ]


@st.composite
def organizations(draw: st.DrawFn) -> tuple[dict[str, Any], dict[str, Any]]:
    kind = draw(st.sampled_from(["EJ", "EG", "OI"]))
    identifiers: dict[str, str] = {}
    resource: dict[str, Any] = {"resourceType": "Organization", "name": draw(TEXT), "telecom": draw(telecoms())}
    if kind == "EJ":
        identifiers["siren"] = draw(digits(9))
        identifiers["id_nat_struct"] = "2" + identifiers["siren"]
        resource["identifier"] = [
            {
                "system": draw(st.sampled_from([profile.SYSTEM_SIRENE, profile.SYSTEM_SIRENE_LEGACY])),
                "value": identifiers["siren"],
            },
            {"system": profile.SYSTEM_ID_NAT_STRUCT, "value": identifiers["id_nat_struct"]},
        ]
        resource["type"] = [concept("TRE_R72", draw(codes_of("TRE_R72")))]
    elif kind == "EG":
        identifiers["finess"] = draw(digits(9))
        resource["identifier"] = [{"system": profile.SYSTEM_FINESS, "value": identifiers["finess"]}]
        if draw(st.booleans()):
            identifiers["siret"] = draw(digits(14))
            resource["identifier"].append({"system": profile.SYSTEM_SIRENE, "value": identifiers["siret"]})
        resource["partOf"] = {"reference": f"Organization/{draw(FHIR_ID)}"}
        resource["type"] = [concept("TRE_R66", draw(codes_of("TRE_R66")))]
    else:
        identifiers["oi_id"] = f"{draw(REGIONS)}/{draw(digits(6))}"
        resource["identifier"] = [{"system": profile.SYSTEM_OI, "value": identifiers["oi_id"]}]
        resource["partOf"] = {"reference": f"Organization/{draw(FHIR_ID)}"}
    identifiers["kind"] = kind
    return resource, identifiers


@st.composite
def offers(draw: st.DrawFn) -> tuple[dict[str, Any], dict[str, Any]]:
    identifier = f"{draw(REGIONS)}/{draw(digits(7))}"
    sensitive = draw(st.booleans())
    low = draw(st.integers(0, 60))
    return (
        {
            "resourceType": "HealthcareService",
            "extension": [
                {"url": profile.EXT_HS_SENSITIVE_UNIT, "valueBoolean": sensitive},
                {
                    "url": profile.EXT_HS_PATIENT_TYPE,
                    "extension": [
                        {
                            "url": "ageRange",
                            "valueRange": {
                                "low": {"value": low, "code": "a"},
                                "high": {"value": low + 50, "system": profile.UCUM, "code": "a"},
                            },
                        }
                    ],
                },
            ],
            "identifier": [{"type": {"coding": [{"system": profile.ID_TYPE_R355, "code": "35"}]}, "value": identifier}],
            "name": draw(TEXT),
            "type": [concept("TRE_R227", draw(codes_of("TRE_R227")))],
            "specialty": [concept("TRE_R211", code) for code in draw(st.lists(codes_of("TRE_R211"), max_size=3))],
            "location": [{"reference": f"Location/{draw(FHIR_ID)}"} for _ in range(draw(st.integers(0, 2)))],
            "telecom": draw(telecoms()),
        },
        {"offer_identifier": identifier, "sensitive": sensitive, "age_min": float(low)},
    )


@st.composite
def capacity(draw: st.DrawFn) -> dict[str, Any]:
    values = {
        name: draw(codes_of(profile.CAPACITY_TABLES[column])) for name, column in profile.CAPACITY_SUBEXTENSIONS.items()
    }
    form = draw(st.sampled_from(["valueCodeableConcept", "valueCode"]))
    return {
        "url": profile.EXT_LOC_SUPPORTED_CAPACITY,
        "extension": [
            {
                "url": name,
                form: concept(profile.CAPACITY_TABLES[profile.CAPACITY_SUBEXTENSIONS[name]], code)
                if form == "valueCodeableConcept"
                else code,
            }
            for name, code in values.items()
        ]
        + [
            {"url": "nbCapacity", "valueInteger": draw(st.integers(0, 500))},
            {"url": "capacityUpdateDate", "valueDateTime": draw(INSTANTS).isoformat()},
        ],
    }


@st.composite
def locations(draw: st.DrawFn) -> tuple[dict[str, Any], dict[str, Any]]:
    identifier = f"{draw(REGIONS)}/{draw(digits(5))}"
    return (
        {
            "resourceType": "Location",
            "extension": draw(st.lists(capacity(), max_size=4)),
            "identifier": [{"type": {"coding": [{"system": profile.ID_TYPE_R354, "code": "25"}]}, "value": identifier}],
            "status": draw(st.sampled_from(["active", "inactive", "suspended"])),
            "operationalStatus": {"code": draw(st.sampled_from(["OP", "FT", "FD"]))},
            "position": {"latitude": draw(st.floats(-90, 90)), "longitude": draw(st.floats(-180, 180))},
            "telecom": draw(telecoms()),
        },
        {"location_identifier": identifier},
    )


@st.composite
def practitioners(draw: st.DrawFn) -> tuple[dict[str, Any], dict[str, Any]]:
    idnat = "1" + draw(digits(10))
    return (
        {
            "resourceType": "Practitioner",
            "identifier": [{"system": profile.SYSTEM_IDNAT_PS, "value": idnat}],
            "name": [{"family": draw(TEXT), "given": [draw(TEXT)]}],
            "telecom": draw(telecoms()),
        },
        {"idnat_ps": idnat},
    )


@st.composite
def roles(draw: st.DrawFn) -> tuple[dict[str, Any], dict[str, Any]]:
    situation = draw(digits(11))
    return (
        {
            "resourceType": "PractitionerRole",
            "identifier": [{"value": situation}],
            "practitioner": {"reference": f"Practitioner/{draw(FHIR_ID)}"},
            "healthcareService": [{"reference": f"HealthcareService/{draw(FHIR_ID)}"}],
            "code": [concept("TRE_G15", draw(codes_of("TRE_G15")))],
            "extension": [
                {
                    "url": profile.EXT_ROLE_EXERCISE_MODE,
                    "valueCodeableConcept": concept("TRE_R23", draw(codes_of("TRE_R23"))),
                }
            ],
            "telecom": draw(telecoms()),
        },
        {"situation_identifier": situation},
    )


@settings(max_examples=300, deadline=None)
@given(
    body=st.one_of(organizations(), offers(), locations(), practitioners(), roles()),
    resource_id=FHIR_ID,
    last_updated=INSTANTS,
    region=st.none() | REGIONS,
)
def test_valid_resources_map_and_keep_their_identity(
    body: tuple[dict[str, Any], dict[str, Any]], resource_id: str, last_updated: dt.datetime, region: str | None
) -> None:
    resource, expected = body
    meta: dict[str, Any] = {"lastUpdated": last_updated.isoformat()}
    if region is not None:
        meta["tag"] = [{"system": profile.REGION_TAG_SYSTEM, "code": region}]
    resource = {"resourceType": resource["resourceType"], "id": resource_id, "meta": meta} | resource

    record = record_from_resource(resource)

    assert record is not None
    assert (
        record.entity
        == {
            "Organization": Entity.ORGANIZATION,
            "HealthcareService": Entity.OFFER,
            "Location": Entity.LOCATION,
            "Practitioner": Entity.PRACTITIONER,
            "PractitionerRole": Entity.PRACTITIONER_ROLE,
        }[resource["resourceType"]]
    )
    assert (record.resource_id, record.last_updated, record.region) == (resource_id, last_updated, region)
    assert record.last_updated.tzinfo is dt.UTC
    assert {key: record.row[key] for key in expected} == expected  # type: ignore[literal-required]
    assert len(record.contacts) == len(resource["telecom"])
    if resource["resourceType"] == "Location":
        assert len(record.capacities) <= len(resource["extension"])

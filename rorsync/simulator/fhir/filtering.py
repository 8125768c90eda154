"""Server-side filtering by the caller's access profile, applied when a resource is serialised.

Everything is decided by the policy table (:mod:`rorsync.policy.rules`): which element class a part of a
resource belongs to, then ``allows(...)`` with the resource's context (sensitive, médico-social) and
the confidentiality levels involved. Redaction removes whole elements (a contact, a telecom, a capacity
line, an extension); it never blanks a key field. A resource whose identity class is not granted is
invisible: absent from searches, includes, reads and exports.

Readings where the policy text is silent (documented in ``docs/simulator.md``): offer and location
telecoms follow the contact rule of their level; Practitioner and PractitionerRole telecoms follow the
offer-contact rule with the context of the offers the practitioner works in.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson

from rorsync import codes
from rorsync.policy.rules import ElementClass, Rules, allows, capacity_class
from rorsync.simulator.world.elements import Json, level_of
from rorsync.simulator.world.index import capacity_code
from rorsync.simulator.world.store import WorldResource
from rorsync.sources.fhir import profile

IDENTITY_CLASS = {
    "Organization": ElementClass.ORGANIZATION_IDENTITY,
    "HealthcareService": ElementClass.OFFER_DESCRIPTION,
    "Location": ElementClass.LOCATION_IDENTITY,
    "PractitionerRole": ElementClass.PERSONAL_DATA,
    "Practitioner": ElementClass.PERSONAL_DATA,
}
TELECOM_CLASS = {
    "Organization": ElementClass.ORGANIZATION_CONTACT,
    "HealthcareService": ElementClass.OFFER_CONTACT,
    "Location": ElementClass.LOCATION_TELECOM,
    "PractitionerRole": ElementClass.OFFER_CONTACT,
    "Practitioner": ElementClass.OFFER_CONTACT,
}


@dataclass(frozen=True, slots=True)
class Redactor:
    """Shapes resources for one profile at a time, from a (possibly feed-capped) rule table."""

    rules: Rules

    def visible(self, resource: WorldResource, access_profile: int) -> bool:
        return allows(
            self.rules,
            IDENTITY_CLASS[resource.resource_type],
            access_profile,
            sensitive=resource.sensitive,
            medico_social=resource.medico_social,
        )

    def redact(self, resource: WorldResource, access_profile: int) -> Json | None:
        """The resource as ``access_profile`` receives it, or ``None`` when it may not see it at all."""
        if not self.visible(resource, access_profile):
            return None
        body: Json = orjson.loads(resource.body)
        _Shaper(self.rules, access_profile, resource.sensitive, resource.medico_social).shape(body)
        return body


@dataclass(frozen=True, slots=True)
class _Shaper:
    rules: Rules
    access_profile: int
    sensitive: bool
    medico_social: bool

    def allows(self, element: ElementClass, *levels: int | None, temporary_assignment: str | None = None) -> bool:
        return allows(
            self.rules,
            element,
            self.access_profile,
            sensitive=self.sensitive,
            medico_social=self.medico_social,
            levels=levels,
            temporary_assignment=temporary_assignment,
        )

    def shape(self, body: Json) -> None:
        kind = body["resourceType"]
        telecom_class = TELECOM_CLASS[kind]
        _keep(body, "telecom", lambda point: self.allows(telecom_class, _telecom_level(point)))
        if kind == "Organization":
            self._organization(body)
        elif kind == "HealthcareService":
            self._offer(body)
        elif kind == "Location":
            self._location(body)

    def _organization(self, body: Json) -> None:
        if not self.allows(ElementClass.ORGANIZATION_VERY_RESTRICTED):
            very_restricted = {profile.EXT_ORG_DROP_ZONE, profile.EXT_ORG_ORSAN}
            _keep(body, "extension", lambda ext: ext["url"] not in very_restricted)
        contact_class = ElementClass.ORGANIZATION_CONTACT

        def contact_visible(contact: Json) -> bool:
            level = level_of(contact.get("extension", []), profile.EXT_CONTACT_CONFIDENTIALITY)
            if not self.allows(contact_class, level):
                return False
            _keep(contact, "telecom", lambda point: self.allows(contact_class, level, _telecom_level(point)))
            return True

        _keep(body, "contact", contact_visible)

    def _offer(self, body: Json) -> None:
        contact_class = ElementClass.OFFER_CONTACT

        def extension_visible(ext: Json) -> bool:
            if ext["url"] != profile.EXT_HS_CONTACT:
                return True
            level = level_of(ext["extension"], profile.EXT_CONFIDENTIALITY)
            if not self.allows(contact_class, level):
                return False
            _keep(
                ext,
                "extension",
                lambda sub: (
                    sub["url"] != profile.EXT_HS_CONTACT_TELECOM
                    or self.allows(
                        contact_class, level, level_of(sub["extension"], profile.EXT_TELECOM_CONFIDENTIALITY)
                    )
                ),
            )
            return True

        _keep(body, "extension", extension_visible)
        if not self.allows(ElementClass.OFFER_RESTRICTED):
            _keep(body, "characteristic", lambda characteristic: not _restricted(characteristic))

    def _location(self, body: Json) -> None:
        def extension_visible(ext: Json) -> bool:
            if ext["url"] == profile.EXT_LOC_EQUIPMENT:
                return self.allows(ElementClass.LOCATION_EQUIPMENT)
            if ext["url"] == profile.EXT_LOC_SUPPORTED_CAPACITY:
                line_class = capacity_class(
                    capacity_code(ext, "status"),
                    capacity_code(ext, "additional_bed_type"),
                    capacity_code(ext, "crisis_type"),
                )
                return self.allows(line_class, temporary_assignment=capacity_code(ext, "temporary_assignment"))
            return True

        _keep(body, "extension", extension_visible)


def _keep(node: Json, key: str, predicate: Any) -> None:
    """Filter the list ``node[key]`` in place, dropping the key when nothing is left (no empty arrays)."""
    items = node.get(key)
    if not isinstance(items, list):
        return
    kept = [item for item in items if predicate(item)]
    if kept:
        node[key] = kept
    else:
        del node[key]


def _telecom_level(point: Json) -> int | None:
    return level_of(point.get("extension", []), profile.EXT_TELECOM_CONFIDENTIALITY)


def _restricted(characteristic: Json) -> bool:
    """Restricted description: specific/outside-office acts, PEC specialisation, resource profession, competences."""
    if any(ext.get("url") == profile.EXT_ACT_TYPE for ext in characteristic.get("extension", ())):
        return True
    return any(
        codes.table_for_system(coding.get("system", "")) in profile.RESTRICTED_CHARACTERISTIC_TABLES
        for coding in characteristic.get("coding", ())
    )

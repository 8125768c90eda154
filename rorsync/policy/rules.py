"""The ROR data access policy as data: element classes × profiles → grants.

Derived from the mapping comments of the ROR FHIR IG v0.7.0 as condensed in the project's
``access-policy.md`` (§6–§8). One table drives everything that filters: the per-profile SQL views
of the mirror, the exports, and the simulator's server-side filtering. The test suite checks them
against an oracle written independently from the policy text.

A grant lists the conditions under which a profile sees an element; a profile sees an element when
any of its grants matches. An empty tuple means "never". Conditions are about:

* ``sensitive`` — the offer is flagged ``uniteSensible`` (for a Location: any offer pointing to it);
* ``medico_social`` — the offer's champ d'activité is ``04`` (for a Location: any non-sensitive
  MS offer pointing to it);
* ``level`` — a contact or telecom confidentiality level (TRE_R283: 1 public, 2 restricted,
  3 very restricted); a contact telecom must pass with both its contact's and its own level.

Inferred parts of the policy (marked below) can be changed through :class:`PolicySettings`.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from types import MappingProxyType
from typing import Final

PROFILES: Final = (0, 1, 2, 3, 4, 5)
MEDICO_SOCIAL_ACTIVITY_FIELD: Final = "04"
CONFIDENTIALITY_LEVELS: Final = (1, 2, 3)  # TRE_R283; anything else counts as very restricted


class ElementClass(StrEnum):
    OFFER_DESCRIPTION = "offer_description"  # identity, name, activity, modes, hours, closures, comment
    OFFER_RESTRICTED = "offer_restricted"  # specific acts, PEC specialisation, resource profession...
    OFFER_CONTACT = "offer_contact"  # HealthcareService contacts and telecoms
    LOCATION_IDENTITY = "location_identity"  # id, name, address, position, type, status, residential
    LOCATION_EQUIPMENT = "location_equipment"  # specific equipment and its limits
    LOCATION_TELECOM = "location_telecom"
    CAPACITY_INSTALLED = "capacity_installed"  # status 01 (and 08, 09: structural counts)
    CAPACITY_OPERATIONAL = "capacity_operational"  # status 02 disponible ... 05 fermé, 07
    CAPACITY_SUPPLEMENTARY = "capacity_supplementary"  # status 06, or additional bed / crisis type
    ORGANIZATION_IDENTITY = "organization_identity"  # EJ/EG/OI identity, identifiers, address...
    ORGANIZATION_VERY_RESTRICTED = "organization_very_restricted"  # zonePoser, niveauRecoursORSAN
    ORGANIZATION_CONTACT = "organization_contact"  # Organization contacts and telecoms (inferred)
    PERSONAL_DATA = "personal_data"  # Practitioner, PractitionerRole (inferred)


@dataclass(frozen=True, slots=True)
class Grant:
    """Conditions under which one profile sees one element class."""

    max_level: int | None = None  # contact/telecom level ceiling; None when levels do not apply
    not_sensitive: bool = False  # hidden when the offer (or any offer of the location) is sensitive
    medico_social_only: bool = False  # only for médico-social offers
    temporary_assignment: str | None = None  # capacity lines: only this TRE_R337 code (P0 switch)
    capacity_statuses: frozenset[str] | None = None  # capacity lines: only these TRE_R330 statuses (P0 switch)


ALWAYS: Final = (Grant(),)
NEVER: Final[tuple[Grant, ...]] = ()
NS: Final = Grant(not_sensitive=True)
MS_NS: Final = Grant(not_sensitive=True, medico_social_only=True)

Rules = MappingProxyType[ElementClass, MappingProxyType[int, tuple[Grant, ...]]]


def _table(**by_profile: tuple[Grant, ...]) -> MappingProxyType[int, tuple[Grant, ...]]:
    grants = {int(name.removeprefix("p")): value for name, value in by_profile.items()}
    if sorted(grants) != list(PROFILES):
        raise ValueError(f"a rule must name the six profiles, got {sorted(grants)}")
    return MappingProxyType(grants)


DEFAULT_RULES: Final[Rules] = MappingProxyType(
    {
        # access-policy §6 row 1; §7 "public description".
        ElementClass.OFFER_DESCRIPTION: _table(p0=(NS,), p1=ALWAYS, p2=(NS,), p3=(NS,), p4=ALWAYS, p5=(NS,)),
        # §6 row 2; §7 "restricted description".
        ElementClass.OFFER_RESTRICTED: _table(p0=NEVER, p1=ALWAYS, p2=(NS,), p3=(MS_NS,), p4=ALWAYS, p5=(NS,)),
        # §6 rows 3-4: applied to the contact level and to the telecom level.
        ElementClass.OFFER_CONTACT: _table(
            p0=(Grant(max_level=1, not_sensitive=True),),
            p1=ALWAYS,
            p2=(Grant(max_level=2, not_sensitive=True),),
            p3=(
                Grant(max_level=2, not_sensitive=True, medico_social_only=True),
                Grant(max_level=1, not_sensitive=True),
            ),
            p4=(Grant(max_level=1),),
            p5=(Grant(max_level=2, not_sensitive=True),),
        ),
        # §6 row 5.
        ElementClass.LOCATION_IDENTITY: _table(p0=(NS,), p1=ALWAYS, p2=(NS,), p3=(NS,), p4=ALWAYS, p5=(NS,)),
        # §6 row 6.
        ElementClass.LOCATION_EQUIPMENT: _table(p0=NEVER, p1=ALWAYS, p2=(NS,), p3=(MS_NS,), p4=ALWAYS, p5=(NS,)),
        # §6 row 8.
        ElementClass.LOCATION_TELECOM: _table(
            p0=(Grant(max_level=1, not_sensitive=True),),
            p1=ALWAYS,
            p2=(Grant(max_level=2, not_sensitive=True),),
            p3=(Grant(max_level=2, not_sensitive=True, medico_social_only=True),),
            p4=(Grant(max_level=1),),
            p5=(Grant(max_level=2, not_sensitive=True),),
        ),
        # §8: capacity lines, filtered line by line.
        ElementClass.CAPACITY_INSTALLED: _table(p0=NEVER, p1=ALWAYS, p2=(NS,), p3=(MS_NS,), p4=ALWAYS, p5=(NS,)),
        ElementClass.CAPACITY_OPERATIONAL: _table(p0=NEVER, p1=ALWAYS, p2=(NS,), p3=(MS_NS,), p4=ALWAYS, p5=NEVER),
        ElementClass.CAPACITY_SUPPLEMENTARY: _table(p0=NEVER, p1=ALWAYS, p2=NEVER, p3=NEVER, p4=ALWAYS, p5=NEVER),
        # §6 row 9.
        ElementClass.ORGANIZATION_IDENTITY: _table(p0=ALWAYS, p1=ALWAYS, p2=ALWAYS, p3=ALWAYS, p4=ALWAYS, p5=ALWAYS),
        # §6 row 10.
        ElementClass.ORGANIZATION_VERY_RESTRICTED: _table(p0=NEVER, p1=ALWAYS, p2=NEVER, p3=NEVER, p4=ALWAYS, p5=NEVER),
        # Inferred: the level rule of §7 without sensitivity (organizations have none) and, for P3,
        # public only (its restricted scope is médico-social offers, not establishments).
        ElementClass.ORGANIZATION_CONTACT: _table(
            p0=(Grant(max_level=1),),
            p1=ALWAYS,
            p2=(Grant(max_level=2),),
            p3=(Grant(max_level=1),),
            p4=(Grant(max_level=1),),
            p5=(Grant(max_level=2),),
        ),
        # Inferred (§7 says "unknown" except P1 yes, P4 no): follows the offer the role serves.
        ElementClass.PERSONAL_DATA: _table(p0=NEVER, p1=ALWAYS, p2=(NS,), p3=(MS_NS,), p4=NEVER, p5=(NS,)),
    }
)

CAPACITY_INSTALLED_STATUSES: Final = frozenset({"01", "08", "09"})
CAPACITY_SUPPLEMENTARY_STATUS: Final = "06"
P0_CAPACITY_ASSIGNMENT: Final = "01"  # temporaryAssignement "Aucune"
P0_CAPACITY_STATUSES: Final = frozenset({"01"})  # §8 names status 01 only, not the newer 08/09 counts


def capacity_class(status: str, additional_bed_type: str, crisis_type: str) -> ElementClass:
    """Which class a capacity line belongs to (§8: "supplementary" includes any line that carries an
    additional-bed or crisis type, whatever its status — inferred)."""
    if status == CAPACITY_SUPPLEMENTARY_STATUS or additional_bed_type or crisis_type:
        return ElementClass.CAPACITY_SUPPLEMENTARY
    if status in CAPACITY_INSTALLED_STATUSES:
        return ElementClass.CAPACITY_INSTALLED
    return ElementClass.CAPACITY_OPERATIONAL


@dataclass(frozen=True, slots=True)
class PolicySettings:
    """The configurable parts of the policy (``[policy]`` in the configuration file).

    ``feed_profile`` is the mirror's own ROR profile. No local profile may see more than the mirror
    received, so every profile's grants are intersected with the feed profile's (a P1 user on a P2
    feed sees P2 data). The server already filtered what it sent; the cap is defence in depth
    against a source that filtered less than it should.
    """

    feed_profile: int = 1
    p0_installed_capacity: bool = False  # §8: one reading lets P0 see installed lines ("Aucune")
    personal_data_profiles: frozenset[int] | None = None  # None: the default rule above

    def rules(self) -> Rules:
        """The rule table with the switches applied and every profile capped by the feed profile."""
        table = {element: dict(grants) for element, grants in DEFAULT_RULES.items()}
        if self.p0_installed_capacity:
            table[ElementClass.CAPACITY_INSTALLED][0] = (
                Grant(
                    not_sensitive=True,
                    temporary_assignment=P0_CAPACITY_ASSIGNMENT,
                    capacity_statuses=P0_CAPACITY_STATUSES,
                ),
            )
        if self.personal_data_profiles is not None:
            # A listed profile without a default rule (P0, P4) follows the description rule of the
            # offer the person serves, so P0 still never sees people of a sensitive unit.
            default = DEFAULT_RULES[ElementClass.PERSONAL_DATA]
            description = DEFAULT_RULES[ElementClass.OFFER_DESCRIPTION]
            table[ElementClass.PERSONAL_DATA] = {
                profile: (default[profile] or description[profile]) if profile in self.personal_data_profiles else NEVER
                for profile in PROFILES
            }
        capped = {
            element: {profile: _intersect(grants[profile], grants[self.feed_profile]) for profile in PROFILES}
            for element, grants in table.items()
        }
        return MappingProxyType({element: MappingProxyType(grants) for element, grants in capped.items()})


def _intersect(mine: tuple[Grant, ...], ceiling: tuple[Grant, ...]) -> tuple[Grant, ...]:
    """Grants under which both ``mine`` and ``ceiling`` allow an element (pairwise conjunction)."""
    merged: list[Grant] = []
    for a in mine:
        for b in ceiling:
            if a.temporary_assignment and b.temporary_assignment and a.temporary_assignment != b.temporary_assignment:
                continue
            statuses = [group for group in (a.capacity_statuses, b.capacity_statuses) if group is not None]
            if statuses and not frozenset.intersection(*statuses):
                continue
            levels = [level for level in (a.max_level, b.max_level) if level is not None]
            grant = Grant(
                max_level=min(levels) if levels else None,
                not_sensitive=a.not_sensitive or b.not_sensitive,
                medico_social_only=a.medico_social_only or b.medico_social_only,
                temporary_assignment=a.temporary_assignment or b.temporary_assignment,
                capacity_statuses=frozenset.intersection(*statuses) if statuses else None,
            )
            if grant not in merged:
                merged.append(grant)
    return tuple(merged)


def allows(
    rules: Rules,
    element: ElementClass,
    profile: int,
    *,
    sensitive: bool = False,
    medico_social: bool = False,
    levels: tuple[int | None, ...] = (),
    temporary_assignment: str | None = None,
    capacity_status: str | None = None,
) -> bool:
    """Evaluate the rule table for one element instance (used outside SQL: simulator, exports).

    ``levels`` holds the confidentiality levels that must all pass (contact level and telecom
    level for a contact telecom); a missing level, or one outside TRE_R283, counts as very
    restricted, the safe reading.
    """
    return any(
        _grant_matches(
            grant,
            sensitive=sensitive,
            medico_social=medico_social,
            levels=levels,
            temporary_assignment=temporary_assignment,
            capacity_status=capacity_status,
        )
        for grant in rules[element][profile]
    )


def _grant_matches(
    grant: Grant,
    *,
    sensitive: bool,
    medico_social: bool,
    levels: tuple[int | None, ...],
    temporary_assignment: str | None,
    capacity_status: str | None,
) -> bool:
    if grant.not_sensitive and sensitive:
        return False
    if grant.medico_social_only and not medico_social:
        return False
    if grant.temporary_assignment is not None and temporary_assignment != grant.temporary_assignment:
        return False
    if grant.capacity_statuses is not None and capacity_status not in grant.capacity_statuses:
        return False
    if grant.max_level is not None:
        return all(level in visible_levels(grant.max_level) for level in levels)
    return True


def visible_levels(max_level: int) -> tuple[int, ...]:
    """The TRE_R283 levels a level ceiling lets through (1 … ``max_level``)."""
    return tuple(level for level in CONFIDENTIALITY_LEVELS if level <= max_level)

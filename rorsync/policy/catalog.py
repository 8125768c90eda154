"""The read model: every per-profile view, its columns and the SQL that applies the policy to it.

Each view kind is a function from one profile's rules to a :class:`ViewDefinition`. The grants of
``rules.py`` are compiled by ``rorsync.policy.sql``; this module only says which element class
governs which rows and columns, and how an element reaches its subject (the offer or the
location whose sensitivity and activity field decide). The SQL is the same on SQLite and
PostgreSQL; ``rorsync.policy.views`` turns it into DDL.

Redaction removes rows. The only column-level redaction is the very-restricted pair of an
organization (``drop_zone``, ``orsan_level_*``), NULL for profiles that may not see it, because
hiding the organization itself would be wrong (its identity is public). A visible row never has
its identity columns blanked, and a child row (capacity line, equipment, contact, code) only
appears when its owner does.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Final

from sqlalchemy import Boolean, String, Table, Text
from sqlalchemy.types import TypeEngine

from rorsync.model import RESTRICTED_CODE_KINDS, Entity
from rorsync.policy.rules import (
    CAPACITY_INSTALLED_STATUSES,
    MEDICO_SOCIAL_ACTIVITY_FIELD,
    PROFILES,
    ElementClass,
    PolicySettings,
    Rules,
)
from rorsync.policy.sql import (
    FALSE,
    TRUE,
    All,
    Level,
    Sql,
    Subject,
    capacity_classes,
    conjunction,
    disjunction,
    literal,
    literals,
    predicate,
    render,
)
from rorsync.store import schema

VIEW_KINDS: Final = (
    "organization",
    "offer",
    "offer_location",
    "location",
    "capacity",
    "equipment",
    "residential_capacity",
    "contact",
    "code",
    "practitioner_role",
    "change_log",
)


@dataclass(frozen=True, slots=True)
class ViewColumn:
    name: str
    type: TypeEngine[Any]


@dataclass(frozen=True, slots=True)
class ViewDefinition:
    name: str
    profile: int
    kind: str
    columns: tuple[ViewColumn, ...]
    query: str


def view_name(profile: int, kind: str) -> str:
    if profile not in PROFILES or kind not in VIEW_KINDS:
        raise ValueError(f"no view for profile {profile!r} and kind {kind!r}")
    return f"p{profile}_{kind}"


def build_views(settings: PolicySettings) -> list[ViewDefinition]:
    """Every view of every profile, for these policy settings (profile-major, ``VIEW_KINDS`` order)."""
    rules = settings.rules()
    return [_BUILDERS[kind](_Profile(rules, profile)) for profile in PROFILES for kind in VIEW_KINDS]


# --- how a profile's grants become predicates -----------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Profile:
    rules: Rules
    number: int

    def allows(self, element: ElementClass, subject: Subject, levels: Sequence[Level] = ()) -> Sql:
        return predicate(self.rules[element][self.number], subject, levels)


_MS = literal(MEDICO_SOCIAL_ACTIVITY_FIELD)
ORGANIZATION_SUBJECT: Final = Subject(sensitive=FALSE, medico_social=FALSE)  # no flags on organizations


def _offer_subject(alias: str) -> Subject:
    return Subject(sensitive=f"{alias}.sensitive", medico_social=f"{alias}.activity_field_code = {_MS}")


def _served_offer_subject(alias: str) -> Subject:
    """The offer a practitioner role serves, LEFT JOINed: a role without a live offer is neither."""
    return Subject(
        sensitive=f"COALESCE({alias}.sensitive, FALSE)", medico_social=f"{alias}.activity_field_code = {_MS}"
    )


def _location_subject(alias: str, line: str | None = None) -> Subject:
    """A location is sensitive if any live offer of its source points to it; médico-social if any
    non-sensitive MS offer does (access-policy §4, §6 reading notes). ``line``: the alias of a
    capacity line, whose assignment and status some capacity grants look at."""

    def linked(condition: str) -> str:
        # CROSS JOIN makes SQLite start from the location's links (its planner, without
        # statistics, would otherwise scan every offer of the source for each location).
        return (
            "EXISTS (SELECT 1 FROM offer_location pol CROSS JOIN offer po"
            f" WHERE pol.location_ref = {alias}.resource_id AND po.pk = pol.offer_pk"
            f" AND po.source = {alias}.source AND po.deleted_at IS NULL AND {condition})"
        )

    return Subject(
        sensitive=linked("po.sensitive"),
        medico_social=linked(f"NOT po.sensitive AND po.activity_field_code = {_MS}"),
        temporary_assignment=f"{line}.temporary_assignment" if line else None,
        capacity_status=f"{line}.status" if line else None,
    )


def _served_offer_join(role: str, offer: str) -> str:
    return (
        f"LEFT JOIN offer {offer} ON {offer}.source = {role}.source"
        f" AND {offer}.resource_id = {role}.offer_ref AND {offer}.deleted_at IS NULL"
    )


def _through_roles(practitioner: str, condition: Callable[[Subject], Sql]) -> Sql:
    """A practitioner is visible through any live role whose served offer satisfies ``condition``."""
    inner = condition(_served_offer_subject("ppo"))
    if inner == FALSE:
        return FALSE
    return (
        f"EXISTS (SELECT 1 FROM practitioner_role ppr {_served_offer_join('ppr', 'ppo')}"
        f" WHERE ppr.source = {practitioner}.source AND ppr.practitioner_ref = {practitioner}.resource_id"
        f" AND ppr.deleted_at IS NULL AND {render(inner)})"
    )


# --- a small SELECT assembler ---------------------------------------------------------------------


class _Select:
    """Collects select items with their types, joins (label joins numbered) and conditions."""

    def __init__(self, source: str, *joins: str) -> None:
        self.source = source
        self.items: list[tuple[str, str, TypeEngine[Any]]] = []
        self.joins = list(joins)
        self.conditions: list[Sql] = []
        self._labels = 0

    def add(self, name: str, expression: str, type_: TypeEngine[Any]) -> None:
        self.items.append((name, expression, type_))

    def copy(self, alias: str, table: Table, *names: str) -> None:
        for name in names:
            self.add(name, f"{alias}.{name}", table.c[name].type)

    def guarded(self, guard: Sql, alias: str, table: Table, name: str) -> None:
        self.add(name, _when(guard, f"{alias}.{name}"), table.c[name].type)

    def label(self, name: str, nos_table: str, code: str, guard: Sql = TRUE) -> None:
        """``name`` = the label of ``code`` in ``nos_table`` (a SQL expression naming the table)."""
        self._labels += 1
        n = f"n{self._labels}"
        self.joins.append(f"LEFT JOIN nomenclature {n} ON {n}.table_id = {nos_table} AND {n}.code = {code}")
        self.add(name, _when(guard, f"{n}.label"), Text())

    def coded(self, alias: str, table: Table, name: str, nos_table: str, label: str | None = None) -> None:
        """A code column followed by its label (``x_code`` → ``x_label``, otherwise ``x_label``)."""
        self.copy(alias, table, name)
        self.label(label or name.removesuffix("_code") + "_label", literal(nos_table), f"{alias}.{name}")

    def where(self, *conditions: Sql) -> None:
        self.conditions.extend(conditions)

    @property
    def columns(self) -> tuple[ViewColumn, ...]:
        return tuple(ViewColumn(name, type_) for name, _, type_ in self.items)

    def sql(self) -> str:
        items = ",\n  ".join(expr if expr.endswith(f".{name}") else f"{expr} AS {name}" for name, expr, _ in self.items)
        text = f"SELECT\n  {items}\nFROM {self.source}"
        for join in self.joins:
            text += f"\n{join}"
        condition = conjunction(self.conditions)
        if condition != TRUE:
            parts = condition.parts if isinstance(condition, All) else (condition,)
            text += "\nWHERE " + "\n  AND ".join(render(part) for part in parts)
        return text


def _when(guard: Sql, expression: str) -> str:
    return expression if guard == TRUE else f"CASE WHEN {render(guard)} THEN {expression} END"


def _union(branches: Sequence[_Select]) -> str:
    """UNION ALL of the branches that can return rows (at least one, to keep the columns)."""
    live = [branch for branch in branches if conjunction(branch.conditions) != FALSE] or list(branches[:1])
    return "\nUNION ALL\n".join(branch.sql() for branch in live)


def _definition(profile: _Profile, kind: str, select: _Select) -> ViewDefinition:
    return ViewDefinition(view_name(profile.number, kind), profile.number, kind, select.columns, select.sql())


def _region(select: _Select, alias: str, table: Table) -> None:
    select.coded(alias, table, "region", "TRE_R30")


def _address(select: _Select, alias: str, table: Table) -> None:
    select.copy(alias, table, "address_line", "postal_code", "city", "commune_cog")
    select.label("commune_label", literal("TRE_R13"), f"{alias}.commune_cog")


# --- entity views ---------------------------------------------------------------------------------


def _organization(p: _Profile) -> ViewDefinition:
    t = schema.organization
    q = _Select("organization o")
    q.copy("o", t, "source", "resource_id", "kind", "parent_ref", "name", "alias")
    q.copy("o", t, "finess", "siren", "siret", "id_nat_struct", "oi_id")
    q.coded("o", t, "category_code", "TRE_R66")
    q.coded("o", t, "legal_status_code", "TRE_R72")
    q.coded("o", t, "oi_type_code", "TRE_R207")
    _address(q, "o", t)
    _region(q, "o", t)
    q.copy("o", t, "opening_date", "closing_date", "closing_type_code")
    closing_table = "CASE o.kind WHEN 'EJ' THEN 'TRE_R232' WHEN 'EG' THEN 'TRE_R233' END"
    q.label("closing_type_label", closing_table, "o.closing_type_code")
    q.copy("o", t, "reopening_date")
    very_restricted = p.allows(ElementClass.ORGANIZATION_VERY_RESTRICTED, ORGANIZATION_SUBJECT)
    q.guarded(very_restricted, "o", t, "drop_zone")
    q.guarded(very_restricted, "o", t, "orsan_level_code")
    q.label("orsan_level_label", literal("TRE_R284"), "o.orsan_level_code", guard=very_restricted)
    q.copy("o", t, "comment", "last_updated")
    q.where("o.deleted_at IS NULL", p.allows(ElementClass.ORGANIZATION_IDENTITY, ORGANIZATION_SUBJECT))
    return _definition(p, "organization", q)


def _offer(p: _Profile) -> ViewDefinition:
    t = schema.offer
    q = _Select("offer o")
    q.copy("o", t, "source", "resource_id", "offer_identifier", "name", "organization_ref")
    q.coded("o", t, "activity_field_code", "TRE_R227")
    q.coded("o", t, "category_code", "TRE_R244")
    q.coded("o", t, "care_mode_code", "TRE_R213")
    q.copy("o", t, "sensitive", "age_min", "age_max", "closed_from", "reopening_at")
    q.coded("o", t, "closing_type_code", "JDV_J185")
    q.copy("o", t, "comment")
    _region(q, "o", t)
    q.copy("o", t, "last_updated")
    q.where("o.deleted_at IS NULL", p.allows(ElementClass.OFFER_DESCRIPTION, _offer_subject("o")))
    return _definition(p, "offer", q)


def _offer_location(p: _Profile) -> ViewDefinition:
    q = _Select(
        "offer_location ol",
        "JOIN offer o ON o.pk = ol.offer_pk",
        "JOIN location l ON l.source = o.source AND l.resource_id = ol.location_ref",
    )
    q.copy("o", schema.offer, "source")
    q.add("offer_ref", "o.resource_id", schema.offer.c.resource_id.type)
    q.copy("o", schema.offer, "offer_identifier")
    q.add("location_ref", "l.resource_id", schema.location.c.resource_id.type)
    q.copy("l", schema.location, "location_identifier")
    q.where(
        "o.deleted_at IS NULL",
        "l.deleted_at IS NULL",
        p.allows(ElementClass.OFFER_DESCRIPTION, _offer_subject("o")),
        p.allows(ElementClass.LOCATION_IDENTITY, _location_subject("l")),
    )
    return _definition(p, "offer_location", q)


def _location(p: _Profile) -> ViewDefinition:
    t = schema.location
    subject = _location_subject("l")
    q = _Select("location l")
    q.copy("l", t, "source", "resource_id", "location_identifier", "external_sync_id", "name", "description")
    q.coded("l", t, "function_code", "TRE_R343")
    q.copy("l", t, "operational_status", "status")
    _address(q, "l", t)
    q.copy("l", t, "latitude", "longitude", "managing_organization_ref", "part_of_ref")
    _region(q, "l", t)
    q.add("sensitive", subject.sensitive, Boolean())
    q.add("medico_social", subject.medico_social, Boolean())
    q.copy("l", t, "last_updated")
    q.where("l.deleted_at IS NULL", p.allows(ElementClass.LOCATION_IDENTITY, subject))
    return _definition(p, "location", q)


def _location_child(p: _Profile, table: Table, alias: str) -> _Select:
    """A child row of a visible location (the location's identity rule is the floor)."""
    q = _Select(f"{table.name} {alias}", f"JOIN location l ON l.pk = {alias}.location_pk")
    q.copy("l", schema.location, "source")
    q.add("location_ref", "l.resource_id", schema.location.c.resource_id.type)
    q.copy("l", schema.location, "location_identifier")
    q.where("l.deleted_at IS NULL", p.allows(ElementClass.LOCATION_IDENTITY, _location_subject("l")))
    return q


def _capacity(p: _Profile) -> ViewDefinition:
    t = schema.capacity
    q = _location_child(p, t, "c")
    q.copy("l", schema.location, "region")
    classes = capacity_classes("c")
    supplementary, installed = classes[ElementClass.CAPACITY_SUPPLEMENTARY], CAPACITY_INSTALLED_STATUSES
    q.add(
        "capacity_class",
        f"CASE WHEN {render(supplementary)} THEN 'supplementary'"
        f" WHEN c.status IN ({literals(installed)}) THEN 'installed' ELSE 'operational' END",
        String(16),
    )
    for column, nos_table in (
        ("capacity_type", "TRE_R329"),
        ("status", "TRE_R330"),
        ("temporality", "TRE_R331"),
        ("gender", "TRE_R332"),
        ("closing_type", "TRE_R333"),
        ("additional_bed_type", "TRE_R334"),
        ("crisis_type", "TRE_R336"),
        ("temporary_assignment", "TRE_R337"),
    ):
        q.coded("c", t, column, nos_table)
    q.copy("c", t, "nb")
    q.coded("c", t, "source_type", "TRE_R335")
    q.copy("c", t, "updated_at", "comment", "observed_at")
    subject = _location_subject("l", line="c")
    allowed = {element: p.allows(element, subject) for element in classes}
    if set(allowed.values()) != {TRUE}:  # the classes cover every line: no filter when all pass
        q.where(disjunction([conjunction([classes[element], rule]) for element, rule in allowed.items()]))
    return _definition(p, "capacity", q)


def _equipment(p: _Profile) -> ViewDefinition:
    t = schema.equipment
    q = _location_child(p, t, "e")
    q.coded("e", t, "equipment_type_code", "TRE_R212")
    q.copy("e", t, "nb_in_service", "limits")
    q.where(p.allows(ElementClass.LOCATION_EQUIPMENT, _location_subject("l")))
    return _definition(p, "equipment", q)


def _residential_capacity(p: _Profile) -> ViewDefinition:
    t = schema.residential_capacity
    q = _location_child(p, t, "r")
    q.coded("r", t, "residential_type_code", "TRE_R242")
    q.copy("r", t, "number")
    return _definition(p, "residential_capacity", q)


def _practitioner_role(p: _Profile) -> ViewDefinition:
    t, person = schema.practitioner_role, schema.practitioner
    q = _Select(
        "practitioner_role r",
        _served_offer_join("r", "ro"),
        "LEFT JOIN practitioner pp ON pp.source = r.source AND pp.resource_id = r.practitioner_ref"
        " AND pp.deleted_at IS NULL",
    )
    q.copy("r", t, "source", "resource_id", "situation_identifier", "practitioner_ref")
    q.copy("pp", person, "idnat_ps", "family_name", "given_name", "prefix")
    q.copy("r", t, "offer_ref", "organization_ref", "location_ref")
    q.coded("r", t, "profession_code", "TRE_G15")
    q.coded("r", t, "exercise_mode_code", "TRE_R23")
    _region(q, "r", t)
    q.copy("r", t, "last_updated")
    q.where("r.deleted_at IS NULL", p.allows(ElementClass.PERSONAL_DATA, _served_offer_subject("ro")))
    return _definition(p, "practitioner_role", q)


# --- owners of contacts, codes and change-log entries ---------------------------------------------


@dataclass(frozen=True, slots=True)
class _Owner:
    """How an owning object is joined, identified, and which rules let it and its contacts through."""

    entity: Entity
    alias: str
    identifier: str  # its main business identifier
    joins: tuple[str, ...]
    identity: Callable[[_Profile], Sql]
    contact: Callable[[_Profile, Sequence[Level]], Sql]
    restricted_codes: Callable[[_Profile], Sql] = lambda _: FALSE  # only offers have restricted codes

    def source(self, key: str) -> tuple[str, ...]:
        """FROM and JOINs reaching this owner from a child row whose owner key is ``key``."""
        return (f"JOIN {self.entity.value} {self.alias} ON {key}", *self.joins)


def _owner(
    entity: Entity,
    alias: str,
    identifier: str,
    *,
    subject: Subject,
    identity: ElementClass,
    contact: ElementClass,
    restricted: ElementClass | None = None,
) -> _Owner:
    """An owner whose rules all look at one subject: its identity class, its contact class (on top
    of identity), and for offers the restricted-description class."""

    def visible(p: _Profile) -> Sql:
        return p.allows(identity, subject)

    def contact_visible(p: _Profile, levels: Sequence[Level]) -> Sql:
        return conjunction([visible(p), p.allows(contact, subject, levels)])

    def restricted_visible(p: _Profile) -> Sql:
        return conjunction([visible(p), p.allows(restricted, subject)]) if restricted else FALSE

    return _Owner(entity, alias, identifier, (), visible, contact_visible, restricted_visible)


def _personal(p: _Profile, subject: Subject, levels: Sequence[Level] | None) -> Sql:
    """Personal data (inferred): the personal-data rule of the served offer; their telecoms also
    pass that offer's contact rule."""
    visible = p.allows(ElementClass.PERSONAL_DATA, subject)
    if levels is None:
        return visible
    return conjunction([visible, p.allows(ElementClass.OFFER_CONTACT, subject, levels)])


def _practitioner_role_owner() -> _Owner:
    subject = _served_offer_subject("xro")
    return _Owner(
        Entity.PRACTITIONER_ROLE,
        "xr",
        "xr.situation_identifier",
        (_served_offer_join("xr", "xro"),),
        lambda p: _personal(p, subject, None),
        lambda p, levels: _personal(p, subject, levels),
    )


def _practitioner_owner() -> _Owner:
    return _Owner(
        Entity.PRACTITIONER,
        "xp",
        "xp.idnat_ps",
        (),
        lambda p: _through_roles("xp", lambda subject: _personal(p, subject, None)),
        lambda p, levels: _through_roles("xp", lambda subject: _personal(p, subject, levels)),
    )


OWNERS: Final = (
    _owner(
        Entity.ORGANIZATION,
        "xo",
        "COALESCE(xo.oi_id, xo.id_nat_struct, xo.finess, xo.siret, xo.siren)",
        subject=ORGANIZATION_SUBJECT,
        identity=ElementClass.ORGANIZATION_IDENTITY,
        contact=ElementClass.ORGANIZATION_CONTACT,
    ),
    _owner(
        Entity.OFFER,
        "xs",
        "xs.offer_identifier",
        subject=_offer_subject("xs"),
        identity=ElementClass.OFFER_DESCRIPTION,
        contact=ElementClass.OFFER_CONTACT,
        restricted=ElementClass.OFFER_RESTRICTED,
    ),
    _owner(
        Entity.LOCATION,
        "xl",
        "xl.location_identifier",
        subject=_location_subject("xl"),
        identity=ElementClass.LOCATION_IDENTITY,
        contact=ElementClass.LOCATION_TELECOM,
    ),
    _practitioner_owner(),
    _practitioner_role_owner(),
)


def _owner_columns(q: _Select, owner: _Owner | None = None) -> None:
    """The owner columns of contact and code rows: literal in a branch, copied in the outer query."""
    alias = owner.alias if owner else "u"
    q.add("owner_kind", literal(owner.entity.value) if owner else "u.owner_kind", String(24))
    q.add("source", f"{alias}.source", schema.organization.c.source.type)
    q.add("owner_ref", f"{alias}.resource_id" if owner else "u.owner_ref", schema.organization.c.resource_id.type)
    q.add("owner_identifier", owner.identifier if owner else "u.owner_identifier", String(64))


def _owned_select(owner: _Owner, child: str, alias: str) -> _Select:
    q = _Select(f"{child} {alias}", *owner.source(f"{owner.alias}.pk = {alias}.owner_pk"))
    _owner_columns(q, owner)
    q.where(f"{alias}.owner_entity = {literal(owner.entity.value)}", f"{owner.alias}.deleted_at IS NULL")
    return q


def _has_telecom(alias: str) -> str:
    return f"({alias}.value IS NOT NULL OR {alias}.channel_code IS NOT NULL)"


def _levels(alias: str) -> tuple[Level, Level]:
    """A contact telecom passes with both levels; a bare telecom has no contact level to check."""
    return (
        Level(f"{alias}.contact_confidentiality", exempt_when=f"{alias}.contact_ord IS NULL"),
        Level(f"{alias}.telecom_confidentiality"),
    )


_CONTACT_FIELDS: Final = ("contact_ord", "contact_name", "purpose_code", "function_code", "description")
_TELECOM_FIELDS: Final = ("channel_code", "value", "usage_code", "telecom_confidentiality")


def _contact_branches(p: _Profile, owner: _Owner) -> list[_Select]:
    """Visible telecoms, then contacts shown without telecoms when none of theirs is visible."""
    t = schema.contact
    telecoms = _owned_select(owner, "contact", "c")
    telecoms.copy("c", t, *_CONTACT_FIELDS, "contact_confidentiality", *_TELECOM_FIELDS)
    telecoms.where(_has_telecom("c"), owner.contact(p, _levels("c")))

    bare = _owned_select(owner, "contact", "c")
    bare.copy("c", t, *_CONTACT_FIELDS, "contact_confidentiality")
    for name in _TELECOM_FIELDS:
        bare.add(name, f"CAST(NULL AS {'INTEGER' if name == 'telecom_confidentiality' else 'TEXT'})", t.c[name].type)
    same_contact = "{0}.owner_entity = c.owner_entity AND {0}.owner_pk = c.owner_pk AND {0}.contact_ord = c.contact_ord"
    sibling_visible = owner.contact(p, _levels("s"))
    bare.where(
        "c.contact_ord IS NOT NULL",
        f"NOT EXISTS (SELECT 1 FROM contact m WHERE {same_contact.format('m')} AND m.pk < c.pk)",  # its first row
        owner.contact(p, _levels("c")[:1]),
    )
    if sibling_visible != FALSE:
        bare.where(
            f"NOT EXISTS (SELECT 1 FROM contact s WHERE {same_contact.format('s')}"
            f" AND {_has_telecom('s')} AND {render(sibling_visible)})"
        )
    return [telecoms, bare]


def _contact(p: _Profile) -> ViewDefinition:
    union = _union([branch for owner in OWNERS for branch in _contact_branches(p, owner)])
    t = schema.contact
    q = _Select(f"(\n{union}\n) u")
    _owner_columns(q)
    q.copy("u", t, "contact_ord", "contact_name")
    q.coded("u", t, "purpose_code", "TRE_R287")
    q.coded("u", t, "function_code", "TRE_R251")
    q.copy("u", t, "description", "contact_confidentiality")
    q.label("contact_confidentiality_label", literal("TRE_R283"), "CAST(u.contact_confidentiality AS VARCHAR(8))")
    q.coded("u", t, "channel_code", "TRE_R200")
    q.copy("u", t, "value", "usage_code", "telecom_confidentiality")
    q.label("telecom_confidentiality_label", literal("TRE_R283"), "CAST(u.telecom_confidentiality AS VARCHAR(8))")
    return _definition(p, "contact", q)


def _code(p: _Profile) -> ViewDefinition:
    t = schema.entity_code
    restricted = f"ec.kind IN ({literals(RESTRICTED_CODE_KINDS)})"
    branches = []
    for owner in OWNERS:
        q = _owned_select(owner, "entity_code", "ec")
        q.copy("ec", t, "kind")
        q.add("restricted", restricted, Boolean())
        q.copy("ec", t, "table_id", "code")
        q.where(owner.identity(p), disjunction([f"NOT {restricted}", owner.restricted_codes(p)]))
        branches.append(q)
    q = _Select(f"(\n{_union(branches)}\n) u")
    _owner_columns(q)
    q.copy("u", t, "kind")
    q.add("restricted", "u.restricted", Boolean())
    q.copy("u", t, "table_id", "code")
    q.label("label", "u.table_id", "u.code")
    return _definition(p, "code", q)


def _change_log(p: _Profile) -> ViewDefinition:
    """Changes of objects this profile sees in their stored state (tombstoned ones included, so a
    follower learns of deletions; an object that stopped being visible simply stops appearing)."""
    t = schema.change_log
    branches = []
    for owner in OWNERS:
        key = f"{owner.alias}.source = cl.source AND {owner.alias}.resource_id = cl.resource_id"
        q = _Select("change_log cl", *owner.source(key))
        q.copy("cl", t, "seq", "changed_at", "source", "entity", "resource_id", "op")
        q.where(f"cl.entity = {literal(owner.entity.value)}", owner.identity(p))
        branches.append(q)
    return ViewDefinition(
        view_name(p.number, "change_log"), p.number, "change_log", branches[0].columns, _union(branches)
    )


_BUILDERS: Final[dict[str, Callable[[_Profile], ViewDefinition]]] = {
    "organization": _organization,
    "offer": _offer,
    "offer_location": _offer_location,
    "location": _location,
    "capacity": _capacity,
    "equipment": _equipment,
    "residential_capacity": _residential_capacity,
    "contact": _contact,
    "code": _code,
    "practitioner_role": _practitioner_role,
    "change_log": _change_log,
}

"""Compile the rule table's grants to SQL predicates, in the SQL both SQLite and PostgreSQL accept.

A grant is a conjunction of conditions on a *subject* (the offer or location an element belongs
to) and on confidentiality levels; a profile's grants for an element class form a disjunction.
Predicates are small trees (:class:`All`, :class:`Any_`) over SQL atoms, flattened and simplified
before they are rendered, because the views are DDL text that people read (and that migrations
freeze).

Every predicate is built so that an unknown value hides: a NULL level or activity field makes
the comparison NULL, which a WHERE clause or ``CASE WHEN`` treats as false. Predicates are never
negated as a whole (only non-NULL flags are), so NULL never turns into "visible".
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from rorsync.policy.rules import (
    CAPACITY_INSTALLED_STATUSES,
    CAPACITY_SUPPLEMENTARY_STATUS,
    ElementClass,
    Grant,
    visible_levels,
)

TRUE = "TRUE"
FALSE = "FALSE"


@dataclass(frozen=True, slots=True)
class All:
    parts: tuple[Sql, ...]


@dataclass(frozen=True, slots=True)
class Any_:
    parts: tuple[Sql, ...]


Sql = str | All | Any_


def literal(value: str) -> str:
    """A SQL string literal (values come from the rule table, quoting is for safety only)."""
    return "'" + value.replace("'", "''") + "'"


def literals(values: Iterable[str]) -> str:
    return ", ".join(literal(value) for value in sorted(values))


def _flatten(kind: type[All] | type[Any_], parts: Iterable[Sql]) -> list[Sql]:
    flat: list[Sql] = []
    for part in parts:
        for item in part.parts if isinstance(part, kind) else (part,):
            if item not in flat:
                flat.append(item)
    return flat


def _terms(part: Sql) -> tuple[Sql, ...]:
    return part.parts if isinstance(part, All) else (part,)


def conjunction(parts: Iterable[Sql]) -> Sql:
    """AND of ``parts``; a disjunction inside drops the terms the conjunction already requires."""
    flat = [part for part in _flatten(All, parts) if part != TRUE]
    if FALSE in flat:
        return FALSE
    known = [part for part in flat if not isinstance(part, Any_)]
    flat = [
        disjunction(conjunction(t for t in _terms(branch) if t not in known) for branch in part.parts)
        if isinstance(part, Any_)
        else part
        for part in flat
    ]
    flat = [part for part in _flatten(All, flat) if part != TRUE]
    if FALSE in flat:
        return FALSE
    if not flat:
        return TRUE
    return flat[0] if len(flat) == 1 else All(tuple(flat))


def disjunction(parts: Iterable[Sql]) -> Sql:
    """OR of ``parts``, with the terms common to every branch factored out."""
    flat = [part for part in _flatten(Any_, parts) if part != FALSE]
    if TRUE in flat:
        return TRUE
    if not flat:
        return FALSE
    if len(flat) == 1:
        return flat[0]
    branches = [_terms(part) for part in flat]
    common = [term for term in branches[0] if all(term in branch for branch in branches[1:])]
    if common:
        rest = [conjunction(term for term in branch if term not in common) for branch in branches]
        return conjunction([*common, disjunction(rest)])
    return Any_(tuple(flat))


def render(expression: Sql) -> str:
    if isinstance(expression, str):
        return expression
    joiner = " AND " if isinstance(expression, All) else " OR "
    return "(" + joiner.join(render(part) for part in expression.parts) + ")"


@dataclass(frozen=True, slots=True)
class Subject:
    """SQL expressions (``sensitive`` never NULL) describing what a grant is evaluated on."""

    sensitive: str
    medico_social: str
    temporary_assignment: str | None = None  # capacity lines only
    capacity_status: str | None = None  # capacity lines only


@dataclass(frozen=True, slots=True)
class Level:
    """A confidentiality level that must pass a grant's ceiling, unless ``exempt_when`` holds."""

    column: str
    exempt_when: str | None = None  # e.g. a bare telecom has no contact level to check


def grant_predicate(grant: Grant, subject: Subject, levels: Sequence[Level] = ()) -> Sql:
    parts: list[Sql] = []
    if grant.not_sensitive and subject.sensitive != FALSE:
        parts.append(f"NOT {subject.sensitive}")
    if grant.medico_social_only:
        parts.append(subject.medico_social)
    if grant.temporary_assignment is not None:
        if subject.temporary_assignment is None:
            return FALSE
        parts.append(f"{subject.temporary_assignment} = {literal(grant.temporary_assignment)}")
    if grant.capacity_statuses is not None:
        if subject.capacity_status is None:
            return FALSE
        parts.append(f"{subject.capacity_status} IN ({literals(grant.capacity_statuses)})")
    if grant.max_level is not None:
        allowed = visible_levels(grant.max_level)
        for level in levels:
            check = f"{level.column} IN ({', '.join(map(str, allowed))})" if allowed else FALSE
            parts.append(disjunction([level.exempt_when, check]) if level.exempt_when else check)
    return conjunction(parts)


def predicate(grants: Sequence[Grant], subject: Subject, levels: Sequence[Level] = ()) -> Sql:
    """The condition under which any of ``grants`` lets the subject's element through."""
    return disjunction([grant_predicate(grant, subject, levels) for grant in grants])


def capacity_classes(alias: str) -> dict[ElementClass, Sql]:
    """Mutually exclusive predicates classifying a capacity line, as ``rules.capacity_class`` does
    (the identity codes are NOT NULL, so the negations are safe)."""
    supplementary = (
        f"({alias}.status = {literal(CAPACITY_SUPPLEMENTARY_STATUS)}"
        f" OR {alias}.additional_bed_type <> '' OR {alias}.crisis_type <> '')"
    )
    statuses = literals(CAPACITY_INSTALLED_STATUSES)
    return {
        ElementClass.CAPACITY_SUPPLEMENTARY: supplementary,
        ElementClass.CAPACITY_INSTALLED: All((f"NOT {supplementary}", f"{alias}.status IN ({statuses})")),
        ElementClass.CAPACITY_OPERATIONAL: All((f"NOT {supplementary}", f"{alias}.status NOT IN ({statuses})")),
    }

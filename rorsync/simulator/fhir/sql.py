"""SQL over the world's index tables for a parsed search, including the access policy.

The policy is not re-encoded here: the grants of :mod:`rorsync.policy.rules` are translated into SQL
conditions on the stored context (``sensitive``, ``medico_social``) and on capacity lines (their
element class and temporary assignment). Capacity parameters only match lines the caller may see, so
a search cannot be used as an oracle for hidden values (access-policy §9).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from rorsync.policy.rules import ElementClass, Grant, Rules
from rorsync.simulator.fhir.filtering import IDENTITY_CLASS
from rorsync.simulator.fhir.search import NumberTest, Range, SearchRequest, Token
from rorsync.sources.fhir import profile

_NUMBER_OPERATORS = {"eq": "=", "ne": "<>", "gt": ">", "lt": "<", "ge": ">=", "le": "<="}
CAPACITY_CLASSES = (
    ElementClass.CAPACITY_INSTALLED,
    ElementClass.CAPACITY_OPERATIONAL,
    ElementClass.CAPACITY_SUPPLEMENTARY,
)


@dataclass(slots=True)
class Sql:
    """A WHERE clause under construction: conditions joined with AND, and their parameters."""

    conditions: list[str] = field(default_factory=list)
    params: list[Any] = field(default_factory=list)

    def add(self, condition: str, *params: Any) -> None:
        self.conditions.append(condition)
        self.params.extend(params)

    def where(self) -> str:
        return " AND ".join(self.conditions) or "1"


def grants_sql(grants: tuple[Grant, ...], params: list[Any], resource: str = "r", line: str | None = None) -> str:
    """The grants of one element class for one profile as a SQL condition (``0`` when never granted)."""
    alternatives = []
    for grant in grants:
        parts = ["1"]
        if grant.not_sensitive:
            parts.append(f"{resource}.sensitive = 0")
        if grant.medico_social_only:
            parts.append(f"{resource}.medico_social = 1")
        if grant.temporary_assignment is not None and line is not None:
            parts.append(f"{line}.temporary_assignment = ?")
            params.append(grant.temporary_assignment)
        alternatives.append("(" + " AND ".join(parts) + ")")
    return "(" + " OR ".join(alternatives) + ")" if alternatives else "0"


def visible_sql(rules: Rules, resource_type: str, access_profile: int, params: list[Any], alias: str = "r") -> str:
    return grants_sql(rules[IDENTITY_CLASS[resource_type]][access_profile], params, alias)


def capacity_line_sql(rules: Rules, access_profile: int, params: list[Any]) -> str:
    alternatives = []
    for element in CAPACITY_CLASSES:
        params.append(element.value)
        grants = grants_sql(rules[element][access_profile], params, "r", "c")
        alternatives.append(f"(c.element_class = ? AND {grants})")
    return "(" + " OR ".join(alternatives) + ")"


def search_sql(request: SearchRequest, rules: Rules, access_profile: int) -> Sql:
    """The WHERE clause selecting ``r`` (a ``resource`` row) for ``request`` as ``access_profile`` sees it."""
    sql = Sql()
    sql.add("r.rtype = ?", request.resource_type)
    sql.add(visible_sql(rules, request.resource_type, access_profile, sql.params))
    for ids in request.ids:
        sql.add(f"r.id IN ({','.join('?' * len(ids))})", *ids)
    for tags in request.tags:
        codes = [tag.code for tag in tags if tag.system in (None, "", profile.REGION_TAG_SYSTEM)]
        sql.add(f"r.region IN ({','.join('?' * len(codes))})" if codes else "0", *codes)
    for parameter, tokens in request.tokens:
        values: list[Any] = [parameter]
        alternatives = " OR ".join(_token_sql(token, values) for token in tokens) or "0"
        sql.add(f"EXISTS (SELECT 1 FROM token t WHERE t.pk = r.pk AND t.param = ? AND ({alternatives}))", *values)
    for parameter, targets in request.references:
        marks = ",".join("?" * len(targets)) or "NULL"
        sql.add(
            f"EXISTS (SELECT 1 FROM link l WHERE l.pk = r.pk AND l.param = ? AND l.dst_id IN ({marks}))",
            parameter,
            *targets,
        )
    for ranges in request.last_updated:
        sql.add(_ranges_sql("r.last_updated", ranges, sql.params))
    for statuses in request.capacity_status:
        codes = [token.code for token in statuses]
        _capacity_exists(sql, rules, access_profile, f"c.status IN ({','.join('?' * len(codes))})", codes)
    for tests in request.nb_capacity:
        parts, values = _number_sql(tests)
        _capacity_exists(sql, rules, access_profile, parts, values)
    for ranges in request.capacity_update_date:
        dates: list[Any] = []
        condition = _ranges_sql("c.updated", ranges, dates)
        _capacity_exists(sql, rules, access_profile, condition, dates)
    return sql


def _token_sql(token: Token, params: list[Any]) -> str:
    if token.system is None:
        params.append(token.code)
        return "t.code = ?"
    params.extend((token.system, token.code))
    return "(t.system = ? AND t.code = ?)"


def _ranges_sql(column: str, ranges: list[Range], params: list[Any]) -> str:
    alternatives = []
    for found in ranges:
        parts = [f"{column} IS NOT NULL"]
        if found.start is not None:
            parts.append(f"{column} >= ?")
            params.append(found.start)
        if found.end is not None:
            parts.append(f"{column} < ?")
            params.append(found.end)
        alternatives.append("(" + " AND ".join(parts) + ")")
    return "(" + " OR ".join(alternatives) + ")"


def _number_sql(tests: list[NumberTest]) -> tuple[str, list[Any]]:
    parts = [f"c.nb {_NUMBER_OPERATORS[test.prefix]} ?" for test in tests]
    return "(" + " OR ".join(parts) + ")", [test.value for test in tests]


def _capacity_exists(sql: Sql, rules: Rules, access_profile: int, condition: str, values: list[Any]) -> None:
    line_params: list[Any] = []
    visible = capacity_line_sql(rules, access_profile, line_params)
    sql.add(f"EXISTS (SELECT 1 FROM capacity c WHERE c.pk = r.pk AND {condition} AND {visible})", *values, *line_params)

"""Practitioner and PractitionerRole → :class:`~rorsync.model.PractitionerRow` / ``PractitionerRoleRow``.

The Annuaire Santé extensions of PractitionerRole (``contracted``, ``hasCAS``, ``vitaleAccepted``)
are about to move host (``apifhir.annuaire.sante.fr/…/practitionerRole-*`` today,
``…/ig/fhir/annuaire/StructureDefinition/as-ext-practitionerrole-*`` after the FR Core move), so
they are recognised by the last segment of their URL. They have no column: they become code rows (kinds ``contracted``,
``has_cas``, ``vitale_accepted``), a boolean as ``"true"``/``"false"``, a coded value as its code.
"""

from __future__ import annotations

from typing import Final

from rorsync.model import PractitionerRoleRow, PractitionerRow
from rorsync.sources.fhir import profile
from rorsync.sources.fhir.mapping.children import Children
from rorsync.sources.fhir.mapping.common import (
    JSON,
    NO_CONTACT,
    FieldError,
    code_row,
    codings_of,
    ext_value,
    extension_bool,
    extension_code,
    extension_value_code,
    first_concept_code,
    first_obj,
    first_reference_id,
    first_str,
    obj_items,
    opt_list,
    opt_str,
    reference_id,
    telecom_rows,
)

# Last URL segment, lowercase, hyphens and the "as-ext-" prefix removed → code kind: matches
# …/practitionerRole-vitaleAccepted as well as …/as-ext-practitionerrole-vitale-accepted.
ANNUAIRE_EXTENSION_KINDS: Final = {
    "practitionerrolecontracted": "contracted",
    "practitionerrolehascas": "has_cas",
    "practitionerrolevitaleaccepted": "vitale_accepted",
}


def _identifier(resource: JSON, system: str | None) -> str | None:
    """Value of the identifier on ``system``, else of the first identifier with a value."""
    first: str | None = None
    for index, identifier in enumerate(obj_items(resource, "identifier")):
        try:
            value = opt_str(identifier, "value")
            if value and system is not None and opt_str(identifier, "system") == system:
                return value
        except FieldError as error:
            raise error.within(f"identifier[{index}]") from None
        first = first or value
    return first


def map_practitioner(resource: JSON, extensions: dict[str, list[JSON]], children: Children) -> PractitionerRow:
    name = first_obj(resource, "name") or {}
    try:
        given = " ".join(part for part in opt_list(name, "given") if type(part) is str) or None
        family = opt_str(name, "family")
        prefix = first_str(name, "prefix")
    except FieldError as error:
        raise error.within("name[0]") from None
    telecom_rows(resource, NO_CONTACT, children.contacts)
    return {
        "idnat_ps": _identifier(resource, profile.SYSTEM_IDNAT_PS),
        "family_name": family,
        "given_name": given,
        "prefix": prefix,
    }


def _annuaire_codes(extensions: dict[str, list[JSON]], children: Children) -> None:
    for url, found in extensions.items():
        name = url.rpartition("/")[2].lower().replace("-", "").removeprefix("asext")
        kind = ANNUAIRE_EXTENSION_KINDS.get(name)
        if kind is None:
            continue
        try:
            flag = extension_bool(found[0])
            code, system = (("true" if flag else "false"), None) if flag is not None else extension_code(found[0])
        except FieldError as error:
            raise error.within(f"extension({url.rpartition('/')[2]})") from None
        if code:
            children.codes.append(code_row(kind, code, system))


def map_practitioner_role(resource: JSON, extensions: dict[str, list[JSON]], children: Children) -> PractitionerRoleRow:
    children.codes.extend(code_row("savoir_faire", code, system) for code, system in codings_of(resource, "specialty"))
    _annuaire_codes(extensions, children)
    telecom_rows(resource, NO_CONTACT, children.contacts)
    return {
        "situation_identifier": _identifier(resource, None),
        "practitioner_ref": reference_id(resource.get("practitioner"), "Practitioner", "practitioner"),
        "offer_ref": first_reference_id(resource, "healthcareService", "HealthcareService"),
        "organization_ref": reference_id(resource.get("organization"), "Organization", "organization"),
        "location_ref": first_reference_id(resource, "location", "Location"),
        "profession_code": first_concept_code(resource, "code"),
        "exercise_mode_code": ext_value(extensions, profile.EXT_ROLE_EXERCISE_MODE, extension_value_code),
    }

"""The CSD key convention: which identifier becomes a record's ``resource_id``, and its region.

Resource ids (stable business keys, never the document-local ``@entityID``):

==========================  ===============================================================
object                      ``resource_id``
==========================  ===============================================================
EJ, EG (organization)       idNatStruct (``otherID`` of authority 1.2.250.1.71.4.2.2 or the
                            TRE_G07 OID 1.2.250.1.71.1.2.14; else derived from a FINESS /
                            SIREN / SIRET ``otherID``: ``1``+FINESS, ``2``+SIREN, ``3``+SIRET)
OI (pôle, service, UF)      the OI identifier ``<region>/<n>`` (``facility/otherID/@code``)
UE → offer                  the OI identifier as well; without one: ``<EG idNatStruct>#<entityID>``
                            (flagged in the warnings: not stable across ROR re-exports)
location of an offer        ``<offer resource_id>/location``
provider → practitioner     its idNat_PS / RPPS ``otherID``; else ``<EG idNatStruct>#<entityID>``
practitioner role           ``<practitioner resource_id>@<OI or offer resource_id>``
==========================  ===============================================================

Region (TRE_R30): the prefix of the OI identifier when it is a current region code, else the
département of a FINESS-based idNatStruct (digits 2–3; ``2A``/``2B``; ``97x`` overseas), else the
département of the commune (COG) of the organization, else the EG's region for what hangs under it.
"""

from __future__ import annotations

from functools import cache
from typing import Final

from rorsync import codes

ID_NAT_STRUCT_AUTHORITIES: Final = frozenset({"1.2.250.1.71.4.2.2", codes.table("TRE_G07").oid})
FINESS_AUTHORITY: Final = "1.2.250.1.213.3.2"
SIREN_SIRET_AUTHORITY: Final = "1.3.2"


def derived_id_nat_struct(authority: str, code: str) -> str | None:
    """idNatStruct derivable from a FINESS / SIREN / SIRET ``otherID``; ``None`` for other authorities."""
    if authority == FINESS_AUTHORITY:
        return f"1{code}"
    if authority == SIREN_SIRET_AUTHORITY and len(code) in (9, 14):
        return f"{'2' if len(code) == 9 else '3'}{code}"
    return None


def split_id_nat_struct(id_nat_struct: str) -> tuple[str | None, str | None, str | None]:
    """(FINESS, SIREN, SIRET) held by an idNatStruct, from its TRE_G07 type digit."""
    kind, number = id_nat_struct[:1], id_nat_struct[1:]
    if kind == "1":
        return number, None, None
    if kind == "2":
        return None, number, None
    if kind == "3":
        return None, number[:9] or None, number
    return None, None, None


@cache
def _current_regions() -> frozenset[str]:
    return frozenset(codes.table("TRE_R30").current_codes())


def region_of_oi_identifier(oi_id: str | None) -> str | None:
    if not oi_id or "/" not in oi_id:
        return None
    prefix = oi_id.split("/", 1)[0]
    return prefix if prefix in _current_regions() else None


def department_of_finess(finess: str) -> str | None:
    """Département of a FINESS number: ``07…`` → 07, ``2A…`` → 2A, ``9701…`` → 971 (inferred for DOM)."""
    if len(finess) < 4:
        return None
    if finess.startswith("97") and finess[2] == "0":
        return f"97{finess[3]}"
    return finess[:2]


def department_of_commune(cog: str) -> str | None:
    if len(cog) != 5:
        return None
    return cog[:3] if cog.startswith("97") else cog[:2]


def region_of_organization(finess: str | None, commune_cog: str | None) -> str | None:
    if finess:
        department = department_of_finess(finess)
        region = codes.region_of_department(department) if department else None
        if region:
            return region
    if commune_cog:
        department = department_of_commune(commune_cog)
        if department:
            return codes.region_of_department(department)
    return None

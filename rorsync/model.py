"""The row contract between parsers and the store.

Every source (FHIR JSON, CSD XML, the public XML) turns what it receives into :class:`Record`
objects of the same shape, so that the store, the sync logic and the per-profile views never care
where data came from. A record is one top-level ROR object (organization, offer, location,
practitioner, practitioner role) with its child rows; the store writes it, and replaces its child
rows as a set, only when the record's version wins (see ``rorsync.store.upsert``).

Conventions every parser follows:

* ``resource_id`` is the object's stable id *at its source*: the FHIR logical id, or for CSD the
  business key (idNatStruct for EJ/EG, OI identifier for internal organisations and offers...).
  References between objects (``*_ref`` fields) use the same ids, within the same source.
* Times are timezone-aware UTC ``datetime`` objects (naive source times are localised first).
* Codes are stored bare (``"01"``) next to the NOS table they come from (``TRE_R227``), so that
  labels can be joined from the nomenclature tables.
* Absent optional values are ``None``, except the capacity identity codes, which are ``""`` so that
  the uniqueness of an indicator can be enforced by the database.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, TypedDict


class Source(StrEnum):
    FHIR = "fhir"
    CSD = "csd"
    PUBLIC_XML = "public_xml"


class Entity(StrEnum):
    """Top-level mirrored objects; the value is the table name."""

    ORGANIZATION = "organization"
    OFFER = "offer"
    LOCATION = "location"
    PRACTITIONER = "practitioner"
    PRACTITIONER_ROLE = "practitioner_role"


class OrganizationKind(StrEnum):
    EJ = "EJ"  # entité juridique (legal entity)
    EG = "EG"  # entité géographique (site)
    OI = "OI"  # organisation interne (pôle, service, UF)


class OrganizationRow(TypedDict):
    kind: str  # OrganizationKind value
    parent_ref: str | None  # EG → EJ, OI → EG or OI (FHIR partOf, CSD parent / parentFacility)
    name: str | None
    alias: str | None  # operational name (FHIR alias, CSD otherName)
    finess: str | None
    siren: str | None
    siret: str | None
    id_nat_struct: str | None
    oi_id: str | None  # identifiantOI, "<region>/<n>"
    category_code: str | None  # EG: TRE_R66 CategorieEtablissement
    legal_status_code: str | None  # EJ: TRE_R72 FinessStatutJuridique
    oi_type_code: str | None  # OI: TRE_R207 TypeOrganisationInterne (1 pôle, 2 service, 3 UF, 4 UE)
    address_line: str | None
    postal_code: str | None
    city: str | None
    commune_cog: str | None  # TRE_R13 INSEE commune code
    opening_date: dt.date | None  # organization-period.start
    closing_date: dt.date | None  # organization-period.end (a closure, not a deletion)
    closing_type_code: str | None  # JDV_J201 / TRE_R232 (EJ) / TRE_R233 (EG)
    reopening_date: dt.date | None  # OI planned reopening
    drop_zone: bool | None  # zonePoser: very restricted (P1, P4 only)
    orsan_level_code: str | None  # TRE_R284 niveauRecoursORSAN: very restricted (P1, P4 only)
    comment: str | None


class OfferRow(TypedDict):
    offer_identifier: str | None  # identifiantOffre, "<region>/<n>"
    name: str | None
    organization_ref: str | None  # providedBy (EG or OI)
    activity_field_code: str | None  # champ d'activité, TRE_R227 (04 = médico-social)
    category_code: str | None  # typeOffre, TRE_R244
    care_mode_code: str | None  # TRE_R213
    sensitive: bool  # uniteSensible: the whole offer is confidential
    age_min: float | None  # years
    age_max: float | None  # years
    closed_from: dt.datetime | None  # notAvailable.during.start (closure date)
    reopening_at: dt.datetime | None  # notAvailable.during.end (planned reopening)
    closing_type_code: str | None  # temporalityStopService, JDV_J185 (DEF, PRO)
    comment: str | None


class LocationRow(TypedDict):
    location_identifier: str | None  # functional identifier (R354 #25)
    external_sync_id: str | None  # idExterneSynchro (R354 #26)
    name: str | None
    description: str | None
    function_code: str | None  # TRE_R343 FonctionLieu
    operational_status: str | None  # OP, FT (closed temporarily), FD (closed definitively)
    status: str | None  # FHIR Location.status (active, inactive, suspended)
    address_line: str | None
    postal_code: str | None
    city: str | None
    commune_cog: str | None
    latitude: float | None
    longitude: float | None
    managing_organization_ref: str | None
    part_of_ref: str | None


class PractitionerRow(TypedDict):
    idnat_ps: str | None
    family_name: str | None
    given_name: str | None
    prefix: str | None  # civility


class PractitionerRoleRow(TypedDict):
    situation_identifier: str | None  # identifiantSituationOperationnelle
    practitioner_ref: str | None
    offer_ref: str | None  # healthcareService
    organization_ref: str | None
    location_ref: str | None
    profession_code: str | None  # TRE_G15 ProfessionSante
    exercise_mode_code: str | None  # TRE_R23 ModeExercice


EntityRow = OrganizationRow | OfferRow | LocationRow | PractitionerRow | PractitionerRoleRow


class CodeRow(TypedDict):
    """One value of a multi-valued coded attribute (specialty, specific act, savoir-faire...)."""

    kind: str  # see CODE_KINDS
    table_id: str | None  # NOS table of the code, None when the source system is not a NOS one
    code: str


class ContactRow(TypedDict):
    """One telecom with the contact that holds it, or a contact without telecom, or a bare telecom.

    Contacts and telecoms are flattened into one row per telecom because every reader (and the
    access policy) looks at them together: a telecom is visible only if both levels allow it.
    """

    contact_ord: int | None  # index of the contact within its owner; None for a bare telecom
    contact_name: str | None
    purpose_code: str | None  # TRE_R287 NatureContact
    function_code: str | None  # TRE_R251 FonctionContact
    description: str | None
    contact_confidentiality: int | None  # TRE_R283: 1 public, 2 restricted, 3 very restricted
    channel_code: str | None  # TRE_R200 CanalCommunication
    value: str | None
    usage_code: str | None
    telecom_confidentiality: int | None  # TRE_R283


class CapacityRow(TypedDict):
    """One capacity indicator of a Location (``ror-location-supported-capacity``).

    Identity = location + the eight codes below (absent codes are ``""``).
    """

    capacity_type: str  # TRE_R329 (01 lit, 02 place)
    status: str  # TRE_R330 (01 installé, 02 disponible, ... 06 supplémentaire)
    temporality: str  # TRE_R331
    gender: str  # TRE_R332
    closing_type: str  # TRE_R333
    additional_bed_type: str  # TRE_R334
    crisis_type: str  # TRE_R336
    temporary_assignment: str  # TRE_R337
    nb: int
    source_type: str | None  # TRE_R335
    updated_at: dt.datetime | None  # capacityUpdateDate (time of the value at its source)
    comment: str | None


CAPACITY_IDENTITY: tuple[str, ...] = (
    "capacity_type",
    "status",
    "temporality",
    "gender",
    "closing_type",
    "additional_bed_type",
    "crisis_type",
    "temporary_assignment",
)


class EquipmentRow(TypedDict):
    equipment_type_code: str | None  # TRE_R212
    nb_in_service: int | None
    limits: str | None  # JSON text of the equipment limits (feature code, value, unit)


class ResidentialCapacityRow(TypedDict):
    residential_type_code: str | None  # TRE_R242
    number: int | None


CODE_KINDS: frozenset[str] = frozenset(
    {
        # offer
        "specialty",  # activité opérationnelle, TRE_R211
        "activity_family",  # JDV_J51
        "reception_type",  # temporalité d'accueil, TRE_R240
        "reception_modality",  # TRE_R338
        "management_type",  # TRE_R236
        "specific_act",  # restricted: TRE_R210
        "outside_office_act",  # restricted
        "taking_care_speciality",  # restricted: TRE_R245
        "resource_profession",  # restricted: TRE_G15
        "specific_competence",  # restricted: TRE_R243
        "annual_opening",  # TRE_R238
        "expertise_level",  # TRE_R253
        "patient_type",  # public pris en charge, TRE_R239
        "intervention_zone",  # TRE_R13 / TRE_G09 ...
        "psychiatric_sector",
        # organization
        "aggregate",  # TRE_R69 sous-ensemble agrégat statut juridique
        "espic",  # TRE_R73
        # practitioner role
        "savoir_faire",  # TRE_R04 / TRE_R38 ...
        "contracted",  # Annuaire Santé practitionerRole-contracted (convention)
        "has_cas",  # Annuaire Santé practitionerRole-hasCAS: "true" / "false"
        "vitale_accepted",  # Annuaire Santé practitionerRole-vitaleAccepted: "true" / "false"
    }
)

RESTRICTED_CODE_KINDS: frozenset[str] = frozenset(
    {"specific_act", "outside_office_act", "taking_care_speciality", "resource_profession", "specific_competence"}
)


@dataclass(slots=True)
class Record:
    """One top-level object as received, with its child rows (replaced as a set on every update)."""

    entity: Entity
    resource_id: str
    last_updated: dt.datetime
    region: str | None
    payload: bytes  # the raw source payload (FHIR JSON, CSD XML fragment)
    row: EntityRow
    codes: list[CodeRow] = field(default_factory=list)
    contacts: list[ContactRow] = field(default_factory=list)
    capacities: list[CapacityRow] = field(default_factory=list)  # location only
    equipment: list[EquipmentRow] = field(default_factory=list)  # location only
    residential: list[ResidentialCapacityRow] = field(default_factory=list)  # location only
    location_refs: list[str] = field(default_factory=list)  # offer only: HealthcareService.location

    def __reduce__(self) -> tuple[Callable[..., Record], tuple[Any, ...]]:
        """Pickled as a flat tuple, the entity by its value: complete loads send every record from
        the parsing worker, and the default slots state (and ``Entity(...)`` on load) cost a fifth
        more on both sides."""
        return (
            _unpickle_record,
            (
                self.entity.value,
                self.resource_id,
                self.last_updated,
                self.region,
                self.payload,
                self.row,
                self.codes,
                self.contacts,
                self.capacities,
                self.equipment,
                self.residential,
                self.location_refs,
            ),
        )


_ENTITIES: dict[str, Entity] = {entity.value: entity for entity in Entity}


def _unpickle_record(entity: str, *fields: Any) -> Record:
    return Record(_ENTITIES[entity], *fields)


class RecordError(ValueError):
    """A source object that cannot become a record; the message names the object and the field."""

    def __init__(self, where: str, reason: str, payload: bytes = b"") -> None:
        super().__init__(f"{where}: {reason}")
        self.where = where
        self.reason = reason
        self.payload = payload

    def __reduce__(self) -> tuple[type[RecordError], tuple[str, str, bytes], dict[str, object]]:
        """Picklable with its attributes (parsers may run in a worker process)."""
        return (type(self), (self.where, self.reason, self.payload), self.__dict__)

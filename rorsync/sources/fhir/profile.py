"""The ROR FHIR vocabulary (IG ``ans.fhir.fr.ror``, exposure model ME V3.0): URLs, systems, codes.

One place for the names both ends must agree on: the parser that reads ROR resources and the local
ROR simulator that writes them. Values come from the IG's StructureDefinitions and SearchParameters.
"""

from __future__ import annotations

from typing import Final

from rorsync import codes

IG: Final = "https://interop.esante.gouv.fr/ig/fhir/ror/StructureDefinition/"


def ror_extension(name: str) -> str:
    return f"{IG}{name}"


# --- extensions -------------------------------------------------------------------------------------
EXT_CREATION_DATE: Final = ror_extension("ror-meta-creation-date")
EXT_META_COMMENT: Final = ror_extension("ror-meta-comment")
EXT_COMMENT: Final = ror_extension("ror-comment")
EXT_TEMPLATE: Final = ror_extension("ror-meta-questionnaire-used-as-a-template")

EXT_TELECOM_CHANNEL: Final = ror_extension("ror-telecom-communication-channel")
EXT_TELECOM_USAGE: Final = ror_extension("ror-telecom-usage")
EXT_TELECOM_CONFIDENTIALITY: Final = ror_extension("ror-telecom-confidentiality-level")
EXT_CONTACT_CONFIDENTIALITY: Final = ror_extension("ror-contact-confidentiality-level")
EXT_CONTACT_FUNCTION: Final = ror_extension("ror-contact-function-contact")
EXT_CONTACT_DESCRIPTION: Final = ror_extension("ror-contact-description")
EXT_CONFIDENTIALITY: Final = ror_extension("ror-confidentiality-level")

EXT_ORG_ADDITIONAL_NAME: Final = ror_extension("ror-organization-additional-name")
EXT_ORG_OI_NAME: Final = ror_extension("ror-organization-oi-name")
EXT_ORG_PRICE: Final = ror_extension("ror-organization-price")
EXT_ORG_DROP_ZONE: Final = ror_extension("ror-organization-drop-zone")
EXT_ORG_ORSAN: Final = ror_extension("ror-organization-level-recourse-orsan")
EXT_ORG_CLOSING_TYPE: Final = ror_extension("ror-organization-closing-type")
EXT_ORG_REOPENING_DATE: Final = ror_extension("ror-organization-reopening-date")
EXT_ORG_ACCESSIBILITY: Final = ror_extension("ror-organization-accessibility-location")
EXT_ORGANIZATION_PERIOD: Final = "http://hl7.org/fhir/StructureDefinition/organization-period"
EXT_TERRITORIAL_DIVISION: Final = ror_extension("ror-territorial-division")

EXT_HS_SENSITIVE_UNIT: Final = ror_extension("ror-healthcareservice-sensitive-unit")
EXT_HS_PATIENT_TYPE: Final = ror_extension("ror-healthcareservice-patient-type")
EXT_HS_CONTACT: Final = ror_extension("ror-healthcareservice-contact")
EXT_HS_CONTACT_TELECOM: Final = ror_extension("ror-healthcareservice-contact-telecom")
EXT_HS_PSYCHIATRIC_SECTOR: Final = ror_extension("ror-healthcareservice-psychiatric-sector")
EXT_ACT_TYPE: Final = ror_extension("ror-act-type")  # on characteristic: specificAct / outsideOfficeAct
EXT_AVAILABLE_TIME_DAYS: Final = ror_extension("ror-available-time-number-days-of-week")
EXT_AVAILABLE_TIME_PERIOD: Final = ror_extension("ror-available-time-effective-opening-closing-date")
EXT_AVAILABLE_TIME_TYPE: Final = ror_extension("ror-available-time-type-of-time")

EXT_LOC_COMMUNE_COG: Final = ror_extension("ror-commune-cog")
EXT_LOC_SUPPORTED_CAPACITY: Final = ror_extension("ror-location-supported-capacity")
EXT_LOC_RESIDENTIAL_CAPACITY: Final = ror_extension("ror-location-residential-capacity")
EXT_LOC_EQUIPMENT: Final = ror_extension("ror-location-equipment")
EXT_LOC_EQUIPMENT_LIMIT: Final = ror_extension("ror-location-equipment-limit")
EXT_LOC_COORDINATE_RELIABILITY: Final = ror_extension("ror-coordinate-reliability")

EXT_ROLE_EXERCISE_MODE: Final = ror_extension("ror-practitionerrole-unit-exercise-mode")
EXT_ROLE_EXERCISE_NAME: Final = ror_extension("ror-practitionerrole-name")

# Sub-extension names of ror-location-supported-capacity, in the model's field order.
CAPACITY_SUBEXTENSIONS: Final = {
    "capacityType": "capacity_type",
    "capacityStatus": "status",
    "temporalityCapacity": "temporality",
    "genderCapacityAvailable": "gender",
    "capacityClosingType": "closing_type",
    "additionalBedType": "additional_bed_type",
    "crisisType": "crisis_type",
    "temporaryAssignement": "temporary_assignment",  # sic, as in the IG
}
CAPACITY_TABLES: Final = {
    "capacity_type": "TRE_R329",
    "status": "TRE_R330",
    "temporality": "TRE_R331",
    "gender": "TRE_R332",
    "closing_type": "TRE_R333",
    "additional_bed_type": "TRE_R334",
    "crisis_type": "TRE_R336",
    "temporary_assignment": "TRE_R337",
    "source_type": "TRE_R335",
}

# --- identifiers ------------------------------------------------------------------------------------
SYSTEM_ID_NAT_STRUCT: Final = "urn:oid:1.2.250.1.71.4.2.2"
SYSTEM_FINESS: Final = "https://finess.esante.gouv.fr"
SYSTEM_SIRENE: Final = "https://sirene.fr"  # SIREN (9 digits) and SIRET (14 digits) share it
SYSTEM_SIRENE_LEGACY: Final = "http://sirene.fr"
SYSTEM_RPPS_RANG: Final = "https://rppsrang.esante.gouv.fr"
SYSTEM_ADELI_RANG: Final = "https://adelirang.esante.gouv.fr"
SYSTEM_OI: Final = "https://oi.esante.gouv.fr"
SYSTEM_IDNAT_PS: Final = "urn:oid:1.2.250.1.71.4.2.1"

# identifier.type codings today (TRE_G07 / R345 / R355 / R354) and after the FR Core move (§12).
ID_TYPE_G07: Final = codes.fhir_system_for_name("TRE_G07-TypeIdentifiantStructure")
ID_TYPE_R345: Final = codes.fhir_system_for_name("TRE_R345-TypeIdentifiantAutre")
ID_TYPE_R355: Final = codes.fhir_system_for_name("TRE_R355-TypeIdentifiantOffre")
ID_TYPE_R354: Final = codes.fhir_system_for_name("TRE_R354-TypeIdentifiantRessourceOperationnelle")
ID_TYPE_FR_CORE: Final = "https://hl7.fr/ig/fhir/core/CodeSystem/fr-core-cs-v2-0203"
OFFER_IDENTIFIER_TYPE: Final = "35"  # R355: identifiantOffre
LOCATION_IDENTIFIER_TYPE: Final = "25"  # R354: functional identifier
LOCATION_SYNC_ID_TYPE: Final = "26"  # R354: idExterneSynchro
OI_IDENTIFIER_TYPE: Final = "42"  # R345: identifiantOI

# --- tags and code systems --------------------------------------------------------------------------
REGION_TAG_SYSTEM: Final = codes.fhir_system_for_name("TRE_R30-RegionOM")
CONFIDENTIALITY_SYSTEM: Final = codes.fhir_system_for_name("TRE_R283-NiveauConfidentialite")
UCUM: Final = "http://unitsofmeasure.org"

RESOURCE_TYPES: Final = ("Organization", "HealthcareService", "Location", "PractitionerRole", "Practitioner")

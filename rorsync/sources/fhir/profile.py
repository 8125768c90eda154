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
CAPACITY_SUBEXTENSION_URLS: Final = {field: url for url, field in CAPACITY_SUBEXTENSIONS.items()}
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
ID_NAT_STRUCT_TYPE: Final = "40"  # G07: idNatStruct, cited by the IG, newer than the packaged NOS bundle
OFFER_IDENTIFIER_TYPE: Final = "35"  # R355: identifiantOffre
LOCATION_IDENTIFIER_TYPE: Final = "25"  # R354: functional identifier
LOCATION_SYNC_ID_TYPE: Final = "26"  # R354: idExterneSynchro
OI_IDENTIFIER_TYPE: Final = "42"  # R345: identifiantOI

# --- tags and code systems --------------------------------------------------------------------------
REGION_TAG_SYSTEM: Final = codes.fhir_system_for_name("TRE_R30-RegionOM")
CONFIDENTIALITY_SYSTEM: Final = codes.fhir_system_for_name("TRE_R283-NiveauConfidentialite")
UCUM: Final = "http://unitsofmeasure.org"

RESOURCE_TYPES: Final = ("Organization", "HealthcareService", "Location", "PractitionerRole", "Practitioner")

# --- sub-extension names and element slices the IG defines inside complex extensions ----------------
HS_CONTACT_NAME: Final = "name"
HS_CONTACT_PURPOSE: Final = "purposeContact"
HS_CONTACT_DESCRIPTION: Final = "description"
HS_CONTACT_TELECOM_ADDRESS: Final = "telecomAddress"  # inside ror-healthcareservice-contact-telecom
PATIENT_TYPE_SUPPORTED: Final = "supportedPatientInfo"
PATIENT_TYPE_AGE_RANGE: Final = "ageRange"
CAPACITY_NB: Final = "nbCapacity"
CAPACITY_SOURCE_TYPE: Final = "capacitySourceType"
CAPACITY_UPDATE_DATE: Final = "capacityUpdateDate"
CAPACITY_COMMENT: Final = "comment"
RESIDENTIAL_TYPE: Final = "residentialType"
RESIDENTIAL_NUMBER: Final = "residentialNumber"
EQUIPMENT_TYPE: Final = "equipmentType"
EQUIPMENT_NB_IN_SERVICE: Final = "nbInService"
EQUIPMENT_LIMIT_FEATURE: Final = "equipmentFeature"
EQUIPMENT_LIMIT_VALUE: Final = "limitValue"
NOT_AVAILABLE_CLOSING_ID: Final = "closingReopeningDate"  # HealthcareService.notAvailable slice (element id)
ACT_TYPE_SPECIFIC: Final = "specificAct"  # ror-act-type values on a characteristic
ACT_TYPE_OUTSIDE_OFFICE: Final = "outsideOfficeAct"

# HealthcareService.characteristic slices that the access policy treats as restricted description
# (access-policy §6 row 2), by the NOS table of their coding; specific acts are also tagged ror-act-type.
RESTRICTED_CHARACTERISTIC_TABLES: Final = frozenset({"TRE_R210", "TRE_R245", "TRE_G15", "TRE_R243"})

# Location.type (TRE_R343-FonctionLieu) postdates the packaged NOS bundle: its two codes are listed here.
LOCATION_FUNCTION_SYSTEM: Final = codes.fhir_system_for_name("TRE_R343-FonctionLieu")
LOCATION_FUNCTIONS: Final = {"001": "Hébergement", "002": "Consultation"}
# Location.operationalStatus carries the TRE_R203 short labels (OP, FT, FD); the system is the ROR value set.
OPERATIONAL_STATUS_SYSTEM: Final = codes.fhir_system_for_name("JDV_J224-StatutLieu-ROR")
OPERATIONAL_STATUSES: Final = {"OP": "Opérationnel", "FT": "Fermé temporairement", "FD": "Fermé définitivement"}

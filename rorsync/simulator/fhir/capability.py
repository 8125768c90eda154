"""The CapabilityStatement served at ``[base]/metadata``: what this simulated ROR server supports."""

from __future__ import annotations

from rorsync import __version__
from rorsync.simulator.fhir.search import CAPACITY_PARAMETERS, INCLUDES, LOCATION_TOKENS, REVINCLUDES, SEARCHABLE_TYPES
from rorsync.simulator.world.elements import Json

COMMON_PARAMETERS = (("_id", "token"), ("_lastUpdated", "date"), ("_tag", "token"), ("identifier", "token"))
CAPACITY_TYPES = {"capacity-status": "token", "nb-capacity": "number", "capacity-update-date": "date"}


def capability_statement(base_url: str) -> Json:
    resources = []
    for resource_type in SEARCHABLE_TYPES:
        parameters = list(COMMON_PARAMETERS)
        if resource_type == "Location":
            parameters += [(name, "token") for name in LOCATION_TOKENS]
            parameters += [(name, CAPACITY_TYPES[name]) for name in CAPACITY_PARAMETERS]
        resources.append(
            {
                "type": resource_type,
                "interaction": [{"code": "read"}, {"code": "search-type"}],
                "searchInclude": [include for include in INCLUDES if include.startswith(f"{resource_type}:")],
                "searchRevInclude": list(REVINCLUDES.get(resource_type, ())),
                "searchParam": [{"name": name, "type": kind} for name, kind in parameters],
            }
        )
    return {
        "resourceType": "CapabilityStatement",
        "status": "active",
        "date": "2024-07-29",
        "publisher": "rorsync simulator",
        "kind": "instance",
        "software": {"name": "rorsync ROR simulator", "version": __version__},
        "implementation": {"description": "Simulated ROR FHIR MEV3.0 server", "url": base_url},
        "fhirVersion": "4.0.1",
        "format": ["application/fhir+json", "json"],
        "rest": [
            {
                "mode": "server",
                "security": {
                    "service": [
                        {
                            "coding": [
                                {
                                    "system": "http://terminology.hl7.org/CodeSystem/restful-security-service",
                                    "code": "OAuth",
                                }
                            ]
                        }
                    ]
                },
                "resource": resources,
                "operation": [
                    {"name": "export", "definition": "http://hl7.org/fhir/uv/bulkdata/OperationDefinition/export"}
                ],
            }
        ],
    }

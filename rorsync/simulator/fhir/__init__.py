"""The FHIR MEV3.0 face of the simulator: token endpoint, search, read, ``$export``, per-profile filtering."""

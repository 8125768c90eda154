"""A local ROR to develop, test and demo against: a synthetic world served over the real wire formats.

``world`` holds the deterministic synthetic data set and its change feed; ``fhir`` serves it as the
FHIR MEV3.0 API; ``faults`` and ``tls`` make the transport misbehave on demand; ``server`` runs the
whole thing on loopback (:class:`rorsync.simulator.server.Simulator`).
"""

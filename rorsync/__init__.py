"""rorsync: a faithful, policy-safe local mirror of the French ROR."""

__version__ = "0.1.0"

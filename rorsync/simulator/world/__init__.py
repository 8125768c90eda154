"""The simulator's world: synthetic ROR resources in their own SQLite file, and the change feed."""

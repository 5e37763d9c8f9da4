"""A local Halo that answers like the real API, for tests, benchmarks and ``--demo``."""

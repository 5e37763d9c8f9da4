"""A local Halo that answers like the real API, for tests, benchmarks and ``--demo``.

server.py (HaloSandbox: HTTP routing, sign-in checks, faults applied), store.py (records, POST semantics,
SQLite write-through), schemas.py (validation against Halo's OpenAPI schemas from halo_schemas.json, which
extract_schemas.py generates), auth.py (tokens), faults.py (SandboxFaults), page.py (the HTML page),
cli.py (``ledgerbridge sandbox``).
"""

"""The sync engine (no Qt): plan -> apply per entity, state store, matching and mappings, settings, secrets.

The vocabulary it shares with ``connectors`` and ``halo`` (records, errors) lives in the kernel, ``core``.
"""

"""The sync engine: canonical records, plan -> apply, state store, matching, settings and secrets.

No Qt here. ``sync.records`` and ``sync.errors`` are the shared vocabulary (leaf modules that import nothing
else of the project), so ``connectors`` and ``halo`` may use them without knowing the engine.
"""

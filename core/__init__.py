"""The shared kernel: canonical records, the error hierarchy, the secret scrubber, entity-spec types.

Imports nothing of the project: every other package (connectors, halo, sync, gui) stands on it.
"""

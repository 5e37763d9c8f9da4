"""The demo's wiring: a made-up company's books and the local Halo sandbox, started for ``--demo``.

Why a package of its own: the engine (sync/) must never depend on its test double, so only the entry points
(main.py, gui/) import this; it stands on sync, halo.sandbox and the demo company builder in resources/.
"""

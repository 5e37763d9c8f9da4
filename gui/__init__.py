"""Qt only: the thin desktop layer over ``sync`` (wizard, main window, tray, worker thread).

Importing the package first guards against a PySide6 6.12 reference-count bug on Python 3.11 (see
``gui.qt_refcount``): without it the app aborts after some hours of signals and void calls.
"""

from __future__ import annotations

from gui.qt_refcount import guard_singletons

guard_singletons()

"""Guard against PySide6 6.12's missing references to None/True/False on Python 3.11.

Why: the PySide6 6.12 abi3 wheel returns ``None``, ``True`` and ``False`` from bound calls (every
``Signal.emit``, every void method such as ``setChecked`` or ``processEvents``) without taking a reference,
as if they were immortal objects (they are only from Python 3.12 on). On Python 3.11 each such call lowers
their reference count by one; a tray app that runs for hours reaches zero and CPython aborts with
"Fatal Python error: none_dealloc / bool_dealloc". We measure the leak once at start-up and, only if it is
there, raise the three singletons' counts by 2**40 (what 3.12 does with immortality), so no realistic run
can ever bring them down to zero. Nothing else is touched.
"""

from __future__ import annotations

import ctypes
import logging
import sys

from PySide6.QtCore import QObject

log = logging.getLogger("ledgerbridge.gui.qt_refcount")

HEADROOM = 1 << 40
_PROBE_CALLS = 64
_guarded = False


def leaks_singleton_references() -> bool:
    """True when a void PySide call loses a reference to None (measured, not assumed from the version)."""
    probe = QObject()
    before = sys.getrefcount(None)
    for _ in range(_PROBE_CALLS):
        probe.setObjectName("probe")
    lost = before - sys.getrefcount(None)
    return lost >= _PROBE_CALLS // 2


def guard_singletons() -> bool:
    """Give None/True/False enough references to outlive any run, when the leak is present. Idempotent."""
    global _guarded
    if _guarded:
        return True
    if sys.version_info >= (3, 12) or sys.implementation.name != "cpython":
        return False  # immortal singletons: the leak cannot hurt
    if not leaks_singleton_references():
        return False
    for singleton in (None, True, False):
        # ob_refcnt is the first field of every object in a release build of CPython 3.11.
        ctypes.c_ssize_t.from_address(id(singleton)).value += HEADROOM
    _guarded = True
    log.debug("PySide6 reference leak on None/True/False detected; singletons guarded.")
    return True

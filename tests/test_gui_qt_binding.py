"""The Qt binding must not lose references to None/True/False (PySide6 6.12.0 on Python 3.11 does).

Why: a tray app makes millions of signal emits and void calls; a binding that drops a reference to the
singletons on each one makes CPython abort ("none_dealloc") after a few hours. pyproject.toml pins a
PySide6 without the bug; this test fails on any release that brings it back.
"""

from __future__ import annotations

import sys

from PySide6.QtCore import QObject, Signal


class _Emitter(QObject):
    fired = Signal(object)
    toggled = Signal(bool)


def test_void_calls_and_emits_keep_singleton_references(qapp):
    emitter = _Emitter()
    received: list[object] = []
    emitter.fired.connect(received.append)
    emitter.toggled.connect(received.append)
    before = {
        name: sys.getrefcount(value) for name, value in (("None", None), ("True", True), ("False", False))
    }
    for _ in range(2000):
        emitter.setObjectName("probe")
        emitter.blockSignals(False)
        emitter.fired.emit(None)
        emitter.toggled.emit(True)
        emitter.toggled.emit(False)
    received.clear()
    after = {
        name: sys.getrefcount(value) for name, value in (("None", None), ("True", True), ("False", False))
    }
    # Other threads may move the counts a little either way; a leak loses thousands.
    for name in before:
        assert before[name] - after[name] < 500, f"lost {before[name] - after[name]} references to {name}"

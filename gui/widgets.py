"""Input widgets the mouse wheel cannot change by accident.

Why: Qt's combo and spin boxes take the wheel whenever the pointer passes over them, even without focus.
Scrolling down a table of mappings turned "T1 Standard rate 20%" into "Zero rated" and sent a customer to
a new Halo client. These widgets pass the wheel on to what is under them (the table or page scrolls);
a drop-down still scrolls its own list once opened, and a spin box takes the wheel once clicked into.
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QWheelEvent
from PySide6.QtWidgets import QComboBox, QSpinBox, QWidget


class ScrollSafeComboBox(QComboBox):
    """A drop-down that changes only by a click, a key press with focus, or a pick from its opened list."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)  # no focus (and so no keys) from a passing wheel

    def wheelEvent(self, event: QWheelEvent) -> None:
        event.ignore()  # the table or page under it scrolls instead


class ScrollSafeSpinBox(QSpinBox):
    """A number box that takes the wheel only once the user has clicked or tabbed into it."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)

    def wheelEvent(self, event: QWheelEvent) -> None:
        if self.hasFocus():
            super().wheelEvent(event)
        else:
            event.ignore()

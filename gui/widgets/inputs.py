"""Input widgets the mouse wheel cannot change by accident, and windows that fit the screen they open on.

Why: Qt's combo and spin boxes take the wheel whenever the pointer passes over them, even without focus.
Scrolling down a table of mappings turned "T1 Standard rate 20%" into "Zero rated" and sent a customer to
a new Halo client. These widgets pass the wheel on to what is under them (the table or page scrolls);
a drop-down still scrolls its own list once opened, and a spin box takes the wheel once clicked into.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QSize, Qt
from PySide6.QtGui import QGuiApplication, QScreen, QWheelEvent
from PySide6.QtWidgets import (
    QAbstractSpinBox,
    QComboBox,
    QDateEdit,
    QFrame,
    QScrollArea,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)


class ScrollSafeComboBox(QComboBox):
    """A drop-down that changes only by a click, a key press with focus, or a pick from its opened list."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)  # no focus (and so no keys) from a passing wheel

    def wheelEvent(self, event: QWheelEvent) -> None:
        event.ignore()  # the table or page under it scrolls instead


def _take_wheel_only_with_focus(
    widget: QAbstractSpinBox, event: QWheelEvent, take: Callable[[QWheelEvent], None]
) -> None:
    if widget.hasFocus():
        take(event)
    else:
        event.ignore()


class ScrollSafeSpinBox(QSpinBox):
    """A number box that takes the wheel only once the user has clicked or tabbed into it."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)

    def wheelEvent(self, event: QWheelEvent) -> None:
        _take_wheel_only_with_focus(self, event, super().wheelEvent)


class ScrollSafeDateEdit(QDateEdit):
    """A date field that takes the wheel only once the user has clicked or tabbed into it."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)

    def wheelEvent(self, event: QWheelEvent) -> None:
        _take_wheel_only_with_focus(self, event, super().wheelEvent)


# What a window manager typically adds around a window (title bar, borders) and a taskbar may take.
FRAME_ALLOWANCE = QSize(40, 72)


def fit_to_screen(window: QWidget, preferred: QSize) -> None:
    """Open at ``preferred`` size, or smaller where the screen is (a 1366x768 laptop at 125% is 1093x614).

    Why: a window taller than the screen hides its buttons (the wizard's Next and Finish) below the edge.
    """
    screen: QScreen | None = window.screen() or QGuiApplication.primaryScreen()  # None: no screen yet
    if screen is None:
        window.resize(preferred)
        return
    room = screen.availableGeometry().size() - FRAME_ALLOWANCE
    window.resize(preferred.boundedTo(room).expandedTo(window.minimumSizeHint().boundedTo(room)))


def scrolling_content(page: QWidget) -> QVBoxLayout:
    """Give ``page`` a frameless scroll area and return the layout inside it.

    Why: on a small or scaled screen a long form scrolls instead of forcing its window taller than the screen.
    """
    outer = QVBoxLayout(page)
    outer.setContentsMargins(0, 0, 0, 0)
    area = QScrollArea()
    area.setWidgetResizable(True)
    area.setFrameShape(QFrame.Shape.NoFrame)
    inner = QWidget()
    area.setWidget(inner)
    outer.addWidget(area)
    layout = QVBoxLayout(inner)
    layout.setContentsMargins(0, 0, 0, 0)
    return layout

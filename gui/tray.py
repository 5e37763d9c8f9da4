"""The tray icon: shows idle / syncing / needs attention / paused, and offers the everyday actions.

Why: after set-up the app lives here. The menu works whether or not the platform has a tray (the menu is
built regardless, so the main window's buttons and tests drive the same actions); without a tray the window
stays the way in.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from PySide6.QtCore import QObject, Signal, Slot
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QMenu, QSystemTrayIcon

from gui.advice import Place, find_place
from gui.controller import HOUR_MS, SyncController
from gui.icons import tray_icon

log = logging.getLogger("ledgerbridge.gui.tray")

STATE_TOOLTIPS = {
    "idle": "LedgerBridge: up to date",
    "syncing": "LedgerBridge: syncing…",
    "attention": "LedgerBridge: needs your attention",
    "paused": "LedgerBridge: paused",
}


class TrayController(QObject):
    """Owns the tray icon and its menu; ``open_requested`` / ``quit_requested`` go to the app."""

    open_requested = Signal()
    quit_requested = Signal()
    place_requested = Signal(object)  # gui.advice.Place: a notice named where to fix it, and was clicked

    def __init__(
        self,
        controller: SyncController,
        parent: QObject | None = None,
        *,
        tray_available: Callable[[], bool] = QSystemTrayIcon.isSystemTrayAvailable,
    ) -> None:
        super().__init__(parent)
        self.controller = controller
        self.menu = QMenu()
        self.action_sync = self._add("Sync now", self._sync_now)
        self.menu.addSeparator()
        self.action_pause_hour = self._add("Pause for 1 hour", lambda: controller.pause(HOUR_MS))
        self.action_pause = self._add("Pause until resumed", lambda: controller.pause(None))
        self.action_resume = self._add("Resume", controller.resume)
        self.menu.addSeparator()
        self.action_open = self._add("Open LedgerBridge", self.open_requested.emit)
        self.action_quit = self._add("Quit", self.quit_requested.emit)
        self.icon: QSystemTrayIcon | None = None
        self.state = ""
        self.notices: list[tuple[str, str, bool]] = []  # what was shown (kept for the status line and tests)
        self.notice_place: Place | None = None  # where the last notice says to fix things
        if tray_available():
            self.icon = QSystemTrayIcon(tray_icon("idle"), self)
            self.icon.setContextMenu(self.menu)
            self.icon.activated.connect(self._on_activated)
            self.icon.messageClicked.connect(self.open_notice)
        controller.state_changed.connect(self._on_state)
        controller.notify.connect(self._on_notify)
        self._on_state(controller.tray_state())

    @property
    def available(self) -> bool:
        return self.icon is not None

    def show(self) -> None:
        if self.icon is not None:
            self.icon.show()

    def hide(self) -> None:
        if self.icon is not None:
            self.icon.hide()

    def show_message(self, title: str, message: str, critical: bool = False) -> None:
        if self.icon is not None and self.icon.isVisible():
            icons = QSystemTrayIcon.MessageIcon
            kind = icons.Warning if critical else icons.Information
            self.icon.showMessage(title, message, kind, 15_000)

    def _add(self, text: str, handler: Callable[[], object]) -> QAction:
        action = QAction(text, self.menu)
        action.triggered.connect(lambda _checked=False: handler())
        self.menu.addAction(action)
        return action

    def _sync_now(self) -> None:
        if not self.controller.sync_now():
            self.show_message("LedgerBridge", "A sync is already running.")

    @Slot(str)
    def _on_state(self, state: str) -> None:
        self.state = state
        paused = state == "paused"
        self.action_pause_hour.setEnabled(not paused)
        self.action_pause.setEnabled(not paused)
        self.action_resume.setEnabled(paused)
        self.action_sync.setEnabled(state != "syncing")
        if self.icon is not None:
            self.icon.setIcon(tray_icon(state))
            self.icon.setToolTip(STATE_TOOLTIPS.get(state, "LedgerBridge"))

    @Slot(str, str, bool)
    def _on_notify(self, title: str, message: str, critical: bool) -> None:
        self.notices.append((title, message, critical))
        log.warning("%s: %s", title, message)
        self.notice_place = find_place(message)
        self.show_message(title, message, critical)

    @Slot()
    def open_notice(self) -> None:
        """The notice was clicked: open the window, at the page and field it names if it names one."""
        self.open_requested.emit()
        if self.notice_place is not None:
            self.place_requested.emit(self.notice_place)

    @Slot(QSystemTrayIcon.ActivationReason)
    def _on_activated(self, reason: QSystemTrayIcon.ActivationReason) -> None:
        if reason in (QSystemTrayIcon.ActivationReason.Trigger, QSystemTrayIcon.ActivationReason.DoubleClick):
            self.open_requested.emit()

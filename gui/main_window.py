"""The main window: Status, History, Problems, Records, Mappings, Settings and Log tabs, and the demo banner.

Closing the window hides it to the tray (the timer keeps syncing); the first time, the user is told where it
went. Without a system tray, closing quits, because there would be no way back to a hidden window.
"""

from __future__ import annotations

import logging

from PySide6.QtCore import Qt, QUrl, Signal
from PySide6.QtGui import QCloseEvent, QDesktopServices
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QLabel,
    QMainWindow,
    QPushButton,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from gui.controller import SyncController
from gui.icons import app_icon
from gui.pages.history import HistoryPage
from gui.pages.log_view import LogPage
from gui.pages.mappings import MappingsPage
from gui.pages.problems import ProblemsPage
from gui.pages.records import RecordsPage
from gui.pages.settings_page import SettingsPage
from gui.pages.status import StatusPage

log = logging.getLogger("ledgerbridge.gui.window")

HIDDEN_TO_TRAY_MESSAGE = (
    "LedgerBridge keeps syncing in the background. Open it again from its icon in the system tray; "
    "use Quit in that icon's menu to stop it."
)


class MainWindow(QMainWindow):
    hidden_to_tray = Signal(str)  # the message to show the first time
    quit_requested = Signal()

    def __init__(
        self, controller: SyncController, *, tray_available: bool, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.controller = controller
        self.tray_available = tray_available
        self._told_about_tray = False
        self.setWindowTitle("LedgerBridge — Demo" if controller.context.is_demo else "LedgerBridge")
        self.setWindowIcon(app_icon())
        self.resize(1000, 680)

        central = QWidget()
        layout = QVBoxLayout(central)
        self.demo_banner: QFrame | None = None
        if controller.context.is_demo:
            self.demo_banner = self._demo_banner()
            layout.addWidget(self.demo_banner)
        self.tabs = QTabWidget()
        self.status_page = StatusPage(controller)
        self.history_page = HistoryPage(controller)
        self.problems_page = ProblemsPage(controller)
        self.records_page = RecordsPage(controller)
        self.mappings_page = MappingsPage(controller)
        self.settings_page = SettingsPage(controller)
        self.log_page = LogPage(
            controller.context.log_file or controller.context.paths.log_file, controller.tasks
        )
        self.tabs.addTab(self.status_page, "Status")
        self.tabs.addTab(self.history_page, "History")
        self.tabs.addTab(self.problems_page, "Problems")
        self.tabs.addTab(self.records_page, "Records")
        self.tabs.addTab(self.mappings_page, "Mappings")
        self.tabs.addTab(self.settings_page, "Settings")
        self.tabs.addTab(self.log_page, "Log")
        layout.addWidget(self.tabs, 1)
        self.setCentralWidget(central)
        controller.problems_loaded.connect(self._label_problems_tab)
        controller.crashed.connect(self._on_crash)

    def _demo_banner(self) -> QFrame:
        banner = QFrame()
        banner.setObjectName("demoBanner")
        banner.setStyleSheet(
            "#demoBanner { background: #fff3e0; border: 1px solid #ffb74d; border-radius: 4px; }"
        )
        row = QHBoxLayout(banner)
        label = QLabel(
            "<b>Demo</b>: a made-up company synced into a local Halo sandbox on this computer. "
            "Press <i>Sync now</i>, then look at what arrived."
        )
        label.setWordWrap(True)
        label.setStyleSheet("color: #000000;")
        self.open_sandbox_button = QPushButton("Open the sandbox's page")
        self.open_sandbox_button.clicked.connect(self.open_sandbox)
        row.addWidget(label, 1)
        row.addWidget(self.open_sandbox_button)
        return banner

    def sandbox_url(self) -> str:
        demo = self.controller.context.demo
        return str(getattr(demo, "sandbox_url", "")) if demo is not None else ""

    def open_sandbox(self) -> bool:
        url = self.sandbox_url()
        return bool(url) and QDesktopServices.openUrl(QUrl(url))

    def bring_forward(self) -> None:
        """Show the window on top (a second launch, the tray's Open)."""
        self.show()
        if self.isMinimized():
            self.setWindowState(self.windowState() & ~Qt.WindowState.WindowMinimized)
        self.raise_()
        self.activateWindow()

    def _label_problems_tab(self, problems: list) -> None:
        index = self.tabs.indexOf(self.problems_page)
        self.tabs.setTabText(index, f"Problems ({len(problems)})" if problems else "Problems")

    def _on_crash(self, message: str, _trace: str) -> None:
        self.status_page.set_label_text(
            self.status_page.info_label,
            f"The sync stopped unexpectedly: {message}. The details are in the log (Log tab); "
            "please send it to your IT support.",
        )

    def closeEvent(self, event: QCloseEvent) -> None:
        if not self.tray_available:
            self.log_page.detach()
            self.quit_requested.emit()
            event.accept()
            return
        event.ignore()
        self.hide()
        if not self._told_about_tray:
            self._told_about_tray = True
            self.hidden_to_tray.emit(HIDDEN_TO_TRAY_MESSAGE)

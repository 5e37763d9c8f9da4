"""The main window: Status, History, Problems, Records, Mappings, Settings and Log tabs, and the demo banner.

Closing the window hides it to the tray (the timer keeps syncing); the first time, the user is told where it
went. Without a system tray, closing quits, because there would be no way back to a hidden window. Once the
app quits (Quit, SIGTERM, log-off: ``prepare_to_quit``), closing really closes: hiding then would block it.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from PySide6.QtCore import QSize, Qt, QUrl, Signal
from PySide6.QtGui import QCloseEvent, QDesktopServices, QGuiApplication
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMainWindow,
    QMessageBox,
    QPushButton,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from gui.advice import Place
from gui.controller import SyncController
from gui.icons import app_icon
from gui.pages.history import HistoryPage
from gui.pages.log_view import LogPage
from gui.pages.mappings import MappingsPage
from gui.pages.problems import ProblemsPage
from gui.pages.records import RecordsPage
from gui.pages.settings_page import SettingsPage
from gui.pages.status import StatusPage
from gui.widgets.inputs import fit_to_screen

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
        self.quitting = False
        self.setWindowTitle("LedgerBridge — Demo" if controller.context.is_demo else "LedgerBridge")
        self.setWindowIcon(app_icon())

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
        self.mappings_page.editor.advice.open_requested.connect(self.open_place)
        fit_to_screen(self, QSize(1000, 680))

    def _demo_banner(self) -> QFrame:
        """What the demo is, the sandbox's address (selectable, with Copy), and a button to open it."""
        banner = QFrame()
        banner.setObjectName("demoBanner")
        banner.setStyleSheet(
            "#demoBanner { background: #fff3e0; border: 1px solid #ffb74d; border-radius: 4px; }"
            "#demoBanner QLabel { color: #000000; }"
        )
        outer = QVBoxLayout(banner)
        row = QHBoxLayout()
        label = QLabel(
            "<b>Demo</b>: a made-up company synced into a local Halo sandbox on this computer. "
            "Press <i>Sync now</i>, then look at what arrived."
        )
        label.setWordWrap(True)
        self.open_sandbox_button = QPushButton("Open the sandbox's page")
        self.open_sandbox_button.clicked.connect(self.open_sandbox)
        row.addWidget(label, 1)
        row.addWidget(self.open_sandbox_button)
        outer.addLayout(row)
        address = QHBoxLayout()
        self.sandbox_address = QLineEdit(self.sandbox_url())
        self.sandbox_address.setReadOnly(True)
        self.sandbox_address.setToolTip("The sandbox's address: paste it into a web browser")
        copy = QPushButton("Copy address")
        copy.clicked.connect(self.copy_sandbox_url)
        self.sandbox_note = QLabel("")
        self.sandbox_note.setWordWrap(True)
        address.addWidget(QLabel("Sandbox address:"))
        address.addWidget(self.sandbox_address, 1)
        address.addWidget(copy)
        outer.addLayout(address)
        outer.addWidget(self.sandbox_note)
        self.sandbox_note.setVisible(False)
        return banner

    def sandbox_url(self) -> str:
        demo = self.controller.context.demo
        return str(getattr(demo, "sandbox_url", "")) if demo is not None else ""

    def copy_sandbox_url(self) -> None:
        QGuiApplication.clipboard().setText(self.sandbox_url())
        self._sandbox_note("The address is copied: paste it into a web browser's address bar.")

    def open_sandbox(self) -> bool:
        """Open the sandbox in the browser; when none opens, say so and how to get there instead."""
        url = self.sandbox_url()
        opened = bool(url) and QDesktopServices.openUrl(QUrl(url))
        if opened:
            self._sandbox_note(f"Opening {url} in your web browser…")
        else:
            self._sandbox_note(
                "No web browser opened on this computer. Copy the address above and paste it into a "
                "browser to see what the demo sent to Halo."
            )
        return opened

    def _sandbox_note(self, text: str) -> None:
        self.sandbox_note.setText(text)
        self.sandbox_note.setVisible(True)

    def open_place(self, place: Place) -> None:
        """Advice named a place (Settings > Halo > CA bundle, Mappings): show it, cursor in the field."""
        if place.section == "mappings":
            self.tabs.setCurrentWidget(self.mappings_page)
            return
        self.tabs.setCurrentWidget(self.settings_page)
        self.settings_page.show_place(place)

    def bring_forward(self) -> None:
        """Show the window on top (a second launch, the tray's Open)."""
        self.show()
        if self.isMinimized():
            self.setWindowState(self.windowState() & ~Qt.WindowState.WindowMinimized)
        self.raise_()
        self.activateWindow()

    def _label_problems_tab(self, problems: Sequence[object]) -> None:
        index = self.tabs.indexOf(self.problems_page)
        self.tabs.setTabText(index, f"Problems ({len(problems)})" if problems else "Problems")

    def _on_crash(self, _message: str, _trace: str) -> None:
        self.status_page.set_label_text(  # the raw error text is in the log, not in the message
            self.status_page.info_label,
            "The sync stopped unexpectedly. Try again; if it happens again, send the log (Log tab > Open "
            "log folder) to your IT support.",
        )

    def confirm_quit(self) -> bool:
        """Before a Quit the user asked for: mapping choices not saved yet are lost only if they say so.

        Not asked on SIGTERM or log-off: nobody is there to answer, and those must not be held up.
        """
        pending = self.mappings_page.editor.pending_count
        if pending == 0:
            return True
        self.show()
        self.raise_()
        self.tabs.setCurrentWidget(self.mappings_page)
        choices = "choice is" if pending == 1 else "choices are"
        answer = QMessageBox.question(
            self,
            "Quit LedgerBridge",
            f"{pending} mapping {choices} not saved. Quit and lose them?\n\n"
            "Press Cancel, then Save on the Mappings tab, to keep them.",
            QMessageBox.StandardButton.Discard | QMessageBox.StandardButton.Cancel,
            QMessageBox.StandardButton.Cancel,
        )
        return answer == QMessageBox.StandardButton.Discard

    def prepare_to_quit(self) -> None:
        """The app is quitting: the next close is a real one, not a hide to the tray."""
        self.quitting = True

    def closeEvent(self, event: QCloseEvent) -> None:
        app = QGuiApplication.instance()
        session_ending = isinstance(app, QGuiApplication) and app.isSavingSession()
        if self.quitting or session_ending:
            self.log_page.detach()
            event.accept()
            return
        if not self.tray_available:
            if not self.confirm_quit():
                event.ignore()
                return
            self.log_page.detach()
            self.quit_requested.emit()
            event.accept()
            return
        event.ignore()
        self.hide()
        if not self._told_about_tray:
            self._told_about_tray = True
            self.hidden_to_tray.emit(HIDDEN_TO_TRAY_MESSAGE)

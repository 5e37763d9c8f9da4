"""The *Check the books* and *Support bundle* buttons: ``sync.doctor`` and ``sync.support_bundle`` in the app.

Why: a customer whose sync fails should not need a command prompt to tell us what their books look like. The
doctor and the bundle do ODBC and network I/O, so both run on the worker pool (``gui.worker.TaskRunner``) and
come back as a report shown in a read-only box; the window keeps painting meanwhile. The panel is
self-contained: the wizard's accounting page and the Settings page each add one with a few lines.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from gui.advice import describe_error
from gui.worker import TaskRunner
from sync.doctor import DoctorReport, doctor_for_settings
from sync.paths import AppPaths
from sync.settings import Settings
from sync.support_bundle import default_bundle_name, write_bundle

SettingsProvider = Callable[[], tuple[Settings, Any]]


class BooksCheckPanel(QWidget):
    """Runs the doctor (and, with ``paths_provider``, writes a support bundle) off the GUI thread."""

    report_ready = Signal(object)  # DoctorReport
    bundle_written = Signal(str)  # path of the zip

    def __init__(
        self,
        tasks: TaskRunner,
        settings_provider: SettingsProvider,
        *,
        paths_provider: Callable[[], AppPaths] | None = None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self._tasks = tasks
        self._settings_provider = settings_provider
        self._paths_provider = paths_provider
        # Where the bundle goes: a save dialog by default (tests give a path instead).
        self.bundle_target: Callable[[], Path | None] = self._ask_for_target
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        row = QHBoxLayout()
        self.check_button = QPushButton("Check the books")
        self.check_button.setToolTip(
            "Look at every table and column LedgerBridge reads, the ODBC driver, and what Halo's lists carry"
        )
        self.check_button.clicked.connect(self.check)
        row.addWidget(self.check_button)
        self.bundle_button = QPushButton("Support bundle…")
        self.bundle_button.setToolTip(
            "Save one zip for support: this check, settings, runs, log (no secrets)"
        )
        self.bundle_button.clicked.connect(self.write_support_bundle)
        self.bundle_button.setVisible(paths_provider is not None)
        row.addWidget(self.bundle_button)
        self.status = QLabel("")
        self.status.setWordWrap(True)
        row.addWidget(self.status, 1)
        layout.addLayout(row)
        self.report_view = QPlainTextEdit()
        self.report_view.setReadOnly(True)
        self.report_view.setMinimumHeight(160)
        self.report_view.setVisible(False)
        layout.addWidget(self.report_view)

    def _busy(self, text: str) -> None:
        self.check_button.setEnabled(False)
        self.bundle_button.setEnabled(False)
        self.status.setStyleSheet("")
        self.status.setText(text)

    def _idle(self) -> None:
        self.check_button.setEnabled(True)
        self.bundle_button.setEnabled(True)

    def check(self) -> None:
        settings, secrets = self._settings_provider()
        self._busy("Checking the books and Halo…")
        self._tasks.submit(lambda: doctor_for_settings(settings, secrets), self._on_report, self._on_error)

    def _on_report(self, report: DoctorReport) -> None:
        self._idle()
        problems = sum(1 for finding in report.findings if finding.severity == "problem")
        warnings = sum(1 for finding in report.findings if finding.severity == "warning")
        if problems:
            self.status.setStyleSheet("color: #b71c1c;")
            self.status.setText(f"{problems} problem(s) and {warnings} warning(s): see the report below.")
        else:
            self.status.setStyleSheet("color: #1b5e20;")
            self.status.setText("No problems found." + (f" {warnings} warning(s) below." if warnings else ""))
        self.report_view.setPlainText(report.to_text())
        self.report_view.setVisible(True)
        self.report_ready.emit(report)

    def _on_error(self, error: BaseException) -> None:
        self._idle()
        self.status.setStyleSheet("color: #b71c1c;")
        self.status.setText(describe_error(error))

    def _ask_for_target(self) -> Path | None:
        chosen, _ = QFileDialog.getSaveFileName(
            self, "Save support bundle", str(Path.home() / default_bundle_name()), "Zip files (*.zip)"
        )
        return Path(chosen) if chosen else None

    def write_support_bundle(self) -> None:
        if self._paths_provider is None:
            return
        target = self.bundle_target()
        if target is None:
            return
        settings, secrets = self._settings_provider()
        paths = self._paths_provider()
        self._busy("Writing the support bundle (this runs the check first)…")

        def build() -> str:
            report = doctor_for_settings(settings, secrets)
            return str(write_bundle(target, settings=settings, paths=paths, secrets=secrets, report=report))

        self._tasks.submit(build, self._on_bundle, self._on_error)

    def _on_bundle(self, path: str) -> None:
        self._idle()
        self.status.setStyleSheet("color: #1b5e20;")
        self.status.setText(f"Support bundle saved: {path} (no passwords or secrets in it).")
        self.bundle_written.emit(path)

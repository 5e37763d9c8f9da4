"""The settings forms the wizard and the Settings tab share: Halo, accounting package, what to sync, app.

Why shared: the wizard sets everything once and the Settings tab must offer everything the wizard set; one
form per section keeps the two from drifting. Forms only read and write ``Settings`` and secrets; the
"Test connection" buttons run the engine's real checks in the background (``gui.worker.TaskRunner``).
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from gui.advice import AdviceView, Place, describe_error
from gui.odbc_queries import OdbcQueriesEditor
from gui.posting_options import DirectionGrid, PostingRuleForm
from gui.widgets.inputs import ScrollSafeComboBox, ScrollSafeSpinBox
from gui.worker import TaskRunner
from sync import runner
from sync.secrets import HALO_CLIENT_SECRET, SOURCE_PASSWORD, MemorySecretStore
from sync.settings import Settings

log = logging.getLogger("ledgerbridge.gui.forms")

HALO_SETUP_NOTE = (
    "<b>In Halo, first create:</b><ol>"
    "<li>an API-only agent for LedgerBridge (Configuration &gt; Teams &amp; Agents);</li>"
    "<li>an API application (Configuration &gt; Integrations &gt; HaloPSA API &gt; View Applications) with "
    "authentication method <i>Client ID and Secret (Services)</i>, logged in as that agent;</li>"
    "<li>its permissions: read and edit customers, items and invoices (and <i>admin</i> for the first "
    "import of tax rates).</li></ol>"
    "Copy the client ID and secret here. The secret is kept in this computer's keyring, never in a file."
)

SOURCE_KIND_LABELS: dict[str, str] = {
    "sage50uk": "Sage 50 UK (Sage 50 Accounts)",
    "sage50ca": "Sage 50 Canada",
    "quickbooks": "QuickBooks Desktop (QODBC)",
    "odbc": "Other ODBC source",
    "demo": "Demo company (to try LedgerBridge)",
}
# The key each package's ODBC driver expects for the company's data folder or file.
PATH_KEYS = {"sage50uk": "DIR", "quickbooks": "DFQ", "sage50ca": "Database", "odbc": "Database"}
PATH_HINTS = {
    "sage50uk": "The company's ACCDATA folder (Sage: Help > About > Data Directory)",
    "quickbooks": "The company file (.qbw)",
    "sage50ca": "Database name (usually simply)",
    "odbc": "Database file or name, if the driver needs one",
    "demo": "The demo company file",
}
ENTITY_LABELS = {
    "tax_rates": "Tax rates",
    "customers": "Customers (and their main site)",
    "suppliers": "Suppliers",
    "items": "Items",
    "invoices": "Invoices and their payments",
}


class CheckResultLabel(AdviceView):
    """Shows a ConnectionCheck (or an error) in green or red, its detail behind *Details*; empty until run."""

    def __init__(self, parent: QWidget | None = None, *, in_wizard: bool = False) -> None:
        super().__init__(parent, in_wizard=in_wizard)
        self.ok: bool | None = None

    def show_running(self, text: str) -> None:
        self.ok = None
        self.show_text(text)

    def show_check(self, check: Any) -> None:
        self.ok = bool(check.ok)
        if check.ok:  # a success's detail is what was found (counts, versions): worth reading as it is
            self.show_text(check.message, "\n".join(p for p in (check.action, check.detail) if p), tone="ok")
        else:  # a failure's detail is the raw answer (a status line, a JSON body): behind Details
            self.show_text(check.message, check.action or "", check.detail or "", tone="error")

    def show_error(self, error: BaseException, prefix: str = "") -> None:
        self.ok = False
        super().show_error(error, prefix)


def _default_check(name: str) -> Callable[[Settings, Any], Any]:
    def call(settings: Settings, secrets: Any) -> Any:
        return getattr(runner, name)(settings, secrets)

    return call


class _TestableForm(QWidget):
    """A form with a "Test connection" button that runs a real check off the GUI thread."""

    changed = Signal()
    check_finished = Signal(bool)

    def __init__(self, tasks: TaskRunner, check_name: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.tasks = tasks
        self.check_function = _default_check(check_name)
        self.settings_provider: Callable[[], tuple[Settings, Any]] | None = None
        self.test_button = QPushButton("Test connection")
        self.test_button.clicked.connect(self.run_check)
        self.result_label = CheckResultLabel()

    def _notify_changed(self, *_: object) -> None:
        self.changed.emit()

    def focus_field(self, place: Place) -> None:
        """Put the cursor in the field that advice named (``place.field``), if this form has it."""
        widget = getattr(self, place.field, None) if place.field else None
        if isinstance(widget, QWidget):
            widget.setFocus(Qt.FocusReason.OtherFocusReason)
            if isinstance(widget, QLineEdit):
                widget.selectAll()

    def run_check(self) -> None:
        if self.settings_provider is None:
            return
        settings, secrets = self.settings_provider()
        self.test_button.setEnabled(False)
        self.result_label.show_running("Testing the connection…")
        check = self.check_function
        self.tasks.submit(lambda: check(settings, secrets), self._on_check, self._on_check_error)

    def _on_check(self, check: Any) -> None:
        self.test_button.setEnabled(True)
        self.result_label.show_check(check)
        self.check_finished.emit(bool(check.ok))

    def _on_check_error(self, error: BaseException) -> None:
        self.test_button.setEnabled(True)
        self.result_label.show_error(error)
        self.check_finished.emit(False)


class HaloForm(_TestableForm):
    def __init__(self, tasks: TaskRunner, parent: QWidget | None = None, *, show_note: bool = True) -> None:
        super().__init__(tasks, "check_halo", parent)
        layout = QVBoxLayout(self)
        if show_note:
            note = QLabel(HALO_SETUP_NOTE)
            note.setWordWrap(True)
            note.setTextFormat(Qt.TextFormat.RichText)
            layout.addWidget(note)
        form = QFormLayout()
        self.resource_server = QLineEdit()
        self.resource_server.setPlaceholderText("https://yourcompany.halopsa.com")
        self.auth_server = QLineEdit()
        self.auth_server.setPlaceholderText("Leave blank: found from the resource server")
        self.tenant = QLineEdit()
        self.tenant.setPlaceholderText("Hosted Halo only, e.g. yourcompany")
        self.client_id = QLineEdit()
        self.client_secret = QLineEdit()
        self.client_secret.setEchoMode(QLineEdit.EchoMode.Password)
        self.client_secret.setPlaceholderText("Kept in the keyring")
        self.scope = QLineEdit("all")
        self.proxy = QLineEdit()
        self.proxy.setPlaceholderText("Blank: Windows' proxy setting. Or http://proxy.example:8080")
        self.ca_bundle = QLineEdit()
        self.ca_bundle.setPlaceholderText(
            "Blank: this computer's certificates. Or a PEM file (inspecting proxy)"
        )
        browse_ca = QPushButton("Browse…")
        browse_ca.clicked.connect(self._browse_ca_bundle)
        ca_row = QHBoxLayout()
        ca_row.addWidget(self.ca_bundle, 1)
        ca_row.addWidget(browse_ca)
        form.addRow("Resource server:", self.resource_server)
        form.addRow("Authorisation server:", self.auth_server)
        form.addRow("Tenant:", self.tenant)
        form.addRow("Client ID:", self.client_id)
        form.addRow("Client secret:", self.client_secret)
        form.addRow("Scope:", self.scope)
        form.addRow("Proxy:", self.proxy)
        form.addRow("CA bundle:", ca_row)
        layout.addLayout(form)
        row = QHBoxLayout()
        row.addWidget(self.test_button)
        row.addStretch(1)
        layout.addLayout(row)
        layout.addWidget(self.result_label)
        layout.addStretch(1)
        for edit in (self.resource_server, self.auth_server, self.tenant, self.client_id, self.client_secret):
            edit.textChanged.connect(self._notify_changed)

    def _browse_ca_bundle(self) -> None:
        chosen, _ = QFileDialog.getOpenFileName(
            self,
            "Choose the CA certificate file (PEM)",
            self.ca_bundle.text(),
            "Certificates (*.pem *.crt *.cer);;All files (*)",
        )
        if chosen:
            self.ca_bundle.setText(chosen)

    def load(self, settings: Settings, secret: str | None) -> None:
        halo = settings.halo
        self.resource_server.setText(halo.resource_server)
        self.auth_server.setText(halo.auth_server)
        self.tenant.setText(halo.tenant)
        self.client_id.setText(halo.client_id)
        self.scope.setText(halo.scope or "all")
        self.proxy.setText(halo.proxy)
        self.ca_bundle.setText(halo.ca_bundle)
        self.client_secret.setText(secret or "")

    def apply_to(self, settings: Settings) -> None:
        halo = settings.halo
        halo.resource_server = self.resource_server.text().strip()
        halo.auth_server = self.auth_server.text().strip()
        halo.tenant = self.tenant.text().strip()
        halo.client_id = self.client_id.text().strip()
        halo.scope = self.scope.text().strip() or "all"
        halo.proxy = self.proxy.text().strip()
        halo.ca_bundle = self.ca_bundle.text().strip()

    def secret(self) -> str:
        return self.client_secret.text()

    def is_complete(self) -> bool:
        return bool(self.resource_server.text().strip() and self.client_id.text().strip() and self.secret())


class SourceForm(_TestableForm):
    def __init__(self, tasks: TaskRunner, parent: QWidget | None = None) -> None:
        super().__init__(tasks, "check_source", parent)
        layout = QVBoxLayout(self)
        form = QFormLayout()
        self.kind = ScrollSafeComboBox()
        for kind, label in SOURCE_KIND_LABELS.items():
            self.kind.addItem(label, kind)
        self.dsn = ScrollSafeComboBox()
        self.dsn.setEditable(True)
        self.driver = ScrollSafeComboBox()
        self.driver.setEditable(True)
        self.path = QLineEdit()
        browse = QPushButton("Browse…")
        browse.clicked.connect(self._browse)
        path_row = QHBoxLayout()
        path_row.addWidget(self.path, 1)
        path_row.addWidget(browse)
        self.connection_string = QLineEdit()
        self.connection_string.setPlaceholderText("Built from the fields above; edit for special cases")
        self.username = QLineEdit()
        self.password = QLineEdit()
        self.password.setEchoMode(QLineEdit.EchoMode.Password)
        self.password.setPlaceholderText("Kept in the keyring")
        self.drivers_note = QLabel("Looking for ODBC drivers and data sources on this computer…")
        self.drivers_note.setWordWrap(True)
        form.addRow("Accounting package:", self.kind)
        form.addRow("Data source (DSN):", self.dsn)
        form.addRow("or ODBC driver:", self.driver)
        self.path_label = QLabel("Data path:")
        form.addRow(self.path_label, path_row)
        form.addRow("Connection string:", self.connection_string)
        form.addRow("User name:", self.username)
        form.addRow("Password:", self.password)
        layout.addLayout(form)
        layout.addWidget(self.drivers_note)
        row = QHBoxLayout()
        row.addWidget(self.test_button)
        row.addStretch(1)
        layout.addLayout(row)
        layout.addWidget(self.result_label)
        self.queries_editor = OdbcQueriesEditor(tasks)  # "Other ODBC source" only
        self.queries_editor.settings_provider = self._settings_for_queries
        layout.addWidget(self.queries_editor)
        layout.addStretch(1)
        self._composing = False
        self.kind.currentIndexChanged.connect(self._on_kind)
        for combo in (self.dsn, self.driver):
            combo.currentTextChanged.connect(self._compose)
        self.path.textChanged.connect(self._compose)
        self.connection_string.textChanged.connect(self._notify_changed)
        self._on_kind()

    def load_odbc_lists(self) -> None:
        """Ask unixODBC / the ODBC administrator (off the GUI thread) for drivers and DSNs."""

        self.tasks.submit(runner.odbc_inventory, self._on_lists, self._on_lists_error)

    def _on_lists(self, result: tuple[list[str], dict[str, str]]) -> None:
        drivers, sources = result
        keep_dsn, keep_driver = self.dsn.currentText(), self.driver.currentText()
        self._composing = True
        self.dsn.clear()
        self.dsn.addItem("")
        for name, driver in sorted(sources.items()):
            self.dsn.addItem(name, driver)
            self.dsn.setItemData(self.dsn.count() - 1, f"{name} ({driver})", Qt.ItemDataRole.ToolTipRole)
        self.driver.clear()
        self.driver.addItem("")
        self.driver.addItems(sorted(drivers))
        self.dsn.setCurrentText(keep_dsn)
        self.driver.setCurrentText(keep_driver)
        self._composing = False
        if drivers or sources:
            self.drivers_note.setText(
                f"Found {len(drivers)} ODBC driver(s) and {len(sources)} data source(s) on this computer. "
                "No Sage/QuickBooks driver listed? Install it, and use the 32-bit or 64-bit version that "
                "matches LedgerBridge."
            )
        else:
            self.drivers_note.setText(
                "No ODBC drivers were found. Install your accounting package's ODBC driver (the Sage 50 "
                "ODBC driver comes with Sage; QuickBooks needs QODBC), then reopen this page."
            )

    def _on_lists_error(self, error: BaseException) -> None:
        self.drivers_note.setText(f"Could not list the ODBC drivers: {describe_error(error)}")

    def _browse(self) -> None:
        if self.current_kind() in ("sage50uk",):
            chosen = QFileDialog.getExistingDirectory(self, "Choose the ACCDATA folder", self.path.text())
        else:
            chosen, _ = QFileDialog.getOpenFileName(self, "Choose the company file", self.path.text())
        if chosen:
            self.path.setText(chosen)

    def current_kind(self) -> str:
        return str(self.kind.currentData())

    def _settings_for_queries(self) -> tuple[Settings, Any]:
        if self.settings_provider is None:
            raise RuntimeError("The form has no settings provider.")
        return self.settings_provider()

    def focus_field(self, place: Place) -> None:
        if place.field in ("queries", "columns"):
            self.queries_editor.query.setFocus(Qt.FocusReason.OtherFocusReason)
            return
        super().focus_field(place)

    def _on_kind(self) -> None:
        kind = self.current_kind()
        self.queries_editor.setVisible(kind == "odbc")
        odbc = kind != "demo"
        for widget in (self.dsn, self.driver, self.username, self.password):
            widget.setEnabled(odbc)
        self.path.setPlaceholderText(PATH_HINTS.get(kind, ""))
        self._compose()
        self.changed.emit()

    def _compose(self) -> None:
        """Build the connection string from the fields (it stays editable for special cases)."""
        if self._composing:
            return
        kind = self.current_kind()
        path = self.path.text().strip()
        if kind == "demo":
            text = path
        else:
            parts = []
            dsn, driver = self.dsn.currentText().strip(), self.driver.currentText().strip()
            if dsn:
                parts.append(f"DSN={dsn}")
            elif driver:
                parts.append(f"Driver={{{driver}}}")
            if path:
                parts.append(f"{PATH_KEYS.get(kind, 'Database')}={path}")
            text = ";".join(parts)
        self.connection_string.setText(text)

    def load(self, settings: Settings, password: str | None) -> None:
        source = settings.source
        index = self.kind.findData(source.kind or "sage50uk")
        self.kind.setCurrentIndex(max(0, index))
        self._composing = True
        if source.kind == "demo":
            self.path.setText(source.connection_string)
        self._composing = False
        self.connection_string.setText(source.connection_string)
        self.username.setText(source.username)
        self.password.setText(password or "")
        self.queries_editor.load(source.queries, source.columns)

    def apply_to(self, settings: Settings) -> None:
        settings.source.kind = self.current_kind()
        settings.source.connection_string = self.connection_string.text().strip()
        settings.source.username = self.username.text().strip()
        if settings.source.kind == "odbc":
            settings.source.queries = self.queries_editor.queries()
            settings.source.columns = self.queries_editor.columns()

    def secret(self) -> str:
        return self.password.text()

    def is_complete(self) -> bool:
        return bool(self.connection_string.text().strip())


class SyncOptionsForm(QWidget):
    """What flows which way, where new customers go in Halo, deactivation, the posting rule, how often."""

    changed = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        layout = QVBoxLayout(self)
        self.directions = DirectionGrid(ENTITY_LABELS)
        self.directions.changed.connect(self._notify_changed)
        self.directions.changed.connect(self._show_rule)
        self.entity_boxes = self.directions.to_halo
        layout.addWidget(self.directions)
        form = QFormLayout()
        self.toplevel_id = ScrollSafeSpinBox()
        self.toplevel_id.setRange(0, 1_000_000)
        self.toplevel_id.setSpecialValueText("Halo's default")
        self.deactivate = QCheckBox(
            "Make inactive in Halo the customers deleted or made inactive in the books"
        )
        self.interval = ScrollSafeSpinBox()
        self.interval.setRange(1, 24 * 60)
        self.interval.setSuffix(" minutes")
        self.payments = QCheckBox("Send payments against invoices")
        form.addRow("Top level for new customers (Halo id):", self.toplevel_id)
        form.addRow("", self.deactivate)
        form.addRow("", self.payments)
        form.addRow("Sync every:", self.interval)
        layout.addLayout(form)
        self.posting_rule = PostingRuleForm()
        self.posting_rule.changed.connect(self._notify_changed)
        layout.addWidget(self.posting_rule)
        layout.addStretch(1)
        self._show_rule()

    def _notify_changed(self, *_: object) -> None:
        self.changed.emit()

    def _show_rule(self, *_: object) -> None:
        self.posting_rule.setVisible(self.directions.posting_on)

    def set_source_kind(self, kind: str) -> None:
        """The package chosen on the Accounting package page decides whether posting is offered."""
        self.directions.set_source_kind(kind)

    def load(self, settings: Settings) -> None:
        sync = settings.sync
        self.directions.set_source_kind(settings.source.kind)
        self.directions.load(settings)
        self.posting_rule.load(settings)
        self.toplevel_id.setValue(sync.toplevel_id)
        self.deactivate.setChecked(sync.deactivate_deleted)
        self.payments.setChecked(sync.sync_payments)
        self.interval.setValue(sync.interval_minutes)
        self._show_rule()

    def apply_to(self, settings: Settings) -> None:
        sync = settings.sync
        self.directions.apply_to(settings)
        if self.directions.posting_on:
            self.posting_rule.apply_to(settings)
        sync.toplevel_id = self.toplevel_id.value()
        sync.deactivate_deleted = self.deactivate.isChecked()
        sync.sync_payments = self.payments.isChecked()
        sync.interval_minutes = self.interval.value()

    def is_complete(self) -> bool:
        rule_ok = not self.directions.posting_on or self.posting_rule.is_complete()
        return self.directions.is_complete() and rule_ok


class AppOptionsForm(QWidget):
    """Desktop preferences, including the explicit (and warned) choice of plain-text secrets."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        layout = QVBoxLayout(self)
        self.start_at_login = QCheckBox("Start LedgerBridge when I log in")
        self.start_minimised = QCheckBox("Start in the tray (no window) at login")
        self.allow_plaintext = QCheckBox(
            "Allow secrets in a plain-text file when this computer has no secure keyring (not recommended)"
        )
        for box in (self.start_at_login, self.start_minimised, self.allow_plaintext):
            layout.addWidget(box)
        layout.addStretch(1)

    def load(self, settings: Settings, start_at_login: bool) -> None:
        self.start_at_login.setChecked(start_at_login)
        self.start_minimised.setChecked(settings.app.start_minimised)
        self.allow_plaintext.setChecked(settings.app.allow_plaintext_secrets)

    def apply_to(self, settings: Settings) -> None:
        settings.app.start_at_login = self.start_at_login.isChecked()
        settings.app.start_minimised = self.start_minimised.isChecked()
        settings.app.allow_plaintext_secrets = self.allow_plaintext.isChecked()


def settings_with_secrets(
    base: Settings, halo: HaloForm, source: SourceForm, sync: SyncOptionsForm | None = None
) -> tuple[Settings, MemorySecretStore]:
    """A copy of ``base`` with the forms applied, and the typed secrets held in memory (for checks)."""
    settings = copy.deepcopy(base)
    halo.apply_to(settings)
    source.apply_to(settings)
    if sync is not None:
        sync.apply_to(settings)
    secrets = MemorySecretStore()
    if halo.secret():
        secrets.set(HALO_CLIENT_SECRET, halo.secret())
    if source.secret():
        secrets.set(SOURCE_PASSWORD, source.secret())
    return settings, secrets

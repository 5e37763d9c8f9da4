"""The generic ODBC source's queries and column map, and a *Test* that shows the first rows as they are read.

Why: "Other ODBC source" needs one SELECT per entity and which of its columns is the key, the name, the rate…
(``settings.source.queries`` / ``columns``). Without an editor the advice "enter them in Settings >
Accounting package" led nowhere; without a test, a typo showed up as a failed sync. *Test this query* runs
the connector's own checks and reads the first rows through it, off the GUI thread.
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import msgspec
from PySide6.QtCore import Qt
from PySide6.QtGui import QFontDatabase
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from core.errors import ConfigError
from core.records import SourceProblem
from gui.advice import AdviceView
from gui.widgets.inputs import ScrollSafeComboBox
from gui.widgets.tables import item_at
from gui.worker import TaskRunner
from sync.settings import Settings

log = logging.getLogger("ledgerbridge.gui.odbc")

ENTITY_TITLES = {
    "tax_rates": "Tax rates",
    "customers": "Customers",
    "suppliers": "Suppliers",
    "items": "Items",
    "invoices": "Invoices",
    "invoice_lines": "Invoice lines",
}
PREVIEW_ROWS = 5

SettingsProvider = Callable[[], tuple[Settings, Any]]


def _fields() -> tuple[dict[str, tuple[str, ...]], dict[str, tuple[str, ...]]]:
    from connectors.generic import OPTIONAL_FIELDS, REQUIRED_FIELDS

    return REQUIRED_FIELDS, OPTIONAL_FIELDS


def _shown(value: Any) -> str:
    """A record's value as a person reads it (an address on one line, lines counted, no 'None')."""
    if value is None:
        return ""
    if isinstance(value, Decimal):
        return f"{value.normalize():f}"
    if isinstance(value, list | tuple):
        return f"{len(value)} line(s)" if value else ""
    if isinstance(value, msgspec.Struct):  # an Address
        parts = (getattr(value, name) for name in value.__struct_fields__)
        return ", ".join(_shown(v) for v in parts if v not in (None, "", ()))
    return str(value)


def preview_records(settings: Settings, secrets: Any, entity: str, limit: int = PREVIEW_ROWS) -> list[Any]:
    """The first records of ``entity`` as the sync would read them (runs in a worker: ODBC I/O)."""
    from sync.runner import build_connector

    stream = "invoices" if entity == "invoice_lines" else entity
    if not settings.source.queries.get(stream, "").strip():
        raise ConfigError(
            f"Enter the {ENTITY_TITLES[stream].lower()} query first.",
            action="Invoice lines are read with their invoices." if entity == "invoice_lines" else "",
        )
    connector = build_connector(settings, secrets)
    try:
        check = getattr(connector, "validate", None)
        if callable(check):
            check()
        records = list(itertools.islice(connector.read(stream), limit))  # type: ignore[arg-type]
    finally:
        connector.close()
    if entity == "invoice_lines":
        return [line for record in records for line in getattr(record, "lines", ())][:limit]
    return records


class OdbcQueriesEditor(QWidget):
    """One SELECT per entity and its column map; *Test this query* shows the first rows mapped."""

    def __init__(self, tasks: TaskRunner, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.tasks = tasks
        self.settings_provider: SettingsProvider | None = None
        self._queries: dict[str, str] = {}
        self._columns: dict[str, dict[str, str]] = {}
        self._entity = "customers"
        self._required, self._optional = _fields()
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        intro = QLabel(
            "<b>Queries and column map</b> (Other ODBC source): for each kind of record, a SELECT on your "
            "database, then which of its columns holds each field. Fields marked * are needed."
        )
        intro.setWordWrap(True)
        layout.addWidget(intro)
        row = QHBoxLayout()
        self.entity = ScrollSafeComboBox()
        for entity, title in ENTITY_TITLES.items():
            self.entity.addItem(title, entity)
        self.entity.setCurrentIndex(self.entity.findData(self._entity))
        self.entity.currentIndexChanged.connect(self._switch_entity)
        self.test_button = QPushButton("Test this query")
        self.test_button.clicked.connect(self.run_test)
        row.addWidget(QLabel("Records:"))
        row.addWidget(self.entity)
        row.addStretch(1)
        row.addWidget(self.test_button)
        layout.addLayout(row)
        self.query = QPlainTextEdit()
        self.query.setPlaceholderText("SELECT id, company, email FROM clients")
        self.query.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        self.query.setMinimumHeight(70)
        self.query.setMaximumHeight(110)
        layout.addWidget(self.query)
        self.columns_table = QTableWidget(0, 2)
        self.columns_table.setHorizontalHeaderLabels(["Field", "Column in the SELECT"])
        self.columns_table.verticalHeader().setVisible(False)
        self.columns_table.horizontalHeader().setSectionResizeMode(0, QHeaderView.ResizeMode.ResizeToContents)
        self.columns_table.horizontalHeader().setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        self.columns_table.setMinimumHeight(120)
        layout.addWidget(self.columns_table)
        self.result = AdviceView()
        layout.addWidget(self.result)
        self.preview = QTableWidget(0, 0)
        self.preview.verticalHeader().setVisible(False)
        self.preview.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.preview.setMinimumHeight(110)
        self.preview.setVisible(False)
        layout.addWidget(self.preview)
        self._show_entity()

    # --- settings in and out ------------------------------------------------------------------------------

    def load(self, queries: dict[str, str], columns: dict[str, dict[str, str]]) -> None:
        self._queries = dict(queries)
        self._columns = {entity: dict(mapping) for entity, mapping in columns.items()}
        self._show_entity()

    def queries(self) -> dict[str, str]:
        self._keep_entity()
        return {entity: sql for entity, sql in self._queries.items() if sql.strip()}

    def columns(self) -> dict[str, dict[str, str]]:
        self._keep_entity()
        return {entity: mapping for entity, mapping in self._columns.items() if mapping}

    # --- editing one entity -------------------------------------------------------------------------------

    def _fields_of(self, entity: str) -> list[tuple[str, bool]]:
        return [(f, True) for f in self._required[entity]] + [(f, False) for f in self._optional[entity]]

    def _keep_entity(self) -> None:
        """Copy what is typed for the entity on show into the queries and columns."""
        self._queries[self._entity] = self.query.toPlainText()
        mapping: dict[str, str] = {}
        for row in range(self.columns_table.rowCount()):
            field = item_at(self.columns_table, row, 0).data(Qt.ItemDataRole.UserRole)
            column = self.columns_table.item(row, 1)
            if column is not None and column.text().strip():
                mapping[field] = column.text().strip()
        self._columns[self._entity] = mapping

    def _switch_entity(self) -> None:
        self._keep_entity()
        self._entity = str(self.entity.currentData())
        self._show_entity()

    def select_entity(self, entity: str) -> None:
        self.entity.setCurrentIndex(self.entity.findData(entity))

    def set_column(self, field: str, column: str) -> None:
        """Map ``field`` of the entity on show to ``column`` (what typing in the table does)."""
        for row in range(self.columns_table.rowCount()):
            if item_at(self.columns_table, row, 0).data(Qt.ItemDataRole.UserRole) == field:
                item_at(self.columns_table, row, 1).setText(column)
                return
        raise KeyError(field)

    def _show_entity(self) -> None:
        entity = self._entity
        self.query.setPlainText(self._queries.get(entity, ""))
        mapping = self._columns.get(entity, {})
        fields = self._fields_of(entity)
        self.columns_table.setRowCount(len(fields))
        for row, (field, required) in enumerate(fields):
            name = QTableWidgetItem(f"{field} *" if required else field)
            name.setData(Qt.ItemDataRole.UserRole, field)
            name.setFlags(name.flags() & ~Qt.ItemFlag.ItemIsEditable)
            self.columns_table.setItem(row, 0, name)
            self.columns_table.setItem(row, 1, QTableWidgetItem(mapping.get(field, "")))
        self.result.clear()
        self.preview.setVisible(False)

    # --- testing ------------------------------------------------------------------------------------------

    def run_test(self) -> None:
        if self.settings_provider is None:
            return
        self._keep_entity()
        settings, secrets = self.settings_provider()
        entity = self._entity
        self.test_button.setEnabled(False)
        self.preview.setVisible(False)
        self.result.show_text(f"Reading the first {ENTITY_TITLES[entity].lower()}…")
        self.tasks.submit(
            lambda: preview_records(settings, secrets, entity), self._on_preview, self._on_error
        )

    def _on_preview(self, records: list[Any]) -> None:
        self.test_button.setEnabled(True)
        if not records:
            self.result.show_text("The query ran but returned no rows.", tone="warning")
            return
        problems = [r for r in records if isinstance(r, SourceProblem)]
        rows = [r for r in records if not isinstance(r, SourceProblem)]
        names = list(rows[0].__struct_fields__) if rows else []
        names = [n for n in names if any(_shown(getattr(r, n)) for r in rows)]
        self.preview.clear()
        self.preview.setColumnCount(len(names))
        self.preview.setHorizontalHeaderLabels(names)
        self.preview.setRowCount(len(rows))
        for row, record in enumerate(rows):
            for column, name in enumerate(names):
                self.preview.setItem(row, column, QTableWidgetItem(_shown(getattr(record, name))))
        self.preview.resizeColumnsToContents()
        self.preview.setVisible(bool(rows))
        text = f"The first {len(rows)} row(s), as LedgerBridge reads them."
        if problems:
            first = problems[0]
            text += f" {len(problems)} row(s) could not be read, e.g. {getattr(first, 'message', first)}"
        self.result.show_text(text, tone="warning" if problems else "ok")

    def _on_error(self, error: BaseException) -> None:
        self.test_button.setEnabled(True)
        self.result.show_error(error)

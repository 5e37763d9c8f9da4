"""Tax code and customer mappings: see what will match, generate exact matches, pick a Halo client by hand.

Why: a wrong match sends a customer's invoices to another company, so nothing fuzzy is applied silently;
the user sees each row's state (coloured), near matches with their score, and a counter of what is left.
Used by the wizard's Mappings page and the main window's Mappings tab. All loading and saving goes through
``sync.mappings.MappingService`` in the background.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QBrush, QColor, QStandardItem, QStandardItemModel
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from gui.forms import describe_error
from gui.worker import TaskRunner

log = logging.getLogger("ledgerbridge.gui.mappings")

STATE_COLOURS = {
    "linked": "#c8e6c9",  # already synced together
    "mapped": "#a5d6a7",  # the user's choice
    "accountsid": "#c8e6c9",  # Halo already carries our key
    "auto": "#c8e6c9",  # tax code + rate match
    "exact": "#bbdefb",  # same normalised name: "Generate mappings" saves these
    "suggested": "#fff59d",  # a near match to confirm
    "unmatched": "#eceff1",  # would be created new in Halo (normal on a fresh Halo)
    "unmapped": "#ffcdd2",  # a tax code with no Halo tax: its records would wait
    "new_tax": "#eceff1",  # no Halo tax yet, but the sync creates it with the tax rates
}
STATE_TEXT = {
    "linked": "Linked",
    "mapped": "Mapped by you",
    "accountsid": "Matched by account ref",
    "auto": "Matched (code and rate)",
    "exact": "Same name",
    "suggested": "Near match: please confirm",
    "unmatched": "New in Halo",
    "unmapped": "Not mapped: its records would wait",
    "new_tax": "New in Halo (synced with the tax rates)",
}
CREATE_NEW = "(create a new client in Halo)"
ALL_CLIENTS = "Another Halo client…"
ALL_CLIENTS_MARKER = -1
NOT_MAPPED = "(not mapped)"

ServiceFactory = Callable[[], Any]  # returns a sync.mappings.MappingService; called in a worker thread


class MappingEditor(QWidget):
    loaded = Signal(object)  # MappingSnapshot
    busy_changed = Signal(bool)

    def __init__(
        self, tasks: TaskRunner, service_factory: ServiceFactory, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.tasks = tasks
        self.service_factory = service_factory
        self.snapshot: Any = None
        self._all_clients = QStandardItemModel(self)
        self.creates_taxes = True  # the sync includes tax rates, so an unmapped code is created, not stuck
        self._customer_halo: dict[str, int | None] = {}
        self._customer_state: dict[str, str] = {}
        layout = QVBoxLayout(self)
        buttons = QHBoxLayout()
        self.load_button = QPushButton("Load from both sides")
        self.load_button.clicked.connect(self.load)
        self.generate_button = QPushButton("Generate mappings (exact names)")
        self.generate_button.setEnabled(False)
        self.generate_button.clicked.connect(self.generate)
        buttons.addWidget(self.load_button)
        buttons.addWidget(self.generate_button)
        buttons.addStretch(1)
        self.counter = QLabel("Not loaded yet.")
        buttons.addWidget(self.counter)
        layout.addLayout(buttons)
        self.status = QLabel("")
        self.status.setWordWrap(True)
        layout.addWidget(self.status)
        layout.addWidget(QLabel("<b>Tax codes</b>"))
        self.tax_table = self._table(["Code", "Name", "Rate %", "Halo tax", "State"])
        layout.addWidget(self.tax_table, 1)
        layout.addWidget(QLabel("<b>Customers</b>"))
        self.customer_table = self._table(
            ["Account", "Name in the books", "Halo client", "State", "Near matches"]
        )
        layout.addWidget(self.customer_table, 3)

    @staticmethod
    def _table(headers: list[str]) -> QTableWidget:
        table = QTableWidget(0, len(headers))
        table.setHorizontalHeaderLabels(headers)
        table.verticalHeader().setVisible(False)
        table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        table.horizontalHeader().setStretchLastSection(True)
        return table

    # --- actions (all I/O in the worker) --------------------------------------------------------------------

    def _set_busy(self, busy: bool, text: str = "") -> None:
        self.load_button.setEnabled(not busy)
        self.generate_button.setEnabled(not busy and self.snapshot is not None)
        if text:
            self.status.setText(text)
            self.status.setStyleSheet("")
        self.busy_changed.emit(busy)

    def load(self) -> None:
        self._set_busy(True, "Reading customers and tax codes from the books and from Halo…")
        factory = self.service_factory
        self.tasks.submit(lambda: factory().load(), self._on_loaded, self._on_error)

    def generate(self) -> None:
        snapshot = self.snapshot
        if snapshot is None:
            return
        self._set_busy(True, "Saving the exact-name matches…")
        factory = self.service_factory

        def work() -> tuple[int, Any]:
            service = factory()
            saved = service.generate_customer_mappings(snapshot)
            return saved, service.load()

        def done(result: tuple[int, Any]) -> None:
            saved, fresh = result
            self._on_loaded(fresh)
            self.status.setText(
                f"Saved {saved} mapping(s) from exact name matches. Check the near matches below."
            )

        self.tasks.submit(work, done, self._on_error)

    def _on_error(self, error: BaseException) -> None:
        self._set_busy(False)
        self.status.setText(describe_error(error))
        self.status.setStyleSheet("color: #b71c1c;")

    def _on_loaded(self, snapshot: Any) -> None:
        self.snapshot = snapshot
        self._fill_taxes(snapshot)
        self._fill_customers(snapshot)
        self._set_busy(
            False,
            "Loaded. Yellow rows are near matches to confirm; grey ones will be new in Halo; "
            "red ones would wait.",
        )
        self._update_counter()
        self.loaded.emit(snapshot)

    # --- tables ---------------------------------------------------------------------------------------------

    @staticmethod
    def _paint_row(table: QTableWidget, row: int, state: str) -> None:
        brush = QBrush(QColor(STATE_COLOURS.get(state, "#ffffff")))
        for column in range(table.columnCount()):
            item = table.item(row, column)
            if item is not None:
                item.setBackground(brush)
                item.setForeground(QBrush(QColor("#000000")))

    def _fill_taxes(self, snapshot: Any) -> None:
        table = self.tax_table
        table.setRowCount(len(snapshot.taxes))
        for row, tax in enumerate(snapshot.taxes):
            table.setItem(row, 0, QTableWidgetItem(tax.code))
            table.setItem(row, 1, QTableWidgetItem(tax.name))
            table.setItem(row, 2, QTableWidgetItem(str(tax.rate)))
            table.setItem(row, 3, QTableWidgetItem(""))
            state = self._tax_state(tax.state)
            table.setItem(row, 4, QTableWidgetItem(STATE_TEXT.get(state, state)))
            combo = QComboBox()
            combo.addItem(NOT_MAPPED, None)
            for halo_id, label in snapshot.halo_taxes:
                combo.addItem(label, halo_id)
            combo.setCurrentIndex(max(0, combo.findData(tax.halo_id)) if tax.halo_id is not None else 0)
            combo.currentIndexChanged.connect(lambda _i, r=row, c=combo: self._tax_chosen(r, c))
            table.setCellWidget(row, 3, combo)
            self._paint_row(table, row, state)
        table.resizeColumnsToContents()

    def _fill_customers(self, snapshot: Any) -> None:
        self._all_clients = QStandardItemModel(self)
        for label, halo_id in [(CREATE_NEW, None), *((f"{n} (#{i})", i) for i, n in snapshot.halo_clients)]:
            entry = QStandardItem(label)
            entry.setData(halo_id, Qt.ItemDataRole.UserRole)
            self._all_clients.appendRow(entry)
        table = self.customer_table
        table.setRowCount(len(snapshot.customers))
        self._customer_halo = {c.source_key: c.halo_id for c in snapshot.customers}
        self._customer_state = {c.source_key: c.state for c in snapshot.customers}
        for row, customer in enumerate(snapshot.customers):
            table.setItem(row, 0, QTableWidgetItem(customer.source_key))
            table.setItem(row, 1, QTableWidgetItem(customer.source_name))
            table.setItem(row, 2, QTableWidgetItem(customer.halo_name))
            table.setItem(row, 3, QTableWidgetItem(STATE_TEXT.get(customer.state, customer.state)))
            near = ", ".join(f"{s.name} ({s.score:.0f}%)" for s in customer.suggestions)
            table.setItem(row, 4, QTableWidgetItem(near))
            # A short list per row (new, the current client, near matches with their score) and one entry
            # that switches the row to the full list, shared by every row: thousands of Halo clients times
            # hundreds of customers must not become millions of combo-box entries.
            combo = QComboBox()
            combo.addItem(CREATE_NEW, None)
            if customer.halo_id is not None and all(
                s.halo_id != customer.halo_id for s in customer.suggestions
            ):
                combo.addItem(f"{customer.halo_name} (#{customer.halo_id})", customer.halo_id)
            for suggestion in customer.suggestions:
                combo.addItem(f"{suggestion.name} — {suggestion.score:.0f}% match", suggestion.halo_id)
            combo.addItem(ALL_CLIENTS, ALL_CLIENTS_MARKER)
            if customer.halo_id is not None:
                combo.setCurrentIndex(max(0, combo.findData(customer.halo_id)))
            combo.currentIndexChanged.connect(lambda _i, r=row, c=combo: self._customer_chosen(r, c))
            table.setCellWidget(row, 2, combo)
            self._paint_row(table, row, customer.state)
        table.resizeColumnsToContents()

    def _tax_state(self, state: str) -> str:
        return "new_tax" if state == "unmapped" and self.creates_taxes else state

    def _update_counter(self) -> None:
        matched = sum(1 for v in self._customer_halo.values() if v is not None)
        unmatched = len(self._customer_halo) - matched
        to_confirm = sum(1 for s in self._customer_state.values() if s == "suggested")
        self.counter.setText(f"{matched} matched · {unmatched} new in Halo · {to_confirm} to confirm")

    @property
    def counts(self) -> tuple[int, int]:
        matched = sum(1 for v in self._customer_halo.values() if v is not None)
        return matched, len(self._customer_halo) - matched

    def _customer_chosen(self, row: int, combo: QComboBox) -> None:
        key = self.customer_table.item(row, 0).text()
        halo_id = combo.currentData()
        if halo_id == ALL_CLIENTS_MARKER:
            self.show_all_clients(combo, self._customer_halo.get(key))
            return
        self.choose_customer(key, halo_id, row=row)

    def show_all_clients(self, combo: QComboBox, current: int | None) -> None:
        """Switch a row's drop-down to every Halo client (type to jump to a name), keeping its choice."""
        combo.blockSignals(True)
        combo.setModel(self._all_clients)
        combo.setCurrentIndex(max(0, combo.findData(current)))
        combo.blockSignals(False)
        if combo.isVisible():
            combo.showPopup()

    def choose_customer(self, source_key: str, halo_id: int | None, *, row: int | None = None) -> None:
        """Save the user's pick of Halo client for a source customer (None: create a new one)."""
        factory = self.service_factory

        def done(_: object) -> None:
            self._customer_halo[source_key] = halo_id
            state = "mapped" if halo_id is not None else "unmatched"
            self._customer_state[source_key] = state
            if row is not None:
                self.customer_table.item(row, 3).setText(STATE_TEXT[state])
                self._paint_row(self.customer_table, row, state)
            target = "a new Halo client" if halo_id is None else f"Halo client #{halo_id}"
            self.status.setText(f"Saved: {source_key} → {target}")
            self._update_counter()

        self.tasks.submit(lambda: factory().set_customer_mapping(source_key, halo_id), done, self._on_error)

    def _tax_chosen(self, row: int, combo: QComboBox) -> None:
        key = self.snapshot.taxes[row].source_key
        halo_id = combo.currentData()
        factory = self.service_factory

        def done(_: object) -> None:
            state = "mapped" if halo_id is not None else self._tax_state("unmapped")
            self.tax_table.item(row, 4).setText(STATE_TEXT[state])
            self._paint_row(self.tax_table, row, state)

        self.tasks.submit(lambda: factory().set_tax_mapping(key, halo_id), done, self._on_error)

    def customer_row(self, source_key: str) -> int:
        for row in range(self.customer_table.rowCount()):
            if self.customer_table.item(row, 0).text() == source_key:
                return row
        return -1

    def customer_combo(self, source_key: str) -> QComboBox | None:
        row = self.customer_row(source_key)
        widget = self.customer_table.cellWidget(row, 2) if row >= 0 else None
        return widget if isinstance(widget, QComboBox) else None

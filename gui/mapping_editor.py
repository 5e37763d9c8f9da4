"""Tax code and customer mappings: see what will match, generate exact matches, pick a Halo client by hand.

Why: a wrong match sends a customer's invoices to another company, so nothing fuzzy is applied silently;
the user sees each row's state (coloured), near matches with their score, and a counter of what is left.
Nothing changes by accident: the drop-downs ignore the mouse wheel, a choice stays pending (orange) until
*Save changes* (*Undo changes* puts the rows back), and a choice that changes a tax rate or takes a customer
off its Halo client asks once before it is saved. Search, a state filter, *Unmatched only* and a CSV export
help with long lists. Used by the wizard's Mappings page and the main window's Mappings tab. All loading
and saving goes through ``sync.mappings.MappingService`` in the background.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QBrush, QColor, QStandardItem, QStandardItemModel
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QMessageBox,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from gui.advice import AdviceView
from gui.csv_export import write_csv
from gui.widgets.inputs import ScrollSafeComboBox
from gui.widgets.tables import item_at
from gui.worker import TaskRunner
from sync.mappings import changes_to_confirm, percent

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
    "pending": "#ffcc80",  # chosen, not saved yet
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
    "pending": "Changed: not saved yet",
}
CREATE_NEW = "(create a new client in Halo)"
ALL_CLIENTS = "Another Halo client…"
ALL_CLIENTS_MARKER = -1
NOT_MAPPED = "(not mapped)"

# The "Show" filter: which row states each choice keeps.
SHOW_FILTERS: dict[str, tuple[str, frozenset[str] | None]] = {
    "all": ("All rows", None),
    "suggested": ("Near matches to confirm", frozenset({"suggested"})),
    "matched": ("Matched", frozenset({"linked", "mapped", "accountsid", "auto", "exact"})),
    "mapped": ("Mapped by you", frozenset({"mapped"})),
    "pending": ("Changed, not saved", frozenset({"pending"})),
}
UNMATCHED_STATES = frozenset({"suggested", "unmatched", "unmapped", "new_tax"})
TAX_COLUMNS = ["Code", "Name", "Rate", "Halo tax", "State"]
CUSTOMER_COLUMNS = ["Account", "Name in the books", "Halo client", "State", "Near matches"]
# Columns that share the spare width (the others fit their content, header included).
TAX_STRETCH = (1, 3)
CUSTOMER_STRETCH = (1, 2, 4)

ServiceFactory = Callable[[], Any]  # returns a sync.mappings.MappingService; called in a worker thread
ConfirmHandler = Callable[[QMessageBox], None]  # for tests: sees the question box once it is open


class MappingEditor(QWidget):
    loaded = Signal(object)  # MappingSnapshot
    busy_changed = Signal(bool)
    pending_changed = Signal(int)  # how many choices wait for Save
    saved = Signal(int)  # how many choices were saved

    def __init__(
        self, tasks: TaskRunner, service_factory: ServiceFactory, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.tasks = tasks
        self.service_factory = service_factory
        self.snapshot: Any = None
        self._all_clients = QStandardItemModel(self)
        self.creates_taxes = True  # the sync includes tax rates, so an unmapped code is created, not stuck
        self._customer_halo: dict[str, int | None] = {}  # what the next sync would use (saved choices)
        self._customer_state: dict[str, str] = {}
        self._customer_rows: dict[str, int] = {}
        self._tax_halo: dict[str, int | None] = {}
        self._tax_state: dict[str, str] = {}
        self.pending_customers: dict[str, int | None] = {}  # chosen, not saved yet
        self.pending_taxes: dict[str, int | None] = {}
        self.confirm_box: QMessageBox | None = None
        self._busy = False
        layout = QVBoxLayout(self)

        buttons = QHBoxLayout()
        self.load_button = QPushButton("Load from both sides")
        self.load_button.clicked.connect(self.load)
        self.generate_button = QPushButton("Generate mappings (exact names)")
        self.generate_button.setEnabled(False)
        self.generate_button.clicked.connect(self.generate)
        self.save_button = QPushButton("Save changes")
        self.save_button.setEnabled(False)
        self.save_button.clicked.connect(self.save)
        self.undo_button = QPushButton("Undo changes")
        self.undo_button.setEnabled(False)
        self.undo_button.clicked.connect(self.undo)
        for button in (self.load_button, self.generate_button, self.save_button, self.undo_button):
            buttons.addWidget(button)
        buttons.addStretch(1)
        self.counter = QLabel("Not loaded yet.")
        buttons.addWidget(self.counter)
        layout.addLayout(buttons)

        tools = QHBoxLayout()
        self.search = QLineEdit()
        self.search.setPlaceholderText("Search account, code, name or Halo record…")
        self.search.setClearButtonEnabled(True)
        self.search.textChanged.connect(self.apply_filter)
        self.show_filter = QComboBox()
        for key, (label, _states) in SHOW_FILTERS.items():
            self.show_filter.addItem(label, key)
        self.show_filter.currentIndexChanged.connect(self.apply_filter)
        self.unmatched_only = QCheckBox("Unmatched only")
        self.unmatched_only.setToolTip("Rows with no Halo record yet: near matches and new ones")
        self.unmatched_only.toggled.connect(self.apply_filter)
        self.export_button = QPushButton("Export CSV…")
        self.export_button.setToolTip("Save the rows shown (after search and filter) as a CSV file")
        self.export_button.setEnabled(False)
        self.export_button.clicked.connect(self.choose_export_file)
        self.shown_label = QLabel("")
        tools.addWidget(self.search, 2)
        tools.addWidget(QLabel("Show:"))
        tools.addWidget(self.show_filter)
        tools.addWidget(self.unmatched_only)
        tools.addWidget(self.export_button)
        tools.addWidget(self.shown_label, 1)
        layout.addLayout(tools)

        self.status = QLabel("")
        self.status.setWordWrap(True)
        layout.addWidget(self.status)
        self.advice = AdviceView()  # an error: what to do, a button to the right place, the raw detail
        layout.addWidget(self.advice)
        layout.addWidget(QLabel("<b>Tax codes</b>"))
        self.tax_table = self._table(TAX_COLUMNS, TAX_STRETCH)
        self.tax_table.setMinimumHeight(90)  # two codes and the header, however small the window
        layout.addWidget(self.tax_table, 2)
        layout.addWidget(QLabel("<b>Customers</b>"))
        self.customer_table = self._table(CUSTOMER_COLUMNS, CUSTOMER_STRETCH)
        layout.addWidget(self.customer_table, 3)

    @staticmethod
    def _table(headers: list[str], stretch: tuple[int, ...]) -> QTableWidget:
        """Names share the width (kept after every reload); codes and states fit their content and header."""
        table = QTableWidget(0, len(headers))
        table.setHorizontalHeaderLabels(headers)
        table.verticalHeader().setVisible(False)
        table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        header = table.horizontalHeader()
        header.setMinimumSectionSize(60)
        for column in range(len(headers)):
            mode = QHeaderView.ResizeMode.Stretch if column in stretch else QHeaderView.ResizeMode.Interactive
            header.setSectionResizeMode(column, mode)
        _fit_fixed_columns(table, stretch)
        return table

    # --- actions (all I/O in the worker) --------------------------------------------------------------------

    @property
    def pending_count(self) -> int:
        return len(self.pending_customers) + len(self.pending_taxes)

    def _update_buttons(self) -> None:
        pending = self.pending_count > 0
        loaded = self.snapshot is not None
        self.load_button.setEnabled(not self._busy and not pending)
        self.generate_button.setEnabled(not self._busy and loaded and not pending)
        tip = "Save or undo your changes first." if pending else ""
        self.load_button.setToolTip(tip)
        self.generate_button.setToolTip(tip)
        self.save_button.setEnabled(not self._busy and pending)
        self.undo_button.setEnabled(not self._busy and pending)
        self.save_button.setText(f"Save changes ({self.pending_count})" if pending else "Save changes")
        self.export_button.setEnabled(loaded)

    def _set_busy(self, busy: bool, text: str = "") -> None:
        self._busy = busy
        self._update_buttons()
        if text:
            self.status.setText(text)
            self.status.setStyleSheet("")
            self.advice.clear()
        self.busy_changed.emit(busy)

    def load(self) -> None:
        if self.pending_count or self._busy:
            return
        self._set_busy(True, "Reading customers and tax codes from the books and from Halo…")
        factory = self.service_factory
        self.tasks.submit(lambda: factory().load(), self._on_loaded, self._on_error)

    def generate(self) -> None:
        snapshot = self.snapshot
        if snapshot is None or self.pending_count:
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
        self.status.setText("")
        self.advice.show_error(error)

    def _on_loaded(self, snapshot: Any) -> None:
        self.snapshot = snapshot
        self.pending_customers.clear()
        self.pending_taxes.clear()
        self._fill_taxes(snapshot)
        self._fill_customers(snapshot)
        self._set_busy(
            False,
            "Loaded. Yellow: near matches to confirm; grey: new in Halo; red: would wait. "
            "A choice is kept when you press Save changes.",
        )
        self._update_counter()
        self.apply_filter()
        self.pending_changed.emit(0)
        self.loaded.emit(snapshot)

    # --- saving ---------------------------------------------------------------------------------------------

    def save(self) -> None:
        """Save the pending choices; one that changes a tax rate or drops a Halo client asks once first."""
        if not self.pending_count or self.snapshot is None or self._busy:
            return
        questions = changes_to_confirm(self.snapshot, self.pending_customers, self.pending_taxes)
        if not questions:
            self._write()
            return
        box = QMessageBox(
            QMessageBox.Icon.Warning,
            "Save these mappings?",
            "Please check these changes before they are saved:",
            QMessageBox.StandardButton.Save | QMessageBox.StandardButton.Cancel,
            self,
        )
        box.setInformativeText("\n\n".join(f"• {q}" for q in questions))
        box.setDefaultButton(QMessageBox.StandardButton.Cancel)
        box.finished.connect(self._on_confirm_answer)
        self.confirm_box = box
        box.open()

    def _on_confirm_answer(self, result: int) -> None:
        box, self.confirm_box = self.confirm_box, None
        if box is not None:
            box.deleteLater()
        if result == QMessageBox.StandardButton.Save:
            self._write()
        else:
            self.status.setText("Not saved: your changes are still pending (orange rows).")
            self.status.setStyleSheet("")

    def _write(self) -> None:
        customers, taxes = dict(self.pending_customers), dict(self.pending_taxes)
        factory = self.service_factory
        self._set_busy(True, "Saving your changes…")

        def done(_: object) -> None:
            for key, halo_id in customers.items():
                self._customer_halo[key] = halo_id
                self._customer_state[key] = "mapped" if halo_id is not None else "unmatched"
                self.pending_customers.pop(key, None)
                self._show_customer_state(key)
            for key, halo_id in taxes.items():
                self._tax_halo[key] = halo_id
                self._tax_state[key] = "mapped" if halo_id is not None else self._tax_state_for("unmapped")
                self.pending_taxes.pop(key, None)
                self._show_tax_state(key)
            self._set_busy(False, f"Saved {len(customers) + len(taxes)} change(s).")
            self.status.setStyleSheet("color: #1b5e20;")
            self._update_counter()
            self.apply_filter()
            self.pending_changed.emit(self.pending_count)
            self.saved.emit(len(customers) + len(taxes))

        self.tasks.submit(lambda: factory().save_changes(customers, taxes), done, self._on_error)

    def undo(self) -> None:
        """Put every changed row back to what is saved."""
        for key in list(self.pending_customers):
            self.pending_customers.pop(key)
            combo = self.customer_combo(key)
            if combo is not None:
                _select(combo, self._customer_halo.get(key))
            self._show_customer_state(key)
        for key in list(self.pending_taxes):
            self.pending_taxes.pop(key)
            combo = self.tax_combo(key)
            if combo is not None:
                _select(combo, self._tax_halo.get(key))
            self._show_tax_state(key)
        self.status.setText("Your changes were undone; nothing was saved.")
        self.status.setStyleSheet("")
        self._after_change()

    def _after_change(self) -> None:
        self._update_buttons()
        self._update_counter()
        self.apply_filter()
        self.pending_changed.emit(self.pending_count)

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
        self._tax_halo = {t.source_key: t.halo_id for t in snapshot.taxes}
        self._tax_state = {t.source_key: self._tax_state_for(t.state) for t in snapshot.taxes}
        for row, tax in enumerate(snapshot.taxes):
            key_item = QTableWidgetItem(tax.code)
            key_item.setData(Qt.ItemDataRole.UserRole, tax.source_key)
            table.setItem(row, 0, key_item)
            table.setItem(row, 1, QTableWidgetItem(tax.name))
            rate = QTableWidgetItem(percent(tax.rate))
            rate.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            table.setItem(row, 2, rate)
            table.setItem(row, 3, QTableWidgetItem(""))  # under the drop-down (search reads the drop-down)
            table.setItem(row, 4, QTableWidgetItem(""))
            combo = ScrollSafeComboBox()
            combo.addItem(NOT_MAPPED, None)
            for halo_id, label in snapshot.halo_taxes:
                combo.addItem(label, halo_id)
            _select(combo, tax.halo_id)
            combo.currentIndexChanged.connect(lambda _i, k=tax.source_key, c=combo: self._tax_chosen(k, c))
            table.setCellWidget(row, 3, combo)
            self._show_tax_state(tax.source_key, row)
        _fit_fixed_columns(table, TAX_STRETCH)

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
        self._customer_rows = {c.source_key: row for row, c in enumerate(snapshot.customers)}
        for row, customer in enumerate(snapshot.customers):
            table.setItem(row, 0, QTableWidgetItem(customer.source_key))
            table.setItem(row, 1, QTableWidgetItem(customer.source_name))
            table.setItem(row, 2, QTableWidgetItem(""))  # under the drop-down
            table.setItem(row, 3, QTableWidgetItem(""))
            near = ", ".join(f"{s.name} ({s.score:.0f}%)" for s in customer.suggestions)
            table.setItem(row, 4, QTableWidgetItem(near))
            # A short list per row (new, the current client, near matches with their score) and one entry
            # that switches the row to the full list, shared by every row: thousands of Halo clients times
            # hundreds of customers must not become millions of combo-box entries.
            combo = ScrollSafeComboBox()
            combo.addItem(CREATE_NEW, None)
            if customer.halo_id is not None and all(
                s.halo_id != customer.halo_id for s in customer.suggestions
            ):
                combo.addItem(f"{customer.halo_name} (#{customer.halo_id})", customer.halo_id)
            for suggestion in customer.suggestions:
                combo.addItem(f"{suggestion.name} — {suggestion.score:.0f}% match", suggestion.halo_id)
            combo.addItem(ALL_CLIENTS, ALL_CLIENTS_MARKER)
            _select(combo, customer.halo_id)
            combo.currentIndexChanged.connect(
                lambda _i, k=customer.source_key, c=combo: self._customer_chosen(k, c)
            )
            table.setCellWidget(row, 2, combo)
            self._show_customer_state(customer.source_key, row)
        _fit_fixed_columns(table, CUSTOMER_STRETCH)

    def _tax_state_for(self, state: str) -> str:
        return "new_tax" if state == "unmapped" and self.creates_taxes else state

    def _show_customer_state(self, key: str, row: int | None = None) -> None:
        row = self._customer_rows.get(key, -1) if row is None else row
        if row < 0:
            return
        state = "pending" if key in self.pending_customers else self._customer_state.get(key, "")
        item_at(self.customer_table, row, 3).setText(STATE_TEXT.get(state, state))
        self._paint_row(self.customer_table, row, state)

    def _show_tax_state(self, key: str, row: int | None = None) -> None:
        row = self.tax_row(key) if row is None else row
        if row < 0:
            return
        state = "pending" if key in self.pending_taxes else self._tax_state.get(key, "")
        item_at(self.tax_table, row, 4).setText(STATE_TEXT.get(state, state))
        self._paint_row(self.tax_table, row, state)

    def _update_counter(self) -> None:
        matched = sum(1 for v in self._customer_halo.values() if v is not None)
        unmatched = len(self._customer_halo) - matched
        to_confirm = sum(1 for s in self._customer_state.values() if s == "suggested")
        text = f"{matched} matched · {unmatched} new in Halo · {to_confirm} to confirm"
        if self.pending_count:
            text += f" · {self.pending_count} not saved"
        self.counter.setText(text)

    @property
    def counts(self) -> tuple[int, int]:
        matched = sum(1 for v in self._customer_halo.values() if v is not None)
        return matched, len(self._customer_halo) - matched

    def _customer_chosen(self, key: str, combo: QComboBox) -> None:
        halo_id = combo.currentData()
        if halo_id == ALL_CLIENTS_MARKER:
            self.show_all_clients(combo, self.pending_customers.get(key, self._customer_halo.get(key)))
            return
        self.choose_customer(key, halo_id)

    def show_all_clients(self, combo: QComboBox, current: int | None) -> None:
        """Switch a row's drop-down to every Halo client (type to jump to a name), keeping its choice."""
        combo.blockSignals(True)
        combo.setModel(self._all_clients)
        _select(combo, current)
        combo.blockSignals(False)
        if combo.isVisible():
            combo.showPopup()

    def choose_customer(self, source_key: str, halo_id: int | None) -> None:
        """The user's pick of Halo client for a source customer (None: a new one), pending until Save."""
        if halo_id == self._customer_halo.get(source_key):
            self.pending_customers.pop(source_key, None)  # chosen back: nothing to save
        else:
            self.pending_customers[source_key] = halo_id
        combo = self.customer_combo(source_key)
        if combo is not None and combo.currentData() != halo_id:
            _select(combo, halo_id)
        self._show_customer_state(source_key)
        self._after_change()

    def _tax_chosen(self, key: str, combo: QComboBox) -> None:
        self.choose_tax(key, combo.currentData())

    def choose_tax(self, source_key: str, halo_id: int | None) -> None:
        """The user's pick of Halo tax for a source tax code (None: not mapped), pending until Save."""
        if halo_id == self._tax_halo.get(source_key):
            self.pending_taxes.pop(source_key, None)
        else:
            self.pending_taxes[source_key] = halo_id
        combo = self.tax_combo(source_key)
        if combo is not None and combo.currentData() != halo_id:
            _select(combo, halo_id)
        self._show_tax_state(source_key)
        self._after_change()

    # --- finding rows ---------------------------------------------------------------------------------------

    def customer_row(self, source_key: str) -> int:
        return self._customer_rows.get(source_key, -1)

    def customer_combo(self, source_key: str) -> QComboBox | None:
        row = self.customer_row(source_key)
        widget = self.customer_table.cellWidget(row, 2) if row >= 0 else None
        return widget if isinstance(widget, QComboBox) else None

    def tax_row(self, source_key: str) -> int:
        for row in range(self.tax_table.rowCount()):
            item = self.tax_table.item(row, 0)
            if item is not None and item.data(Qt.ItemDataRole.UserRole) == source_key:
                return row
        return -1

    def tax_combo(self, source_key: str) -> QComboBox | None:
        row = self.tax_row(source_key)
        widget = self.tax_table.cellWidget(row, 3) if row >= 0 else None
        return widget if isinstance(widget, QComboBox) else None

    # --- search, filter, export -----------------------------------------------------------------------------

    def _row_state(self, table: QTableWidget, row: int) -> str:
        if table is self.tax_table:
            key = item_at(self.tax_table, row, 0).data(Qt.ItemDataRole.UserRole)
            return "pending" if key in self.pending_taxes else self._tax_state.get(key, "")
        key = item_at(self.customer_table, row, 0).text()
        return "pending" if key in self.pending_customers else self._customer_state.get(key, "")

    def _row_unmatched(self, table: QTableWidget, row: int) -> bool:
        if table is self.tax_table:
            key = item_at(self.tax_table, row, 0).data(Qt.ItemDataRole.UserRole)
            return self.pending_taxes.get(key, self._tax_halo.get(key)) is None
        key = item_at(self.customer_table, row, 0).text()
        return self.pending_customers.get(key, self._customer_halo.get(key)) is None

    def _row_text(self, table: QTableWidget, row: int) -> str:
        parts = []
        for column in range(table.columnCount()):
            widget = table.cellWidget(row, column)
            if isinstance(widget, QComboBox):
                parts.append(widget.currentText())
            item = table.item(row, column)
            if item is not None:
                parts.append(item.text())
        return " ".join(parts).casefold()

    def apply_filter(self, *_: object) -> None:
        """Show only the rows that match the search, the Show filter and *Unmatched only*."""
        needle = self.search.text().strip().casefold()
        _label, states = SHOW_FILTERS.get(str(self.show_filter.currentData()), ("", None))
        unmatched_only = self.unmatched_only.isChecked()
        shown = {self.tax_table: 0, self.customer_table: 0}
        for table in (self.tax_table, self.customer_table):
            for row in range(table.rowCount()):
                visible = (
                    (states is None or self._row_state(table, row) in states)
                    and (not unmatched_only or self._row_unmatched(table, row))
                    and (not needle or needle in self._row_text(table, row))
                )
                table.setRowHidden(row, not visible)
                shown[table] += int(visible)
        taxes, customers = self.tax_table.rowCount(), self.customer_table.rowCount()
        if shown[self.tax_table] == taxes and shown[self.customer_table] == customers:
            self.shown_label.setText("")
        else:
            self.shown_label.setText(
                f"Showing {shown[self.tax_table]} of {taxes} tax codes, "
                f"{shown[self.customer_table]} of {customers} customers"
            )

    def visible_rows(self) -> list[list[str]]:
        """The rows shown, as the CSV export writes them (a header row first)."""
        rows = [["Kind", "Key", "Name in the books", "Rate", "Halo record", "Halo id", "State"]]
        for row in range(self.tax_table.rowCount()):
            if self.tax_table.isRowHidden(row):
                continue
            combo = self.tax_table.cellWidget(row, 3)
            halo_id = combo.currentData() if isinstance(combo, QComboBox) else None
            rows.append(
                [
                    "Tax code",
                    item_at(self.tax_table, row, 0).text(),
                    item_at(self.tax_table, row, 1).text(),
                    item_at(self.tax_table, row, 2).text(),
                    combo.currentText() if isinstance(combo, QComboBox) and halo_id is not None else "",
                    "" if halo_id is None else str(halo_id),
                    item_at(self.tax_table, row, 4).text(),
                ]
            )
        for row in range(self.customer_table.rowCount()):
            if self.customer_table.isRowHidden(row):
                continue
            combo = self.customer_table.cellWidget(row, 2)
            halo_id = combo.currentData() if isinstance(combo, QComboBox) else None
            rows.append(
                [
                    "Customer",
                    item_at(self.customer_table, row, 0).text(),
                    item_at(self.customer_table, row, 1).text(),
                    "",
                    combo.currentText() if isinstance(combo, QComboBox) and halo_id is not None else "",
                    "" if halo_id is None else str(halo_id),
                    item_at(self.customer_table, row, 3).text(),
                ]
            )
        return rows

    def choose_export_file(self) -> None:
        target, _ = QFileDialog.getSaveFileName(
            self, "Export the mappings shown", str(Path.home() / "ledgerbridge-mappings.csv"), "CSV (*.csv)"
        )
        if target:
            self.export_csv(Path(target))

    def export_csv(self, target: Path) -> None:
        """Write the rows shown to ``target`` (in the background: it is file I/O)."""
        rows = self.visible_rows()

        def done(_: object) -> None:
            self.status.setText(f"Exported {len(rows) - 1} row(s) to {target}.")
            self.status.setStyleSheet("color: #1b5e20;")

        self.tasks.submit(lambda: write_csv(target, rows[0], rows[1:]), done, self._on_error)


def _select(combo: QComboBox, halo_id: int | None) -> None:
    """Show ``halo_id`` in a row's drop-down without it counting as the user's choice."""
    combo.blockSignals(True)
    combo.setCurrentIndex(max(0, combo.findData(halo_id)) if halo_id is not None else 0)
    combo.blockSignals(False)


def _fit_fixed_columns(table: QTableWidget, stretch: tuple[int, ...]) -> None:
    """Size the non-stretching columns to their content and header; the stretching ones keep sharing."""
    header = table.horizontalHeader()
    for column in range(table.columnCount()):
        if column not in stretch:
            width = max(table.sizeHintForColumn(column), header.sectionSizeHint(column))
            header.resizeSection(column, width)

"""Records: every record LedgerBridge knows, searchable: books key, name, Halo id, last synced, result.

Why: "did invoice 1042 go across, and where is it in Halo?" should take a search, not a log. *Open in Halo*
opens the record's page in Halo (gui/halo_links.py); *Sync this record again* sends it again at once even if
nothing changed in the books (someone edited it in Halo, say), through the same rewind the Problems page
uses. Rows come from a model (thousands of invoices stay quick) behind a filter for search, kind and result.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import (
    QAbstractTableModel,
    QModelIndex,
    QPersistentModelIndex,
    QSortFilterProxyModel,
    Qt,
    QUrl,
    Slot,
)
from PySide6.QtGui import QDesktopServices, QShowEvent
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPushButton,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from gui.controller import SyncController
from gui.halo_links import halo_web_url
from gui.pages.common import entity_name, local_time
from sync.state import RecordOverview

HEADERS = ["Kind", "Books key", "Name", "Halo id", "Last synced", "Result"]
RESULT_CHOICES = (("Any result", None), ("Synced", "Synced"), ("Problem", "Problem"))
ModelIndex = QModelIndex | QPersistentModelIndex


class RecordsModel(QAbstractTableModel):
    """The records as a table; the row's RecordOverview is under Qt.ItemDataRole.UserRole."""

    def __init__(self, parent: Any = None) -> None:
        super().__init__(parent)
        self.records: list[RecordOverview] = []

    def set_records(self, records: list[RecordOverview]) -> None:
        self.beginResetModel()
        self.records = list(records)
        self.endResetModel()

    def rowCount(self, parent: ModelIndex = QModelIndex()) -> int:  # noqa: B008 (Qt's signature)
        return 0 if parent.isValid() else len(self.records)

    def columnCount(self, parent: ModelIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(HEADERS)

    def headerData(
        self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole
    ) -> Any:
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return HEADERS[section]
        return None

    def data(self, index: ModelIndex, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        record = self.records[index.row()]
        if role == Qt.ItemDataRole.UserRole:
            return record
        if role == Qt.ItemDataRole.DisplayRole:
            return self.text(record, index.column())
        if role == Qt.ItemDataRole.ToolTipRole and index.column() == 5 and record.problem:
            return record.problem
        if role == Qt.ItemDataRole.EditRole:  # what sorting compares: numbers and times as themselves
            if index.column() == 3:
                return record.halo_id or 0
            if index.column() == 4:
                return record.synced_at.isoformat() if record.synced_at else ""
            return self.text(record, index.column())
        return None

    @staticmethod
    def text(record: RecordOverview, column: int) -> str:
        if column == 0:
            return entity_name(record.entity)
        if column == 1:
            return record.key
        if column == 2:
            return record.name
        if column == 3:
            return str(record.halo_id) if record.halo_id else "—"
        if column == 4:
            return local_time(record.synced_at)
        return f"Problem: {record.problem}" if record.problem else "Synced"


class RecordsFilter(QSortFilterProxyModel):
    """Search (any column, any case), kind of record and result."""

    def __init__(self, parent: Any = None) -> None:
        super().__init__(parent)
        self.needle = ""
        self.entity: str | None = None
        self.result: str | None = None
        self.setSortRole(Qt.ItemDataRole.EditRole)

    def set_filters(self, needle: str, entity: str | None, result: str | None) -> None:
        self.beginFilterChange()
        self.needle, self.entity, self.result = needle.strip().casefold(), entity, result
        self.endFilterChange(QSortFilterProxyModel.Direction.Rows)

    def filterAcceptsRow(self, source_row: int, source_parent: ModelIndex) -> bool:
        model = self.sourceModel()
        assert isinstance(model, RecordsModel)
        record = model.records[source_row]
        if self.entity is not None and record.entity != self.entity:
            return False
        if self.result is not None and record.result != self.result:
            return False
        if not self.needle:
            return True
        return any(self.needle in RecordsModel.text(record, c).casefold() for c in range(len(HEADERS)))


class RecordsPage(QWidget):
    def __init__(self, controller: SyncController, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.controller = controller
        layout = QVBoxLayout(self)
        self.summary_label = QLabel("Reading the records…")
        layout.addWidget(self.summary_label)
        filters = QHBoxLayout()
        self.search_edit = QLineEdit()
        self.search_edit.setPlaceholderText("Search by books key, name or Halo id…")
        self.search_edit.setClearButtonEnabled(True)
        self.kind_combo = QComboBox()
        self.kind_combo.addItem("All kinds of record", None)
        self.result_combo = QComboBox()
        for label, value in RESULT_CHOICES:
            self.result_combo.addItem(label, value)
        filters.addWidget(self.search_edit, 1)
        filters.addWidget(self.kind_combo)
        filters.addWidget(self.result_combo)
        layout.addLayout(filters)

        self.model = RecordsModel(self)
        self.proxy = RecordsFilter(self)
        self.proxy.setSourceModel(self.model)
        self.view = QTableView()
        self.view.setModel(self.proxy)
        self.view.setSortingEnabled(True)
        self.view.sortByColumn(0, Qt.SortOrder.AscendingOrder)
        self.view.verticalHeader().setVisible(False)
        self.view.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.view.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.view.setAlternatingRowColors(True)
        header = self.view.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        header.setSectionResizeMode(2, QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(5, QHeaderView.ResizeMode.Stretch)
        layout.addWidget(self.view, 1)

        buttons = QHBoxLayout()
        self.open_button = QPushButton("Open in Halo")
        self.open_button.clicked.connect(self.open_in_halo)
        self.resync_button = QPushButton("Sync this record again")
        self.resync_button.setToolTip(
            "Send the selected records to Halo again now, even if nothing changed in the books."
        )
        self.resync_button.clicked.connect(self.sync_again)
        self.refresh_button = QPushButton("Refresh")
        self.refresh_button.clicked.connect(controller.load_records)
        self.open_label = QLabel("")
        self.open_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.open_label.setWordWrap(True)
        for button in (self.open_button, self.resync_button, self.refresh_button):
            buttons.addWidget(button)
        buttons.addWidget(self.open_label, 1)
        layout.addLayout(buttons)

        self.search_edit.textChanged.connect(self._apply_filters)
        self.kind_combo.currentIndexChanged.connect(self._apply_filters)
        self.result_combo.currentIndexChanged.connect(self._apply_filters)
        self.view.selectionModel().selectionChanged.connect(self._update_buttons)
        self.view.doubleClicked.connect(lambda _index: self.open_in_halo())
        controller.records_loaded.connect(self.show_records)
        controller.busy_changed.connect(lambda _busy: self._update_buttons())
        self._update_buttons()

    def showEvent(self, event: QShowEvent) -> None:
        """Read the records when the tab is first shown (not at start-up: most days nobody looks)."""
        super().showEvent(event)
        if not self.controller.records_wanted:
            self.controller.load_records()

    @Slot(object)
    def show_records(self, records: list[RecordOverview]) -> None:
        self.model.set_records(records)
        chosen = self.kind_combo.currentData()
        self.kind_combo.blockSignals(True)
        self.kind_combo.clear()
        self.kind_combo.addItem("All kinds of record", None)
        for entity in sorted({r.entity for r in records}):
            self.kind_combo.addItem(entity_name(entity), entity)
        self.kind_combo.setCurrentIndex(max(0, self.kind_combo.findData(chosen)))
        self.kind_combo.blockSignals(False)
        self._apply_filters()
        self.view.resizeColumnsToContents()

    @Slot()
    def _apply_filters(self, *_: object) -> None:
        self.proxy.set_filters(
            self.search_edit.text(), self.kind_combo.currentData(), self.result_combo.currentData()
        )
        total, shown = len(self.model.records), self.proxy.rowCount()
        problems = sum(1 for r in self.model.records if r.problem)
        text = f"{total:,} record(s) known, {problems:,} with a problem."
        if shown != total:
            text += f" Showing {shown:,}."
        self.summary_label.setText(text)
        self._update_buttons()

    def selected_records(self) -> list[RecordOverview]:
        rows = self.view.selectionModel().selectedRows()
        return [
            self.proxy.data(index, Qt.ItemDataRole.UserRole) for index in sorted(rows, key=lambda i: i.row())
        ]

    def selected_url(self) -> str | None:
        chosen = self.selected_records()
        if len(chosen) != 1:
            return None
        record = chosen[0]
        return halo_web_url(self.controller.settings.halo.resource_server, record.entity, record.halo_id)

    @Slot()
    def _update_buttons(self, *_: object) -> None:
        chosen = self.selected_records()
        url = self.selected_url()
        self.open_button.setEnabled(url is not None)
        if len(chosen) == 1 and url is None:
            reason = (
                "It is not in Halo yet."
                if not chosen[0].halo_id
                else f"Halo has no page of its own for one of its {entity_name(chosen[0].entity).lower()}."
            )
            self.open_button.setToolTip(reason)
        else:
            self.open_button.setToolTip("Open the selected record's page in Halo in your web browser.")
        self.resync_button.setEnabled(bool(chosen) and not self.controller.is_running())

    def open_in_halo(self) -> bool:
        url = self.selected_url()
        if url is None:
            return False
        opened = QDesktopServices.openUrl(QUrl(url))
        self.open_label.setText(
            f"Opened {url}" if opened else f"No web browser opened. The record's address in Halo: {url}"
        )
        return opened

    def sync_again(self) -> None:
        chosen = self.selected_records()
        if chosen:
            self.open_label.setText(f"Syncing {len(chosen)} record(s) again…")
            self.controller.resync_records([(r.entity, r.key) for r in chosen])

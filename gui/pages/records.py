"""Records: every record LedgerBridge knows, searchable: books key, name, Halo id, last synced, result.

Why: "did invoice 1042 go across, and where is it in Halo?" should take a search, not a log. *Open in Halo*
opens the record's page in Halo (gui/halo_links.py); *Sync this record again* sends it again at once even if
nothing changed in the books (someone edited it in Halo, say), through the same rewind the Problems page
uses. Rows come from a model (thousands of invoices stay quick) behind a filter for search, kind and result.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import (
    QAbstractTableModel,
    QModelIndex,
    QPersistentModelIndex,
    QSortFilterProxyModel,
    Qt,
    QTimer,
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
from sync.posting import ENTITY as POSTING
from sync.state import RecordOverview

HEADERS = ["Kind", "Books key", "Name", "Halo id", "Last synced", "Result"]
RESULT_CHOICES = (("Any result", None), ("Synced", "Synced"), ("Problem", "Problem"))
ModelIndex = QModelIndex | QPersistentModelIndex
SEARCH_DELAY_MS = 150


RESYNC_TIP = "Send the selected records to Halo again now, even if nothing changed in the books."


@dataclass(frozen=True)
class PreparedRecords:
    """Records with their cell texts and search text made ahead, in the order to show them."""

    records: list[RecordOverview]
    texts: list[tuple[str, ...]]
    haystacks: list[str]


def record_texts(record: RecordOverview) -> tuple[str, ...]:
    return (
        entity_name(record.entity),
        record.key,
        record.name,
        str(record.halo_id) if record.halo_id else "—",
        local_time(record.synced_at),
        f"Problem: {record.problem}" if record.problem else "Synced",
    )


def sort_key(record: RecordOverview, texts: tuple[str, ...], column: int) -> tuple[Any, ...]:
    """Numbers and times as themselves; text without case; then kind and key, so ties stay in order."""
    if column == 3:
        first: Any = record.halo_id or 0
    elif column == 4:
        first = record.synced_at.isoformat() if record.synced_at else ""
    else:
        first = texts[column].casefold()
    return (first, texts[0], record.key)


def prepare_records(
    records: list[RecordOverview], column: int = 0, descending: bool = False
) -> PreparedRecords:
    """Pure Python, run in a worker: formatting tens of thousands of dates would stall the window."""
    pairs = sorted(
        ((record, record_texts(record)) for record in records),
        key=lambda pair: sort_key(pair[0], pair[1], column),
        reverse=descending,
    )
    texts = [t for _, t in pairs]
    return PreparedRecords([r for r, _ in pairs], texts, ["\n".join(t).casefold() for t in texts])


class RecordsModel(QAbstractTableModel):
    """The records as a table; the row's RecordOverview is under Qt.ItemDataRole.UserRole.

    Rows arrive prepared (texts and search text made in a worker), and sorting sorts the Python list by a key,
    so tens of thousands of invoices stay quick to show, sort and search.
    """

    def __init__(self, parent: Any = None) -> None:
        super().__init__(parent)
        self.records: list[RecordOverview] = []
        self.texts: list[tuple[str, ...]] = []
        self.haystacks: list[str] = []

    def set_prepared(self, prepared: PreparedRecords) -> None:
        self.beginResetModel()
        self.records, self.texts, self.haystacks = prepared.records, prepared.texts, prepared.haystacks
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
        if role == Qt.ItemDataRole.DisplayRole:
            return self.texts[index.row()][index.column()]
        if role == Qt.ItemDataRole.UserRole:
            return self.records[index.row()]
        if role == Qt.ItemDataRole.ToolTipRole and index.column() == 5:
            return self.records[index.row()].problem or None
        return None

    def sort(self, column: int, order: Qt.SortOrder = Qt.SortOrder.AscendingOrder) -> None:
        self.layoutAboutToBeChanged.emit()
        triples = sorted(
            zip(self.records, self.texts, self.haystacks, strict=True),
            key=lambda triple: sort_key(triple[0], triple[1], column),
            reverse=order == Qt.SortOrder.DescendingOrder,
        )
        self.records = [t[0] for t in triples]
        self.texts = [t[1] for t in triples]
        self.haystacks = [t[2] for t in triples]
        self.layoutChanged.emit()


class RecordsFilter(QSortFilterProxyModel):
    """Search (any column, any case), kind of record and result; sorting is the source model's own."""

    def __init__(self, parent: Any = None) -> None:
        super().__init__(parent)
        self.needle = ""
        self.entity: str | None = None
        self.result: str | None = None

    def set_filters(self, needle: str, entity: str | None, result: str | None) -> None:
        wanted = (needle.strip().casefold(), entity, result)
        if wanted == (self.needle, self.entity, self.result):
            return  # nothing changed: no pass over every row
        self.beginFilterChange()
        self.needle, self.entity, self.result = wanted
        self.endFilterChange(QSortFilterProxyModel.Direction.Rows)

    def sort(self, column: int, order: Qt.SortOrder = Qt.SortOrder.AscendingOrder) -> None:
        source = self.sourceModel()
        if column >= 0 and source is not None:
            source.sort(column, order)

    def filterAcceptsRow(self, source_row: int, source_parent: ModelIndex) -> bool:
        model = self.sourceModel()
        assert isinstance(model, RecordsModel)
        record = model.records[source_row]
        if self.entity is not None and record.entity != self.entity:
            return False
        if self.result is not None and record.result != self.result:
            return False
        return not self.needle or self.needle in model.haystacks[source_row]


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
        header.setResizeContentsPrecision(200)  # widths from a sample of rows, not all of them
        header.setSectionResizeMode(2, QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(5, QHeaderView.ResizeMode.Stretch)
        layout.addWidget(self.view, 1)

        buttons = QHBoxLayout()
        self.open_button = QPushButton("Open in Halo")
        self.open_button.clicked.connect(self.open_in_halo)
        self.resync_button = QPushButton("Sync this record again")
        self.resync_button.setToolTip(RESYNC_TIP)
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

        self._search_timer = QTimer(self)  # search once typing pauses, not at every key
        self._search_timer.setSingleShot(True)
        self._search_timer.setInterval(SEARCH_DELAY_MS)
        self._search_timer.timeout.connect(self._apply_filters)
        self.search_edit.textChanged.connect(lambda _text: self._search_timer.start())
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
        """The records from the state store: prepared in a worker, then shown."""
        header = self.view.horizontalHeader()
        column = header.sortIndicatorSection()
        descending = header.sortIndicatorOrder() == Qt.SortOrder.DescendingOrder
        self.controller.tasks.submit(
            lambda: prepare_records(list(records), max(0, column), descending), self._show_prepared
        )

    def _show_prepared(self, prepared: PreparedRecords) -> None:
        records = prepared.records
        self.model.set_prepared(prepared)
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
        posted = any(record.entity == POSTING and record.halo_id for record in chosen)
        self.resync_button.setEnabled(bool(chosen) and not posted and not self.controller.is_running())
        self.resync_button.setToolTip(
            "A Halo invoice in the books is never posted twice; change it in the books if it is wrong."
            if posted
            else RESYNC_TIP
        )

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

"""Problems: every record that failed (why, what to do) and every record skipped on purpose (why).

A problem stays until that record syncs; a skipped record (inactive in the books, something Halo cannot
hold) stays until it is sent. Search, a filter by kind and by problem/skipped, grouping by cause (forty
invoices waiting for one unmapped tax code are one thing to fix, not forty) and a CSV export of exactly what
is shown make a long list workable.

"Retry these" moves the cursors back before the failed records (the state store decides how) and runs the
sync for those kinds of record, so a fix in the books or in Mappings takes effect now, not at the next timer.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import cached_property
from pathlib import Path

from PySide6.QtCore import Slot
from PySide6.QtGui import QBrush, QColor, QFont
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from gui.controller import SyncController
from gui.csv_export import write_csv
from gui.pages.common import cell, entity_name, local_time, read_only_table
from sync.state import Problem, SkippedRecord

HEADERS = ["Kind", "Record", "Why", "What to do", "First seen", "Last seen", "Times", "Status"]
PROBLEM, SKIPPED = "Problem", "Skipped"
SHOW_CHOICES = (("Problems and skipped", None), ("Problems only", PROBLEM), ("Skipped only", SKIPPED))
SKIPPED_ACTION = "Nothing, unless it should be in Halo: then change it in the books."
_CAUSE_DETAILS = re.compile(r"“[^”]*”|\"[^\"]*\"|'[^']*'|\b\d+(?:[.,]\d+)*\b")


def cause_of(message: str, key: str = "") -> str:
    """A message without what is particular to its record (its own key, names, ids, amounts), so that alike
    problems group together; what they wait for (a customer's key, a tax code) stays."""
    if key:
        message = message.replace(key, "…")
    return _CAUSE_DETAILS.sub("…", message).strip()


@dataclass(frozen=True)
class Entry:
    """One row: a problem or a skipped record, in the same shape."""

    status: str  # PROBLEM or SKIPPED
    entity: str
    key: str
    message: str
    action: str
    first_seen: datetime | None
    last_seen: datetime
    occurrences: int | None

    @cached_property
    def cells(self) -> list[str]:
        """The row's texts, made once (a search over thousands of rows reads them at every key)."""
        return [
            entity_name(self.entity),
            self.key,
            self.message,
            self.action,
            local_time(self.first_seen) if self.first_seen else "—",
            local_time(self.last_seen),
            "" if self.occurrences is None else str(self.occurrences),
            self.status,
        ]

    @cached_property
    def cause(self) -> str:
        return cause_of(self.message, self.key)

    @cached_property
    def haystack(self) -> str:
        return "\n".join(self.cells).casefold()

    def matches(self, needle: str) -> bool:
        return not needle or needle in self.haystack


class ProblemsPage(QWidget):
    def __init__(self, controller: SyncController, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.controller = controller
        self.problems: list[Problem] = []
        self.skipped: list[SkippedRecord] = []
        self.entries: list[Entry] = []
        self.shown: list[Entry] = []  # what the table shows, in order (the CSV export writes these)
        self._row_entries: list[Entry | None] = []  # per table row; None for a cause's heading row
        layout = QVBoxLayout(self)
        self.summary_label = QLabel("No problems.")
        self.summary_label.setWordWrap(True)
        layout.addWidget(self.summary_label)

        filters = QHBoxLayout()
        self.search_edit = QLineEdit()
        self.search_edit.setPlaceholderText("Search records, reasons, advice…")
        self.search_edit.setClearButtonEnabled(True)
        self.search_edit.textChanged.connect(self._fill)
        self.show_combo = QComboBox()
        for label, value in SHOW_CHOICES:
            self.show_combo.addItem(label, value)
        self.show_combo.currentIndexChanged.connect(self._fill)
        self.kind_combo = QComboBox()
        self.kind_combo.addItem("All kinds of record", None)
        self.kind_combo.currentIndexChanged.connect(self._fill)
        self.group_check = QCheckBox("Group by cause")
        self.group_check.toggled.connect(self._fill)
        filters.addWidget(self.search_edit, 1)
        filters.addWidget(self.show_combo)
        filters.addWidget(self.kind_combo)
        filters.addWidget(self.group_check)
        layout.addLayout(filters)

        self.table = read_only_table(HEADERS)
        self.table.setWordWrap(True)
        header = self.table.horizontalHeader()
        header.setResizeContentsPrecision(200)  # short columns fit a sample of rows: long lists stay quick
        for column in range(len(HEADERS)):  # long explanations wrap; the short columns fit their text
            mode = (
                QHeaderView.ResizeMode.Stretch
                if column in (2, 3)
                else QHeaderView.ResizeMode.ResizeToContents
            )
            header.setSectionResizeMode(column, mode)
        # Rows of three lines, not measured one by one (thousands of problems would stall the window); the
        # whole text is in each cell's tooltip.
        rows = self.table.verticalHeader()
        rows.setSectionResizeMode(QHeaderView.ResizeMode.Fixed)
        rows.setDefaultSectionSize(self.table.fontMetrics().lineSpacing() * 3 + 6)
        layout.addWidget(self.table, 1)
        buttons = QHBoxLayout()
        self.retry_button = QPushButton("Retry these")
        self.retry_button.setToolTip("Sync the selected records again (every problem if none is selected).")
        self.retry_button.clicked.connect(self.retry)
        self.refresh_button = QPushButton("Refresh")
        self.refresh_button.clicked.connect(controller.refresh)
        self.export_button = QPushButton("Export CSV…")
        self.export_button.setToolTip("Save the rows shown (after search and filters) as a CSV file.")
        self.export_button.clicked.connect(self._choose_export_file)
        self.export_label = QLabel("")
        buttons.addWidget(self.retry_button)
        buttons.addWidget(self.refresh_button)
        buttons.addWidget(self.export_button)
        buttons.addWidget(self.export_label, 1)
        layout.addLayout(buttons)
        controller.problems_loaded.connect(self.show_problems)
        controller.skipped_loaded.connect(self.show_skipped)
        controller.busy_changed.connect(
            lambda busy: self.retry_button.setEnabled(not busy and bool(self.entries))
        )
        self.retry_button.setEnabled(False)

    # --- data -----------------------------------------------------------------------------------------------

    @Slot(object)
    def show_problems(self, problems: Sequence[Problem]) -> None:
        self.problems = list(problems)
        self._rebuild()

    @Slot(object)
    def show_skipped(self, skipped: Sequence[SkippedRecord]) -> None:
        self.skipped = list(skipped)
        self._rebuild()

    def _rebuild(self) -> None:
        self.entries = [
            Entry(PROBLEM, p.entity, p.key, p.message, p.action, p.first_seen, p.last_seen, p.occurrences)
            for p in self.problems
        ] + [
            Entry(SKIPPED, s.entity, s.key, s.reason, SKIPPED_ACTION, None, s.last_seen, None)
            for s in self.skipped
        ]
        problem_count, skipped_count = len(self.problems), len(self.skipped)
        if not problem_count and not skipped_count:
            text = "No problems: every record synced."
        else:
            text = (
                f"{problem_count} record(s) could not be synced." if problem_count else "No problems."
            ) + (
                f" {skipped_count} record(s) were skipped on purpose; each says why." if skipped_count else ""
            )
        self.summary_label.setText(text)
        self.retry_button.setEnabled(bool(self.entries) and not self.controller.is_running())
        chosen = self.kind_combo.currentData()
        self.kind_combo.blockSignals(True)
        self.kind_combo.clear()
        self.kind_combo.addItem("All kinds of record", None)
        for entity in sorted({e.entity for e in self.entries}):
            self.kind_combo.addItem(entity_name(entity), entity)
        index = self.kind_combo.findData(chosen)
        self.kind_combo.setCurrentIndex(max(0, index))
        self.kind_combo.blockSignals(False)
        self._fill()

    def visible_entries(self) -> list[Entry]:
        """The entries that pass the search and the filters, in the order shown."""
        needle = self.search_edit.text().strip().casefold()
        status = self.show_combo.currentData()
        entity = self.kind_combo.currentData()
        chosen = [
            e
            for e in self.entries
            if (status is None or e.status == status)
            and (entity is None or e.entity == entity)
            and e.matches(needle)
        ]
        if self.group_check.isChecked():
            chosen.sort(key=lambda e: (e.cause, e.entity, e.key))
        return chosen

    @Slot()
    def _fill(self, *_: object) -> None:
        self.shown = self.visible_entries()
        rows: list[Entry | tuple[str, int]] = []
        if self.group_check.isChecked():
            counts: dict[str, int] = {}
            for entry in self.shown:
                counts[entry.cause] = counts.get(entry.cause, 0) + 1
            current = None
            for entry in self.shown:
                if entry.cause != current:
                    current = entry.cause
                    rows.append((entry.cause, counts[entry.cause]))
                rows.append(entry)
        else:
            rows = list(self.shown)
        self.table.setUpdatesEnabled(False)
        self.table.setRowCount(len(rows))
        self._row_entries = []
        bold = QFont(self.table.font())
        bold.setBold(True)
        for row, value in enumerate(rows):
            if isinstance(value, tuple):  # a cause's heading, in the wide "Why" column
                cause, count = value
                for column, text in enumerate(["", f"{count} record(s)", cause, "", "", "", "", ""]):
                    heading = cell(text)
                    heading.setFont(bold)
                    heading.setBackground(self.palette().alternateBase())
                    heading.setToolTip(cause)
                    self.table.setItem(row, column, heading)
                self._row_entries.append(None)
                continue
            self._row_entries.append(value)
            for column, text in enumerate(value.cells):
                item = cell(text)
                if column in (2, 3):
                    item.setToolTip(text)
                if value.status == SKIPPED:
                    item.setForeground(QBrush(QColor("#5d4037")))
                self.table.setItem(row, column, item)
        self.table.setUpdatesEnabled(True)

    # --- actions --------------------------------------------------------------------------------------------

    def selected_entries(self) -> list[Entry]:
        rows = sorted({index.row() for index in self.table.selectionModel().selectedRows()})
        return [
            e for row in rows if row < len(self._row_entries) and (e := self._row_entries[row]) is not None
        ]

    def selected_entities(self) -> list[str]:
        return sorted({e.entity for e in self.selected_entries() if e.status == PROBLEM})

    def retry(self) -> None:
        """Selected problems (all of them when none is selected) are retried; selected skipped records are
        read and sent again, for when the reason no longer holds (a setting changed)."""
        chosen = self.selected_entries()
        if chosen and all(e.status == SKIPPED for e in chosen):
            self.controller.resync_records([(e.entity, e.key) for e in chosen])
            return
        entities = self.selected_entities() or sorted({p.entity for p in self.problems})
        self.controller.retry_problems(entities)

    def _choose_export_file(self) -> None:
        path, _ = QFileDialog.getSaveFileName(
            self, "Export problems", "ledgerbridge-problems.csv", "CSV (*.csv)"
        )
        if path:
            self.export_csv(Path(path))

    def export_csv(self, path: Path) -> None:
        """Write the rows shown (search and filters applied) to ``path``, off the GUI thread."""
        rows = [entry.cells for entry in self.shown]
        self.export_label.setText("Saving…")
        self.controller.tasks.submit(
            lambda: write_csv(path, HEADERS, rows),
            lambda _: self.export_label.setText(f"Saved {len(rows)} row(s) to {path}."),
            lambda error: self.export_label.setText(f"Could not save {path}: {error}"),
        )

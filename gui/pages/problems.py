"""Problems: every record that failed, why, and what to do; each stays until that record syncs.

"Retry these" moves the cursors back before the failed records (the state store decides how) and runs the
sync for those kinds of record, so a fix in the books or in Mappings takes effect now, not at the next timer.
"""

from __future__ import annotations

from PySide6.QtCore import Slot
from PySide6.QtWidgets import QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

from gui.controller import SyncController
from gui.pages.common import cell, entity_name, local_time, read_only_table

TEXT_COLUMN_WIDTH = 260
HEADERS = ["Kind", "Record", "Why it failed", "What to do", "First seen", "Last seen", "Times"]


class ProblemsPage(QWidget):
    def __init__(self, controller: SyncController, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.controller = controller
        self.problems: list = []
        layout = QVBoxLayout(self)
        self.summary_label = QLabel("No problems.")
        layout.addWidget(self.summary_label)
        self.table = read_only_table(HEADERS)
        self.table.setWordWrap(True)
        layout.addWidget(self.table, 1)
        buttons = QHBoxLayout()
        self.retry_button = QPushButton("Retry these")
        self.retry_button.setToolTip(
            "Sync the selected problems' records again (all of them if none selected)."
        )
        self.retry_button.clicked.connect(self.retry)
        self.refresh_button = QPushButton("Refresh")
        self.refresh_button.clicked.connect(controller.refresh)
        buttons.addWidget(self.retry_button)
        buttons.addWidget(self.refresh_button)
        buttons.addStretch(1)
        layout.addLayout(buttons)
        controller.problems_loaded.connect(self.show_problems)
        controller.busy_changed.connect(
            lambda busy: self.retry_button.setEnabled(not busy and bool(self.problems))
        )
        self.retry_button.setEnabled(False)

    @Slot(object)
    def show_problems(self, problems: list) -> None:
        self.problems = list(problems)
        count = len(self.problems)
        self.summary_label.setText(
            "No problems: every record synced." if not count else f"{count} record(s) could not be synced."
        )
        self.retry_button.setEnabled(bool(count) and not self.controller.is_running())
        self.table.setRowCount(count)
        for row, problem in enumerate(self.problems):
            values = [
                entity_name(problem.entity),
                problem.key,
                problem.message,
                problem.action,
                local_time(problem.first_seen),
                local_time(problem.last_seen),
                problem.occurrences,
            ]
            for column, value in enumerate(values):
                self.table.setItem(row, column, cell(value))
        self.table.resizeColumnsToContents()
        for column in (2, 3):  # long explanations wrap instead of pushing the dates off screen
            self.table.setColumnWidth(column, min(self.table.columnWidth(column), TEXT_COLUMN_WIDTH))
        self.table.resizeRowsToContents()

    def selected_entities(self) -> list[str]:
        rows = sorted({index.row() for index in self.table.selectionModel().selectedRows()})
        return sorted({self.problems[row].entity for row in rows if row < len(self.problems)})

    def retry(self) -> None:
        entities = self.selected_entities() or sorted({p.entity for p in self.problems})
        self.controller.retry_problems(entities)

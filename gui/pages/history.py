"""History: every run with how long it took and its counts, newest first, so "what happened last Tuesday?"
has an answer; skipped records are counted apart from failures (skipping is on purpose)."""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtCore import Slot
from PySide6.QtGui import QBrush, QColor
from PySide6.QtWidgets import QLabel, QVBoxLayout, QWidget

from gui.controller import SyncController
from gui.pages.common import STATUS_NAMES, cell, duration_text, local_time, read_only_table
from sync.state import RunRecord

HEADERS = [
    "Started",
    "Finished",
    "Result",
    "Kind",
    "Took",
    "Created",
    "Updated",
    "Unchanged",
    "Deactivated",
    "Skipped",
    "Failed",
    "Why",
]
COUNTED = ("created", "updated", "unchanged", "deactivated", "skipped", "failed")
STATUS_COLOURS = {"failed": "#ffcdd2", "partial": "#ffe0b2", "cancelled": "#eeeeee"}


class HistoryPage(QWidget):
    def __init__(self, controller: SyncController, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        layout = QVBoxLayout(self)
        self.empty_label = QLabel("No sync has run yet.")
        layout.addWidget(self.empty_label)
        self.table = read_only_table(HEADERS)
        layout.addWidget(self.table, 1)
        controller.history_loaded.connect(self.show_runs)

    @Slot(object)
    def show_runs(self, runs: Sequence[RunRecord]) -> None:
        self.empty_label.setVisible(not runs)
        self.table.setRowCount(len(runs))
        for row, run in enumerate(runs):
            values = [
                local_time(run.started),
                local_time(run.finished),
                STATUS_NAMES.get(run.status, run.status),
                "Preview (dry run)" if run.dry_run else "Sync",
                duration_text(run.duration) if run.status != "running" else "running…",
                *[f"{run.total(outcome):,}" for outcome in COUNTED],
                run.error,
            ]
            for column, value in enumerate(values):
                item = cell(value)
                colour = STATUS_COLOURS.get(run.status)
                if colour:
                    item.setBackground(QBrush(QColor(colour)))
                    item.setForeground(QBrush(QColor("#000000")))
                self.table.setItem(row, column, item)
        self.table.resizeColumnsToContents()

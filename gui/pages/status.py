"""Status: when the last run was and what it did, when the next one is, and the run in progress.

Why: this is what the bookkeeper looks at; it must answer "is it working?" at a glance, and show a sync
moving (entity, record counts) with a Cancel that stops cleanly.
"""

from __future__ import annotations

from datetime import datetime

from PySide6.QtCore import Qt, QTimer, Slot
from PySide6.QtWidgets import (
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from gui.controller import SyncController
from gui.pages.common import (
    OUTCOME_NAMES,
    STATUS_NAMES,
    cell,
    entity_name,
    in_entity_order,
    local_time,
    read_only_table,
    stretch_columns,
)
from gui.worker import ProgressSnapshot
from sync.events import OUTCOMES, RunStarted, RunSummary


class StatusPage(QWidget):
    def __init__(self, controller: SyncController, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.controller = controller
        layout = QVBoxLayout(self)

        summary_box = QGroupBox("Overview")
        summary = QVBoxLayout(summary_box)
        self.last_run_label = QLabel("Last sync: none yet.")
        self.last_run_label.setWordWrap(True)
        self.last_run_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.next_run_label = QLabel("")
        summary.addWidget(self.last_run_label)
        summary.addWidget(self.next_run_label)
        layout.addWidget(summary_box)

        buttons = QHBoxLayout()
        self.sync_button = QPushButton("Sync now")
        self.sync_button.setDefault(True)
        self.sync_button.clicked.connect(self._sync_now)
        self.dry_run_button = QPushButton("Preview (dry run)")
        self.dry_run_button.setToolTip("Shows what a sync would create and update; writes nothing to Halo.")
        self.dry_run_button.clicked.connect(lambda: self.controller.sync_now(dry_run=True))
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setEnabled(False)
        self.cancel_button.clicked.connect(controller.cancel)
        self.pause_button = QPushButton("Pause for 1 hour")
        self.pause_button.clicked.connect(self._toggle_pause)
        for button in (self.sync_button, self.dry_run_button, self.cancel_button, self.pause_button):
            buttons.addWidget(button)
        buttons.addStretch(1)
        layout.addLayout(buttons)

        self.progress_label = QLabel("")
        self.progress_bar = QProgressBar()
        self.progress_bar.setVisible(False)
        self.info_label = QLabel("")
        self.info_label.setWordWrap(True)
        layout.addWidget(self.progress_label)
        layout.addWidget(self.progress_bar)
        layout.addWidget(self.info_label)

        layout.addWidget(QLabel("<b>Last sync, per kind of record</b>"))
        self.counts_table = read_only_table(["Records", *[OUTCOME_NAMES[o] for o in OUTCOMES]])
        stretch_columns(self.counts_table)
        layout.addWidget(self.counts_table, 1)

        controller.run_started.connect(self._on_run_started)
        controller.entity_started.connect(self._on_entity_started)
        controller.progress.connect(self._on_progress)
        controller.run_finished.connect(self._on_run_finished)
        controller.busy_changed.connect(self._on_busy)
        controller.info.connect(self._on_info)
        controller.history_loaded.connect(self._on_history)
        controller.scheduler.schedule_changed.connect(self._show_next_run)
        controller.scheduler.paused_changed.connect(self._show_next_run)
        self._clock = QTimer(self)  # keeps "next run" honest when nothing else changes
        self._clock.timeout.connect(self._show_next_run)
        self._clock.start(30_000)
        self._show_next_run()

    # --- actions ------------------------------------------------------------

    def _sync_now(self) -> None:
        self.controller.sync_now()

    def _toggle_pause(self) -> None:
        if self.controller.scheduler.paused:
            self.controller.resume()
        else:
            self.controller.pause()

    # --- updates ------------------------------------------------------------

    @Slot(str)
    def _on_info(self, text: str) -> None:
        self.info_label.setText(text)

    @Slot(bool)
    def _on_busy(self, busy: bool) -> None:
        self.sync_button.setText("Syncing…" if busy else "Sync now")
        self.dry_run_button.setEnabled(not busy)
        self.cancel_button.setEnabled(busy)
        self.progress_bar.setVisible(busy)
        if busy:
            self.info_label.setText("")
            self.progress_bar.setRange(0, 0)
            self.progress_label.setText("Starting the sync…")

    @Slot(object)
    def _on_run_started(self, event: RunStarted) -> None:
        kind = "Dry run" if event.dry_run else "Sync"
        self.progress_label.setText(f"{kind} started at {local_time(event.started)}…")

    @Slot(str)
    def _on_entity_started(self, entity: str) -> None:
        self.progress_bar.setRange(0, 0)
        self.progress_label.setText(f"{entity_name(entity)}: reading…")

    @Slot(object)
    def _on_progress(self, snapshot: ProgressSnapshot) -> None:
        if not snapshot.entity:
            return
        if snapshot.total:
            self.progress_bar.setRange(0, snapshot.total)
            self.progress_bar.setValue(min(snapshot.done, snapshot.total))
            where = f"{snapshot.done:,} of {snapshot.total:,}"
        else:
            self.progress_bar.setRange(0, 0)
            where = f"{snapshot.done:,} read"
        counts = snapshot.counts.get(snapshot.entity, {})
        parts = [
            f"{counts.get(o, 0):,} {o}"
            for o in ("created", "updated", "unchanged", "failed")
            if counts.get(o)
        ]
        suffix = f" · {', '.join(parts)}" if parts else ""
        self.progress_label.setText(f"{entity_name(snapshot.entity)}: {where}{suffix}")

    @Slot(object)
    def _on_run_finished(self, summary: RunSummary) -> None:
        self._show_summary(summary.status, summary.dry_run, summary.finished, summary.error, summary.counts)
        self.progress_label.setText("")

    @Slot(object)
    def _on_history(self, runs: list) -> None:
        if self.controller.is_running() or not runs:
            return
        latest = runs[0]
        self._show_summary(
            latest.status, latest.dry_run, latest.finished or latest.started, latest.error, latest.counts
        )

    def _show_summary(
        self, status: str, dry_run: bool, when: datetime | None, error: str, counts: dict[str, dict[str, int]]
    ) -> None:
        failed = sum(per.get("failed", 0) for per in counts.values())
        kind = "dry run" if dry_run else "sync"
        text = f"Last {kind}: {local_time(when)} — {STATUS_NAMES.get(status, status)}"
        if failed:
            text += f"; {failed} record(s) need attention (see Problems)"
        if error:
            text += f"\n{error}"
        self.last_run_label.setText(text)
        colour = "#b71c1c" if status == "failed" else ("#e65100" if failed else "#1b5e20")
        self.last_run_label.setStyleSheet(f"color: {colour};")
        self.counts_table.setRowCount(len(counts))
        for row, (entity, per) in enumerate(in_entity_order(counts)):
            self.counts_table.setItem(row, 0, cell(entity_name(entity)))
            for column, outcome in enumerate(OUTCOMES, start=1):
                self.counts_table.setItem(row, column, cell(per.get(outcome, 0)))

    @Slot()
    def _show_next_run(self, *_: object) -> None:
        scheduler = self.controller.scheduler
        if scheduler.paused:
            until = scheduler.paused_until
            self.next_run_label.setText(
                f"Paused until {local_time(until)}." if until else "Paused until you resume it."
            )
            self.pause_button.setText("Resume")
            return
        self.pause_button.setText("Pause for 1 hour")
        next_run = scheduler.next_run()
        if next_run is not None:
            self.next_run_label.setText(f"Next sync: {local_time(next_run)}.")
        elif self.controller.is_running():
            self.next_run_label.setText("Next sync: after this one, on the timer.")
        else:
            self.next_run_label.setText("Next sync: not scheduled.")

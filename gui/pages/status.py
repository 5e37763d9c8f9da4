"""Status: is it working, when is the next sync, what did the last one do, and the run in progress.

Why: this is what the bookkeeper looks at; it must answer "is it working?" at a glance. So the headline is
the latest real sync (a failure said in words, with when it is retried), the figures are those of the last
sync that actually ran (kept, and labelled, when a later attempt could not run), a preview's figures are
shown apart and never as "Last sync", and a strip of bars shows the last 30 syncs. A countdown ticks to the
next run so a waiting app never looks stuck.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from html import escape

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
    countdown_text,
    duration_text,
    entity_name,
    in_entity_order,
    read_only_table,
    stretch_columns,
    when_text,
)
from gui.widgets.health_chart import OUTCOME_COLOURS, PROBLEM_COLOUR, RunHealthChart
from gui.widgets.posting_preview import PostingPreviewView
from gui.worker import ProgressSnapshot
from sync.events import OUTCOMES, RunStarted
from sync.posting_preview import PostingPreview
from sync.state import RunRecord

COUNTDOWN_MS = 1000
FIGURE_STATUSES = ("ok", "partial")  # runs that went through every kind of record they were asked to
SITES_NOTE = (
    "Halo makes a main site by itself for every new customer; LedgerBridge then writes the customer's "
    "address onto it. That is why main sites show as updated, not created, on a first sync."
)
HEALTH_LEGEND = (
    f"<span style='color:{OUTCOME_COLOURS['ok']}'>■</span> completed &nbsp; "
    f"<span style='color:{OUTCOME_COLOURS['partial']}'>■</span> with problems &nbsp; "
    f"<span style='color:{OUTCOME_COLOURS['failed']}'>■</span> could not run &nbsp; "
    f"<span style='color:{OUTCOME_COLOURS['cancelled']}'>■</span> cancelled &nbsp;·&nbsp; "
    "above the line: records written to Halo; below it "
    f"<span style='color:{PROBLEM_COLOUR}'>■</span>: problems. Point at a bar for details."
)


PACE_SHOWN_FROM_S = 60.0  # a shorter wait is not worth a line


def pace_text(seconds: float | None) -> str:
    """How long the run still takes at Halo's rate limit, in words ("" when short, or not paced)."""
    if seconds is None or seconds < PACE_SHOWN_FROM_S:
        return ""
    minutes = max(1, round(seconds / 60))
    if minutes < 60:
        return f"about {minutes} minute{'s' if minutes != 1 else ''} at Halo's rate limit"
    hours, minutes = divmod(minutes, 60)
    more = f" {minutes} minute{'s' if minutes != 1 else ''}" if minutes else ""
    return f"about {hours} hour{'s' if hours != 1 else ''}{more} at Halo's rate limit"


def _changes(counts: dict[str, dict[str, int]]) -> str:
    parts = []
    for outcome in ("created", "updated", "deactivated", "skipped", "failed"):
        total = sum(per.get(outcome, 0) for per in counts.values())
        if total:
            word = "problem(s)" if outcome == "failed" else outcome
            parts.append(f"{total:,} {word}")
    return ", ".join(parts) if parts else "nothing needed changing"


class StatusPage(QWidget):
    def __init__(self, controller: SyncController, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.controller = controller
        self.runs: list[RunRecord] = []
        layout = QVBoxLayout(self)

        summary_box = QGroupBox("Overview")
        summary = QVBoxLayout(summary_box)
        self.last_run_label = QLabel("<b>No sync has run yet.</b> Press Sync now, or wait for the timer.")
        self.last_run_label.setWordWrap(True)
        self.last_run_label.setTextFormat(Qt.TextFormat.RichText)
        self.last_run_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        font = self.last_run_label.font()
        font.setPointSizeF(font.pointSizeF() * 1.15)
        self.last_run_label.setFont(font)
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
        for label in (self.progress_label, self.info_label):  # take no room while they have nothing to say
            label.setVisible(False)
        layout.addWidget(self.progress_label)
        layout.addWidget(self.progress_bar)
        layout.addWidget(self.info_label)

        health_box = QGroupBox("Last 30 syncs, oldest on the left")
        health = QVBoxLayout(health_box)
        self.health_chart = RunHealthChart()
        health.addWidget(self.health_chart)
        self.health_legend = QLabel(HEALTH_LEGEND)
        self.health_legend.setWordWrap(True)
        self.health_legend.setTextFormat(Qt.TextFormat.RichText)
        health.addWidget(self.health_legend)
        layout.addWidget(health_box)

        self.figures_title = QLabel("<b>Last sync, per kind of record</b>")
        self.figures_note = QLabel("")
        self.figures_note.setWordWrap(True)
        self.figures_note.setVisible(False)
        layout.addWidget(self.figures_title)
        layout.addWidget(self.figures_note)
        self.counts_table = read_only_table(["Records", *[OUTCOME_NAMES[o] for o in OUTCOMES]])
        stretch_columns(self.counts_table)
        layout.addWidget(self.counts_table, 1)
        self.sites_note = QLabel(SITES_NOTE)
        self.sites_note.setWordWrap(True)
        self.sites_note.setVisible(False)
        layout.addWidget(self.sites_note)
        self.preview_label = QLabel("")
        self.preview_label.setWordWrap(True)
        self.preview_label.setVisible(False)
        layout.addWidget(self.preview_label)
        self.posting_preview = PostingPreviewView()  # a dry run's plan for Halo -> books
        self.posting_preview.setVisible(False)
        self.posting_preview.setMaximumHeight(280)
        layout.addWidget(self.posting_preview)

        controller.run_started.connect(self._on_run_started)
        controller.posting_previewed.connect(self._on_posting_previewed)
        controller.entity_started.connect(self._on_entity_started)
        controller.progress.connect(self._on_progress)
        controller.run_finished.connect(self._on_run_finished)
        controller.busy_changed.connect(self._on_busy)
        controller.info.connect(self._on_info)
        controller.history_loaded.connect(self.show_runs)
        controller.scheduler.schedule_changed.connect(self._show_next_run)
        controller.scheduler.paused_changed.connect(self._show_next_run)
        self._clock = QTimer(self)  # the countdown: a waiting app must visibly be waiting, not stuck
        self._clock.timeout.connect(self._show_next_run)
        self._clock.start(COUNTDOWN_MS)
        self._show_next_run()

    def set_label_text(self, label: QLabel, text: str) -> None:
        label.setText(text)
        label.setVisible(bool(text))

    # --- actions ------------------------------------------------------------

    def _sync_now(self) -> None:
        self.controller.sync_now()

    def _toggle_pause(self) -> None:
        if self.controller.scheduler.paused:
            self.controller.resume()
        else:
            self.controller.pause()

    # --- the run going --------------------------------------------------------

    @Slot(str)
    def _on_info(self, text: str) -> None:
        self.set_label_text(self.info_label, text)

    @Slot(bool)
    def _on_busy(self, busy: bool) -> None:
        self.sync_button.setText("Syncing…" if busy else "Sync now")
        self.dry_run_button.setEnabled(not busy)
        self.cancel_button.setEnabled(busy)
        self.progress_bar.setVisible(busy)
        if busy:
            self.set_label_text(self.info_label, "")
            self.progress_bar.setRange(0, 0)
            self.set_label_text(self.progress_label, "Starting the sync…")
        self._show_next_run()

    @Slot(object)
    def _on_run_started(self, event: RunStarted) -> None:
        kind = "Preview (dry run)" if event.dry_run else "Sync"
        self.set_label_text(self.progress_label, f"{kind} started at {when_text(event.started)}…")
        self.posting_preview.setVisible(False)  # a new run: the last plan may no longer hold

    @Slot(str)
    def _on_entity_started(self, entity: str) -> None:
        self.progress_bar.setRange(0, 0)
        self.set_label_text(self.progress_label, f"{entity_name(entity)}: reading…")

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
            for o in ("created", "updated", "unchanged", "skipped", "failed")
            if counts.get(o)
        ]
        suffix = f" · {', '.join(parts)}" if parts else ""
        pace = pace_text(snapshot.seconds_left)
        suffix += f" · {pace}" if pace else ""
        self.set_label_text(self.progress_label, f"{entity_name(snapshot.entity)}: {where}{suffix}")

    @Slot(object)
    def _on_run_finished(self, _summary: object) -> None:
        # The figures follow from the history, which the controller reads again after each run.
        self.set_label_text(self.progress_label, "")

    # --- the history ----------------------------------------------------------

    @Slot(object)
    def show_runs(self, runs: Sequence[RunRecord]) -> None:
        """Headline, figures, preview and chart from the runs (newest first) in the state store."""
        self.runs = list(runs)
        self.health_chart.set_runs(self.runs)
        finished = [r for r in self.runs if r.status != "running"]
        syncs = [r for r in finished if not r.dry_run]
        latest = syncs[0] if syncs else None
        figures = next((r for r in syncs if r.status in FIGURE_STATUSES), None)
        preview = next((r for r in finished if r.dry_run), None)
        self._show_headline(latest)
        self._show_figures(figures, latest)
        newest_real = figures.started if figures is not None else None
        self._show_preview(
            preview if preview and (newest_real is None or preview.started > newest_real) else None
        )
        self._show_next_run()

    def _show_headline(self, latest: RunRecord | None) -> None:
        """One coloured line that answers "is it working?"; why a sync could not run goes below it."""
        if latest is None:
            self.last_run_label.setText("<b>No sync has run yet.</b> Press Sync now, or wait for the timer.")
            self.last_run_label.setStyleSheet("")
            return
        status = latest.status
        when = when_text(latest.finished or latest.started)
        name = STATUS_NAMES.get(status, status)
        failed = latest.total("failed")
        details = ""
        if status == "failed":
            headline, details, colour = f"Last sync {when}: {name}.", latest.error, "#b71c1c"
        elif status == "cancelled":
            headline = f"Last sync {when}: {name}."
            details, colour = "Everything confirmed before it stopped is kept.", "#616161"
        elif failed:
            headline = f"Last sync {when}: {name}. {failed:,} record(s) need attention (see Problems)."
            colour = "#e65100"
        else:
            headline, colour = f"Last sync {when}: {name}. Everything is in step.", "#1b5e20"
        skipped = latest.total("skipped")
        if skipped and status != "failed":
            note = f"{skipped:,} record(s) skipped on purpose, each with its reason (Problems > Skipped)."
            details = f"{details} {note}".strip()
        text = f"<b>{escape(headline, quote=False)}</b>"
        if details:
            text += f"<br>{escape(details, quote=False)}"
        self.last_run_label.setText(text)
        self.last_run_label.setStyleSheet(f"color: {colour};")

    def _show_figures(self, figures: RunRecord | None, latest: RunRecord | None) -> None:
        if figures is None:
            self.figures_title.setText("<b>Last sync, per kind of record</b>")
            self.figures_note.setVisible(latest is not None)
            self.figures_note.setText("No sync has gone through yet, so there are no figures to show.")
            self.counts_table.setRowCount(0)
            self.sites_note.setVisible(False)
            return
        took = duration_text(figures.duration)
        self.figures_title.setText(
            f"<b>Last sync, per kind of record</b> — {when_text(figures.started)}, took {took}: "
            f"{_changes(figures.counts)}"
        )
        if latest is not None and latest is not figures:
            what = "was cancelled" if latest.status == "cancelled" else "could not run"
            self.figures_note.setText(
                "These figures are kept from the last sync that went through. "
                f"The later sync ({when_text(latest.started)}) {what}."
            )
            self.figures_note.setStyleSheet("color: #b71c1c;")
            self.figures_note.setVisible(True)
        else:
            self.figures_note.setVisible(False)
        counts = figures.counts
        self.counts_table.setRowCount(len(counts))
        for row, (entity, per) in enumerate(in_entity_order(counts)):
            self.counts_table.setItem(row, 0, cell(entity_name(entity)))
            for column, outcome in enumerate(OUTCOMES, start=1):
                item = cell(per.get(outcome, 0))
                if entity == "sites" and outcome in ("created", "updated"):
                    item.setToolTip(SITES_NOTE)
                self.counts_table.setItem(row, column, item)
        # New customers' main sites are Halo's own, filled in by us: "updated", which puzzles on a first sync.
        new_customers = counts.get("customers", {}).get("created", 0)
        self.sites_note.setVisible(bool(new_customers and counts.get("sites", {}).get("updated", 0)))

    @Slot(object)
    def _on_posting_previewed(self, preview: PostingPreview) -> None:
        self.posting_preview.show_preview(preview)
        self.posting_preview.setVisible(True)

    def _show_preview(self, preview: RunRecord | None) -> None:
        if preview is None:
            self.preview_label.setVisible(False)
            return
        self.preview_label.setText(
            f"<i>Preview (dry run) at {when_text(preview.started)}, nothing was written to Halo: a sync "
            f"would have {_changes(preview.counts)}.</i>"
        )
        self.preview_label.setVisible(True)

    # --- the countdown ---------------------------------------------------------

    @Slot()
    def _show_next_run(self, *_: object) -> None:
        scheduler = self.controller.scheduler
        if scheduler.paused:
            until = scheduler.paused_until
            self.next_run_label.setText(
                f"Paused until {when_text(until)}." if until else "Paused until you resume it."
            )
            self.pause_button.setText("Resume")
            return
        self.pause_button.setText("Pause for 1 hour")
        if self.controller.is_running():
            self.next_run_label.setText("Syncing now. The next sync follows on the timer.")
            return
        next_run = scheduler.next_run()
        if next_run is None:
            self.next_run_label.setText("Next sync: not scheduled.")
            return
        left = countdown_text((next_run - datetime.now(UTC)).total_seconds())
        if scheduler.retrying:
            attempt = self.controller.retry_attempt
            self.next_run_label.setText(
                f"Retrying in {left} (attempt {attempt + 1}, {when_text(next_run)}); this heals by itself "
                "when the cause goes away."
            )
            self.next_run_label.setStyleSheet("color: #e65100;")
            return
        self.next_run_label.setStyleSheet("")
        self.next_run_label.setText(f"Next sync in {left} ({when_text(next_run)}).")

"""The run-health strip: one bar per recent sync, records synced upwards and problems downwards.

Why: "is it working?" is answered faster by a row of green bars than by a table. Each bar is coloured by how
the run ended (completed, with problems, could not run, cancelled); its height above the line is the records
it wrote to Halo, below the line the records that failed. Heights are on a square-root scale so a first sync
of hundreds of records does not flatten every later run to nothing. Hovering a bar says what it was.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from PySide6.QtCore import QEvent, QPointF, QRectF, QSize, Qt
from PySide6.QtGui import QColor, QHelpEvent, QPainter, QPaintEvent, QPalette
from PySide6.QtWidgets import QSizePolicy, QToolTip, QWidget

from gui.pages.common import STATUS_NAMES, duration_text, when_text
from sync.state import RunRecord

MAX_RUNS = 30
OUTCOME_COLOURS = {
    "ok": "#2e7d32",
    "partial": "#ef6c00",
    "failed": "#c62828",
    "cancelled": "#757575",
    "running": "#1565c0",
}
PROBLEM_COLOUR = "#b71c1c"
SYNCED_OUTCOMES = ("created", "updated", "deactivated")
MIN_BAR_PX = 3.0  # a run that wrote nothing (or could not run) still shows as a stub in its colour
GAP_RATIO = 0.25
SYNCED_SHARE = 0.7  # of the height above the line; the rest is for problems


@dataclass(frozen=True)
class Bar:
    """One drawn run: where its two parts are, and what it was (for tests and the tooltip)."""

    run: RunRecord
    synced: QRectF
    problems: QRectF | None
    colour: str


def records_synced(run: RunRecord) -> int:
    return sum(run.total(outcome) for outcome in SYNCED_OUTCOMES)


def problems_of(run: RunRecord) -> int:
    return run.total("failed")


class RunHealthChart(QWidget):
    """Shows the last ``MAX_RUNS`` real syncs (previews are not syncs), oldest on the left."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._runs: list[RunRecord] = []
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.setMinimumHeight(70)
        self.setAccessibleName("Last syncs: records synced and problems per run")

    def sizeHint(self) -> QSize:
        return QSize(600, 80)

    def set_runs(self, runs: Sequence[RunRecord]) -> None:
        """``runs`` newest first (as the history is read); dry runs and the run going are left out."""
        real = [run for run in runs if not run.dry_run and run.status != "running"]
        self._runs = list(reversed(real[:MAX_RUNS]))
        self.update()

    @property
    def runs(self) -> list[RunRecord]:
        return list(self._runs)

    def bars(self) -> list[Bar]:
        """The bars as drawn at the current size: one per run, left to right, oldest first."""
        if not self._runs:
            return []
        area = QRectF(self.rect()).adjusted(4, 4, -4, -4)
        baseline = area.top() + area.height() * SYNCED_SHARE
        up_room = baseline - area.top()
        down_room = area.bottom() - baseline - 1
        slot = area.width() / MAX_RUNS
        width = max(2.0, slot * (1 - GAP_RATIO))
        top_synced = max(records_synced(r) for r in self._runs) or 1
        top_problems = max(problems_of(r) for r in self._runs) or 1
        # Right-aligned: the newest run is always at the right edge, however few runs there are.
        left = area.right() - slot * len(self._runs)
        bars: list[Bar] = []
        for index, run in enumerate(self._runs):
            x = left + index * slot + (slot - width) / 2
            synced = records_synced(run)
            height = max(MIN_BAR_PX, up_room * math.sqrt(synced / top_synced))
            synced_rect = QRectF(x, baseline - height, width, height)
            problem_count = problems_of(run)
            problem_rect = None
            if problem_count:
                depth = max(MIN_BAR_PX, down_room * math.sqrt(problem_count / top_problems))
                problem_rect = QRectF(x, baseline + 1, width, depth)
            colour = OUTCOME_COLOURS.get(run.status, OUTCOME_COLOURS["cancelled"])
            bars.append(Bar(run, synced_rect, problem_rect, colour))
        return bars

    def describe(self, run: RunRecord) -> str:
        """What a bar's tooltip says."""
        lines = [
            f"{when_text(run.started)} — {STATUS_NAMES.get(run.status, run.status)}",
            f"{records_synced(run):,} record(s) written to Halo, {problems_of(run):,} problem(s)",
        ]
        if run.duration is not None:
            lines.append(f"Took {duration_text(run.duration)}")
        if run.error:
            lines.append(run.error)
        return "\n".join(lines)

    def paintEvent(self, event: QPaintEvent) -> None:
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, False)
        palette = self.palette()
        painter.fillRect(self.rect(), palette.color(QPalette.ColorRole.Base))
        area = QRectF(self.rect()).adjusted(4, 4, -4, -4)
        baseline = area.top() + area.height() * SYNCED_SHARE
        painter.setPen(palette.color(QPalette.ColorRole.Mid))
        painter.drawLine(QPointF(area.left(), baseline), QPointF(area.right(), baseline))
        bars = self.bars()
        if not bars:
            painter.setPen(palette.color(QPalette.ColorRole.PlaceholderText))
            painter.drawText(self.rect(), Qt.AlignmentFlag.AlignCenter, "No sync has run yet.")
        painter.setPen(Qt.PenStyle.NoPen)
        for bar in bars:
            painter.setBrush(QColor(bar.colour))
            painter.drawRect(bar.synced)
            if bar.problems is not None:
                painter.setBrush(QColor(PROBLEM_COLOUR))
                painter.drawRect(bar.problems)
        painter.end()

    def event(self, event: QEvent) -> bool:
        if event.type() == QEvent.Type.ToolTip and isinstance(event, QHelpEvent):
            position = QPointF(event.pos())
            for bar in self.bars():
                column = QRectF(bar.synced.left(), 0, bar.synced.width(), self.height())
                if column.contains(position):
                    QToolTip.showText(event.globalPos(), self.describe(bar.run), self)
                    return True
            QToolTip.hideText()
            event.ignore()
            return True
        return super().event(event)

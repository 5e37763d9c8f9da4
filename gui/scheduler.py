"""The sync timer: every N minutes, unless paused, and never while a run is going.

Why a class of its own: the rules (skip while busy, pause for an hour or until resumed, what "next run" is)
are what users notice when they go wrong, so they are kept small and testable with millisecond intervals.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from PySide6.QtCore import QObject, QTimer, Signal, Slot

MINUTE_MS = 60_000


class SyncScheduler(QObject):
    """Emits ``due`` every interval while not paused and not busy.

    ``is_busy`` is asked at each tick: a tick that finds a run going is skipped (the run itself is the sync),
    and the timer restarts when that run finishes (``run_finished``) so runs never bunch up.
    """

    due = Signal()
    paused_changed = Signal(bool)
    schedule_changed = Signal()  # next run time moved

    def __init__(
        self,
        interval_ms: int,
        is_busy: Callable[[], bool],
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self._is_busy = is_busy
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.timeout.connect(self._on_tick)
        self._resume_timer = QTimer(self)
        self._resume_timer.setSingleShot(True)
        self._resume_timer.timeout.connect(self.resume)
        self._interval_ms = max(1, interval_ms)
        self._paused = False
        self._paused_until: datetime | None = None
        self._next_run: datetime | None = None
        self.skipped_busy = 0  # ticks that found a run going (for the status line and tests)

    # --- configuration --------------------------------------------------------------------------------------

    @property
    def interval_ms(self) -> int:
        return self._interval_ms

    def set_interval_minutes(self, minutes: int) -> None:
        self.set_interval_ms(max(1, minutes) * MINUTE_MS)

    def set_interval_ms(self, interval_ms: int) -> None:
        self._interval_ms = max(1, interval_ms)
        if self._timer.isActive():
            self._arm()

    # --- running --------------------------------------------------------------------------------------------

    def start(self) -> None:
        if not self._paused:
            self._arm()

    def stop(self) -> None:
        self._timer.stop()
        self._resume_timer.stop()
        self._next_run = None
        self.schedule_changed.emit()

    def run_finished(self) -> None:
        """A run (timed or manual) just ended: the next one is a full interval from now."""
        if not self._paused:
            self._arm()

    def next_run(self) -> datetime | None:
        return None if self._paused else self._next_run

    def is_active(self) -> bool:
        return self._timer.isActive()

    # --- pause / resume -------------------------------------------------------------------------------------

    @property
    def paused(self) -> bool:
        return self._paused

    @property
    def paused_until(self) -> datetime | None:
        return self._paused_until

    def pause(self, duration_ms: int | None = None) -> None:
        """Stop timed runs; ``duration_ms`` None means until ``resume()``."""
        self._timer.stop()
        self._paused = True
        if duration_ms is None:
            self._resume_timer.stop()
            self._paused_until = None
        else:
            self._resume_timer.start(max(1, duration_ms))
            self._paused_until = datetime.now(UTC) + timedelta(milliseconds=duration_ms)
        self.paused_changed.emit(True)
        self.schedule_changed.emit()

    @Slot()
    def resume(self) -> None:
        if not self._paused:
            return
        self._paused = False
        self._paused_until = None
        self._resume_timer.stop()
        self._arm()
        self.paused_changed.emit(False)

    # --- internals ------------------------------------------------------------------------------------------

    def _arm(self) -> None:
        self._timer.start(self._interval_ms)
        self._next_run = datetime.now(UTC) + timedelta(milliseconds=self._interval_ms)
        self.schedule_changed.emit()

    @Slot()
    def _on_tick(self) -> None:
        if self._paused:
            return
        if self._is_busy():
            self.skipped_busy += 1
            self._next_run = None  # re-armed by run_finished()
            self.schedule_changed.emit()
            return
        self._next_run = None
        self.schedule_changed.emit()
        self.due.emit()

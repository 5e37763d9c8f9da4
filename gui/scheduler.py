"""The sync timer: every N minutes from the last real sync, unless paused, and never while a run is going.

Why a class of its own: the rules (skip while busy, pause for an hour or until resumed, retry sooner after a
passing failure, what "next run" is) are what users notice when they go wrong, so they are kept small and
testable with millisecond intervals.

The schedule is anchored on when the last real sync *started*, not on when the app started or when the last
run of any kind ended: a preview (dry run), a "Retry these" run of one kind of record, or a restart of the
app therefore never pushes the next timed sync later. A sync that is already overdue (the app was closed at
the time) runs shortly after start-up instead of a whole interval later.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from PySide6.QtCore import QObject, QTimer, Signal, Slot

MINUTE_MS = 60_000
CATCH_UP_MS = MINUTE_MS  # an overdue sync runs this long after it was found overdue (start-up settles first)


def _now() -> datetime:
    return datetime.now(UTC)


class SyncScheduler(QObject):
    """Emits ``due`` at the next run time while not paused and not busy.

    ``is_busy`` is asked at each tick: a tick that finds a run going is skipped (the run itself is the sync),
    and the timer is armed again when that run finishes (``run_finished``) so runs never bunch up.
    """

    due = Signal()
    paused_changed = Signal(bool)
    schedule_changed = Signal()  # next run time moved (or a retry was planned)

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
        self._anchor: datetime | None = None  # when the last real sync started (or the timer, before any)
        self._anchor_is_real = False
        self._retrying = False
        self.skipped_busy = 0  # ticks that found a run going (for the status line and tests)

    # --- configuration --------------------------------------------------------------------------------------

    @property
    def interval_ms(self) -> int:
        return self._interval_ms

    def set_interval_minutes(self, minutes: int) -> None:
        self.set_interval_ms(max(1, minutes) * MINUTE_MS)

    def set_interval_ms(self, interval_ms: int) -> None:
        self._interval_ms = max(1, interval_ms)
        if self._timer.isActive() and not self._retrying:
            self._arm_anchored()

    # --- running --------------------------------------------------------------------------------------------

    def start(self, last_sync_started: datetime | None = None) -> None:
        """Arm the timer: one interval after ``last_sync_started`` (overdue: soon), else one from now."""
        if last_sync_started is not None:
            self._anchor, self._anchor_is_real = last_sync_started, True
        elif self._anchor is None:
            self._anchor, self._anchor_is_real = _now(), False
        if not self._paused:
            self._arm_anchored()

    def anchor(self, last_sync_started: datetime) -> None:
        """A real sync started at that time (read from the history: a restart, or a headless ``sync``).

        Moves the schedule only when that sync is newer than what the timer already knows, and never while
        a retry is planned (the retry is sooner).
        """
        if self._retrying:
            return
        if self._anchor_is_real and self._anchor is not None and last_sync_started <= self._anchor:
            return
        self._anchor, self._anchor_is_real = last_sync_started, True
        if not self._paused and (self._timer.isActive() or self._next_run is not None):
            self._arm_anchored()

    def stop(self) -> None:
        self._timer.stop()
        self._resume_timer.stop()
        self._next_run = None
        self._retrying = False
        self.schedule_changed.emit()

    def run_finished(self, started: datetime | None = None, *, keeps_schedule: bool = False) -> None:
        """A run just ended.

        A real sync (``started`` = when it began; None = now) sets the next run one interval after it began.
        A run that ``keeps_schedule`` (a preview, one kind of record retried) leaves the next run where it
        was; if a timed run fell due while it was going, that one runs now-ish instead.
        """
        if keeps_schedule:
            if not self._paused and not self._timer.isActive():
                self._arm_anchored()
            return
        self._anchor, self._anchor_is_real = (started or _now()), True
        self._retrying = False
        if not self._paused:
            self._arm_anchored()

    def retry_in(self, delay_ms: int) -> None:
        """A sync failed for a reason that passes by itself (Halo unreachable): try again sooner."""
        self._retrying = True
        if self._paused:
            return
        self._arm_at(_now() + timedelta(milliseconds=max(1, delay_ms)))

    @property
    def retrying(self) -> bool:
        """The next run is a retry of a failed sync, not the regular timer."""
        return self._retrying and not self._paused

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
            self._paused_until = _now() + timedelta(milliseconds=duration_ms)
        self.paused_changed.emit(True)
        self.schedule_changed.emit()

    @Slot()
    def resume(self) -> None:
        if not self._paused:
            return
        self._paused = False
        self._paused_until = None
        self._resume_timer.stop()
        self._retrying = False
        self._arm_anchored()
        self.paused_changed.emit(False)

    # --- internals ------------------------------------------------------------------------------------------

    def _arm_anchored(self) -> None:
        anchor = self._anchor or _now()
        due = anchor + timedelta(milliseconds=self._interval_ms)
        now = _now()
        if due <= now:  # overdue (the app was not running, or the last run took longer than the interval)
            due = now + timedelta(milliseconds=min(self._interval_ms, CATCH_UP_MS))
        self._arm_at(due)

    def _arm_at(self, due: datetime) -> None:
        delay_ms = max(1, int((due - _now()).total_seconds() * 1000))
        self._timer.start(delay_ms)
        self._next_run = due
        self.schedule_changed.emit()

    @Slot()
    def _on_tick(self) -> None:
        if self._paused:
            return
        if self._is_busy():
            self.skipped_busy += 1
            self._next_run = None  # armed again by run_finished()
            self.schedule_changed.emit()
            return
        self._next_run = None
        self.schedule_changed.emit()
        self.due.emit()

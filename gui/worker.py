"""Everything slow runs off the GUI thread and comes back as queued signals.

Why: the engine and the connection checks do network and ODBC I/O; the window must keep painting while they
run. Two tools live here:

- ``SyncThread`` runs ``sync.runner.run_sync`` in a QThread. The engine calls our listener from that thread;
  the listener only counts and emits signals (throttled, so a 100,000-record run does not flood the GUI's
  event queue). Cancel is a ``threading.Event`` the engine checks.
- ``TaskRunner`` runs any callable on the global QThreadPool and hands back its result or its exception
  (Test connection, MappingService.load, state store reads).

Signals are connected to slots of QObjects that live in the GUI thread, so Qt queues them there.
"""

from __future__ import annotations

import logging
import threading
import time
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import shiboken6
from PySide6.QtCore import QObject, QRunnable, QThread, QThreadPool, Signal, Slot

from sync.events import (
    OUTCOMES,
    EntityStarted,
    Event,
    LogMessage,
    PostingPreviewed,
    Progress,
    RecordOutcome,
    RunFinished,
    RunStarted,
    RunSummary,
)

log = logging.getLogger("ledgerbridge.gui.worker")

PROGRESS_INTERVAL_S = 0.05  # at most ~20 progress signals a second reach the GUI
MAX_FAILURES_PER_SIGNAL = 200  # failures are batched with the progress snapshot


@dataclass(frozen=True)
class ProgressSnapshot:
    """What the progress bar shows: the current entity, how far it is, and the counts so far."""

    entity: str
    done: int
    total: int | None
    counts: dict[str, dict[str, int]] = field(default_factory=dict)
    seconds_left: float | None = None  # the run's requests left at Halo's rate limit (None: not paced)

    def outcome_total(self, outcome: str) -> int:
        return sum(per.get(outcome, 0) for per in self.counts.values())


class ThrottledListener:
    """The engine's listener: runs in the worker thread, counts, and emits at a bounded rate.

    Why: the engine may report every record; forwarding each as a signal would queue hundreds of thousands of
    events on the GUI thread. Run boundaries (start, entity change, finish) are always forwarded at once.
    """

    def __init__(self, signals: SyncSignals, interval_s: float = PROGRESS_INTERVAL_S) -> None:
        self._signals = signals
        self._interval = interval_s
        self._last_emit = 0.0
        self._entity = ""
        self._done = 0
        self._total: int | None = None
        self._seconds_left: float | None = None
        self._counts: dict[str, dict[str, int]] = {}
        self._failures: list[RecordOutcome] = []

    def __call__(self, event: Event) -> None:
        if isinstance(event, Progress):
            self._entity, self._done, self._total = event.entity, event.done, event.total
            self._seconds_left = event.seconds_left
            finished_entity = event.total is not None and event.done >= event.total
            self._maybe_emit(force=finished_entity)
        elif isinstance(event, RecordOutcome):
            per = self._counts.setdefault(event.entity, dict.fromkeys(OUTCOMES, 0))
            per[event.outcome] = per.get(event.outcome, 0) + 1
            if event.outcome == "failed":
                self._failures.append(event)
            self._maybe_emit(force=len(self._failures) >= MAX_FAILURES_PER_SIGNAL)
        elif isinstance(event, EntityStarted):
            self._emit()
            self._entity, self._done, self._total = event.entity, 0, None
            self._signals.entity_started.emit(event.entity)
            self._emit()
        elif isinstance(event, RunStarted):
            self._signals.run_started.emit(event)
        elif isinstance(event, RunFinished):
            self._emit()
            self._signals.finished_summary.emit(event.summary)
        elif isinstance(event, LogMessage):
            self._signals.log_message.emit(event.level, event.text)
        elif isinstance(event, PostingPreviewed):
            self._signals.posting_previewed.emit(event.preview)

    def _maybe_emit(self, *, force: bool = False) -> None:
        now = time.monotonic()
        if force or now - self._last_emit >= self._interval:
            self._emit(now)

    def _emit(self, now: float | None = None) -> None:
        self._last_emit = time.monotonic() if now is None else now
        counts = {entity: dict(per) for entity, per in self._counts.items()}
        snapshot = ProgressSnapshot(self._entity, self._done, self._total, counts, self._seconds_left)
        self._signals.progress.emit(snapshot)
        if self._failures:
            failures, self._failures = self._failures, []
            self._signals.failures.emit(failures)


class SyncSignals(QObject):
    """Created in the GUI thread; emitted from the worker thread, so every connection is queued."""

    run_started = Signal(object)  # RunStarted
    entity_started = Signal(str)
    progress = Signal(object)  # ProgressSnapshot
    failures = Signal(object)  # list[RecordOutcome]
    log_message = Signal(str, str)  # level, text
    posting_previewed = Signal(object)  # PostingPreview: what a dry run would post into the books
    finished_summary = Signal(object)  # RunSummary (from the RunFinished event)
    done = Signal(object)  # RunSummary returned by run_sync, or None when it crashed
    crashed = Signal(str, str)  # message, traceback text (already logged)


SyncFunction = Callable[..., RunSummary]


class SyncThread(QThread):
    """One run of the engine in its own thread; ``signals`` report back, ``cancel()`` stops it cleanly."""

    def __init__(
        self,
        sync_function: SyncFunction,
        *,
        settings: Any,
        secrets: Any,
        paths: Any = None,
        dry_run: bool = False,
        entities: Sequence[str] | None = None,
        prepare: Callable[[], object] | None = None,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.signals = SyncSignals()
        self._prepare = prepare
        self.cancel_event = threading.Event()
        self._sync_function = sync_function
        self._kwargs: dict[str, Any] = {
            "paths": paths,
            "dry_run": dry_run,
            "entities": list(entities) if entities else None,
        }
        self._settings = settings
        self._secrets = secrets
        self.summary: RunSummary | None = None

    def cancel(self) -> None:
        self.cancel_event.set()

    def run(self) -> None:  # runs in the worker thread
        threading.current_thread().name = "lb-sync"  # so the log says which thread wrote a line
        listener = ThrottledListener(self.signals)
        try:
            if self._prepare is not None:
                self._prepare()  # e.g. open (and migrate) the state store before the engine opens it too
            self.summary = self._sync_function(
                self._settings,
                self._secrets,
                listener=listener,
                cancel=self.cancel_event,
                **self._kwargs,
            )
        except Exception as exc:  # the engine promises not to raise; if it does, the user must still know
            log.exception("The sync stopped with an unexpected error")
            self.signals.crashed.emit(f"{type(exc).__name__}: {exc}", traceback.format_exc())
            self.signals.done.emit(None)
            return
        self.signals.done.emit(self.summary)


# --- generic background calls -----------------------------------------------------------------------------


class _TaskSignals(QObject):
    finished = Signal(int, bool, object)  # task id, ok, result or exception


class _Task(QRunnable):
    def __init__(self, task_id: int, function: Callable[[], Any], signals: _TaskSignals) -> None:
        super().__init__()
        self.setAutoDelete(True)
        self._task_id = task_id
        self._function = function
        self._signals = signals

    def run(self) -> None:  # runs in a pool thread
        threading.current_thread().name = "lb-worker"
        try:
            result = self._function()
        except Exception as exc:
            log.debug("Background task %s failed", self._task_id, exc_info=True)
            self._signals.finished.emit(self._task_id, False, exc)
            return
        self._signals.finished.emit(self._task_id, True, result)


ResultCallback = Callable[[Any], None]
ErrorCallback = Callable[[BaseException], None]


class TaskRunner(QObject):
    """Run a callable off the GUI thread; its result or exception comes back on the GUI thread.

    Why: Test connection, loading mappings and reading the state store all wait on I/O.
    """

    all_done = Signal()

    def __init__(self, parent: QObject | None = None, pool: QThreadPool | None = None) -> None:
        super().__init__(parent)
        self._pool = pool or QThreadPool.globalInstance()
        self._signals = _TaskSignals()
        self._signals.finished.connect(self._on_finished)
        self._callbacks: dict[int, tuple[ResultCallback | None, ErrorCallback | None]] = {}
        self._next_id = 0

    def submit(
        self,
        function: Callable[[], Any],
        on_result: ResultCallback | None = None,
        on_error: ErrorCallback | None = None,
    ) -> int:
        """Run ``function`` in the pool; callbacks that are methods of a since-closed widget are dropped."""
        self._next_id += 1
        self._callbacks[self._next_id] = (on_result, on_error)
        self._pool.start(_Task(self._next_id, function, self._signals))
        return self._next_id

    @property
    def pending(self) -> int:
        return len(self._callbacks)

    @Slot(int, bool, object)
    def _on_finished(self, task_id: int, ok: bool, payload: object) -> None:
        on_result, on_error = self._callbacks.pop(task_id, (None, None))
        if not (_owner_alive(on_result) and _owner_alive(on_error)):
            on_result = on_error = None
            ok = True  # the asker is gone (a closed page): nobody to tell
        try:
            if ok and on_result is not None:
                on_result(payload)
            elif not ok:
                if on_error is not None:
                    on_error(payload)  # type: ignore[arg-type]
                else:
                    log.error("A background task failed: %s", payload)
        finally:
            if not self._callbacks:
                self.all_done.emit()


def _owner_alive(callback: Callable[..., Any] | None) -> bool:
    """False when ``callback`` is a method of a Qt object whose C++ side was already destroyed."""
    owner = getattr(callback, "__self__", None)
    return not isinstance(owner, QObject) or shiboken6.isValid(owner)

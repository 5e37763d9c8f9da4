"""The one object the window, the tray and the timer talk to: start/cancel runs, pause, refresh views.

Why: the window and the tray both offer "Sync now", "Pause" and show the same state; keeping those rules in
one place (never two runs at once, what the tray icon shows, when to notify) keeps the widgets dumb. All I/O
(the engine, state store reads) goes through ``gui.worker``; this object only reacts to signals.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Literal

from PySide6.QtCore import QObject, QTimer, Signal, Slot

from gui.advice import describe_error
from gui.attention import AttentionPolicy
from gui.scheduler import MINUTE_MS, SyncScheduler
from gui.worker import ProgressSnapshot, SyncThread, TaskRunner
from sync.events import RunStarted, RunSummary
from sync.paths import AppPaths
from sync.posting import ENTITY as POSTING
from sync.runner import open_state, run_sync
from sync.settings import Settings
from sync.state import TO_BOOKS, RecordOverview, StateStore

log = logging.getLogger("ledgerbridge.gui.controller")

TrayState = Literal["idle", "syncing", "attention", "paused"]
HOUR_MS = 60 * MINUTE_MS
HISTORY_LIMIT = 200
# Problems are kept per link entity; sites come with customers and payments with invoices.
CARRIER_ENTITY = {"sites": "customers", "payments": "invoices"}
# After a sync that could not run for a reason that passes by itself (Halo or the books unreachable, another
# sync holding the lock), try again after these waits, then keep the last one; never later than the timer.
RETRY_DELAYS_MS: tuple[int, ...] = (30_000, 60_000, 2 * MINUTE_MS, 5 * MINUTE_MS, 10 * MINUTE_MS)
RETRYABLE_KINDS = ("transient", "busy")
# How often the app looks whether a run it did not start (a headless `sync` from Task Scheduler) has been
# recorded, so its views and its timer follow; the look is one tiny query.
WATCH_RUNS_MS = 60_000


@dataclass
class AppContext:
    """What the app runs on: the settings, where they live, the secret store, and the demo if any."""

    settings: Settings
    secrets: Any  # sync.secrets.SecretStore
    paths: AppPaths
    config_path: Path
    demo: Any = None  # demo.environment.DemoEnvironment when running --demo
    log_file: Path | None = None  # where this app's log goes (the demo keeps its data elsewhere)

    @property
    def is_demo(self) -> bool:
        return self.demo is not None


class AppClosingError(RuntimeError):
    """A background read that arrived after shutdown: nothing to show, nobody waiting."""


class SyncController(QObject):
    state_changed = Signal(str)  # TrayState
    run_started = Signal(object)  # RunStarted
    entity_started = Signal(str)
    progress = Signal(object)  # ProgressSnapshot
    failures = Signal(object)  # list[RecordOutcome]
    posting_previewed = Signal(object)  # PostingPreview of a dry run (Halo -> books)
    run_finished = Signal(object)  # RunSummary
    busy_changed = Signal(bool)
    info = Signal(str)  # a short message for the status line ("A sync is already running.")
    notify = Signal(str, str, bool)  # title, message, critical: worth interrupting the user for
    history_loaded = Signal(object)  # list[RunRecord]
    problems_loaded = Signal(object)  # list[Problem]
    skipped_loaded = Signal(object)  # list[SkippedRecord]: read but not sent, on purpose
    records_loaded = Signal(object)  # list[RecordOverview], when the Records view asked for them
    crashed = Signal(str, str)  # message, traceback
    settings_changed = Signal()

    def __init__(
        self,
        context: AppContext,
        *,
        sync_function: Callable[..., RunSummary] | None = None,
        open_state: Callable[[AppPaths], StateStore] | None = None,
        interval_ms: int | None = None,
        retry_delays_ms: Sequence[int] = RETRY_DELAYS_MS,
        watch_runs_ms: int = WATCH_RUNS_MS,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.context = context
        self._sync_function = sync_function
        self._open_state = open_state
        self._state: StateStore | None = None
        self._state_lock = threading.Lock()
        self._closed = False
        self._thread: SyncThread | None = None
        self.tasks = TaskRunner(self)
        self.attention = AttentionPolicy()
        self.last_summary: RunSummary | None = None
        self.last_progress: ProgressSnapshot | None = None
        self.retry_delays_ms = tuple(retry_delays_ms) or RETRY_DELAYS_MS
        self.retry_attempt = 0  # failed syncs in a row that are being retried sooner than the timer
        self._run_keeps_schedule = False  # the run going is a preview or covers only some kinds of record
        self.records_wanted = False  # the Records view was opened: read records again after each run
        self.scheduler = SyncScheduler(
            interval_ms if interval_ms is not None else context.settings.sync.interval_minutes * MINUTE_MS,
            self.is_running,
            self,
        )
        self.scheduler.due.connect(self._on_timer_due)
        self._seen_run_id = -1  # the newest run the views show
        self._watch = QTimer(self)
        self._watch.setInterval(max(1, watch_runs_ms))
        self._watch.timeout.connect(self._look_for_new_runs)
        self.scheduler.paused_changed.connect(self._emit_state)

    # --- state ----------------------------------------------------------------------------------------------

    @property
    def settings(self) -> Settings:
        return self.context.settings

    def is_running(self) -> bool:
        return self._thread is not None

    def tray_state(self) -> TrayState:
        if self.is_running():
            return "syncing"
        if self.scheduler.paused:
            return "paused"
        if self.attention.needs_attention:
            return "attention"
        return "idle"

    @Slot()
    def _emit_state(self, *_: object) -> None:
        self.state_changed.emit(self.tray_state())

    # --- runs -----------------------------------------------------------------------------------------------

    def start(self) -> None:
        """Start the timer and load history/problems for the views."""
        self.scheduler.start()
        self._watch.start()
        self.refresh()
        self._emit_state()

    def sync_now(self, *, dry_run: bool = False, entities: Sequence[str] | None = None) -> bool:
        """Start a run off the GUI thread; False (and a message) when one is already going."""
        if self._closed:
            return False
        if self.is_running():
            self.info.emit("A sync is already running. It will finish first; watch its progress here.")
            return False
        function = self._sync_function or run_sync
        thread = SyncThread(
            function,
            settings=self.context.settings,
            secrets=self.context.secrets,
            paths=self.context.paths,
            dry_run=dry_run,
            entities=entities,
            prepare=self.state_store,  # the app's reader opens (and migrates) the file first, never alongside
            parent=self,
        )
        thread.signals.run_started.connect(self._on_run_started)
        thread.signals.entity_started.connect(self._on_entity_started)
        thread.signals.progress.connect(self._on_progress)
        thread.signals.failures.connect(self._on_failures)
        thread.signals.posting_previewed.connect(self.posting_previewed)
        thread.signals.crashed.connect(self._on_crashed)
        thread.signals.done.connect(self._on_done)
        self._thread = thread
        self.last_progress = None
        self._run_keeps_schedule = dry_run or bool(
            entities and set(entities) != set(self.context.settings.sync.entities)
        )
        thread.start()
        self.busy_changed.emit(True)
        self._emit_state()
        return True

    def cancel(self) -> None:
        if self._thread is not None:
            self._thread.cancel()
            self.info.emit("Cancelling: the sync stops after the records it is sending now.")

    def shutdown(self, timeout_ms: int = 30_000) -> None:
        """Stop the timer, cancel a run and wait for it (on quit), close the state store."""
        self.scheduler.stop()
        self._watch.stop()
        thread = self._thread
        if thread is not None:
            thread.cancel()
            thread.wait(timeout_ms)
        with self._state_lock:
            self._closed = True
            if self._state is not None:
                self._state.close()
                self._state = None

    @Slot(object)
    def _on_run_started(self, event: RunStarted) -> None:
        self.run_started.emit(event)

    @Slot(str)
    def _on_entity_started(self, entity: str) -> None:
        self.entity_started.emit(entity)

    @Slot(object)
    def _on_progress(self, snapshot: ProgressSnapshot) -> None:
        self.last_progress = snapshot
        self.progress.emit(snapshot)

    @Slot(object)
    def _on_failures(self, failures: object) -> None:
        self.failures.emit(failures)

    @Slot(str, str)
    def _on_crashed(self, message: str, trace: str) -> None:
        self.crashed.emit(message, trace)

    @Slot(object)
    def _on_done(self, summary: RunSummary | None) -> None:
        thread = self._thread
        self._thread = None
        if thread is not None:
            thread.wait()
            thread.deleteLater()
        if summary is not None:
            self.last_summary = summary
            notice = self.attention.observe(summary)
            if notice is not None:
                self.notify.emit(notice.title, notice.message, notice.critical)
            self.run_finished.emit(summary)
        self.busy_changed.emit(False)
        if self._closed:
            return
        self._plan_next_run(summary)
        self._emit_state()
        self.refresh()

    def _plan_next_run(self, summary: RunSummary | None) -> None:
        """The next timed run: a retry soon after a passing failure, else an interval after this one began."""
        keeps_schedule = self._run_keeps_schedule
        self._run_keeps_schedule = False
        if summary is not None and summary.dry_run:
            keeps_schedule = True
        if (
            summary is not None
            and not keeps_schedule
            and summary.status == "failed"
            and summary.error_kind in RETRYABLE_KINDS
        ):
            delay = self.retry_delays_ms[min(self.retry_attempt, len(self.retry_delays_ms) - 1)]
            self.retry_attempt += 1
            self.scheduler.retry_in(min(delay, self.scheduler.interval_ms))
            return
        if keeps_schedule:
            self.scheduler.run_finished(keeps_schedule=True)
            return
        self.retry_attempt = 0
        self.scheduler.run_finished(summary.started if summary is not None else None)

    @Slot()
    def _on_timer_due(self) -> None:
        log.info("Timed sync starting")
        if not self.sync_now() and not self._closed:
            self.scheduler.run_finished(keeps_schedule=True)

    # --- pause ----------------------------------------------------------------------------------------------

    def pause(self, duration_ms: int | None = HOUR_MS) -> None:
        self.scheduler.pause(duration_ms)

    def resume(self) -> None:
        self.scheduler.resume()

    # --- state store reads (always in the worker) -----------------------------------------------------------

    def state_store(self) -> StateStore:
        """The state store, opened on first use; called from worker threads only."""
        with self._state_lock:
            if self._closed:
                raise AppClosingError("LedgerBridge is closing.")
            if self._state is None:
                opener = self._open_state or open_state
                self._state = opener(self.context.paths)
            return self._state

    def refresh(self) -> None:
        """Reload history and problems in the background; the views update when the data arrives."""
        self.tasks.submit(
            lambda: (
                self.state_store().latest_run_id(),
                self.state_store().runs(HISTORY_LIMIT),
                self.state_store().problems(),
                self.state_store().skipped(),
            ),
            self._on_refreshed,
            self._on_read_failed,
        )
        if self.records_wanted:
            self.load_records()

    def load_records(self) -> None:
        """Read every record's link and problem for the Records view (in the background)."""
        self.records_wanted = True
        self.tasks.submit(self._read_records, self.records_loaded.emit, self._on_read_failed)

    def _read_records(self) -> list[RecordOverview]:
        """Both directions: what went to Halo (and every open problem), and the Halo invoices posted into the
        books, listed as "posting" (their key is the books' own, their Halo id the invoice in Halo)."""
        store = self.state_store()
        posted = [
            replace(record, entity=POSTING)
            for record in store.record_overviews(TO_BOOKS)
            if record.halo_id is not None
        ]
        return store.record_overviews() + posted

    def _look_for_new_runs(self) -> None:
        """Refresh the views when a run this app did not start was recorded (cheap when none was)."""
        if self.is_running() or self._closed:
            return
        self.tasks.submit(
            lambda: self.state_store().latest_run_id(),
            lambda newest: self.refresh() if newest != self._seen_run_id and not self.is_running() else None,
            self._on_read_failed,
        )

    def _on_refreshed(self, result: tuple[int, list[Any], list[Any], list[Any]]) -> None:
        self._seen_run_id, runs, problems, skipped = result
        wanted = set(self.settings.sync.entities)
        last_sync = next(
            (r for r in runs if not r.dry_run and r.status != "running" and wanted <= set(r.entities)), None
        )  # a preview or a run of some kinds of record only (Retry these) keeps the cadence
        if last_sync is not None and not self.is_running():
            self.scheduler.anchor(last_sync.started)  # a restart or a headless `sync` keeps the cadence
        self.history_loaded.emit(runs)
        self.problems_loaded.emit(problems)
        self.skipped_loaded.emit(skipped)
        if self.last_summary is None and runs:
            latest = runs[0]
            self.attention.needs_attention = latest.status == "failed" or any(
                per.get("failed", 0) for per in latest.counts.values()
            )
            self._emit_state()

    def _on_read_failed(self, error: BaseException) -> None:
        if isinstance(error, AppClosingError):
            return
        log.error("Could not read the state store: %s", error)
        self.info.emit(f"Could not read the sync history. {describe_error(error)}")

    def retry_problems(self, problem_entities: Sequence[str] | None = None) -> None:
        """ "Retry these": rewind the cursors before those failed records, then sync their entities again."""
        if self.is_running():
            self.info.emit("A sync is already running. Retry the problems when it has finished.")
            return
        chosen = list(problem_entities) if problem_entities else None

        def rewind() -> None:
            self.state_store().rewind_for_problems(chosen)

        def start(_: object) -> None:
            carriers = None if chosen is None else {CARRIER_ENTITY.get(e, e) for e in chosen}
            run_entities = [e for e in self.settings.sync.entities if carriers is None or e in carriers]
            self.sync_now(entities=run_entities or None)

        self.tasks.submit(rewind, start, self._on_read_failed)

    def resync_records(self, records: Sequence[tuple[str, str]]) -> None:
        """ "Sync this record again": forget what was sent, rewind to just before each record, then sync
        the kinds of record they belong to."""
        if self.is_running():
            self.info.emit("A sync is already running. Sync the record again when it has finished.")
            return
        chosen = list(records)
        if not chosen:
            return

        def rewind() -> set[str]:
            return {self.state_store().resync_record(entity, key) for entity, key in chosen}

        def start(streams: set[str]) -> None:
            run_entities = [e for e in self.settings.sync.entities if e in streams]
            if not run_entities:
                self.info.emit("That kind of record is not synced (see Settings > Sync).")
                return
            self.sync_now(entities=run_entities)

        self.tasks.submit(rewind, start, self._on_read_failed)

    # --- settings -------------------------------------------------------------------------------------------

    def apply_settings(self, settings: Settings) -> None:
        """New settings from the Settings page: saved by the caller; here the timer and views follow them."""
        self.context.settings = settings
        self.scheduler.set_interval_minutes(settings.sync.interval_minutes)
        self.settings_changed.emit()

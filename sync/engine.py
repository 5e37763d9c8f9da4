"""The sync engine: one generic plan -> batch -> apply -> confirm -> cursor machine over the entity specs.

Why this shape: the entities (sync/entities/: tax rates -> customers (+ main site) -> suppliers -> items ->
invoices (+ payments)) are declared once each, with their planner; the engine knows none of them. Each
stream is read page by page from the connector; its planner turns each record into a Halo payload and
asks ``plan`` to decide: unchanged (same content hash as the link: no write), update (linked, or matched
to an existing Halo record), create, or the planner says skipped / a problem. Writes go out in batches
(creates and updates apart) as ``Pending`` values, and every confirmed write is saved as a link AT ONCE,
so a crash loses nothing confirmed. A create that may have reached Halo is never blindly resent: the
engine re-reads Halo by accounts key, links what landed and re-creates only what provably did not. A
record Halo refuses is isolated by bisecting its batch and becomes a problem while the rest goes on. The
Halo index of a resource is read lazily, only when an unlinked record needs matching, so a resync of
linked records costs no index reads. Halo's side of each resource comes from halo/resources.py.

Events: RecordOutcome for every created/updated/deactivated/skipped/failed record; unchanged records are
only counted (a resync of 50,000 unchanged invoices would otherwise flood the listener). Progress is
throttled to at most ~10 per second per entity.
"""

from __future__ import annotations

import itertools
import logging
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from connectors.base import Connector
from connectors.unchanged import Unchanged
from core.errors import AuthError, CancelledError, LedgerBridgeError, RecordError, TransientError
from core.records import ENTITY_ORDER, Record, SourceProblem, fall_back_widening, utc
from halo import payloads
from halo.pacing import RequestBudget
from halo.resources import resource as halo_resource
from sync.answers import agrees, pair_answer
from sync.answers import halo_id as answer_id
from sync.entities import BY_NAME, BY_RESOURCE, SPECS, STREAMS
from sync.entities.base import EntityPlanner, HaloReader, Pending, PlanProblem, Spec
from sync.estimate import RequestEstimate, count_rows
from sync.events import (
    EntityStarted,
    Event,
    Listener,
    LogMessage,
    Outcome,
    Progress,
    RecordOutcome,
    RunSummary,
)
from sync.halo_index import HaloIndexes, HaloWriter
from sync.known_rows import InStep, StreamRows, stored_with_rows, stored_without_rows, stream_salt
from sync.links import PageLinks
from sync.settings import Settings
from sync.state import Link, LinkWrite, StateStore, record_name

log = logging.getLogger("ledgerbridge.sync")

PROGRESS_INTERVAL = 0.1  # seconds: at most ~10 Progress events per second
# Records read from the books, then planned with their links read in one query per entity. 100, not 500:
# a page's records are the peak of a run's memory, and a page of a larger company holds more distinct
# amounts (docs/architecture.md); the same instructions either way.
PLAN_PAGE = 100
RECONCILE_ROUNDS = 3
FLUSH_ROUNDS = 3  # a confirmed create queues its follow-ups (deactivation, site): at most two more rounds
KEPT = "Everything confirmed so far is kept; the rest is sent on the next sync."
BACKOFF_MIN = 2.0
BACKOFF_MAX = 30.0
FIX_IN_BOOKS = (
    "Correct the record in the accounting package (or the Halo record it matches); "
    "it is sent again on the next sync."
)


@dataclass
class CursorTracker:
    """Where a stream's cursor may move: only past what was read AND settled, never past a failed record.

    Why this shape: connectors read in key order (ACCOUNT_REF, ListID), not in modified order, so a run that
    stops part-way (any exception, a signal, a cancel, a refused permission) may not have read records
    older than the ones it confirmed. Only a stream read to its end with every write flushed
    (``completed``) moves its cursor forward; anything else keeps the old position. All times are compared
    in UTC (see ``core.records.utc``), and the cursor never passes ``ceiling`` (the run's start time minus
    the look-back), whatever dates the books carry.
    """

    latest_ok: datetime | None = None
    earliest_failed: datetime | None = None
    interrupted: bool = False
    completed: bool = False  # read to the end and every queued write sent

    def ok(self, modified: datetime | None) -> None:
        latest = self.latest_ok
        # ``latest_ok`` is in UTC, so an aware time in any other zone compares with it by instant: it is
        # converted only when it is the newest so far (most records are not), and a UTC one compares by
        # its UTC wall clock, which is its instant.
        if modified is None or (latest is not None and modified.tzinfo is not None and modified <= latest):
            return
        moment = utc(modified)
        if moment is not None and (latest is None or moment > latest):
            self.latest_ok = moment

    def failed(self, modified: datetime | None) -> None:
        moment = utc(modified)
        if moment is not None and (self.earliest_failed is None or moment < self.earliest_failed):
            self.earliest_failed = moment

    def next_cursor(self, old: datetime | None, ceiling: datetime | None = None) -> datetime | None:
        old = utc(old)
        if ceiling is not None and old is not None:
            old = min(old, utc(ceiling) or old)
        if self.interrupted or not self.completed:
            return old  # unread records may be older than what was confirmed: read them all again
        candidate = max((t for t in (old, self.latest_ok) if t is not None), default=None)
        if self.earliest_failed is not None:
            candidate = self.earliest_failed if candidate is None else min(candidate, self.earliest_failed)
        if ceiling is not None and candidate is not None:
            candidate = min(candidate, utc(ceiling) or candidate)
        return candidate


@dataclass
class Batches:
    creates: list[Pending] = field(default_factory=list)
    updates: list[Pending] = field(default_factory=list)


class SyncEngine:
    """Runs the selected entities once; fills ``summary``. Raises Config/Auth errors and CancelledError."""

    def __init__(
        self,
        settings: Settings,
        state: StateStore,
        connector: Connector,
        client: HaloWriter,
        *,
        summary: RunSummary,
        listener: Listener | None = None,
        cancel: threading.Event | None = None,
        dry_run: bool = False,
        sleep: Callable[[float], None] | None = None,
    ) -> None:
        self.settings = settings
        self.state = state
        self.connector = connector
        self.client = client
        self.summary = summary
        self.listener = listener
        self.cancel = cancel or threading.Event()
        self.dry_run = dry_run
        self._sleep = sleep
        self.batch_size = max(1, settings.halo.batch_size)
        self.interrupted = False  # some entity was left unfinished (Halo or the books unavailable)
        self.problems = {(p.entity, p.key): p.message for p in state.problems()}
        self.skip_reasons: dict[tuple[str, str], str] = {}  # why a record was not sent (for waiting records)
        self.wanted: frozenset[str] = frozenset()
        self._batches: dict[str, Batches] = {}
        self._trackers: dict[str, CursorTracker] = {}
        self.halo = HaloIndexes(client, state, on_blind=self._blind)
        self.links = PageLinks(state)  # the links of the page being planned, and of this run's writes
        budget = getattr(client, "budget", None)  # the client's pacing (the guard passes it through)
        self._budget = budget if isinstance(budget, RequestBudget) and budget.enabled else None
        self.estimate = RequestEstimate()  # requests left, for the app's time estimate (paced runs only)
        self._dry_planned: dict[str, dict[str, int]] = {}  # a dry run's would-be links: key -> id (0: new)
        self._progress_done = 0
        self._progress_at = 0.0
        self.started = datetime.now(UTC)
        self._future: dict[str, datetime] = {}  # key -> modified, for records dated after the run began
        self._future_after = self.started  # later than this is "in the future" (set for each stream)
        # Unchanged records whose links get their inputs' fingerprint (entity, key, hash read, hash to keep).
        self._fingerprints: list[tuple[str, str, str, str]] = []
        self._rows: StreamRows | None = None  # the stream's rows known unchanged (sync/known_rows.py)
        self._settling: InStep | None = None  # the record whose riders are being planned (known_rows)
        # One planner per entity for this run (entities that ride with another get the plain one).
        self._planners: dict[str, EntityPlanner] = {
            spec.name: (spec.planner or EntityPlanner)(self, spec) for spec in SPECS
        }

    def _blind(self) -> None:
        """Halo cannot show what was linked before: every stream keeps its cursor, the run is unfinished."""
        for tracker in self._trackers.values():
            tracker.interrupted = True
        self.interrupted = True

    @property
    def reader(self) -> HaloReader:
        return self.client

    def planner(self, entity: str) -> EntityPlanner:
        return self._planners[entity]

    # --- running ------------------------------------------------------------------------------------------

    def run(self, entities: Sequence[str]) -> None:
        self.started = datetime.now(UTC)
        wanted = set(entities)
        wanted |= {spec.rides_with for spec in SPECS if spec.rides_with and spec.name in wanted}
        self.wanted = frozenset(wanted)
        streams = [e for e in ENTITY_ORDER if e in wanted and e in STREAMS]
        if self._budget is not None and not self.dry_run:
            self._count_rows(streams)
        try:
            for entity in streams:
                self._check_cancel()
                self.emit(EntityStarted(entity))
                self._run_stream(BY_NAME[entity])
        finally:
            self._log_lookups()

    def _count_rows(self, streams: Sequence[str]) -> None:
        """Rows of each stream read in full (no cursor: a first sync), for the time-left estimate."""
        offered = {stream.name for stream in self.connector.streams()}
        rows: dict[str, int] = {}
        for entity in streams:
            if entity in offered and self.state.cursor(entity) is None:
                count = count_rows(self.connector, entity)
                if count is not None:
                    rows[entity] = count
        self.estimate.rows, self.estimate.order = rows, tuple(streams)

    def _log_lookups(self) -> None:
        """Say what Halo's partial rows and odd save answers cost this run (RequestStats.lookups)."""
        stats = getattr(self.client, "stats", None)
        lookups = getattr(stats, "lookups", None)
        if lookups:
            total = sum(lookups.values())
            detail = ", ".join(f"{reason} {n}" for reason, n in sorted(lookups.items()))
            log.info("Extra Halo requests for keys missing from its lists or answers: %d (%s)", total, detail)

    def _lookback(self) -> timedelta:
        return timedelta(minutes=max(0, self.settings.sync.lookback_minutes))

    def _ceiling(self) -> datetime:
        """The newest position a cursor may take: the run's start minus the look-back (never the future)."""
        return self.started - self._lookback()

    def _since(self, cursor: datetime | None, replication_key: str | None) -> datetime | None:
        """Where the read starts: the cursor less the look-back, less a DST fall-back hour when it matters."""
        if cursor is None or replication_key is None:
            return None
        since = cursor - self._lookback()
        zone = getattr(self.connector, "local_zone", None)
        return since - fall_back_widening(since, zone)

    def _start_cursor(self, entity: str, old_cursor: datetime | None) -> datetime | None:
        """The stream's saved cursor, unless it is later than this run's start (then: read everything)."""
        if old_cursor is not None and old_cursor > self._ceiling():
            # Saved later than this run's start: this PC's clock was ahead and has been put right (or an
            # older version followed a future-dated record). Edits since the correction carry earlier dates
            # than that position, so everything is read once more; unchanged records cost no write.
            self.emit(
                LogMessage(
                    "warning",
                    f"The saved position for {entity.replace('_', ' ')} ({old_cursor:%Y-%m-%d %H:%M} UTC) is "
                    "later than this PC's clock: the clock was probably ahead and has been corrected. "
                    "Everything is read once more so no change is missed.",
                )
            )
            return None
        return old_cursor

    def _run_stream(self, spec: Spec) -> None:
        entity = spec.name
        tracker = self._trackers.setdefault(entity, CursorTracker())
        offered = {stream.name: stream for stream in self.connector.streams()}
        if entity not in offered:
            self.emit(
                LogMessage("warning", f"{self.connector.display_name} has no {entity.replace('_', ' ')}.")
            )
            return
        stored_cursor = utc(self.state.cursor(entity))
        old_cursor = self._start_cursor(entity, stored_cursor)
        since = self._since(old_cursor, offered[entity].replication_key)
        self._progress_done = 0
        self._progress_at = 0.0
        self._future.clear()
        self._future_after = self.started + self._lookback()  # once, not once per record read
        self.estimate.start(entity)
        ended_well = False  # the stream's own failure wins over a failure to save its cursor
        try:
            for dependency in spec.depends_on:
                self._planners[dependency].prepare()
            planner = self._planners[entity]
            rows = self._rows = self._stream_rows(entity, planner)
            read = (
                self.connector.read(entity, since)
                if rows is None
                else self.connector.read_skipping(entity, since, rows.known)
            )
            for page in _pages(read, PLAN_PAGE):
                self._check_cancel()
                self.links.read_page(
                    planner.linked_keys([r for r in page if not isinstance(r, SourceProblem | Unchanged)])
                )
                for record in page:
                    if isinstance(record, Unchanged):
                        self._unchanged_row(entity, record.key)
                        continue
                    if isinstance(record, SourceProblem):
                        self._source_problem(entity, record)
                    else:
                        self._note_future(record.key, getattr(record, "modified", None))
                        self.plan_guarded(entity, record)
                    if rows is not None:
                        self._forget_rows(entity, record.key)
                self.save_fingerprints()
                self._progress(entity, len(page))
                del page  # not held while the next page is read: two pages of records were the peak
            self.estimate.read_to_the_end()
            planner.finish_reading()
            self.flush()
            self.save_fingerprints()
            tracker.completed = True
            self._report_future(entity)
            ended_well = True
        except TransientError as exc:
            # Halo (after the client's retries and one more pause here) or the books stayed unavailable: stop
            # the run, keep everything confirmed, and leave the cursor where it was so the rest is read again.
            tracker.interrupted = True
            self.interrupted = True
            label = entity.replace("_", " ")
            log.warning("Stopped while syncing %s: %s (%s)", label, exc, exc.detail)
            raise TransientError(
                f"The sync stopped while sending {label}: {exc.message}",
                action=f"{exc.action} {KEPT}".strip(),
                detail=exc.detail,
                retry_after=exc.retry_after,
            ) from exc
        except CancelledError:
            tracker.interrupted = True
            raise
        finally:
            if self._rows is not None:
                self._rows.clear()
                self._rows = None
            # However the stream ended (an AuthError, a second Ctrl-C, a bug), an unfinished stream keeps its
            # cursor: `completed` is only set once everything read was sent and settled.
            self.emit(Progress(entity, self._progress_done, self._progress_done, *self._left()))
            if not self.dry_run:
                new_cursor = tracker.next_cursor(old_cursor, self._ceiling())
                if new_cursor != stored_cursor:
                    try:
                        self.state.save_cursor(entity, new_cursor)
                    except LedgerBridgeError:
                        if ended_well:
                            raise
                        log.warning("The %s cursor could not be saved", entity, exc_info=True)

    def _stream_rows(self, entity: str, planner: EntityPlanner) -> StreamRows | None:
        """The rows of ``entity`` known unchanged, where its planner keeps them and its connector reads
        through ``read_skipping``; None reads every row as a record."""
        if not planner.keeps_rows or not isinstance(self.connector, Connector):
            return None
        if not self.connector.skips_unchanged_rows:
            return None
        changes = self.state.changes()
        context = self.connector.conversion_context()
        salt = stream_salt(self.settings, context, planner.spec.name, changes)
        return StreamRows(self.state, planner.spec.name, salt, changes)

    def _unchanged_row(self, entity: str, key: str) -> None:
        """A row whose digest its link keeps: settled as unchanged, with the riders that were in step."""
        kept = self._rows.take(key) if self._rows is not None else None
        modified = kept.modified if kept is not None else None
        self._note_future(key, modified)
        self._unchanged(entity, key, entity, modified)
        self._planners[entity].unchanged_row(key, kept.riders if kept is not None else 0)

    def _forget_rows(self, entity: str, key: str) -> None:
        """A row converted and planned: the digest its link kept from before is dropped unless a new one
        took its place. Its rows changed, and its link must not say later, should they change back, that it
        is what Halo has; a new digest is kept only once the record is in step (``_kept_if_in_step``), and
        then in place of the stripped hash."""
        found = self._rows.forget(key) if self._rows is not None else None
        if found is None:
            return
        old, in_step = found
        stripped = stored_without_rows(old.stored)
        self.keep_fingerprint(entity, key, old.stored, stripped)
        if in_step is not None and in_step.stored == old.stored:
            in_step.stored = stripped

    def _in_step(
        self, entity: str, key: str, stored: str, modified: datetime | None, keep_rows: bool
    ) -> InStep | None:
        """What keeps a record's rows' digest once it is in step: only for a record of the stream being
        read whose inputs are all links and mappings (``keep_rows``), and never in a dry run."""
        if self._rows is None or not keep_rows or self.dry_run:
            return None
        return self._rows.in_step(entity, key, stored, modified)

    def _settle(self, pending: Pending, halo_id: int, answer: dict[str, Any], in_step: InStep | None) -> None:
        """The entity's ``settled``, with what it queues riding on ``in_step`` (known_rows.InStep)."""
        outer, self._settling = self._settling, in_step
        opened = in_step is not None and not in_step.settling
        if in_step is not None:
            in_step.settling = True
        try:
            self._planners[pending.entity].settled(pending, halo_id, answer)
        finally:
            self._settling = outer
            if in_step is not None and opened:
                in_step.settling = False
        if in_step is not None:
            self._kept_if_in_step(in_step)

    def _kept_if_in_step(self, in_step: InStep) -> None:
        """Keep the rows' digest of a record now in step with all its riders (once)."""
        if not in_step.ready():
            return
        in_step.done = in_step.kept = True
        kept = stored_with_rows(in_step.stored, in_step.digest, in_step.riders, in_step.modified)
        if kept != in_step.stored:
            self.keep_fingerprint(in_step.entity, in_step.key, in_step.stored, kept)

    def _note_future(self, key: str, modified: datetime | None) -> None:
        """Remember a record dated after this run began (beyond the look-back's allowance for clock skew)."""
        # ``_future_after`` is in UTC: an aware time compares with it by instant without converting it first.
        if modified is not None and (modified.tzinfo is None or modified > self._future_after):
            moment = utc(modified)
            if moment is not None and moment > self._future_after:
                self._future[key] = moment

    def _report_future(self, entity: str) -> None:
        """Say which records carry a date in the future: they are read again on every sync until it passes."""
        if not self._future:
            return
        label = entity.replace("_", " ")
        newest = max(self._future.values())
        sample = ", ".join(sorted(self._future)[:5])
        self.emit(
            LogMessage(
                "warning",
                f"{len(self._future)} {label} carry a modified date in the future (up to "
                f"{newest:%Y-%m-%d %H:%M} UTC; e.g. {sample}). They are read again on every sync until that "
                "date has passed. Check the date and time of the PC that runs the accounting package.",
            )
        )
        for key, modified in self._future.items():
            if (entity, key) in self.problems or self.dry_run:
                continue  # a real problem of its own says more; a dry run writes nothing
            self.state.record_problem(
                entity,
                key,
                f"Its modified date in the books ({modified:%Y-%m-%d %H:%M} UTC) is in the future; it was "
                "synced, and it is read again on every sync until that date has passed.",
                "Check the date and time of the PC that runs the accounting package, and the record's date.",
                modified,
            )

    def plan_records(self, entity: str, records: Sequence[Record]) -> None:
        """Plan records read earlier (invoices that waited for their customer), a page's links at a time."""
        planner = self._planners[entity]
        for start in range(0, len(records), PLAN_PAGE):
            page = records[start : start + PLAN_PAGE]
            self.links.read_page(planner.linked_keys(page))
            for record in page:
                self.plan_guarded(entity, record)

    def plan_guarded(self, entity: str, record: Record) -> None:
        """Plan one record; a PlanProblem becomes that record's problem and the stream goes on."""
        try:
            self._planners[entity].plan(record)
        except PlanProblem as problem:
            modified = getattr(record, "modified", None)
            self.fail(entity, record.key, problem.message, problem.action, modified, entity)

    # --- events and bookkeeping ---------------------------------------------------------------------------

    def emit(self, event: Event) -> None:
        if self.listener is not None:
            self.listener(event)

    def _progress(self, entity: str, records: int = 1) -> None:
        self._progress_done += records
        self.estimate.read = self._progress_done
        now = time.monotonic()
        if now - self._progress_at >= PROGRESS_INTERVAL:
            self._progress_at = now
            self.emit(Progress(entity, self._progress_done, None, *self._left()))

    def _left(self) -> tuple[int | None, float | None]:
        """Requests the run still needs and how long they take at the client's budget (paced runs only)."""
        if self._budget is None:
            return None, None
        queued = [len(q) for batches in self._batches.values() for q in (batches.creates, batches.updates)]
        requests = self.estimate.requests_left(queued, self.batch_size)
        if requests is None:
            return None, None
        return requests, self._budget.seconds_for(requests)

    def _check_cancel(self) -> None:
        if self.cancel.is_set():
            raise CancelledError("The sync was cancelled.", action="Everything confirmed so far is kept.")

    def _count(self, entity: str, outcome: Outcome) -> None:
        self.summary.add(entity, outcome)

    def solved(self, entity: str, key: str) -> None:
        if (entity, key) in self.problems:
            del self.problems[(entity, key)]
            if not self.dry_run:
                self.state.clear_problem(entity, key)

    def _unchanged(self, entity: str, key: str, stream: str, modified: datetime | None) -> None:
        if self._settling is not None:
            self._settling.riders += 1
        self._count(entity, "unchanged")
        self._trackers[stream].ok(modified)
        self.solved(entity, key)

    def keep_no_rows(self) -> None:
        """What the record settling now depends on is not a link or a mapping (a Halo client without a
        main site, asked of Halo): its link keeps no rows' digest, so it is planned again next time."""
        if self._settling is not None:
            self._settling.done = True

    def unchanged_riders(self, entity: str, count: int) -> None:
        """Records riding with a row known unchanged (an invoice's payments): counted unchanged with it."""
        for _ in range(count):
            self._count(entity, "unchanged")

    def kept(self, entity: str, key: str, stream: str, modified: datetime | None) -> None:
        """A record whose Halo twin is left as it is on purpose (an invoice that started in Halo):
        counted unchanged, its cursor may pass it."""
        self._unchanged(entity, key, stream, modified)

    def skipped(self, entity: str, key: str, message: str, stream: str, modified: datetime | None) -> None:
        self.skip_reasons[(entity, key)] = message
        log.info("Skipped %s %s: %s", entity, key, message)
        self._count(entity, "skipped")
        self._trackers[stream].ok(modified)
        self.solved(entity, key)
        self.emit(RecordOutcome(entity, key, "skipped", message))

    def fail(
        self, entity: str, key: str, message: str, action: str, modified: datetime | None, stream: str
    ) -> None:
        log.warning("Problem with %s %s: %s %s", entity, key, message, action)
        if self._settling is not None:
            self._settling.done = True  # a rider failed: its record keeps no digest
        self._count(entity, "failed")
        self._trackers[stream].failed(modified)
        self.problems[(entity, key)] = message
        if not self.dry_run:
            self.state.record_problem(entity, key, message, action, modified)
        self.emit(RecordOutcome(entity, key, "failed", message, action))

    def _source_problem(self, entity: str, problem: SourceProblem) -> None:
        self.fail(entity, problem.key, problem.message, problem.action, problem.modified, entity)

    def waiting_for(self, entity: str, key: str, noun: str) -> PlanProblem:
        """Why a record that needs another one (its customer, its item) is not sent yet."""
        reason = (
            self.problems.get((entity, key))
            or self.skip_reasons.get((entity, key))
            or "not synced to Halo yet"
        )
        return PlanProblem(
            f"Waiting for {noun} {key} ({reason}).",
            f"Fix the {noun}'s own problem, or include {entity} in the sync; this follows on the next sync.",
        )

    # --- planning: the shared matching/link logic ---------------------------------------------------------

    def link(self, entity: str, key: str) -> Link | None:
        """A record's link as planning sees it: read with its page, or saved by this run."""
        return self.links.get(entity, key)

    def halo_id_of(self, entity: str, key: str) -> int | None:
        """The linked Halo id; in a dry run a record planned for creation counts as there (id 0)."""
        link = self.links.get(entity, key)
        if link is not None:
            return link.halo_id
        if self.dry_run:
            return self._dry_planned.get(entity, {}).get(key)
        return None

    def lookup(self, spec: Spec, key: str, name: str = "") -> dict[str, Any] | None:
        """An unlinked record's Halo twin by the spec's rules: its key, the user's mapping, a unique name."""
        rules = spec.match
        found = self.halo.match_by_key(spec.resource, key) if rules.by_key else None
        if found is not None:
            return found
        if rules.mapping:
            mapped = self.state.mapping(rules.mapping, key)
            if mapped is not None:
                return {"id": mapped}
        if not rules.name_folding:
            return None
        candidates = self.halo.free(
            spec.resource, self.halo.index(spec.resource).by_name(name, source_key=key)
        )
        if len(candidates) > 1:
            ids = ", ".join(str(c["id"]) for c in candidates)
            raise PlanProblem(
                f"Several Halo {halo_resource(spec.resource).plural} are called “{name}” (ids {ids}).",
                rules.ambiguous_action.format(key=key),
            )
        return candidates[0] if candidates else None

    def plan(
        self,
        spec: Spec,
        record: Record,
        payload: dict[str, Any],
        *,
        stream: str,
        modified: datetime | None,
        create_extra: dict[str, Any] | None = None,
        outcome: Outcome = "updated",
        step: str = "",
        use_link: bool = True,
        known: int | None = None,
        inputs: str = "",
        keep_rows: bool = False,
    ) -> None:
        """Decide unchanged / update / link-to-existing / create for one record and queue the write.

        ``use_link=False``: the link is not consulted and the caller has matched the record already, to
        ``known`` (None: create it). ``inputs``: the fingerprint of what the payload was built from
        (``payloads.fingerprint``), kept with the content hash so the next run can skip building it.
        ``keep_rows``: as for ``unchanged_inputs``; the digest is kept once the write and its riders are
        confirmed.
        """
        entity, key = spec.name, record.key
        content_hash = payloads.content_hash(payload)
        link = self.links.get(entity, key) if use_link else None
        pending = Pending(
            entity,
            key,
            record,
            payload,
            payload,
            payloads.stored_hash(content_hash, inputs),
            None,
            "created",
            stream,
            modified,
        )
        pending.create_extra, pending.step = create_extra, step
        pending.rows = self._in_step(entity, key, pending.content_hash, modified, keep_rows and bool(inputs))
        if link is not None and payloads.split_stored_hash(link.content_hash)[0] == content_hash:
            if inputs and link.content_hash != pending.content_hash:
                # Unchanged, saved before its inputs were fingerprinted: keep them, so the next run skips it.
                self.keep_fingerprint(entity, key, link.content_hash, pending.content_hash)
            self._unchanged(entity, key, stream, modified)
            self._settle(pending, link.halo_id, {}, pending.rows)
            return
        if link is not None:
            halo_id: int | None = link.halo_id
        else:
            halo_id = self._planners[entity].match(record) if use_link else known
            if halo_id is not None:
                pending.message = f"linked to the existing Halo record {halo_id}"
                self.halo.claim(spec.resource, halo_id)
        if halo_id is None:
            pending.payload = {**payload, **(create_extra or {})}
        else:
            pending.payload = {"id": halo_id, **payload}
            pending.halo_id, pending.outcome, pending.linked = halo_id, outcome, link is not None
        self.queue(pending)

    def unchanged_inputs(
        self,
        spec: Spec,
        record: Record,
        inputs: str,
        planned: dict[str, Any],
        *,
        stream: str,
        modified: datetime | None,
        keep_rows: bool = False,
    ) -> bool:
        """True (and the record is settled as unchanged) when its link holds the same inputs' fingerprint:
        its payload would be the one Halo has, so it is not built. ``planned`` is what the entity's
        ``settled`` reads of the payload (an invoice's client id, for its payments).

        ``keep_rows``: the inputs are all links and mappings (``sync/known_rows.py``); if the record and
        all its riders are in step, its link keeps its rows' digest, so the next read need not convert it.
        """
        link = self.links.get(spec.name, record.key)
        if link is None or not inputs or payloads.split_stored_hash(link.content_hash)[1] != inputs:
            return False
        pending = Pending(
            spec.name,
            record.key,
            record,
            {},
            planned,
            link.content_hash,
            link.halo_id,
            "unchanged",
            stream,
            modified,
        )
        self._unchanged(spec.name, record.key, stream, modified)
        in_step = self._in_step(spec.name, record.key, link.content_hash, modified, keep_rows)
        self._settle(pending, link.halo_id, {}, in_step)
        return True

    def keep_fingerprint(self, entity: str, key: str, read: str, kept: str) -> None:
        """An unchanged record whose link holds ``read``: store ``kept`` (its content hash with its inputs'
        fingerprint) instead, with the page's others, so the next run need not build its payload."""
        if not self.dry_run:
            self._fingerprints.append((entity, key, read, kept))

    def save_fingerprints(self) -> None:
        """Store the inputs' fingerprints found for unchanged records (a page's at a time)."""
        if self._fingerprints:
            self.state.add_fingerprints(self._fingerprints)
            self._fingerprints.clear()

    def queue(self, pending: Pending) -> None:
        """Put a planned write in its resource's batch; a full batch is sent at once."""
        if self._settling is not None and pending.rider_of is None:
            pending.rider_of = self._settling
            self._settling.waiting += 1
        if self.dry_run:
            self._dry_outcome(pending)
            return
        self.estimate.writes += 1
        resource = BY_NAME[pending.entity].resource
        batches = self._batches.setdefault(resource, Batches())
        target = batches.creates if pending.halo_id is None else batches.updates
        target.append(pending)
        if len(target) >= self.batch_size:
            target_copy = list(target)
            target.clear()
            self._send(resource, target_copy)

    def _dry_outcome(self, pending: Pending) -> None:
        # What a real run would link, so the records that depend on it (a customer's invoices) are planned
        # as they would be, not reported "waiting for customer".
        self._dry_planned.setdefault(pending.entity, {})[pending.key] = pending.halo_id or 0
        if pending.halo_id is None:
            message = f"would create in Halo ({BY_NAME[pending.entity].resource})"
        elif pending.message:
            message = f"would be {pending.message} and updated"
        else:
            verb = "deactivate" if pending.outcome == "deactivated" else "update"
            message = f"would {verb} Halo record {pending.halo_id}"
        self._count(pending.entity, pending.outcome)
        self.emit(
            RecordOutcome(pending.entity, pending.key, pending.outcome, message, halo_id=pending.halo_id)
        )

    def flush(self, resources: Sequence[str] | None = None) -> None:
        """Send what is queued (for ``resources`` only: a customer an invoice is about to need), parents
        first; their confirmations queue more (sites, payments): everything, or a few rounds of ``resources``.
        """
        for round_no in itertools.count(1):
            sent = False
            for resource in list(self._batches) if resources is None else resources:
                batches = self._batches.get(resource)
                for queue in (batches.creates, batches.updates) if batches is not None else ():
                    while queue:
                        chunk = queue[: self.batch_size]
                        del queue[: self.batch_size]
                        self._send(resource, chunk)
                        sent = True
            if not sent or (resources is not None and round_no >= FLUSH_ROUNDS):
                return

    # --- applying -----------------------------------------------------------------------------------------

    def _send(self, resource: str, batch: list[Pending], reconcile_round: int = 0) -> None:
        if not batch:
            return
        # A batch sent while a record settles (a full batch of its riders) is not that record's doing:
        # what it confirms settles under its own records (``_confirm``), a failure in it under none.
        outer, self._settling = self._settling, None
        try:
            self._send_batch(resource, batch, reconcile_round)
        finally:
            self._settling = outer

    def _send_batch(self, resource: str, batch: list[Pending], reconcile_round: int) -> None:
        self._check_cancel()
        creating = batch[0].halo_id is None
        try:
            saved = self._save(resource, [p.payload for p in batch], creating)
        except RecordError as exc:
            self._isolate(resource, batch, exc)
            return
        except AuthError as exc:
            if not self._planners[BY_RESOURCE[resource].name].forbidden(exc, batch):
                raise
            return
        except TransientError as exc:
            if creating and exc.maybe_written:
                self._reconcile(resource, batch, reconcile_round, exc)
                return
            raise
        # Halo's answer may hold every record, one, none, or the records in another order: pair by identity.
        unpaired: list[Pending] = []
        confirmed: list[tuple[Pending, dict[str, Any]]] = []
        for pending, record in zip(
            batch, pair_answer(resource, [p.payload for p in batch], saved), strict=True
        ):
            if record is None:
                unpaired.append(pending)
            else:
                confirmed.append((pending, dict(record)))
        self._confirm(confirmed)
        if not unpaired:
            return
        log.info(
            "Halo's answer to saving %d %s records did not show %d of them; looking them up",
            len(batch),
            resource,
            len(unpaired),
        )
        if creating:
            self._reconcile(resource, unpaired, reconcile_round, None)
        else:
            self._check_updates(resource, unpaired)

    def _save(self, resource: str, records: list[dict[str, Any]], creating: bool) -> list[dict[str, Any]]:
        """One POST; a transient failure that provably did not write gets one more try after a pause."""
        try:
            return self.client.save(resource, records)
        except TransientError as exc:
            if creating and exc.maybe_written:
                raise
            delay = min(BACKOFF_MAX, max(BACKOFF_MIN, exc.retry_after or 0.0))
            log.info("Halo is busy (%s); waiting %.0f s before one more try", exc.message, delay)
            self._pause(delay)
            return self.client.save(resource, records)

    def _pause(self, seconds: float) -> None:
        if self._sleep is not None:
            self._sleep(seconds)
        elif self.cancel.wait(seconds):
            self._check_cancel()

    def _confirm(self, confirmed: Sequence[tuple[Pending, dict[str, Any]]]) -> None:
        """Writes Halo confirmed (each with Halo's record of it): their links are saved together, in one
        transaction, before anything follows from any of them (a site, payments, the next batch)."""
        ids: list[int] = []
        for pending, record in confirmed:
            halo_id = answer_id(record)
            if (
                halo_id is None
            ):  # callers pair records by id first; a record without one is a programming error
                raise ValueError(f"a confirmed {pending.entity} record has no Halo id")
            ids.append(halo_id)
        if not self.dry_run:
            self.links.save(
                [
                    LinkWrite(
                        pending.entity,
                        pending.key,
                        halo_id,
                        self._confirmed_hash(pending),
                        record_name(pending.payload),
                        pending.modified,
                    )
                    for (pending, _record), halo_id in zip(confirmed, ids, strict=True)
                ]
            )
        for (pending, record), halo_id in zip(confirmed, ids, strict=True):
            if self.dry_run:  # nothing saved: the claim is held in memory
                self.halo.claim(BY_NAME[pending.entity].resource, halo_id)
            else:  # its link, saved above, says it is claimed
                self.halo.confirmed(BY_NAME[pending.entity].resource, halo_id)
            self._trackers[pending.stream].ok(pending.modified)
            self.solved(pending.entity, pending.key)
            self._count(pending.entity, pending.outcome)
            self.emit(
                RecordOutcome(pending.entity, pending.key, pending.outcome, pending.message, halo_id=halo_id)
            )
            own, parent = pending.rows, pending.rider_of
            if own is not None:
                own.stored = pending.content_hash  # as saved above
            self._settle(pending, halo_id, record, own if own is not None else parent)
            if parent is not None and own is None:
                parent.waiting -= 1
                parent.riders += 1
                self._kept_if_in_step(parent)

    def _confirmed_hash(self, pending: Pending) -> str:
        """The hash a confirmed write's link keeps: with its rows' digest at once when nothing rides with
        it (``rides_alone``), else as planned (the digest follows its riders, ``_kept_if_in_step``)."""
        own = pending.rows
        if own is None or not self._planners[pending.entity].rides_alone(pending.record):
            return pending.content_hash
        own.done = own.kept = True
        return stored_with_rows(pending.content_hash, own.digest, 0, own.modified)

    def _reconcile(
        self, resource: str, batch: list[Pending], round_no: int, cause: TransientError | None
    ) -> None:
        """Creates that may have landed (``cause``) or did land (None: Halo accepted them, its answer did not
        show them): link what Halo now holds under our keys. Only a create that provably did not land is sent
        again; an accepted one that Halo cannot show is a problem, never a second create.
        """
        if cause is not None and round_no >= RECONCILE_ROUNDS:
            raise TransientError(
                f"Creating {resource} records kept failing in a way that may have written them "
                f"({cause.message}).",
                action="They are checked by accounts ID and sent again on the next sync.",
                detail=cause.detail,
            )
        log.info(
            "Checking which of %d %s creates reached Halo (%s)",
            len(batch),
            resource,
            cause.message if cause is not None else "accepted, not shown in the answer",
        )
        stats = self.client.stats
        requests_before, retries_before = stats.total(), sum(stats.retries.values())
        lookups_before = sum(stats.lookups.values())
        index = self.halo.add_newer(resource)
        extra = (stats.total() - requests_before) - (sum(stats.retries.values()) - retries_before)
        if cause is not None:
            # The look-up is a retry a fault caused: report it (less the client's own retries inside it).
            stats.add_retries("reconcile look-up", extra - (sum(stats.lookups.values()) - lookups_before))
        else:
            stats.add_lookup("save answer without the record", extra)
        missing: list[Pending] = []
        landed: list[tuple[Pending, dict[str, Any]]] = []
        for pending in batch:
            found = index.by_key(pending.key)
            found_id = answer_id(found) if found is not None else None
            if (
                found is not None
                and found_id is not None
                and agrees(resource, pending.payload, found) is not False
            ):
                landed.append((pending, found))
            else:
                missing.append(pending)
        self._confirm(landed)
        if not missing:
            return
        if cause is None:
            for pending in missing:
                self.fail(
                    pending.entity,
                    pending.key,
                    f"Halo accepted {_label(resource)} {pending.key}, but neither its "
                    "answer nor its list shows the record.",
                    "Check in Halo that it exists and that the API agent can see it (its teams and "
                    "departments). LedgerBridge looks it up by accounts ID on the next sync before "
                    "creating anything.",
                    pending.modified,
                    pending.stream,
                )
            return
        stats.add_retries("resend after check")
        self._send(resource, missing, round_no + 1)

    def _check_updates(self, resource: str, batch: list[Pending]) -> None:
        """Updates Halo accepted without showing them: read each by id; link only what is provably ours."""
        for pending in batch:
            assert pending.halo_id is not None
            record = self.client.get_record(resource, pending.halo_id)
            self.client.stats.add_lookup("save answer checked by id")
            if record is None:
                self._linked_record_gone(resource, pending)
            elif answer_id(record) != pending.halo_id or agrees(resource, pending.payload, record) is False:
                self.fail(
                    pending.entity,
                    pending.key,
                    f"Halo saved {_label(resource)} {pending.key} into record "
                    f"{pending.halo_id}, but that record now names another record in the books.",
                    f"Check Halo record {pending.halo_id} and its accounts ID; it is checked again on the "
                    "next sync.",
                    pending.modified,
                    pending.stream,
                )
            else:
                self._confirm([(pending, record)])

    def _isolate(self, resource: str, batch: list[Pending], exc: RecordError) -> None:
        """Halo refused the batch: find the bad record(s) (record_index, else bisect); the rest goes on."""
        if len(batch) == 1:
            self._refused(resource, batch[0], exc)
            return
        index = getattr(exc, "record_index", None)
        if isinstance(index, int) and not isinstance(index, bool) and 0 <= index < len(batch):
            self._refused(resource, batch[index], exc)
            self._send(resource, batch[:index] + batch[index + 1 :])
            return
        middle = len(batch) // 2
        self._send(resource, batch[:middle])
        self._send(resource, batch[middle:])

    def _refused(self, resource: str, pending: Pending, exc: RecordError) -> None:
        if (
            pending.linked
            and pending.halo_id is not None
            and self.client.get_record(resource, pending.halo_id) is None
        ):
            self._linked_record_gone(resource, pending)
            return
        message = f"Halo refused {_label(resource)} {pending.key}: {exc.message}"
        self.fail(
            pending.entity, pending.key, message, exc.action or FIX_IN_BOOKS, pending.modified, pending.stream
        )

    def _linked_record_gone(self, resource: str, pending: Pending) -> None:
        """The Halo record a link points at is gone: relink to one carrying our key, else say so.

        Never a silent re-create: the record may have been deleted in Halo on purpose (or be hidden from the
        API agent), and creating it again would undo that or double it.
        """
        log.info("Halo no longer has %s %s (key %s)", resource, pending.halo_id, pending.key)
        found = self.halo.match_by_key(resource, pending.key) if pending.linked else None
        if pending.linked and found is not None:
            self.links.drop(pending.entity, pending.key)
            pending.linked = False
            self._replan(pending)
            return
        label = _label(resource)
        self.fail(
            pending.entity,
            pending.key,
            f"{label[0].upper()}{label[1:]} {pending.key} was deleted in Halo (record {pending.halo_id} is "
            "gone): relink or re-create.",
            f"To relink, give the Halo record that should hold it the accounts ID {pending.key}; to "
            f"re-create it, add it in Halo with the accounts ID {pending.key}. Either way the next sync "
            "links it by that ID and brings it up to date.",
            pending.modified,
            pending.stream,
        )

    def _replan(self, pending: Pending) -> None:
        """Plan a record again without its link (the linked Halo record is gone; another carries its key)."""
        spec = BY_NAME[pending.entity]
        try:
            self.plan(
                spec,
                pending.record,
                pending.planned,
                stream=pending.stream,
                modified=pending.modified,
                create_extra=pending.create_extra,
                outcome=pending.outcome,
                step=pending.step,
                use_link=False,
                known=self._planners[spec.name].match(pending.record),
            )
        except PlanProblem as problem:
            self.fail(
                pending.entity, pending.key, problem.message, problem.action, pending.modified, pending.stream
            )


def _pages(records: Iterable[Any], size: int) -> Iterator[list[Any]]:
    """``records`` in lists of ``size`` (the last one shorter), read lazily: one page in memory at a time."""
    iterator = iter(records)
    while page := list(itertools.islice(iterator, size)):
        yield page
        del page  # the caller is done with it: let it go before the next one is read


def _label(resource: str) -> str:
    """ "the customer", "the site of customer": how messages name one record of ``resource``."""
    return halo_resource(resource).singular or resource

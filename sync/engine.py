"""The sync engine: plan -> apply per entity, books -> Halo, never twice.

Why this shape: each entity (tax_rates -> customers (+ main Site) -> items -> invoices (+ payments)) is read
page by page from the connector; each record becomes a Halo payload and a content hash and is planned as
unchanged (same hash as the link: no write), update (linked, or matched to an existing Halo record), create,
deactivate, skipped or a problem. Writes go out in batches (creates and updates apart) and every confirmed
write is saved as a link AT ONCE, so a crash loses nothing confirmed. A create that may have reached Halo is
never blindly resent: the engine re-reads Halo by accounts key, links what landed and re-creates only what
provably did not. A record Halo refuses is isolated by bisecting its batch and becomes a problem while the
rest goes on. The Halo index of a resource is read lazily, only when an unlinked record needs matching, so a
resync of linked records costs no index reads.

Events: RecordOutcome for every created/updated/deactivated/skipped/failed record; unchanged records are
only counted (a resync of 50,000 unchanged invoices would otherwise flood the listener). Progress is
throttled to at most ~10 per second per entity.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from connectors.base import Connector
from core.errors import AuthError, CancelledError, ConfigError, LedgerBridgeError, RecordError, TransientError
from core.records import (
    ENTITY_ORDER,
    Customer,
    Invoice,
    Item,
    Record,
    SourceProblem,
    TaxRate,
    fall_back_widening,
    utc,
)
from halo import payloads
from sync.answers import agrees, pair_answer
from sync.answers import halo_id as answer_id
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
from sync.matching import HaloIndex, tax_matches
from sync.settings import Settings
from sync.state import StateStore, record_name

log = logging.getLogger("ledgerbridge.sync")

RESOURCE = {
    "tax_rates": "Tax",
    "customers": "Client",
    "sites": "Site",
    "items": "Item",
    "invoices": "Invoice",
    "payments": "InvoicePayment",
}
INDEX_KEY_FIELD = {
    "Tax": "third_party_id",
    "Client": "accountsid",
    "Item": "accountsid",
    "Invoice": "accountsid",
    "InvoicePayment": "thirdpartyid",
}
INDEX_NAME_FIELD = {"Invoice": "thirdpartyinvoicenumber", "InvoicePayment": "thirdpartyid"}
INDEX_PARAMS: dict[str, dict[str, str]] = {"Client": {"includeinactive": "true"}}
# Lists Halo can order (its OpenAPI gives `order`/`orderdesc` on these): a reconcile reads them newest first.
NEWEST_FIRST: dict[str, str] = {"order": "id", "orderdesc": "true"}
ORDERABLE = frozenset({"Client", "Site", "Item", "Invoice", "InvoicePayment"})
ENTITY_OF = {resource: entity for entity, resource in RESOURCE.items()}
RESOURCE_WORDS_PLURAL = {
    "Tax": "taxes",
    "Client": "customers",
    "Site": "sites",
    "Item": "items",
    "Invoice": "invoices",
    "InvoicePayment": "invoice payments",
}
DETAILS = {
    "includedetails": "true"
}  # GET /{resource}/{id}: the full record (Halo's OpenAPI offers it on each)
VISIBILITY_SAMPLE = 8  # linked ids looked for in a freshly read list
STREAMS = ("tax_rates", "customers", "items", "invoices")  # payments ride with invoices, sites with customers
PROGRESS_INTERVAL = 0.1  # seconds: at most ~10 Progress events per second
CANCEL_CHECK_EVERY = 200  # records read between cancel checks (besides the check before every batch)
RECONCILE_ROUNDS = 3
KEPT = "Everything confirmed so far is kept; the rest is sent on the next sync."
BACKOFF_MIN = 2.0
BACKOFF_MAX = 30.0
TAX_ADMIN_MESSAGE = (
    "Halo refused LedgerBridge access to its taxes: the first tax import needs admin rights on the API "
    "application (Halo's Accounts Integrator setup guide says so)."
)
TAX_ADMIN_ACTION = (
    "In Halo, tick Admin on the API application's Permissions tab (Configuration > Integrations > Halo API), "
    "or map each tax code in Mappings > Tax codes; taxes already linked or mapped are used meanwhile."
)
CARRY_LIMIT = 5000  # invoices held back in memory while their inactive customer is looked up
FIX_IN_BOOKS = (
    "Correct the record in the accounting package (or the Halo record it matches); "
    "it is sent again on the next sync."
)


class HaloWriter(Protocol):
    """What the engine needs from halo.client.HaloClient (kept narrow so the engine reads clearly)."""

    def iter_records(
        self, resource: str, params: dict | None = None, *, page_size: int | None = None
    ) -> Iterable[dict]: ...

    def get_record(self, resource: str, record_id: int, params: dict | None = None) -> dict | None: ...

    def save(self, resource: str, records: Sequence[dict]) -> list[dict]: ...


class PlanProblem(Exception):
    """A record that cannot be planned (unmapped tax, waiting for its customer, ambiguous name)."""

    def __init__(self, message: str, action: str) -> None:
        super().__init__(message)
        self.message = message
        self.action = action


@dataclass
class Pending:
    """One planned write waiting in a batch."""

    entity: str  # link entity: tax_rates, customers, sites, items, invoices, payments
    key: str
    payload: dict[str, Any]
    content_hash: str
    halo_id: int | None  # None: a create
    outcome: Outcome
    stream: str  # whose cursor this record holds back when it fails
    modified: datetime | None
    message: str = ""
    on_confirmed: Callable[[int, dict], None] | None = None
    replan: Callable[[], None] | None = None  # plan again without the link (the linked Halo record is gone)


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
        moment = utc(modified)
        if moment is not None and (self.latest_ok is None or moment > self.latest_ok):
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
        self._problems = {(p.entity, p.key): p.message for p in state.problems()}
        self._indexes: dict[str, HaloIndex] = {}
        self._claimed: dict[str, set[int]] = {}  # Halo ids linked in this run, per resource
        self._batches: dict[str, Batches] = {}
        self._trackers: dict[str, CursorTracker] = {}
        self._tax_ids: dict[str, int | None] = {}
        self._tax_failures: dict[str, PlanProblem] = {}
        self._tax_refusal: PlanProblem | None = None  # Halo refused /Tax (403) this run
        self._held_customers: dict[str, Customer] = {}  # inactive/deleted in the books, not in Halo
        self._carried: set[str] = set()  # inactive customers created in Halo this run for their invoices
        self._deferred_invoices: list[Invoice] = []  # waiting for a customer the run has not read
        self._customers_looked_up = False
        self._missing_customers: set[str] = set()  # invoices' customer keys the books do not hold
        self._wanted: frozenset[str] = frozenset()
        self._source_taxes: dict[str, TaxRate] | None = None
        self._details: dict[tuple[str, int], dict | None] = {}  # partial list rows read in full (None: gone)
        self._halo_keys: dict[str, dict[int, str]] = {}  # Halo id -> linked source key, per resource
        self._main_sites: dict[int, int] = {}  # Halo client id -> main site id, from Halo's answers
        self._dry_planned: dict[str, dict[str, int]] = {}  # a dry run's would-be links: key -> id (0: new)
        self._skip_reasons: dict[tuple[str, str], str] = {}  # why a record was not sent (for waiting records)
        self._progress_done = 0
        self._progress_at = 0.0
        self.started = datetime.now(UTC)
        self._future: dict[str, datetime] = {}  # key -> modified, for records dated after the run began

    # --- running ------------------------------------------------------------------------------------------

    def run(self, entities: Sequence[str]) -> None:
        self.started = datetime.now(UTC)
        wanted = set(entities)
        if "payments" in wanted:
            wanted.add("invoices")
        self._wanted = frozenset(wanted)
        try:
            for entity in (e for e in ENTITY_ORDER if e in wanted and e in STREAMS):
                self._check_cancel()
                self._emit(EntityStarted(entity))
                self._run_stream(entity)
        finally:
            self._log_lookups()

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

    def _run_stream(self, entity: str) -> None:
        tracker = self._trackers.setdefault(entity, CursorTracker())
        offered = {spec.name: spec for spec in self.connector.streams()}
        if entity not in offered:
            self._emit(
                LogMessage("warning", f"{self.connector.display_name} has no {entity.replace('_', ' ')}.")
            )
            return
        stored_cursor = self.state.cursor(entity)
        old_cursor = utc(stored_cursor)
        if old_cursor is not None and old_cursor > self._ceiling():
            # Saved later than this run's start: this PC's clock was ahead and has been put right (or an
            # older version followed a future-dated record). Edits since the correction carry earlier dates
            # than that position, so everything is read once more; unchanged records cost no write.
            self._emit(
                LogMessage(
                    "warning",
                    f"The saved position for {entity.replace('_', ' ')} ({old_cursor:%Y-%m-%d %H:%M} UTC) is "
                    "later than this PC's clock: the clock was probably ahead and has been corrected. "
                    "Everything is read once more so no change is missed.",
                )
            )
            old_cursor = None
        since = self._since(old_cursor, offered[entity].replication_key)
        self._progress_done = 0
        self._progress_at = 0.0
        self._future.clear()
        ended_well = False  # the stream's own failure wins over a failure to save its cursor
        planner = {
            "tax_rates": self._plan_tax_rate,
            "customers": self._plan_customer,
            "items": self._plan_item,
            "invoices": self._plan_invoice,
        }[entity]
        try:
            if entity != "tax_rates":
                self._source_tax_rates()  # tiny; read up front so no read is nested inside another stream
            for count, record in enumerate(self.connector.read(entity, since), start=1):
                if count % CANCEL_CHECK_EVERY == 0:
                    self._check_cancel()
                if isinstance(record, SourceProblem):
                    self._source_problem(entity, record)
                else:
                    self._note_future(record)
                    self._plan_guarded(entity, record, planner)
                self._progress(entity)
            self._flush_all(entity)
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
            # However the stream ended (an AuthError, a second Ctrl-C, a bug), an unfinished stream keeps its
            # cursor: `completed` is only set once everything read was sent and settled.
            self._emit(Progress(entity, self._progress_done, self._progress_done))
            if not self.dry_run:
                new_cursor = tracker.next_cursor(old_cursor, self._ceiling())
                if new_cursor != utc(stored_cursor):
                    try:
                        self.state.save_cursor(entity, new_cursor)
                    except LedgerBridgeError:
                        if ended_well:
                            raise
                        log.warning("The %s cursor could not be saved", entity, exc_info=True)

    def _note_future(self, record: Record) -> None:
        """Remember a record dated after this run began (beyond the look-back's allowance for clock skew)."""
        modified = utc(getattr(record, "modified", None))
        if modified is not None and modified > self.started + self._lookback():
            self._future[record.key] = modified

    def _report_future(self, entity: str) -> None:
        """Say which records carry a date in the future: they are read again on every sync until it passes."""
        if not self._future:
            return
        label = entity.replace("_", " ")
        newest = max(self._future.values())
        sample = ", ".join(sorted(self._future)[:5])
        self._emit(
            LogMessage(
                "warning",
                f"{len(self._future)} {label} carry a modified date in the future (up to "
                f"{newest:%Y-%m-%d %H:%M} UTC; e.g. {sample}). They are read again on every sync until that "
                "date has passed. Check the date and time of the PC that runs the accounting package.",
            )
        )
        for key, modified in self._future.items():
            if (entity, key) in self._problems or self.dry_run:
                continue  # a real problem of its own says more; a dry run writes nothing
            self.state.record_problem(
                entity,
                key,
                f"Its modified date in the books ({modified:%Y-%m-%d %H:%M} UTC) is in the future; it was "
                "synced, and it is read again on every sync until that date has passed.",
                "Check the date and time of the PC that runs the accounting package, and the record's date.",
                modified,
            )

    def _plan_guarded(self, entity: str, record: Record, planner: Callable[[Any], None]) -> None:
        try:
            planner(record)
        except PlanProblem as problem:
            modified = getattr(record, "modified", None)
            self._fail(entity, record.key, problem.message, problem.action, modified, entity)

    # --- events and bookkeeping ---------------------------------------------------------------------------

    def _emit(self, event: Event) -> None:
        if self.listener is not None:
            self.listener(event)

    def _progress(self, entity: str) -> None:
        self._progress_done += 1
        now = time.monotonic()
        if now - self._progress_at >= PROGRESS_INTERVAL:
            self._progress_at = now
            self._emit(Progress(entity, self._progress_done, None))

    def _check_cancel(self) -> None:
        if self.cancel.is_set():
            raise CancelledError("The sync was cancelled.", action="Everything confirmed so far is kept.")

    def _count(self, entity: str, outcome: Outcome) -> None:
        self.summary.add(entity, outcome)

    def _solved(self, entity: str, key: str) -> None:
        if (entity, key) in self._problems:
            del self._problems[(entity, key)]
            if not self.dry_run:
                self.state.clear_problem(entity, key)

    def _unchanged(self, entity: str, key: str, stream: str, modified: datetime | None) -> None:
        self._count(entity, "unchanged")
        self._trackers[stream].ok(modified)
        self._solved(entity, key)

    def _skipped(self, entity: str, key: str, message: str, stream: str, modified: datetime | None) -> None:
        self._skip_reasons[(entity, key)] = message
        log.info("Skipped %s %s: %s", entity, key, message)
        self._count(entity, "skipped")
        self._trackers[stream].ok(modified)
        self._solved(entity, key)
        self._emit(RecordOutcome(entity, key, "skipped", message))

    def _fail(
        self, entity: str, key: str, message: str, action: str, modified: datetime | None, stream: str
    ) -> None:
        log.warning("Problem with %s %s: %s %s", entity, key, message, action)
        self._count(entity, "failed")
        self._trackers[stream].failed(modified)
        self._problems[(entity, key)] = message
        if not self.dry_run:
            self.state.record_problem(entity, key, message, action, modified)
        self._emit(RecordOutcome(entity, key, "failed", message, action))

    def _source_problem(self, entity: str, problem: SourceProblem) -> None:
        self._fail(entity, problem.key, problem.message, problem.action, problem.modified, entity)

    # --- planning: the shared matching/link logic ---------------------------------------------------------

    def _halo_id_of(self, entity: str, key: str) -> int | None:
        """The linked Halo id; in a dry run a record planned for creation counts as there (id 0)."""
        link = self.state.link(entity, key)
        if link is not None:
            return link.halo_id
        if self.dry_run:
            return self._dry_planned.get(entity, {}).get(key)
        return None

    def _plan(
        self,
        entity: str,
        key: str,
        payload: dict[str, Any],
        *,
        stream: str,
        modified: datetime | None,
        match: Callable[[], int | None] | None,
        create_extra: dict[str, Any] | None = None,
        outcome: Outcome = "updated",
        on_confirmed: Callable[[int, dict], None] | None = None,
        use_link: bool = True,
    ) -> None:
        """Decide unchanged / update / link-to-existing / create for one record and queue the write."""
        content_hash = payloads.content_hash(payload)
        link = self.state.link(entity, key) if use_link else None
        message = ""
        if link is not None:
            if link.content_hash == content_hash:
                self._unchanged(entity, key, stream, modified)
                if on_confirmed is not None:
                    on_confirmed(link.halo_id, {})
                return
            halo_id: int | None = link.halo_id
        else:
            halo_id = match() if match is not None else None
            if halo_id is not None:
                message = f"linked to the existing Halo record {halo_id}"
                self._claimed.setdefault(RESOURCE[entity], set()).add(halo_id)
        if halo_id is None:
            body = {**payload, **(create_extra or {})}
            pending = Pending(
                entity, key, body, content_hash, None, "created", stream, modified, "", on_confirmed
            )
        else:
            body = {"id": halo_id, **payload}
            pending = Pending(entity, key, body, content_hash, halo_id, outcome, stream, modified, message)
            pending.on_confirmed = on_confirmed
            if link is not None:

                def replan() -> None:
                    self._plan(
                        entity,
                        key,
                        payload,
                        stream=stream,
                        modified=modified,
                        match=match,
                        create_extra=create_extra,
                        outcome=outcome,
                        on_confirmed=on_confirmed,
                        use_link=False,
                    )

                pending.replan = replan
        self._queue(pending)

    def _queue(self, pending: Pending) -> None:
        if self.dry_run:
            self._dry_outcome(pending)
            return
        batches = self._batches.setdefault(RESOURCE[pending.entity], Batches())
        target = batches.creates if pending.halo_id is None else batches.updates
        target.append(pending)
        if len(target) >= self.batch_size:
            target_copy = list(target)
            target.clear()
            self._send(RESOURCE[pending.entity], target_copy)

    def _dry_outcome(self, pending: Pending) -> None:
        # What a real run would link, so the records that depend on it (a customer's invoices) are planned
        # as they would be, not reported "waiting for customer".
        self._dry_planned.setdefault(pending.entity, {})[pending.key] = pending.halo_id or 0
        if pending.halo_id is None:
            message = f"would create in Halo ({RESOURCE[pending.entity]})"
        elif pending.message:
            message = f"would be {pending.message} and updated"
        else:
            verb = "deactivate" if pending.outcome == "deactivated" else "update"
            message = f"would {verb} Halo record {pending.halo_id}"
        self._count(pending.entity, pending.outcome)
        self._emit(
            RecordOutcome(pending.entity, pending.key, pending.outcome, message, halo_id=pending.halo_id)
        )

    def _flush_all(self, stream: str) -> None:
        """Send what is queued, parents first (their confirmations queue sites/payments), until empty."""
        if stream == "invoices" and self._deferred_invoices:
            self._plan_deferred_invoices()
        while True:
            sent = False
            for resource, batches in list(self._batches.items()):
                for queue in (batches.creates, batches.updates):
                    while queue:
                        chunk = queue[: self.batch_size]
                        del queue[: self.batch_size]
                        self._send(resource, chunk)
                        sent = True
            if not sent:
                return

    # --- applying -----------------------------------------------------------------------------------------

    def _send(self, resource: str, batch: list[Pending], reconcile_round: int = 0) -> None:
        if not batch:
            return
        self._check_cancel()
        creating = batch[0].halo_id is None
        try:
            saved = self._save(resource, [p.payload for p in batch], creating)
        except RecordError as exc:
            self._isolate(resource, batch, exc)
            return
        except AuthError as exc:
            if resource != "Tax":
                raise
            # Saving taxes needs admin rights in Halo; the rest of the run goes on without them.
            if self._tax_refusal is None:
                self._tax_refused(exc)
            for pending in batch:
                self._fail(
                    pending.entity,
                    pending.key,
                    TAX_ADMIN_MESSAGE,
                    TAX_ADMIN_ACTION,
                    pending.modified,
                    pending.stream,
                )
            return
        except TransientError as exc:
            if creating and exc.maybe_written:
                self._reconcile(resource, batch, reconcile_round, exc)
                return
            raise
        # Halo's answer may hold every record, one, none, or the records in another order: pair by identity.
        unpaired: list[Pending] = []
        for pending, record in zip(
            batch, pair_answer(resource, [p.payload for p in batch], saved), strict=True
        ):
            if record is None:
                unpaired.append(pending)
            else:
                self._confirmed(pending, dict(record))
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

    def _save(self, resource: str, records: list[dict], creating: bool) -> list[dict]:
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

    def _confirmed(self, pending: Pending, record: dict) -> None:
        halo_id = answer_id(record)
        if halo_id is None:  # callers pair records by id first; a record without one is a programming error
            raise ValueError(f"a confirmed {pending.entity} record has no Halo id")
        if not self.dry_run:
            self.state.save_link(
                pending.entity,
                pending.key,
                halo_id,
                pending.content_hash,
                name=record_name(pending.payload),
                source_modified=pending.modified,
            )
        self._claimed.setdefault(RESOURCE[pending.entity], set()).add(halo_id)
        self._trackers[pending.stream].ok(pending.modified)
        self._solved(pending.entity, pending.key)
        self._count(pending.entity, pending.outcome)
        self._emit(
            RecordOutcome(pending.entity, pending.key, pending.outcome, pending.message, halo_id=halo_id)
        )
        if pending.on_confirmed is not None:
            pending.on_confirmed(halo_id, record)

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
        index = self._add_newer(resource)
        extra = (stats.total() - requests_before) - (sum(stats.retries.values()) - retries_before)
        if cause is not None:
            # The look-up is a retry a fault caused: report it (less the client's own retries inside it).
            stats.add_retries("reconcile look-up", extra - (sum(stats.lookups.values()) - lookups_before))
        else:
            stats.add_lookup("save answer without the record", extra)
        missing: list[Pending] = []
        for pending in batch:
            found = index.by_key(pending.key)
            found_id = answer_id(found) if found is not None else None
            if (
                found is not None
                and found_id is not None
                and agrees(resource, pending.payload, found) is not False
            ):
                if resource == "Client" and found.get("main_site_id"):
                    self._main_sites[found_id] = int(found["main_site_id"])
                self._confirmed(pending, found)
            else:
                missing.append(pending)
        if not missing:
            return
        if cause is None:
            for pending in missing:
                self._fail(
                    pending.entity,
                    pending.key,
                    f"Halo accepted {RESOURCE_LABEL.get(resource, resource)} {pending.key}, but neither its "
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
                self._fail(
                    pending.entity,
                    pending.key,
                    f"Halo saved {RESOURCE_LABEL.get(resource, resource)} {pending.key} into record "
                    f"{pending.halo_id}, but that record now names another record in the books.",
                    f"Check Halo record {pending.halo_id} and its accounts ID; it is checked again on the "
                    "next sync.",
                    pending.modified,
                    pending.stream,
                )
            else:
                self._confirmed(pending, record)

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
        linked = pending.replan is not None and pending.halo_id is not None
        if linked and self.client.get_record(resource, pending.halo_id) is None:
            self._linked_record_gone(resource, pending)
            return
        message = f"Halo refused {RESOURCE_LABEL.get(resource, resource)} {pending.key}: {exc.message}"
        self._fail(
            pending.entity, pending.key, message, exc.action or FIX_IN_BOOKS, pending.modified, pending.stream
        )

    def _linked_record_gone(self, resource: str, pending: Pending) -> None:
        """The Halo record a link points at is gone: relink to one carrying our key, else say so.

        Never a silent re-create: the record may have been deleted in Halo on purpose (or be hidden from the
        API agent), and creating it again would undo that or double it.
        """
        log.info("Halo no longer has %s %s (key %s)", resource, pending.halo_id, pending.key)
        replan = pending.replan
        found = self._match_by_key(resource, pending.key) if replan is not None else None
        if replan is not None and found is not None:
            self.state.drop_link(pending.entity, pending.key)
            pending.replan = None
            try:
                replan()
            except PlanProblem as problem:
                self._fail(
                    pending.entity,
                    pending.key,
                    problem.message,
                    problem.action,
                    pending.modified,
                    pending.stream,
                )
            return
        label = RESOURCE_LABEL.get(resource, resource)
        self._fail(
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

    # --- the Halo side's index (lazy) -----------------------------------------------------------------------

    def _load_index(self, resource: str) -> HaloIndex:
        index = HaloIndex(
            name_field=INDEX_NAME_FIELD.get(resource, "name"),
            key_field=INDEX_KEY_FIELD.get(resource, "accountsid"),
        )
        for row in self.client.iter_records(resource, dict(INDEX_PARAMS.get(resource, {}))):
            record = self._complete(resource, row)
            if record is not None:  # None: a partial row of a record gone before it could be read in full
                index.add(record)
        self._check_visibility(resource, index)
        self._indexes[resource] = index
        return index

    def _complete(self, resource: str, row: dict) -> dict | None:
        """A list row with the fields matching needs; a partial row is re-read by id (counted, cached).

        Why: Halo's list rows are partial objects (public clients re-read each record by id for the full
        one) and which fields they keep is not documented. A row that lacks the key field entirely, rather
        than carrying it empty, cannot be matched or ruled out, so it is read in full once, unless it is a
        record LedgerBridge links already: its key is then the link's (links win over matching anyway).
        """
        key_field = INDEX_KEY_FIELD.get(resource, "accountsid")
        needed = (key_field, INDEX_NAME_FIELD.get(resource, "name"))
        row_id = answer_id(row)
        if row_id is None or all(name in row for name in needed):
            return row
        linked_key = self._linked_keys(resource).get(row_id)
        if linked_key is not None and key_field not in row and needed[1] in row:
            return {**row, key_field: linked_key}
        if (resource, row_id) not in self._details:
            full = self.client.get_record(resource, row_id, DETAILS)
            self.client.stats.add_lookup(f"{resource} list row without {needed[0]}")
            self._details[(resource, row_id)] = {**row, **full} if full is not None else None
        return self._details[(resource, row_id)]

    def _linked_keys(self, resource: str) -> dict[int, str]:
        """Halo id -> source key of this resource's links (read once per run)."""
        known = self._halo_keys.get(resource)
        if known is None:
            entity = ENTITY_OF.get(resource)
            links = self.state.links(entity) if entity is not None else {}
            known = self._halo_keys[resource] = {link.halo_id: key for key, link in links.items()}
        return known

    def _check_visibility(self, resource: str, index: HaloIndex) -> None:
        """Stop before creating anything if Halo cannot show us what we linked before.

        Why: an API agent that cannot see a team's records gets empty or thinned lists, which would read as
        "not in Halo yet" and create every record again. A sample of linked ids is looked for in the list;
        those missing are read by id. An empty list while links exist, or a quarter of the sample missing,
        stops the run with what to check. Linked records the list leaves out only because they are inactive
        (a Halo that ignores ``includeinactive``) are added to the index instead, so they still match.
        """
        entity = ENTITY_OF.get(resource)
        links = self.state.links(entity) if entity is not None else {}
        if not links:
            return
        linked_ids = sorted({link.halo_id for link in links.values()})
        step = max(1, len(linked_ids) // VISIBILITY_SAMPLE)
        sample = linked_ids[::step][:VISIBILITY_SAMPLE]
        listed = {answer_id(record) for record in index.records()}
        missing = [halo_id for halo_id in sample if halo_id not in listed]
        if not missing and len(index):
            return
        readable: list[dict] = []
        for halo_id in missing:
            record = self.client.get_record(resource, halo_id)
            self.client.stats.add_lookup("visibility check")
            if record is not None:
                readable.append(record)
        if readable and all(record.get("inactive") for record in readable) and len(index):
            log.warning(
                "Halo's %s list leaves out inactive records even when asked for them (includeinactive "
                "ignored): linked ones are still updated by id, but an unlinked record whose Halo twin is "
                "inactive cannot be found by its key",
                resource,
            )
            for record in readable:
                index.add(record)  # read by id: a full record
            return
        if len(index) and not readable and len(missing) <= max(1, len(sample) // 4):
            return  # a few linked records deleted in Halo: each becomes its own problem when next sent
        for tracker in self._trackers.values():
            tracker.interrupted = True
        self.interrupted = True
        noun = RESOURCE_WORDS_PLURAL.get(resource, resource)
        shown = "no" if not len(index) else f"only {len(index)}"
        raise ConfigError(
            f"Halo shows {shown} {noun} to LedgerBridge, but {len(links)} are linked from earlier syncs "
            f"({len(missing)} of {len(sample)} sampled links are missing from Halo's list). Nothing was "
            f"created, so nothing is doubled.",
            action=(
                "In Halo, check that the API application's agent can see them: its teams and departments, "
                "the 'All Standard' permissions on the application's Permissions tab, and the application's "
                "Login Type (Agent, with the right agent chosen). Then sync again."
            ),
            detail=f"{resource}: sampled linked ids {sample}, missing from the list {missing}, "
            f"readable by id {[answer_id(r) for r in readable]}",
        )

    def _add_newer(self, resource: str) -> HaloIndex:
        """Add to the index what Halo holds beyond it: only those records can be creates that landed.

        Why: re-reading a whole resource after every create that may have landed costs a page per
        ``page_size`` records of Halo (500 GETs for 50,000 invoices) per failed batch. Newest first, the
        reading stops at the first record the index already covers, once the server is seen to honour the
        order; a server that ignores it is read to the end, so a landed create is never missed.
        """
        index = self._indexes.get(resource)
        if index is None or resource not in ORDERABLE:
            return self._load_index(resource)
        known = max((answer_id(record) or 0 for record in index.records()), default=0)
        honoured: bool | None = (
            None  # whether the server sorts newest first: known from the first two records
        )
        previous: int | None = None
        for record in self.client.iter_records(resource, {**INDEX_PARAMS.get(resource, {}), **NEWEST_FIRST}):
            record_id = answer_id(record) or 0
            if honoured is None and previous is not None:
                honoured = record_id < previous
            previous = record_id
            if record_id > known:
                completed = self._complete(resource, record)
                if completed is not None:
                    index.add(completed)
            elif honoured:
                break
        return index

    def _index(self, resource: str) -> HaloIndex:
        index = self._indexes.get(resource)
        return index if index is not None else self._load_index(resource)

    def _free(self, resource: str, records: Iterable[dict]) -> list[dict]:
        claimed = self._claimed.get(resource, set())
        return [r for r in records if r.get("id") and int(r["id"]) not in claimed]

    def _match_by_key(self, resource: str, key: str) -> dict | None:
        found = self._index(resource).by_key(key)
        if (
            found is not None
            and found.get("id")
            and int(found["id"]) not in self._claimed.get(resource, set())
        ):
            return found
        return None

    # --- tax codes ------------------------------------------------------------------------------------------

    def _tax_id(self, tax_key: str) -> int | None:
        """The Halo tax for a source tax code: user mapping, then link, then a unique code+rate match."""
        if not tax_key:
            return None
        if tax_key in self._tax_ids:
            return self._tax_ids[tax_key]
        if tax_key in self._tax_failures:
            raise self._tax_failures[tax_key]
        halo_id = self.state.mapping("tax", tax_key)
        if halo_id is None:
            halo_id = self._halo_id_of("tax_rates", tax_key)
        if halo_id is None:
            source = self._source_tax_rates().get(tax_key)
            if source is not None:
                found = tax_matches(source.code, source.rate, self._halo_tax_list())
                if len(found) == 1 and found[0].get("id"):
                    halo_id = int(found[0]["id"])
        if halo_id is None:
            code = self._source_tax_rates().get(tax_key)
            if code is None:  # not in the books' tax table: it can be neither synced nor mapped
                problem = PlanProblem(
                    f"Tax code {tax_key} is not one of the tax codes in the books.",
                    f"Correct this record's tax code in the accounting package (or add {tax_key} to its "
                    "tax codes there); the next sync picks it up.",
                )
            elif self._tax_refusal is not None:
                problem = PlanProblem(
                    f"Tax code {code.code} is not mapped to a Halo tax, and Halo refused LedgerBridge access "
                    "to its taxes (the first tax import needs admin rights on the API application).",
                    TAX_ADMIN_ACTION,
                )
            else:
                problem = PlanProblem(
                    f"Tax code {code.code} is not mapped to a Halo tax.",
                    "Map it in Mappings > Tax codes, or include tax rates in the sync (Settings > Sync).",
                )
            self._tax_failures[tax_key] = problem
            raise problem
        self._tax_ids[tax_key] = halo_id
        return halo_id

    def _source_tax_rates(self) -> dict[str, TaxRate]:
        if self._source_taxes is None:
            offered = {spec.name for spec in self.connector.streams()}
            rates = self.connector.read("tax_rates") if "tax_rates" in offered else ()
            self._source_taxes = {r.key: r for r in rates if isinstance(r, TaxRate)}
        return self._source_taxes

    def _halo_tax_list(self) -> list[dict]:
        return self._tax_index().records()

    def _tax_index(self) -> HaloIndex:
        """Halo's taxes; a refused read (403: admin rights) leaves an empty index, said once per run."""
        if self._tax_refusal is None and "Tax" not in self._indexes:
            try:
                return self._index("Tax")
            except AuthError as exc:
                self._tax_refused(exc)
        return self._indexes.get("Tax") or self._empty_tax_index()

    def _empty_tax_index(self) -> HaloIndex:
        index = HaloIndex(name_field="name", key_field=INDEX_KEY_FIELD["Tax"])
        self._indexes["Tax"] = index
        return index

    def _tax_refused(self, exc: AuthError) -> None:
        """Halo refused /Tax: the first tax import needs admin rights; the run goes on with known mappings."""
        self._tax_refusal = PlanProblem(TAX_ADMIN_MESSAGE, TAX_ADMIN_ACTION)
        log.warning("%s (%s)", TAX_ADMIN_MESSAGE, exc.detail or exc.message)
        self._emit(LogMessage("warning", f"{TAX_ADMIN_MESSAGE} {TAX_ADMIN_ACTION}"))
        self._empty_tax_index()

    # --- tax rates ------------------------------------------------------------------------------------------

    def _plan_tax_rate(self, rate: TaxRate) -> None:
        linked = self._halo_id_of("tax_rates", rate.key) is not None
        if not rate.active:
            message = (
                "Inactive in the books; Halo's Tax has no inactive field, so the Halo tax is left as it is."
                if linked
                else "Inactive in the books: not created in Halo."
            )
            self._skipped("tax_rates", rate.key, message, "tax_rates", rate.modified)
            return

        def match() -> int | None:
            index = self._tax_index()
            if self._tax_refusal is not None:
                mapped = self.state.mapping("tax", rate.key)
                if mapped is not None:
                    return mapped
                raise self._tax_refusal  # neither matched nor created without admin rights
            found = self._match_by_key("Tax", rate.key)
            if found is not None:
                return int(found["id"])
            mapped = self.state.mapping("tax", rate.key)
            if mapped is not None:
                return mapped
            candidates = [
                t
                for t in self._free("Tax", tax_matches(rate.code, rate.rate, index.records()))
                if not t.get("third_party_id")
                or str(t["third_party_id"]).strip().casefold() == rate.key.casefold()
            ]
            if len(candidates) > 1:
                ids = ", ".join(str(t["id"]) for t in candidates)
                raise PlanProblem(
                    f"Several Halo taxes have code {rate.code} at {rate.rate}% (ids {ids}).",
                    "Choose one in Mappings > Tax codes.",
                )
            return int(candidates[0]["id"]) if candidates else None

        self._plan(
            "tax_rates",
            rate.key,
            payloads.tax_payload(rate),
            stream="tax_rates",
            modified=rate.modified,
            match=match,
        )

    # --- customers and their main site --------------------------------------------------------------------

    def _plan_customer(self, customer: Customer) -> None:
        deactivate_option = self.settings.sync.deactivate_deleted
        active = customer.active and not customer.deleted
        linked = self._halo_id_of("customers", customer.key) is not None
        if not active and not linked:
            self._held_customers[customer.key] = customer
            message = (
                "Deleted in the books: not created in Halo (its invoices are not sent)."
                if customer.deleted
                else "Inactive in the books: created in Halo (inactive) only if it has invoices to carry."
            )
            self._skipped("customers", customer.key, message, "customers", customer.modified)
            return
        if not active and not deactivate_option:
            self._skipped(
                "customers",
                customer.key,
                "Inactive or deleted in the books; the Halo customer is left as it is "
                "(turn on 'Make inactive in Halo' in Settings > Sync to deactivate it).",
                "customers",
                customer.modified,
            )
            return
        tax_id = self._tax_id(customer.tax_code)
        inactive = (not active) if deactivate_option else None
        payload = payloads.client_payload(customer, tax_id=tax_id, inactive=inactive)
        toplevel = self.settings.sync.toplevel_id
        create_extra = {"toplevel_id": toplevel} if toplevel > 0 else None

        def match() -> int | None:
            return self._match_customer(customer)

        def with_site(client_id: int, record: dict) -> None:
            if record.get("main_site_id"):
                self._main_sites[client_id] = int(record["main_site_id"])
            self._plan_site(customer, client_id, inactive)

        self._plan(
            "customers",
            customer.key,
            payload,
            stream="customers",
            modified=customer.modified,
            match=match,
            create_extra=create_extra,
            outcome="deactivated" if inactive else "updated",
            on_confirmed=with_site,
        )

    def _match_customer(self, customer: Customer) -> int | None:
        """An existing Halo customer for ``customer``: by accounts ID, the user's mapping, a unique name."""
        found = self._match_by_key("Client", customer.key)
        if found is None:
            mapped = self.state.mapping("customer", customer.key)
            if mapped is not None:
                return mapped
            candidates = self._free(
                "Client", self._index("Client").by_name(customer.name, source_key=customer.key)
            )
            if len(candidates) > 1:
                ids = ", ".join(str(c["id"]) for c in candidates)
                raise PlanProblem(
                    f"Several Halo customers are called “{customer.name}” (ids {ids}).",
                    "Choose the right one in Mappings > Customers.",
                )
            found = candidates[0] if candidates else None
        if found is None:
            return None
        if found.get("main_site_id"):
            self._main_sites[int(found["id"])] = int(found["main_site_id"])
        return int(found["id"])

    def _carry_inactive_customer(self, customer: Customer) -> None:
        """Put an inactive customer into Halo because an invoice needs it: matched, else created inactive.

        Why: books keep invoices of customers made inactive later; without the customer in Halo every such
        invoice waits for ever. It is created active and then made inactive in a second write, so a create
        that may have landed is found by the reconcile even on a Halo whose lists leave out inactive
        customers; the link's hash is the active payload's until the second write is confirmed.
        """
        if customer.key in self._carried:
            return
        self._carried.add(customer.key)
        try:
            tax_id = self._tax_id(customer.tax_code)
            matched = self._match_customer(customer)
        except PlanProblem as problem:  # the customer's own problem; its invoices wait for it, saying why
            self._fail("customers", customer.key, problem.message, problem.action, None, "invoices")
            return
        deactivate = self.settings.sync.deactivate_deleted
        toplevel = self.settings.sync.toplevel_id
        inactive_payload = payloads.client_payload(customer, tax_id=tax_id, inactive=True)
        if matched is not None:
            payload = inactive_payload if deactivate else payloads.client_payload(customer, tax_id=tax_id)
        else:
            payload = payloads.client_payload(customer, tax_id=tax_id)

        def deactivate_created(client_id: int, record: dict) -> None:
            if record.get("main_site_id"):
                self._main_sites[client_id] = int(record["main_site_id"])
            self._plan_site(customer, client_id, None)
            if matched is not None:
                return
            body = {"id": client_id, **inactive_payload}
            self._queue(
                Pending(
                    "customers",
                    customer.key,
                    body,
                    payloads.content_hash(inactive_payload),
                    client_id,
                    "deactivated",
                    "invoices",
                    None,
                    "made inactive in Halo, as in the books",
                )
            )

        self._plan(
            "customers",
            customer.key,
            payload,
            stream="invoices",
            modified=None,
            match=lambda: matched,
            create_extra={"toplevel_id": toplevel} if toplevel > 0 else None,
            on_confirmed=deactivate_created,
            use_link=False,
        )
        if not self.dry_run:
            self._flush_resources(("Client", "Site"))

    def _flush_resources(self, resources: Sequence[str]) -> None:
        """Send what is queued for ``resources`` now (a customer an invoice is about to need)."""
        for _ in range(3):  # a confirmed create queues its deactivation and site: at most two more rounds
            for resource in resources:
                batches = self._batches.get(resource)
                if batches is None:
                    continue
                for queue in (batches.creates, batches.updates):
                    while queue:
                        chunk = queue[: self.batch_size]
                        del queue[: self.batch_size]
                        self._send(resource, chunk)

    def _customer_for_invoice(self, invoice: Invoice) -> int | None:
        """The Halo id of the invoice's customer, carrying an inactive one into Halo if needed.

        None defers the invoice (its customer is not linked and this run has not read it); PlanProblem says
        why the invoice cannot be sent.
        """
        key = invoice.customer_key
        client_id = self._halo_id_of("customers", key)
        if client_id is not None:
            return client_id
        held = self._held_customers.get(key)
        if held is not None:
            if held.deleted:
                raise PlanProblem(
                    f"Customer {key} is deleted in the books: its invoice {invoice.number or invoice.key} is "
                    "not sent to Halo.",
                    "Restore the customer in the accounting package (or delete the invoice there too); it is "
                    "sent on the next sync.",
                )
            self._carry_inactive_customer(held)
            client_id = self._halo_id_of("customers", key)
            if client_id is not None:
                return client_id
            raise self._waiting_for("customers", key, "customer")
        if key in self._missing_customers:
            raise PlanProblem(
                f"The customer {key} of invoice {invoice.number or invoice.key} is not in the books (no "
                "customer has that account reference).",
                "Correct the invoice's customer in the accounting package; it is sent on the next sync.",
            )
        unread = (
            "customers" in self._wanted
            and not self._customers_looked_up
            and ("customers", key) not in self._problems
            and ("customers", key) not in self._skip_reasons
        )
        if unread and len(self._deferred_invoices) < CARRY_LIMIT:
            return None
        raise self._waiting_for("customers", key, "customer")

    def _plan_deferred_invoices(self) -> None:
        """Invoices whose customer this run had not read: read the customers once, then plan them."""
        deferred, self._deferred_invoices = self._deferred_invoices, []
        self._customers_looked_up = True
        wanted = {invoice.customer_key for invoice in deferred}
        seen: set[str] = set()
        for record in self.connector.read("customers"):
            if record.key not in wanted:
                continue
            seen.add(record.key)
            if isinstance(record, Customer) and not (record.active and not record.deleted):
                self._held_customers[record.key] = record
        self._missing_customers = wanted - seen
        for invoice in deferred:
            self._plan_guarded("invoices", invoice, self._plan_invoice)

    def _plan_site(self, customer: Customer, client_id: int, inactive: bool | None) -> None:
        if self.dry_run:
            return  # the customer's own outcome says what would happen; its site follows it
        link = self.state.link("sites", customer.key)
        site_id = self._main_sites.get(client_id)
        if site_id is None and link is not None:
            site_id = link.halo_id
        if site_id is None:
            record = self.client.get_record("Client", client_id) or {}
            site_id = int(record["main_site_id"]) if record.get("main_site_id") else None
        if site_id is None:
            log.info("Halo client %s has no main site: its address is not sent", client_id)
            return
        payload = payloads.site_payload(customer, site_id=site_id, client_id=client_id, inactive=inactive)
        content_hash = payloads.content_hash(payload)
        if link is not None and link.halo_id == site_id and link.content_hash == content_hash:
            self._solved("sites", customer.key)
            return  # counted with its customer; sites have no outcome of their own unless they change
        pending = Pending(
            "sites", customer.key, payload, content_hash, site_id, "updated", "customers", customer.modified
        )
        self._queue(pending)

    # --- items ----------------------------------------------------------------------------------------------

    def _plan_item(self, item: Item) -> None:
        active = item.active and not item.deleted
        if not active:
            linked = self._halo_id_of("items", item.key) is not None
            message = (
                "Inactive or deleted in the books; Halo's Item has no inactive field, "
                "so the Halo item is left as it is (make it inactive in Halo by hand if needed)."
                if linked
                else "Inactive or deleted in the books: not created in Halo."
            )
            self._skipped("items", item.key, message, "items", item.modified)
            return
        payload = payloads.item_payload(item, tax_id=self._tax_id(item.tax_code))

        def match() -> int | None:
            found = self._match_by_key("Item", item.key)
            if found is not None:
                return int(found["id"])
            candidates = self._free("Item", self._index("Item").by_name(item.name, source_key=item.key))
            if len(candidates) > 1:
                ids = ", ".join(str(c["id"]) for c in candidates)
                raise PlanProblem(
                    f"Several Halo items are called “{item.name}” (ids {ids}).",
                    "Give one of them the accounts ID "
                    f"{item.key} in Halo, or rename the duplicates, then sync again.",
                )
            return int(candidates[0]["id"]) if candidates else None

        self._plan("items", item.key, payload, stream="items", modified=item.modified, match=match)

    # --- invoices and their payments ----------------------------------------------------------------------

    def _waiting_for(self, entity: str, key: str, noun: str) -> PlanProblem:
        reason = (
            self._problems.get((entity, key))
            or self._skip_reasons.get((entity, key))
            or "not synced to Halo yet"
        )
        return PlanProblem(
            f"Waiting for {noun} {key} ({reason}).",
            f"Fix the {noun}'s own problem, or include {entity} in the sync; this follows on the next sync.",
        )

    def _plan_invoice(self, invoice: Invoice) -> None:
        if invoice.deleted:
            linked = self._halo_id_of("invoices", invoice.key) is not None
            message = (
                "Deleted in the books; the Halo invoice is left as it is."
                if linked
                else "Deleted in the books: not created."
            )
            self._skipped("invoices", invoice.key, message, "invoices", invoice.modified)
            return
        client_id = self._customer_for_invoice(invoice)
        if client_id is None:
            self._deferred_invoices.append(invoice)
            return
        lines = []
        for line in invoice.lines:
            item_id = self._halo_id_of("items", line.item_key) if line.item_key else None
            if line.item_key and item_id is None and ("items", line.item_key) in self._problems:
                raise self._waiting_for("items", line.item_key, "item")
            lines.append(
                payloads.line_payload(
                    line,
                    is_credit=invoice.is_credit,
                    item_code=line.item_key,
                    item_id=item_id,
                    tax_code=self._tax_code_label(line.tax_code),
                    tax_id=self._tax_id(line.tax_code),
                )
            )
        payload = payloads.invoice_payload(invoice, client_id=client_id, lines=lines)

        def match() -> int | None:
            found = self._match_by_key("Invoice", invoice.key)
            return int(found["id"]) if found is not None else None

        def with_payments(invoice_id: int, _record: dict) -> None:
            if self.settings.sync.sync_payments:
                self._plan_payments(invoice, invoice_id, client_id)

        self._plan(
            "invoices",
            invoice.key,
            payload,
            stream="invoices",
            modified=invoice.modified,
            match=match,
            on_confirmed=with_payments,
        )

    def _tax_code_label(self, tax_key: str) -> str:
        if not tax_key:
            return ""
        rate = (self._source_taxes or {}).get(tax_key)
        return rate.code if rate is not None else tax_key

    def _plan_payments(self, invoice: Invoice, invoice_id: int, client_id: int) -> None:
        for payment in invoice.payments:
            payload = payloads.payment_payload(
                payment, invoice_id=invoice_id, client_id=client_id, source_kind=self.settings.source.kind
            )

            def match(key: str = payment.key) -> int | None:
                found = self._match_by_key("InvoicePayment", key)
                return int(found["id"]) if found is not None else None

            self._plan(
                "payments", payment.key, payload, stream="invoices", modified=invoice.modified, match=match
            )


RESOURCE_LABEL = {
    "Tax": "the tax",
    "Client": "the customer",
    "Site": "the site of customer",
    "Item": "the item",
    "Invoice": "the invoice",
    "InvoicePayment": "the payment",
}

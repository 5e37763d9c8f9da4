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
from datetime import datetime, timedelta
from typing import Any, Protocol

from connectors.base import Connector
from halo import payloads
from sync.errors import CancelledError, RecordError, TransientError
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
from sync.records import (
    ENTITY_ORDER,
    Customer,
    Invoice,
    Item,
    Record,
    SourceProblem,
    TaxRate,
)
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
STREAMS = ("tax_rates", "customers", "items", "invoices")  # payments ride with invoices, sites with customers
PROGRESS_INTERVAL = 0.1  # seconds: at most ~10 Progress events per second
CANCEL_CHECK_EVERY = 200  # records read between cancel checks (besides the check before every batch)
RECONCILE_ROUNDS = 3
KEPT = "Everything confirmed so far is kept; the rest is sent on the next sync."
BACKOFF_MIN = 2.0
BACKOFF_MAX = 30.0
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
    """Where a stream's cursor may move: past confirmed records, never past a failed one."""

    latest_ok: datetime | None = None
    earliest_failed: datetime | None = None
    interrupted: bool = False

    def ok(self, modified: datetime | None) -> None:
        if modified is not None and (self.latest_ok is None or modified > self.latest_ok):
            self.latest_ok = modified

    def failed(self, modified: datetime | None) -> None:
        if modified is not None and (self.earliest_failed is None or modified < self.earliest_failed):
            self.earliest_failed = modified

    def next_cursor(self, old: datetime | None) -> datetime | None:
        if self.interrupted:
            return old  # unread records may be older than what was confirmed: read them all again
        candidate = self.latest_ok if self.latest_ok is not None else old
        if self.earliest_failed is not None:
            candidate = self.earliest_failed if candidate is None else min(candidate, self.earliest_failed)
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
        self._source_taxes: dict[str, TaxRate] | None = None
        self._main_sites: dict[int, int] = {}  # Halo client id -> main site id, from Halo's answers
        self._dry_planned: dict[str, set[str]] = {}
        self._skip_reasons: dict[tuple[str, str], str] = {}  # why a record was not sent (for waiting records)
        self._progress_done = 0
        self._progress_at = 0.0

    # --- running ------------------------------------------------------------------------------------------

    def run(self, entities: Sequence[str]) -> None:
        wanted = set(entities)
        if "payments" in wanted:
            wanted.add("invoices")
        for entity in (e for e in ENTITY_ORDER if e in wanted and e in STREAMS):
            self._check_cancel()
            self._emit(EntityStarted(entity))
            self._run_stream(entity)

    def _run_stream(self, entity: str) -> None:
        tracker = self._trackers.setdefault(entity, CursorTracker())
        offered = {spec.name: spec for spec in self.connector.streams()}
        if entity not in offered:
            self._emit(
                LogMessage("warning", f"{self.connector.display_name} has no {entity.replace('_', ' ')}.")
            )
            return
        old_cursor = self.state.cursor(entity)
        since = None
        if old_cursor is not None and offered[entity].replication_key is not None:
            since = old_cursor - timedelta(minutes=max(0, self.settings.sync.lookback_minutes))
        self._progress_done = 0
        self._progress_at = 0.0
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
                    self._plan_guarded(entity, record, planner)
                self._progress(entity)
            self._flush_all(entity)
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
            self._emit(Progress(entity, self._progress_done, self._progress_done))
            if not self.dry_run and not tracker.interrupted:
                new_cursor = tracker.next_cursor(old_cursor)
                if new_cursor != old_cursor:
                    self.state.save_cursor(entity, new_cursor)

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
        if self.dry_run and key in self._dry_planned.get(entity, ()):
            return 0
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
        if pending.halo_id is None:
            self._dry_planned.setdefault(pending.entity, set()).add(pending.key)
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
        except TransientError as exc:
            if creating and exc.maybe_written:
                self._reconcile(resource, batch, reconcile_round, exc)
                return
            raise
        if len(saved) != len(batch) or not all(isinstance(r, dict) and r.get("id") for r in saved):
            problem = TransientError(
                f"Halo answered {len(saved)} records for the {len(batch)} sent to {resource}.",
                action="It is checked and sent again on the next sync.",
                maybe_written=creating,
            )
            if creating:
                self._reconcile(resource, batch, reconcile_round, problem)
                return
            raise problem
        for pending, record in zip(batch, saved, strict=True):
            self._confirmed(pending, record)

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
        halo_id = int(record["id"])
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

    def _reconcile(self, resource: str, batch: list[Pending], round_no: int, cause: TransientError) -> None:
        """A create may have landed: link what Halo now has under our keys, re-create only the rest."""
        if round_no >= RECONCILE_ROUNDS:
            raise TransientError(
                f"Creating {resource} records kept failing in a way that may have written them "
                f"({cause.message}).",
                action="They are checked by accounts ID and sent again on the next sync.",
                detail=cause.detail,
            )
        log.info("Checking which of %d %s creates reached Halo (%s)", len(batch), resource, cause.message)
        stats = self.client.stats
        requests_before, retries_before = stats.total(), sum(stats.retries.values())
        index = self._add_newer(resource)
        # The look-up is a retry a fault caused: report it (less the client's own retries inside it).
        stats.add_retries(
            "reconcile look-up",
            (stats.total() - requests_before) - (sum(stats.retries.values()) - retries_before),
        )
        missing: list[Pending] = []
        for pending in batch:
            found = index.by_key(pending.key)
            if found is not None and found.get("id"):
                if resource == "Client" and found.get("main_site_id"):
                    self._main_sites[int(found["id"])] = int(found["main_site_id"])
                self._confirmed(pending, found)
            else:
                missing.append(pending)
        if missing:
            stats.add_retries("resend after check")
            self._send(resource, missing, round_no + 1)

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
        replan = pending.replan
        gone = (
            replan is not None
            and pending.halo_id is not None
            and self.client.get_record(resource, pending.halo_id) is None
        )
        if replan is not None and gone:
            # The linked Halo record was deleted there: forget the link and match/create once more.
            log.info(
                "Halo no longer has %s %s (key %s): matching again",
                resource,
                pending.halo_id,
                pending.key,
            )
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
        message = f"Halo refused {RESOURCE_LABEL.get(resource, resource)} {pending.key}: {exc.message}"
        self._fail(
            pending.entity, pending.key, message, exc.action or FIX_IN_BOOKS, pending.modified, pending.stream
        )

    # --- the Halo side's index (lazy) -----------------------------------------------------------------------

    def _load_index(self, resource: str) -> HaloIndex:
        index = HaloIndex(
            name_field=INDEX_NAME_FIELD.get(resource, "name"),
            key_field=INDEX_KEY_FIELD.get(resource, "accountsid"),
        )
        for record in self.client.iter_records(resource, dict(INDEX_PARAMS.get(resource, {}))):
            index.add(record)
        self._indexes[resource] = index
        return index

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
        known = max((int(record.get("id") or 0) for record in index.records()), default=0)
        honoured: bool | None = (
            None  # whether the server sorts newest first: known from the first two records
        )
        previous: int | None = None
        for record in self.client.iter_records(resource, {**INDEX_PARAMS.get(resource, {}), **NEWEST_FIRST}):
            record_id = int(record.get("id") or 0)
            if honoured is None and previous is not None:
                honoured = record_id < previous
            previous = record_id
            if record_id > known:
                index.add(record)
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
            label = code.code if code is not None else tax_key
            problem = PlanProblem(
                f"Tax code {label} is not mapped to a Halo tax.",
                "Map it in Mappings > Tax codes, or include tax rates in the sync.",
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
        return self._index("Tax").records()

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
            found = self._match_by_key("Tax", rate.key)
            if found is not None:
                return int(found["id"])
            mapped = self.state.mapping("tax", rate.key)
            if mapped is not None:
                return mapped
            candidates = [
                t
                for t in self._free("Tax", tax_matches(rate.code, rate.rate, self._index("Tax").records()))
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
            state = "deleted" if customer.deleted else "inactive"
            self._skipped(
                "customers",
                customer.key,
                f"{state.capitalize()} in the books: not created in Halo.",
                "customers",
                customer.modified,
            )
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
        client_id = self._halo_id_of("customers", invoice.customer_key)
        if client_id is None:
            raise self._waiting_for("customers", invoice.customer_key, "customer")
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

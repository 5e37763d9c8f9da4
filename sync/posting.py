"""The posting run: Halo's invoices and credit notes INTO the books, exactly once (issue 14).

Why this shape: a doubled invoice in the ledger is a wrong VAT return, and a books write cannot be undone by
LedgerBridge, so every document goes through one state machine kept in the state store (``postings``):

    (candidate) --intent committed--> intended --writer.post confirmed--> written --Halo marked--> marked

Before ANY write the books are searched for the documents' markers (``writer.find_posted``, one query per
chunk), so a run restarted after a crash, a lost state file or a write whose fate was unknown never posts a
document twice; a write is never retried blind: a TransientError(maybe_written) stops the run and the next
one looks first. The books' answer is committed together with the ``to_books`` link (books key -> Halo id)
in one transaction, so the books -> Halo run never mistakes the new books invoice for one to create in Halo.
Marking the invoice posted in Halo (posted, dateposted, thirdpartyinvoicenumber) is idempotent and re-sent
until it is confirmed.

What is posted is the user's rule (``[posting]``): not yet posted in Halo, dated on or after
``start_date``, in the chosen top levels, approved when approval is required, credit notes by choice.
Halo may ignore a list parameter, so every rule is checked again here on each row. An invoice that came
from the books (a ``to_halo`` invoice link, or an accounts ID of ours) is never posted back.

What a document looks like in the books (Halo's ids -> the books' keys) is sync/posting_map.py's.
``preview`` lists what a run would do and writes nothing anywhere (no books insert, no Halo write, no intent).
"""

from __future__ import annotations

import dataclasses
import logging
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any, Literal, Protocol

from core.books import BooksDocument, BooksWriter, PostedDocument
from core.errors import CancelledError, LedgerBridgeError, RecordError, TransientError
from halo import payloads
from sync.events import Listener, LogMessage, Outcome, PostingPreviewed, RecordOutcome, RunSummary
from sync.paths import AppPaths
from sync.posting_map import (
    BooksMapping,
    NotPostable,
    amount,
    halo_date,
    halo_int,
    is_credit,
    line_net,
    reference_for,
    to_document,
)
from sync.posting_preview import Action, PostingPreview, PreviewRow
from sync.secrets import SecretStore
from sync.settings import PostingSettings, Settings
from sync.state import TO_HALO, Posting, StateStore

log = logging.getLogger("ledgerbridge.posting")

ENTITY = "posting"  # the word in the problems table, the run's counts and the events
LOOKUP_CHUNK = 50  # references per writer.find_posted call
# Halo's approval_status values are not published (the OpenAPI types it as an integer only). Assumed: 1 is
# "approved"; anything else on an invoice that requires approval waits, and is listed with that reason.
APPROVED_STATUSES = frozenset({1})


class HaloPort(Protocol):
    """What the posting run uses of halo.client.HaloClient."""

    def iter_records(
        self, resource: str, params: Mapping[str, Any] | None = None
    ) -> Iterator[dict[str, Any]]: ...

    def get_record(
        self, resource: str, record_id: int, params: Mapping[str, Any] | None = None
    ) -> dict[str, Any] | None: ...

    def save(self, resource: str, records: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]: ...


@dataclass
class PostingResult:
    """What a real posting run did (also added to the run's RunSummary under ``posting``)."""

    posted: int = 0
    already_in_books: int = 0  # found in the books by their marker (an earlier run, a crash)
    problems: int = 0
    skipped: int = 0  # waiting for approval, an accounts number not ours
    marked: int = 0  # marked posted in Halo this run
    filtered: int = 0
    rows: list[PreviewRow] = field(default_factory=list)


# --- the rule ------------------------------------------------------------------------------------------


def check_settings(posting: PostingSettings) -> date:
    """The start date, or a ConfigError naming what to set (PostingSettings.check): posting never runs
    without a start date, so turning it on cannot flood the ledger with years of Halo's history."""
    return posting.check()


def list_params(posting: PostingSettings, start: date, toplevel_id: int | None) -> dict[str, str]:
    """GET /Invoice's parameters for the rule (Halo's OpenAPI); the rule is checked again on each row."""
    params = {
        "notpostedonly": "true",
        "includelines": "true",
        "includeinvoices": "true",
        "includecredits": "true" if posting.credit_notes else "false",
        "invoicedatestart": start.isoformat(),
    }
    if toplevel_id:
        params["toplevel_id"] = str(toplevel_id)
    return params


# --- one listed document ---------------------------------------------------------------------------


@dataclass
class Candidate:
    """One listed Halo document the rule keeps, with its row for the preview."""

    row: dict[str, Any]
    halo_id: int
    reference: str
    is_credit: bool
    document: BooksDocument | None = None
    problem: NotPostable | None = None
    skip: str = ""
    notes: tuple[str, ...] = ()


# --- the run -------------------------------------------------------------------------------------------


class PostingRun:
    """One posting run (or preview) over a Halo client, the state store and the package's writer."""

    def __init__(
        self,
        settings: Settings,
        state: StateStore,
        halo: HaloPort,  # halo.client.HaloClient (iter_records, get_record, save)
        writer: BooksWriter,
        *,
        dry_run: bool = False,
        listener: Listener | None = None,
        cancel: threading.Event | None = None,
        summary: RunSummary | None = None,
        now: Callable[[], datetime] | None = None,
    ) -> None:
        self.settings = settings
        self.posting = settings.posting
        self.state = state
        self.halo = halo
        self.writer = writer
        self.dry_run = dry_run
        self.listener = listener
        self.cancel = cancel or threading.Event()
        self.summary = summary
        self._now = now or (lambda: datetime.now(UTC))
        self.result = PostingResult()
        self._marks: list[tuple[int, str]] = []  # (halo id, books number) waiting to be marked in Halo
        self._marking_stopped = False

    # --- events and bookkeeping ---------------------------------------------------------------------------

    def _emit(self, outcome: Outcome, row: PreviewRow) -> None:
        if self.summary is not None:
            self.summary.add(ENTITY, outcome)
        if self.listener is not None:
            self.listener(RecordOutcome(ENTITY, str(row.halo_id), outcome, row.message, row.fix, row.halo_id))

    def _log(self, level: Literal["info", "warning", "error"], text: str) -> None:
        log.log(logging.WARNING if level != "info" else logging.INFO, "%s", text)
        if self.listener is not None:
            self.listener(LogMessage(level, text))

    def _check_cancel(self) -> None:
        if self.cancel.is_set():
            raise CancelledError("The sync was cancelled.", action="Everything the books confirmed is kept.")

    # --- candidates ---------------------------------------------------------------------------------------

    def listed(self, start: date) -> Iterator[dict[str, Any]]:
        """Halo's not-yet-posted documents for the rule, once each (several top levels may list one twice)."""
        seen: set[int] = set()
        tops: list[int | None] = list(self.posting.toplevel_ids) or [None]
        for toplevel_id in tops:
            for row in self.halo.iter_records("Invoice", list_params(self.posting, start, toplevel_id)):
                halo_id = halo_int(row.get("id"))
                if halo_id is None or halo_id in seen:
                    continue
                seen.add(halo_id)
                yield row

    def candidates(self, mapping: BooksMapping, start: date) -> list[Candidate]:
        """The listed documents the rule keeps, each mapped to a books document (or why not)."""
        from_books = self.state.halo_ids("invoices", TO_HALO)
        ours = {p.halo_id: p for p in self.state.postings()}
        wanted_tops = set(self.posting.toplevel_ids)
        kept: list[Candidate] = []
        for row in self.listed(start):
            self._check_cancel()
            halo_id = int(row["id"])
            credit = is_credit(row)
            invoice_day = halo_date(row.get("invoice_date"))
            earlier = ours.get(halo_id)
            if (
                halo_id in from_books  # it came from the books: never back
                or str(row.get("accountsid") or "").strip()  # a books key of ours (or another integration's)
                or row.get("posted")  # Halo ignored notpostedonly (ours that wait for a mark: recover())
                or (invoice_day is not None and invoice_day.date() < start)  # ... or invoicedatestart
                or (credit and not self.posting.credit_notes)  # ... or includecredits
                or (wanted_tops and self.mapping_top(mapping, row) not in wanted_tops)  # ... or toplevel_id
            ):
                self.result.filtered += 1
                continue
            candidate = Candidate(row, halo_id, reference_for(halo_id, credit), credit)
            number = str(row.get("thirdpartyinvoicenumber") or "").strip()
            needs_approval = bool(row.get("requires_approval"))
            if number and earlier is None:
                candidate.skip = (
                    f"It already carries an accounts number ({number}) that LedgerBridge did not give it: "
                    "another integration (or a person) has put it in the books."
                )
            elif (
                self.posting.only_approved
                and needs_approval
                and halo_int(row.get("approval_status")) not in APPROVED_STATUSES
            ):
                candidate.skip = "It requires approval in Halo and is not approved yet."
            else:
                if "lines" not in row:  # a Halo that ignored includelines (or lean list rows)
                    full = self.halo.get_record("Invoice", halo_id, {"includelines": "true"})
                    candidate.row = row = dict(full or row)
                mapping.notes = []
                try:
                    candidate.document = to_document(
                        row, mapping, number_from=self.posting.number_from, credit=credit
                    )
                except NotPostable as problem:
                    candidate.problem = problem
                except RecordError as exc:  # the books refused a customer or item we tried to create
                    candidate.problem = NotPostable(exc.message, exc.action or "Correct it, then sync again.")
                candidate.notes = tuple(mapping.notes)
            kept.append(candidate)
        kept.sort(key=lambda c: (str(c.row.get("invoice_date") or ""), c.halo_id))
        return kept

    @staticmethod
    def mapping_top(mapping: BooksMapping, row: Mapping[str, Any]) -> int | None:
        top = halo_int(row.get("toplevel_id"))
        return top if top is not None else mapping.toplevel_of(halo_int(row.get("client_id")))

    def _row(self, candidate: Candidate, action: Action, message: str = "", fix: str = "") -> PreviewRow:
        row, document = candidate.row, candidate.document
        if document is not None:
            net, tax, gross = document.net, document.tax, document.gross
        else:
            sign = Decimal(-1) if candidate.is_credit else Decimal(1)
            lines = row.get("lines") or []
            net = sum((line_net(line) for line in lines), Decimal("0.00")) * sign
            tax = sum((amount(line.get("tax_amount")) for line in lines), Decimal("0.00")) * sign
            gross = net + tax
        kind = "credit note" if candidate.is_credit else "invoice"
        number = str(row.get("invoicenumber") or "").strip()
        if not message and action == "post":
            message = f"{'would post' if self.dry_run else 'posted'} {kind} {number or candidate.halo_id}"
            if candidate.notes:
                message += f"; {', '.join(candidate.notes)}"
        return PreviewRow(
            halo_id=candidate.halo_id,
            number=number,
            client=str(row.get("client_name") or ""),
            date=halo_date(row.get("invoice_date")),
            net=net,
            tax=tax,
            gross=gross,
            is_credit=candidate.is_credit,
            action=action,
            message=message,
            fix=fix,
            reference=candidate.reference,
        )

    # --- the books' answer, in chunks ---------------------------------------------------------------------

    def _find(self, halo_ids: Iterable[int]) -> dict[int, PostedDocument]:
        """What the books hold for these Halo documents, by Halo id. Both markers are asked for each
        (HALO-<id> and HALO-C<id>): a document edited in Halo from invoice to credit note (or back) between
        two runs keeps its Halo id, and must still be found under the marker it was written with."""
        by_reference = {reference_for(i, credit): i for i in halo_ids for credit in (False, True)}
        references = list(by_reference)
        found: dict[int, PostedDocument] = {}
        for start in range(0, len(references), LOOKUP_CHUNK):
            answer = self.writer.find_posted(references[start : start + LOOKUP_CHUNK])
            for reference, posted in answer.items():
                if reference in by_reference:
                    found.setdefault(by_reference[reference], posted)
        return found

    # --- a real run ---------------------------------------------------------------------------------------

    def recover(self) -> None:
        """Finish what an earlier run left half-way, before anything else reads the books: intents are
        looked up in the books (written ones recorded with their link), written ones marked in Halo."""
        if self.dry_run:
            return
        intended = self.state.postings("intended")
        if intended:
            found = self._find(p.halo_id for p in intended)
            for posting in intended:
                answer = found.get(posting.halo_id)
                if answer is not None:
                    log.info("Posting %s was in the books already (%s)", answer.reference, answer.books_key)
                    self.state.posting_written(
                        posting.halo_id, answer.reference, answer.books_key, answer.books_number
                    )
        if self.posting.mark_posted_in_halo:
            for posting in self.state.postings("written"):
                self._queue_mark(posting.halo_id, posting.books_number)
            self._flush_marks()

    def run(self) -> PostingResult:
        """Post every document the rule chooses, exactly once; the result (and the summary) say how many."""
        start = check_settings(self.posting)
        if self.summary is not None:
            self.summary.add(ENTITY, "created", 0)  # a posting row in the summary and History, even at 0
        self.recover()
        mapping = BooksMapping(self.settings, self.state, self.halo, self.writer, dry_run=self.dry_run)
        chosen = self.candidates(mapping, start)
        found = self._find(c.halo_id for c in chosen if c.document is not None)
        ours = {p.halo_id: p for p in self.state.postings("written", "marked")}
        for candidate in chosen:
            self._check_cancel()
            if candidate.skip:
                self._settle(candidate, "skipped", candidate.skip)
            elif candidate.problem is not None:
                self._settle(candidate, "problem", candidate.problem.message, candidate.problem.action)
            elif candidate.halo_id in found:
                self._already(candidate, found[candidate.halo_id])
            elif candidate.halo_id in ours:
                self._vanished(candidate, ours[candidate.halo_id])
            elif self.dry_run:
                self._settle(candidate, "post")
            else:
                self._post(candidate)
        if self.dry_run:
            if self.listener is not None:
                self.listener(PostingPreviewed(self.preview()))
        else:
            self._flush_marks()
            self._forget_stale_intents({c.halo_id for c in chosen})
            self._forget_stale_problems({str(c.halo_id) for c in chosen})
        return self.result

    def _forget_stale_problems(self, chosen: set[str]) -> None:
        """A problem of a document Halo no longer lists for posting (posted by hand, deleted, dated out of
        the rule) has nothing left to fix: the Problems tab shows only what the next run will meet."""
        for problem in self.state.problems(ENTITY):
            if problem.key not in chosen:
                self.state.clear_problem(ENTITY, problem.key)

    def preview(self) -> PostingPreview:
        """What this run did (or, as a dry run, would do), as the preview's plain values."""
        return PostingPreview(rows=tuple(self.result.rows), filtered=self.result.filtered)

    def _settle(self, candidate: Candidate, action: Action, message: str = "", fix: str = "") -> None:
        """Count and report one document's outcome; a problem (and a skip, through the runner's
        SkipRecorder) is kept under the Halo id until the document posts."""
        row = self._row(candidate, action, message, fix)
        self.result.rows.append(row)
        key = str(candidate.halo_id)
        kind = "credit note" if candidate.is_credit else "invoice"
        label = f"Halo {kind} {row.number or candidate.halo_id}" + (f" ({row.client})" if row.client else "")
        if action == "problem":
            self.result.problems += 1
            text = f"{label}: {message}"
            if not self.dry_run:
                self.state.record_problem(ENTITY, key, text, fix)
            self._emit("failed", dataclasses.replace(row, message=text))
            return
        if not self.dry_run:
            self.state.clear_problem(ENTITY, key)
        if action == "skipped":
            self.result.skipped += 1
            self._emit("skipped", dataclasses.replace(row, message=f"{label}: {message}"))
        elif action == "already in books":
            self.result.already_in_books += 1
            self._emit("unchanged", row)
        else:
            self.result.posted += 1
            self._emit("created", row)

    def _already(self, candidate: Candidate, answer: PostedDocument) -> None:
        message = f"already in the books as {answer.books_number or answer.books_key}"
        if not self.dry_run:
            self.state.posting_written(
                candidate.halo_id, answer.reference, answer.books_key, answer.books_number
            )
            self._queue_mark(candidate.halo_id, answer.books_number)
        self._settle(candidate, "already in books", message)

    def _vanished(self, candidate: Candidate, posting: Posting) -> None:
        """LedgerBridge wrote it into the books, the books no longer show it and Halo calls it not posted:
        someone deleted it in the books, or the books cannot be searched as they were. Never written again
        on a guess (a second copy would be a wrong tax return): a person decides."""
        self._settle(
            candidate,
            "problem",
            f"LedgerBridge posted it into the books as {posting.books_number or posting.books_key} "
            f"({posting.updated:%Y-%m-%d}), but the books no longer show it (marker {posting.reference}).",
            "If it was deleted in the books on purpose and should be posted again, post it by hand; if it "
            "is still there, check the marker field in the books. LedgerBridge does not write it twice.",
        )

    def _post(self, candidate: Candidate) -> None:
        document = candidate.document
        assert document is not None
        self.state.posting_intended(candidate.halo_id, candidate.reference)
        try:
            answer = self.writer.post(document)
        except RecordError as exc:
            self.state.drop_posting(candidate.halo_id)  # refused: provably not in the books
            self._settle(
                candidate,
                "problem",
                f"the books refused it: {exc.message}",
                exc.action or "Correct it in Halo or the books, then sync again.",
            )
            return
        except TransientError as exc:
            note = (
                "its write may have reached the books" if exc.maybe_written else "the books were unavailable"
            )
            self.state.posting_note(candidate.halo_id, f"{note}: {exc.message}")
            self._flush_marks()
            raise TransientError(
                f"Posting stopped at Halo {'credit note' if candidate.is_credit else 'invoice'} "
                f"{candidate.row.get('invoicenumber') or candidate.halo_id}: {exc.message}",
                action=(exc.action + " " if exc.action else "")
                + "The next sync looks it up in the books by its marker "
                f"{candidate.reference} before writing anything: it is never posted twice.",
                detail=exc.detail,
                retry_after=exc.retry_after,
            ) from exc
        self.state.posting_written(
            candidate.halo_id, candidate.reference, answer.books_key, answer.books_number
        )
        self._queue_mark(candidate.halo_id, answer.books_number)
        self._settle(candidate, "post")

    def _forget_stale_intents(self, chosen: set[int]) -> None:
        """Intents of documents no longer chosen (deleted or posted elsewhere in Halo) that the books
        provably do not hold: nothing is left to finish."""
        stale = [p for p in self.state.postings("intended") if p.halo_id not in chosen]
        if not stale:
            return
        found = self._find(p.halo_id for p in stale)
        for posting in stale:
            if posting.halo_id not in found:
                self.state.drop_posting(posting.halo_id)

    # --- marking posted in Halo ---------------------------------------------------------------------------

    def _queue_mark(self, halo_id: int, books_number: str) -> None:
        if not self.posting.mark_posted_in_halo:
            self.state.posting_marked(halo_id)  # nothing more to do: the books hold it
            return
        self._marks.append((halo_id, books_number))
        if len(self._marks) >= max(1, self.settings.halo.batch_size):
            self._flush_marks()

    def _flush_marks(self) -> None:
        """POST [{id, posted, dateposted, thirdpartyinvoicenumber}] in batches; re-sending is harmless, so a
        failure leaves the rows 'written' and the next run sends them again."""
        marks, self._marks = self._marks, []
        if self._marking_stopped or not marks:
            return
        size = max(1, self.settings.halo.batch_size)
        for start in range(0, len(marks), size):
            batch = marks[start : start + size]
            when = self._now()
            body = [payloads.posted_payload(i, books_number=n, when=when) for i, n in batch]
            try:
                self.halo.save("Invoice", body)
            except RecordError as exc:
                for halo_id, _ in batch:
                    self.state.posting_note(halo_id, f"Halo refused to mark it posted: {exc.message}")
                self._log("warning", f"Halo refused to mark {len(batch)} invoices posted: {exc.message}")
                continue
            except (TransientError, LedgerBridgeError) as exc:
                self._marking_stopped = True
                self._log(
                    "warning",
                    f"Halo could not mark {len(marks) - start} posted invoices as posted ({exc.message}); "
                    "they are in the books, and the next sync marks them.",
                )
                return
            for halo_id, _ in batch:
                self.state.posting_marked(halo_id)
                self.result.marked += 1


def run_posting(
    settings: Settings,
    state: StateStore,
    halo: HaloPort,
    writer: BooksWriter,
    *,
    summary: RunSummary | None = None,
    listener: Listener | None = None,
    cancel: threading.Event | None = None,
    dry_run: bool = False,
) -> PostingResult:
    """One posting run (sync/runner.py calls it after the books -> Halo run when posting.enabled)."""
    return PostingRun(
        settings, state, halo, writer, summary=summary, listener=listener, cancel=cancel, dry_run=dry_run
    ).run()


def preview_with(
    settings: Settings, state: StateStore, halo: HaloPort, writer: BooksWriter
) -> PostingPreview:
    """What a posting run would do now, over connections the caller opened; writes nothing anywhere."""
    run = PostingRun(settings, state, halo, writer, dry_run=True)
    run.run()
    return run.preview()


def preview(settings: Settings, secrets: SecretStore, *, paths: AppPaths | None = None) -> PostingPreview:
    """The GUI's "what would be posted?": signs in to Halo, opens the books' writer and the state store,
    lists every Halo document the rule chooses with its action, and writes nothing anywhere (no books
    insert, no Halo write, no intent). Raises ConfigError / AuthError / TransientError like a run would.
    Call it from a worker thread."""
    from sync.halo_connection import build_client
    from sync.runner import build_writer, open_state  # the runner imports this module

    check_settings(settings.posting)
    state = open_state(paths)
    try:
        client = build_client(settings, secrets)
        try:
            client.sign_in()
            writer = build_writer(settings, secrets)
            try:
                return preview_with(settings, state, client, writer)
            finally:
                writer.close()
        finally:
            client.close()
    finally:
        state.close()

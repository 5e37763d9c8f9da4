"""Posting Halo's invoices into the books (sync/posting.py): the rule, the mapping, exactly once, dry run.

Real parts: the Halo sandbox over HTTP with a real HaloClient, the state store on disk, and a ledger written
through real unixODBC + the SQLite3 driver (tests/ledger_writer.py) whose document table would show a
double as two rows. The sandbox runs both ways: honouring GET /Invoice's filters and ignoring them, so the
rule checked on each row is tested, not only Halo's.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pytest

from core.errors import ConfigError, TransientError
from core.records import Invoice, InvoiceLine, Payment, Record, SourceProblem
from halo.sandbox.seed import SeedLine, halo_invoice
from sync.engine import SyncEngine
from sync.events import Event, PostingPreviewed, RecordOutcome, RunSummary
from sync.posting import PostingRun, preview_with
from sync.settings import Settings
from sync.state import TO_BOOKS, StateStore
from tests.ledger_writer import LedgerWriter, create_ledger

START = date(2026, 1, 1)


@dataclass
class Env:
    sandbox: Any
    client: Any
    state: StateStore
    writer: LedgerWriter
    settings: Settings
    tax_id: int
    clients: dict[str, int]  # books customer key -> Halo client id

    def invoice(self, number: str, day: date, *, customer: str = "C001", **options: Any) -> int:
        client_id = options.pop("client_id", None) or self.clients[customer]
        lines = options.pop("lines", None) or [SeedLine(f"Support {number}", 2, 50, tax_id=self.tax_id)]
        extra = options.pop("extra", {})
        body = {**halo_invoice(client_id, number, day, lines, **options), **extra}
        return int(self.sandbox.seed("Invoice", body)["id"])

    def run(self, **options: Any) -> tuple[RunSummary, list[Event], Any]:
        events: list[Event] = []
        summary = RunSummary(run_id=0, started=datetime.now(UTC))
        run = PostingRun(
            self.settings,
            self.state,
            self.client,
            self.writer,
            summary=summary,
            listener=events.append,
            **options,
        )
        result = run.run()
        return summary, events, result

    def halo(self, halo_id: int) -> dict[str, Any]:
        return next(r for r in self.sandbox.records("Invoice") if r["id"] == halo_id)

    def references(self) -> Counter[str]:
        return Counter(ref for ref, *_ in self.writer.documents())


@pytest.fixture
def env(tmp_path, halo_sandbox, make_halo_client, request) -> Iterator[Env]:
    pytest.importorskip("pyodbc")
    import pyodbc

    if "SQLite3" not in pyodbc.drivers():
        pytest.skip("the SQLite3 ODBC driver is not installed")
    writer = LedgerWriter(
        create_ledger(tmp_path / "ledger.sqlite", [("C001", "Acme Ltd"), ("C002", "Brook & Sons")])
    )
    state = StateStore(tmp_path / "state.sqlite")
    tax = halo_sandbox.seed("Tax", {"name": "Standard", "code": "S", "value": 20})
    clients = {
        "C001": halo_sandbox.seed("Client", {"name": "Acme Ltd", "toplevel_id": 1})["id"],
        "C002": halo_sandbox.seed("Client", {"name": "Brook & Sons", "toplevel_id": 1})["id"],
        "C003": halo_sandbox.seed("Client", {"name": "Other Top", "toplevel_id": 2})["id"],
    }
    state.save_link("customers", "C001", clients["C001"], "h")  # what the books -> Halo sync linked
    state.save_link("customers", "C002", clients["C002"], "h")
    state.save_link("tax_rates", "T1", int(tax["id"]), "h")
    settings = Settings()
    settings.halo.batch_size = 2
    settings.posting.enabled = True
    settings.posting.start_date = START.isoformat()
    client = make_halo_client(halo_sandbox, batch_size=2)
    yield Env(halo_sandbox, client, state, writer, settings, int(tax["id"]), clients)
    writer.close()
    state.close()


@pytest.mark.parametrize("ignored", [False, True], ids=["halo-filters", "halo-ignores-filters"])
def test_the_rule_chooses_what_is_posted_whether_or_not_halo_filters(env, ignored):
    env.sandbox.faults.update({"ignore_invoice_filters": ignored})
    env.settings.posting.toplevel_ids = [1]
    post = {
        env.invoice("HI-1", date(2026, 2, 1)),
        env.invoice("HI-2", date(2026, 2, 2), customer="C002", credit=True),
        env.invoice("HI-3", date(2026, 2, 3), requires_approval=True, approval_status=1),
    }
    before_start = env.invoice("HI-4", date(2025, 12, 31))
    posted_already = env.invoice("HI-5", date(2026, 2, 4), posted=True)
    waiting = env.invoice("HI-6", date(2026, 2, 5), requires_approval=True, approval_status=0)
    from_books = env.invoice("INV-9", date(2026, 2, 6), extra={"accountsid": "TXN-9"})
    linked = env.invoice("INV-10", date(2026, 2, 7))
    env.state.save_link("invoices", "TXN-10", linked, "h")  # a to_halo link: it came from the books
    other_top = env.invoice("HI-7", date(2026, 2, 8), customer="C003")

    summary, events, result = env.run()

    refs = env.references()
    assert sorted(refs.values()) == [1, 1, 1]
    credit_id = sorted(post)[1]
    assert set(refs) == {f"HALO-{i}" for i in post if i != credit_id} | {f"HALO-C{credit_id}"}
    assert result.posted == 3 and result.skipped == 1 and result.problems == 0 and result.marked == 3
    assert summary.counts["posting"]["created"] == 3 and summary.counts["posting"]["skipped"] == 1
    for halo_id in post:
        halo = env.halo(halo_id)
        assert halo["posted"] is True and halo["dateposted"] and halo["thirdpartyinvoicenumber"]
        assert env.state.posting(halo_id).state == "marked"
    for halo_id in (before_start, waiting, from_books, linked, other_top):
        assert not env.halo(halo_id).get("posted")
        assert env.state.posting(halo_id) is None
    assert env.halo(posted_already).get("thirdpartyinvoicenumber") in (None, "")
    skipped = [e for e in events if isinstance(e, RecordOutcome) and e.outcome == "skipped"]
    assert [e.halo_id for e in skipped] == [waiting] and "approv" in skipped[0].message
    # The credit note went in as a credit, with positive amounts.
    documents = {ref: (gross, credit) for ref, _, gross, credit in env.writer.documents()}
    assert documents[f"HALO-C{credit_id}"] == (Decimal("120.00"), True)
    links = env.state.links("invoices", TO_BOOKS)
    assert sorted(link.halo_id for link in links.values()) == sorted(post)

    again, _, result = env.run()
    assert sorted(env.references().values()) == [1, 1, 1]
    assert result.posted == 0 and again.counts["posting"]["created"] == 0


def test_a_dry_run_lists_what_would_be_posted_and_writes_nothing(env):
    first = env.invoice("HI-1", date(2026, 3, 1))
    env.invoice("HI-2", date(2026, 3, 2), credit=True)
    env.invoice("HI-3", date(2026, 3, 3), customer="C003")  # its customer is not in the books
    env.sandbox.reset_counts()

    preview = preview_with(env.settings, env.state, env.client, env.writer)

    assert [row.action for row in preview.rows] == ["post", "post", "problem"]
    row = preview.rows[0]
    assert (row.halo_id, row.number, row.client) == (first, "HI-1", "Acme Ltd")
    assert (row.net, row.tax, row.gross, row.is_credit) == (
        Decimal("100.00"),
        Decimal("20.00"),
        Decimal("120.00"),
        False,
    )
    assert preview.totals("post") == (Decimal("0.00"), Decimal("0.00"), Decimal("0.00"))  # 120 - 120
    assert "Other Top is not in the books" in preview.rows[2].message
    assert env.writer.documents() == [] and env.state.postings() == [] and env.state.problems() == []
    assert not [k for k in env.sandbox.counts() if k[0] == "POST" and k[1].startswith("/api")]

    _, events, _ = env.run(dry_run=True)
    listed = [e for e in events if isinstance(e, PostingPreviewed)]
    assert len(listed) == 1 and listed[0].preview.counts()["post"] == 2
    assert env.writer.documents() == [] and env.state.postings() == []


def test_posting_refuses_to_run_without_a_start_date(env):
    env.settings.posting.start_date = ""
    env.invoice("HI-1", date(2026, 3, 1))
    with pytest.raises(ConfigError) as raised:
        env.run()
    assert "posting.start_date" in str(raised.value)
    assert env.writer.documents() == []


def test_unmapped_tax_and_missing_customer_are_problems_with_what_to_do(env):
    stray_tax = int(env.sandbox.seed("Tax", {"name": "Reduced", "code": "R", "value": 5})["id"])
    bad_tax = env.invoice("HI-1", date(2026, 3, 1), lines=[SeedLine("Books", 1, 10, 5, tax_id=stray_tax)])
    no_customer = env.invoice("HI-2", date(2026, 3, 2), customer="C003")
    fine = env.invoice("HI-3", date(2026, 3, 3))

    _, _, result = env.run()

    assert result.posted == 1 and result.problems == 2
    problems = {p.key: p for p in env.state.problems("posting")}
    assert "Halo tax R" in problems[str(bad_tax)].message
    assert "Mappings > Tax codes" in problems[str(bad_tax)].action
    assert "Other Top is not in the books" in problems[str(no_customer)].message
    assert "missing_customers" in problems[str(no_customer)].action
    assert set(env.references()) == {f"HALO-{fine}"}

    env.settings.posting.missing_customers = "create"
    env.state.set_mapping("tax", "T5", stray_tax)
    _, _, result = env.run()
    assert result.posted == 2 and env.state.problems("posting") == []
    created = env.state.links("customers")
    assert [key for key, link in created.items() if link.halo_id == env.clients["C003"]] == ["NEW003"]


def test_a_document_the_books_refuse_is_a_problem_and_the_rest_go_on(env):
    env.writer.refuse = {"C002"}
    ok = env.invoice("HI-1", date(2026, 3, 1))
    refused = env.invoice("HI-2", date(2026, 3, 2), customer="C002")
    later = env.invoice("HI-3", date(2026, 3, 3))

    _, _, result = env.run()

    assert set(env.references()) == {f"HALO-{ok}", f"HALO-{later}"}
    assert result.problems == 1 and "on hold" in env.state.problems("posting")[0].message
    assert env.state.posting(refused) is None  # refused: no intent left behind


def test_a_write_whose_answer_was_lost_is_looked_up_never_written_twice(env):
    ids = [env.invoice(f"HI-{n}", date(2026, 3, n)) for n in range(1, 5)]
    env.writer.fail_after_commit = lambda document: document.halo_id == ids[1]

    with pytest.raises(TransientError) as raised:
        env.run()
    assert f"HALO-{ids[1]}" in raised.value.action
    assert env.references() == Counter({f"HALO-{ids[0]}": 1, f"HALO-{ids[1]}": 1})
    assert env.state.posting(ids[1]).state == "intended"
    assert not env.halo(ids[1]).get("posted")

    env.writer.fail_after_commit = None
    _, _, result = env.run()
    assert env.references() == Counter({f"HALO-{i}": 1 for i in ids})
    assert result.already_in_books == 0 and result.posted == 2  # the lost one was found by recover()
    assert all(env.halo(i)["posted"] and env.state.posting(i).state == "marked" for i in ids)
    assert env.state.link("invoices", "DOC2", TO_BOOKS).halo_id == ids[1]


def test_marks_that_halo_could_not_take_are_sent_again(env):
    ids = [env.invoice(f"HI-{n}", date(2026, 3, n)) for n in range(1, 4)]
    env.sandbox.faults.update({"error_rate": 1.0})
    halo_down = env.client
    env.client = _ReadsOnly(halo_down, env.sandbox)
    _, events, result = env.run()
    assert result.posted == 3 and result.marked == 0
    assert all(env.state.posting(i).state == "written" for i in ids)
    assert any("next sync marks them" in getattr(e, "text", "") for e in events)

    env.client = halo_down
    env.sandbox.faults.update({"error_rate": 0.0})
    _, _, result = env.run()
    assert result.posted == 0 and result.marked == 3
    assert all(env.halo(i)["posted"] for i in ids) and sum(env.references().values()) == 3


class _ReadsOnly:
    """Reads while the sandbox works, then lets every POST meet the sandbox's 5xx (its error_rate)."""

    def __init__(self, client: Any, sandbox: Any) -> None:
        self._client, self._sandbox = client, sandbox

    def iter_records(self, resource: str, params: Any = None) -> Iterator[dict[str, Any]]:
        self._sandbox.faults.update({"error_rate": 0.0})
        try:
            yield from list(self._client.iter_records(resource, params))
        finally:
            self._sandbox.faults.update({"error_rate": 1.0})

    def get_record(self, resource: str, record_id: int, params: Any = None) -> dict[str, Any] | None:
        return self._client.get_record(resource, record_id, params)

    def save(self, resource: str, records: Any) -> list[dict[str, Any]]:
        return self._client.save(resource, records)


# --- never back: the books -> Halo run and an invoice that started in Halo ------------------------------


class _Books:
    """Books holding invoices only (as the package's connector reads them back after posting)."""

    kind = "odbc"
    display_name = "Test books"

    def __init__(self, invoices: list[Invoice]) -> None:
        self.invoices = invoices

    def streams(self) -> tuple[Any, ...]:
        return (type("S", (), {"name": "invoices", "replication_key": "modified"})(),)

    def read(self, stream: str, since: datetime | None = None) -> Iterator[Record | SourceProblem]:
        yield from self.invoices if stream == "invoices" else ()


def test_an_invoice_posted_from_halo_is_not_read_back_but_its_payments_flow(env):
    halo_id = env.invoice("HI-1", date(2026, 3, 1))
    env.run()
    (books_key,) = list(env.state.links("invoices", TO_BOOKS))
    day = datetime(2026, 3, 20, tzinfo=UTC)
    read_back = Invoice(
        key=books_key,
        number="HI-1",
        customer_key="C001",
        date=datetime(2026, 3, 1, tzinfo=UTC),
        lines=(InvoiceLine(1, "Support", Decimal(2), Decimal(50), Decimal(100), Decimal(20), tax_code="T1"),),
        net=Decimal(100),
        tax=Decimal(20),
        gross=Decimal(120),
        amount_paid=Decimal(120),
        payments=(Payment(f"PAY1:{books_key}", books_key, "C001", day, Decimal(120)),),
        modified=day,
    )
    invoices_before = len(env.sandbox.records("Invoice"))
    summary = RunSummary(run_id=0, started=datetime.now(UTC))
    SyncEngine(env.settings, env.state, _Books([read_back]), env.client, summary=summary).run(["invoices"])

    assert len(env.sandbox.records("Invoice")) == invoices_before  # not created again
    assert env.halo(halo_id)["lines"][0]["net_amount"] == 100  # nor its header/lines overwritten
    payments = env.sandbox.records("InvoicePayment")
    assert [(p["invoice_id"], p["amount"], p["thirdpartyid"]) for p in payments] == [
        (halo_id, 120, f"PAY1:{books_key}")
    ]
    assert summary.counts["invoices"]["unchanged"] == 1 and summary.counts["payments"]["created"] == 1


def test_a_document_that_went_from_the_books_is_a_problem_never_written_again(env):
    halo_id = env.invoice("HI-1", date(2026, 3, 1))
    env.run()
    env.writer.delete_documents()  # someone deleted it in the books
    env.client.save("Invoice", [{"id": halo_id, "posted": False}])  # ... and un-posted it in Halo

    _, _, result = env.run()

    assert env.writer.documents() == [] and result.posted == 0 and result.problems == 1
    (problem,) = env.state.problems("posting")
    assert "no longer show it" in problem.message and "does not write it twice" in problem.action


def test_an_invoice_turned_credit_note_after_a_lost_answer_is_still_found(env):
    halo_id = env.invoice("HI-1", date(2026, 3, 1))
    env.writer.fail_after_commit = lambda document: True
    with pytest.raises(TransientError):
        env.run()
    env.writer.fail_after_commit = None
    lines = [
        {**line, "qty_order": -2, "net_amount": -100, "tax_amount": -20}
        for line in env.halo(halo_id)["lines"]
    ]
    env.client.save("Invoice", [{"id": halo_id, "lines": lines}])  # edited in Halo into a credit note

    _, _, result = env.run()

    assert env.references() == Counter({f"HALO-{halo_id}": 1}) and result.posted == 0
    assert env.halo(halo_id)["posted"] is True


def test_a_document_in_another_currency_is_a_problem_not_a_silent_conversion(env):
    foreign = env.invoice(
        "HI-1", date(2026, 3, 1), extra={"currency": "USD", "currency_conversion_rate": 1.27}
    )
    home = env.invoice("HI-2", date(2026, 3, 2), extra={"currency_conversion_rate": 1})
    _, _, result = env.run()
    assert set(env.references()) == {f"HALO-{home}"} and result.problems == 1
    assert "another currency (USD)" in env.state.problems("posting")[0].message
    assert env.state.posting(foreign) is None

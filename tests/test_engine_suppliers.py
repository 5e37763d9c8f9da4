"""Suppliers end to end on the Halo side: the engine, a real HaloClient and the sandbox's /Supplier.

The books side is a tiny in-test connector yielding core.records.Supplier records (the packages' own reads
come with the connectors); the sandbox validates every POST against the OpenAPI's Company schema.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from msgspec.structs import replace

from core.records import Address, Record, SourceProblem, Supplier, TaxRate
from sync.engine import SyncEngine
from sync.events import Event, RecordOutcome, RunSummary
from sync.settings import Settings
from sync.state import StateStore

T0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)


@dataclass(frozen=True)
class Stream:
    name: str
    replication_key: str | None = "modified"


class SupplierBooks:
    """Books holding tax codes and suppliers; ``read`` honours ``since`` as a package's query would."""

    kind = "odbc"
    display_name = "Test books"

    def __init__(self, suppliers: list[Supplier], taxes: list[TaxRate] | None = None) -> None:
        self.suppliers = suppliers
        self.taxes = taxes or []

    def streams(self) -> tuple[Stream, ...]:
        return (Stream("tax_rates"), Stream("suppliers"))

    def read(self, stream: str, since: datetime | None = None) -> Iterator[Record | SourceProblem]:
        rows: list[Supplier] | list[TaxRate] = self.suppliers if stream == "suppliers" else self.taxes
        for row in rows:
            if since is None or row.modified is None or row.modified >= since:
                yield row


def supplier(key: str, name: str, **fields: object) -> Supplier:
    return Supplier(key=key, name=name, modified=T0, **fields)  # type: ignore[arg-type]


@pytest.fixture
def run_suppliers(tmp_path, halo_sandbox, make_halo_client):
    """``run(books, **sync_options) -> (summary, events)``: one engine run of suppliers into the sandbox."""
    state = StateStore(tmp_path / "state.sqlite")
    client = make_halo_client(halo_sandbox)

    def run(books: SupplierBooks, **options: object) -> tuple[RunSummary, list[Event]]:
        settings = Settings()
        for name, value in options.items():
            setattr(settings.sync, name, value)
        events: list[Event] = []
        summary = RunSummary(run_id=0, started=datetime.now(UTC))
        engine = SyncEngine(settings, state, books, client, summary=summary, listener=events.append)  # type: ignore[arg-type]
        engine.run(["suppliers"])
        return summary, events

    run.state = state  # type: ignore[attr-defined]
    yield run
    state.close()


def outcomes(events: list[Event], outcome: str) -> dict[str, RecordOutcome]:
    return {e.key: e for e in events if isinstance(e, RecordOutcome) and e.outcome == outcome}


def supplier_posts(sandbox) -> int:
    return sum(n for (method, path), n in sandbox.counts().items() if method == "POST" and "Supplier" in path)


def test_suppliers_are_off_by_default():
    assert "suppliers" not in Settings().sync.entities


def test_suppliers_are_created_once_with_their_key_and_a_resync_sends_nothing(halo_sandbox, run_suppliers):
    address = Address(lines=("1 Mill Lane",), city="Leeds", postcode="LS1 1AA")
    books = SupplierBooks(
        [
            supplier(
                "PAPER01",
                "Paper Supplies Ltd",
                email="orders@paper.example",
                phone="0113 000",
                contact_name="Ann Lee",
                website="https://paper.example",
                address=address,
            ),
            supplier("INK01", "Ink & Toner"),
        ]
    )
    summary, events = run_suppliers(books)
    assert summary.counts["suppliers"]["created"] == 2
    held = {r["accounts_id"]: r for r in halo_sandbox.records("Supplier")}
    assert set(held) == {"PAPER01", "INK01"}
    paper = held["PAPER01"]
    assert paper["name"] == "Paper Supplies Ltd" and paper["email_address"] == "orders@paper.example"
    assert paper["phone_number"] == "0113 000" and paper["contact_name"] == "Ann Lee"
    assert paper["address"] == "1 Mill Lane\nLeeds\nLS1 1AA"
    links = run_suppliers.state.links("suppliers")
    assert {key: link.halo_id for key, link in links.items()} == {k: r["id"] for k, r in held.items()}

    posts = supplier_posts(halo_sandbox)
    again, _ = run_suppliers(books)
    assert again.counts["suppliers"]["unchanged"] == 2 and supplier_posts(halo_sandbox) == posts

    books.suppliers[1] = replace(books.suppliers[1], phone="0200 1", modified=T0 + timedelta(days=1))
    changed, events = run_suppliers(books)
    assert list(outcomes(events, "updated")) == ["INK01"] and changed.counts["suppliers"]["created"] == 0
    assert Counter(r["accounts_id"] for r in halo_sandbox.records("Supplier")) == {"PAPER01": 1, "INK01": 1}
    assert (
        next(r for r in halo_sandbox.records("Supplier") if r["accounts_id"] == "INK01")["phone_number"]
        == "0200 1"
    )


def test_a_supplier_is_matched_by_accounts_id_then_by_its_normalised_name(halo_sandbox, run_suppliers):
    by_key = halo_sandbox.seed("Supplier", {"name": "Old name for paper", "accounts_id": "paper01 "})
    by_name = halo_sandbox.seed("Supplier", {"name": "ACME Limited"})
    taken = halo_sandbox.seed("Supplier", {"name": "Bolt Co", "accounts_id": "OTHER9"})
    books = SupplierBooks(
        [supplier("PAPER01", "Paper Supplies Ltd"), supplier("ACME", "Acme Ltd"), supplier("BOLT", "Bolt")]
    )
    summary, events = run_suppliers(books)
    linked = {key: link.halo_id for key, link in run_suppliers.state.links("suppliers").items()}
    assert linked["PAPER01"] == by_key["id"] and linked["ACME"] == by_name["id"]
    assert linked["BOLT"] != taken["id"]  # the Halo record carrying another key belongs to another supplier
    assert set(outcomes(events, "created")) == {"BOLT"}
    assert (
        outcomes(events, "updated")["ACME"].message == f"linked to the existing Halo record {by_name['id']}"
    )
    acme = next(r for r in halo_sandbox.records("Supplier") if r["id"] == by_name["id"])
    assert acme["accounts_id"] == "ACME" and summary.counts["suppliers"]["updated"] == 2


def test_two_halo_suppliers_of_one_name_are_a_problem_not_a_guess(halo_sandbox, run_suppliers):
    first = halo_sandbox.seed("Supplier", {"name": "Acme Ltd"})
    second = halo_sandbox.seed("Supplier", {"name": "ACME Limited"})
    summary, events = run_suppliers(SupplierBooks([supplier("ACME", "Acme")]))
    failed = outcomes(events, "failed")["ACME"]
    assert failed.message == f"Several Halo suppliers are called “Acme” (ids {first['id']}, {second['id']})."
    assert "accounts ID ACME" in failed.action and summary.counts["suppliers"]["failed"] == 1
    assert len(halo_sandbox.records("Supplier")) == 2  # nothing created
    assert [p.key for p in run_suppliers.state.problems()] == ["ACME"]


def test_an_inactive_supplier_is_not_created_and_deactivated_only_with_the_option(
    halo_sandbox, run_suppliers
):
    books = SupplierBooks([supplier("GONE", "Gone Ltd", active=False), supplier("LIVE", "Live Ltd")])
    _, events = run_suppliers(books)
    assert (
        outcomes(events, "skipped")["GONE"].message
        == "Inactive or deleted in the books: not created in Halo."
    )
    assert [r["accounts_id"] for r in halo_sandbox.records("Supplier")] == ["LIVE"]

    books.suppliers[1] = replace(books.suppliers[1], active=False, modified=T0 + timedelta(days=1))
    _, events = run_suppliers(books)
    assert "Make inactive in Halo" in outcomes(events, "skipped")["LIVE"].message
    live = halo_sandbox.records("Supplier")[0]
    assert not live.get("inactive")

    books.suppliers[1] = replace(books.suppliers[1], modified=T0 + timedelta(days=2))
    summary, events = run_suppliers(books, deactivate_deleted=True)
    assert (
        list(outcomes(events, "deactivated")) == ["LIVE"] and summary.counts["suppliers"]["deactivated"] == 1
    )
    assert halo_sandbox.records("Supplier")[0]["inactive"] is True


def test_a_suppliers_tax_code_becomes_its_purchase_tax_code(halo_sandbox, run_suppliers):
    tax = halo_sandbox.seed("Tax", {"name": "Standard", "code": "T1", "value": 20, "third_party_id": "T1"})
    books = SupplierBooks(
        [supplier("PAPER01", "Paper", tax_code="T1"), supplier("ODD", "Odd", tax_code="T9")],
        taxes=[TaxRate(key="T1", code="T1", name="Standard", rate=Decimal("20.0000"), modified=T0)],
    )
    _, events = run_suppliers(books)
    held = {r["accounts_id"]: r for r in halo_sandbox.records("Supplier")}
    assert held["PAPER01"]["purchase_tax_code"] == tax["id"] and "ODD" not in held
    assert (
        outcomes(events, "failed")["ODD"].message == "Tax code T9 is not one of the tax codes in the books."
    )

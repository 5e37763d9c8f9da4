"""Rows known unchanged are not converted again, and nothing that changed is missed for it (issue 16).

The real Sage 50 UK stand-in through unixODBC and the SQLite driver, the real engine and a real Halo
sandbox over HTTP. Conversions are counted by wrapping the connector's own converters (they still run);
nothing is mocked. Each way a record can need sending while its rows stay as they were is tried: a link
pointed at another Halo record, a mapping set, "Sync this record again" on a rider, a rider Halo refused.
"""

from __future__ import annotations

import sqlite3
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from connectors.sage50uk import Sage50UKConnector
from connectors.unchanged import KnownRows, Unchanged, digest
from core.records import ENTITY_ORDER, Customer
from halo import payloads
from sync.known_rows import kept_rows, stored_with_rows, stored_without_rows
from sync.state import StateStore
from tests.standins.sage50uk import BASE, invoice_split, touch

CONVERTERS = ("_customer", "_item", "_invoice", "_quick_invoice")


@pytest.fixture
def conversions(monkeypatch: pytest.MonkeyPatch) -> Counter[str]:
    """How often each of the Sage 50 UK connector's record converters ran (they still run as they are)."""
    counted: Counter[str] = Counter()
    for name in CONVERTERS:
        real = getattr(Sage50UKConnector, name)

        def counting(self: Any, *args: Any, _real: Callable[..., Any] = real, _name: str = name) -> Any:
            counted[_name] += 1
            return _real(self, *args)

        monkeypatch.setattr(Sage50UKConnector, name, counting)
    return counted


def _full_read(company: Any) -> None:
    """Forget every cursor: the next run reads every row of every stream."""
    with company.state() as state:
        for entity in ENTITY_ORDER:
            state.save_cursor(entity, None)


def _converted(conversions: Counter[str]) -> int:
    return sum(conversions.values())


def _not_in_step(summary: Any) -> int:
    """Rows of the streams the connector skips in that were not in step: rows that could not be read
    (the stand-in holds some on purpose) and records skipped as inactive. They keep no digest."""
    return sum(
        summary.counts.get(entity, {}).get(outcome, 0)
        for entity in ("customers", "items", "invoices")
        for outcome in ("failed", "skipped")
    )


class SlowConnector(Sage50UKConnector):
    """The same connector without skipping: what every run did before (and the reference here)."""

    skips_unchanged_rows = False


def _slow(company: Any) -> SlowConnector:
    same = company.connector()
    return SlowConnector(same._connect, local_zone=same.local_zone)


def test_a_full_re_read_converts_no_row_it_knows_and_counts_what_a_converting_read_counts(
    sage_company, conversions
):
    sage_company.run()
    _full_read(sage_company)
    reference = sage_company.run(connector=_slow(sage_company))
    converted_by_reference = _converted(conversions)
    assert converted_by_reference > 0
    conversions.clear()
    posts = sage_company.posts()

    _full_read(sage_company)
    summary = sage_company.run()

    assert 0 < _converted(conversions) == _not_in_step(summary) < converted_by_reference
    assert sage_company.posts() == posts
    assert summary.status == reference.status
    assert summary.counts == reference.counts
    assert summary.total("unchanged") > 0 and summary.counts["payments"]["unchanged"] > 0


def test_the_first_full_re_read_after_a_first_sync_converts_nothing_either(sage_company, conversions):
    """A first sync keeps each record's rows' digest once it and its riders are confirmed."""
    sage_company.run()
    with sage_company.state() as state:
        invoice = state.link("invoices", "1002")
        customer = state.link("customers", "OBRIEN")
    assert invoice is not None and kept_rows(invoice.content_hash) is not None
    assert customer is not None and kept_rows(customer.content_hash) is not None
    conversions.clear()
    _full_read(sage_company)
    summary = sage_company.run()
    assert _converted(conversions) == _not_in_step(summary)
    assert summary.total("created") == summary.total("updated") == 0


def test_a_changed_row_is_converted_and_sent_and_its_neighbours_are_not(sage_company, conversions):
    sage_company.run()
    touch(sage_company.path, "SALES_LEDGER", "ACCOUNT_REF", "OBRIEN", BASE, NAME="O'Brien & Sons")
    conversions.clear()
    posts = sage_company.posts()
    _full_read(sage_company)
    summary = sage_company.run()
    assert conversions["_customer"] == 1 + summary.counts["customers"].get("failed", 0) + summary.counts[
        "customers"
    ].get("skipped", 0)
    assert _converted(conversions) == 1 + _not_in_step(summary)
    assert summary.counts["customers"]["updated"] == 1
    after = sage_company.posts()
    assert {
        path: after[path] - posts.get(path, 0) for path in after if after[path] != posts.get(path, 0)
    } == {"/api/Client": 1}
    client = next(c for c in sage_company.sandbox.records("Client") if c.get("accountsid") == "OBRIEN")
    assert client["name"] == "O'Brien & Sons"

    conversions.clear()
    _full_read(sage_company)
    summary = sage_company.run()
    assert _converted(conversions) == _not_in_step(summary)  # its new digest was kept with the update


def test_a_link_pointed_at_another_halo_record_sends_the_invoices_that_name_it(sage_company, conversions):
    sage_company.run()
    other = sage_company.sandbox.seed("Client", {"name": "O'Brien (new record)", "accountsid": "OBRIEN-2"})
    with sage_company.state() as state:
        link = state.link("customers", "OBRIEN")
        assert link is not None
        state.save_link("customers", "OBRIEN", int(other["id"]), link.content_hash)
    conversions.clear()
    _full_read(sage_company)
    sage_company.run()
    assert conversions["_quick_invoice"] + conversions["_invoice"] > 0  # every digest is void now
    theirs = _invoice_keys_of(sage_company, "OBRIEN")
    clients = {
        i["client_id"] for i in sage_company.sandbox.records("Invoice") if i.get("accountsid") in theirs
    }
    assert theirs and clients == {int(other["id"])}


def _invoice_keys_of(company: Any, customer_key: str) -> set[str]:
    return {i.key for i in company.source()["invoices"] if i.customer_key == customer_key}


def test_a_tax_mapping_set_sends_the_invoices_whose_lines_take_it(sage_company, conversions):
    sage_company.run()
    tax = sage_company.sandbox.seed("Tax", {"name": "Standard (mapped)", "code": "S20", "value": 20})
    with sage_company.state() as state:
        state.set_mapping("tax", "T1", int(tax["id"]))
    conversions.clear()
    _full_read(sage_company)
    summary = sage_company.run()
    assert conversions["_quick_invoice"] + conversions["_invoice"] > 0
    assert summary.counts["invoices"]["updated"] > 0
    lines = [line for i in sage_company.sandbox.records("Invoice") for line in i.get("lines", [])]
    assert any(line.get("item_tax_code") == int(tax["id"]) for line in lines)


def test_sync_this_record_again_on_a_payment_sends_it_although_its_invoice_rows_are_known(
    sage_company,
):
    sage_company.run()
    with sage_company.state() as state:
        payment_key = next(iter(state.links("payments")))
        stream = state.resync_record("payments", payment_key)
    assert stream == "invoices"
    posts = sage_company.posts()
    summary = sage_company.run()
    assert summary.counts["payments"]["updated"] == 1
    assert sage_company.posts()["/api/InvoicePayment"] == posts["/api/InvoicePayment"] + 1


def test_sync_this_record_again_on_an_invoice_sends_it_and_the_other_rows_stay_known(
    sage_company, conversions
):
    sage_company.run()
    with sage_company.state() as state:
        stream = state.resync_record("invoices", "1002")
    assert stream == "invoices"
    conversions.clear()
    _full_read(sage_company)
    summary = sage_company.run()
    assert summary.counts["invoices"]["updated"] == 1
    assert conversions["_quick_invoice"] + conversions["_invoice"] == 1 + summary.counts["invoices"].get(
        "failed", 0
    )
    assert conversions["_customer"] == summary.counts["customers"].get("failed", 0) + summary.counts[
        "customers"
    ].get("skipped", 0)


def test_an_invoice_whose_payment_halo_refused_keeps_no_digest_and_its_payment_is_sent_next_time(
    sage_company, monkeypatch
):
    from core.errors import RecordError
    from halo.client import HaloClient

    connection = sqlite3.connect(sage_company.path)
    try:
        from resources.demo.sage50uk_schema import SageLedger

        SageLedger(connection).add_receipt(
            invoice_split=invoice_split(connection, 1002),
            account_ref="OBRIEN",
            when=BASE + timedelta(days=40),
            amount=55.0,
            reference="REFUSED ONCE",
            touch_invoice=False,
        )
        connection.commit()
    finally:
        connection.close()
    real_save = HaloClient.save

    def refuse_that_payment(self: HaloClient, resource: str, records: list[dict[str, Any]]) -> Any:
        for index, record in enumerate(records):
            if resource == "InvoicePayment" and record.get("sage50_reference") == "REFUSED ONCE":
                raise RecordError(f"Halo refused the payment (record {index}).")
        return real_save(self, resource, records)

    monkeypatch.setattr(HaloClient, "save", refuse_that_payment)  # a refusal at the client's edge
    sage_company.run()
    with sage_company.state() as state:
        invoice = state.link("invoices", "1002")
    assert invoice is not None and kept_rows(invoice.content_hash) is None

    monkeypatch.setattr(HaloClient, "save", real_save)
    _full_read(sage_company)
    summary = sage_company.run()
    assert summary.counts["payments"]["created"] == 1
    paid = sage_company.sandbox.records("InvoicePayment")
    assert any(p.get("sage50_reference") == "REFUSED ONCE" for p in paid)
    with sage_company.state() as state:
        invoice = state.link("invoices", "1002")
    assert invoice is not None and kept_rows(invoice.content_hash) is not None


def test_a_dry_run_keeps_no_digest(sage_company):
    summary = sage_company.run(dry_run=True)
    assert summary.total("created") > 0
    with sage_company.state() as state:
        assert not any(kept_rows(link.content_hash) for link in state.links("invoices").values())


# --- the pieces ----------------------------------------------------------------------------------------


def test_a_kept_digest_round_trips_and_leaves_the_content_hash_and_fingerprint_as_they_were():
    when = datetime(2026, 3, 4, 9, 30, tzinfo=UTC)
    stored = payloads.stored_hash("c" * 64, "f" * 64)
    kept = stored_with_rows(stored, "d" * 32, 2, when)
    assert payloads.split_stored_hash(kept) == ("c" * 64, "f" * 64)
    found = kept_rows(kept)
    assert found is not None and (found.digest, found.riders, found.modified) == ("d" * 32, 2, when)
    assert stored_without_rows(kept) == stored
    assert kept_rows(stored) is None and kept_rows("") is None
    assert kept_rows(stored + "/d;x;") is None  # unreadable: no digest, the row is converted


def test_the_state_store_counts_every_change_that_voids_the_digests(tmp_path):
    with StateStore(tmp_path / "state.db") as state:
        start = state.changes()
        state.save_link("customers", "A", 1, "h")
        state.save_link("customers", "A", 1, "h2")  # a new hash for the same Halo record
        assert state.changes() == start
        state.save_link("payments", "P", 5, "p")
        steps: list[Callable[[], object]] = [
            lambda: state.save_link("customers", "A", 2, "h2"),  # pointed at another Halo record
            lambda: state.resync_record("payments", "P"),  # "Sync this record again" on a rider
            lambda: state.drop_link("customers", "A"),
            lambda: state.set_mapping("tax", "T1", 7),
            lambda: state.set_mapping("tax", "T1", 8),
            lambda: state.set_mapping("tax", "T1", None),
        ]
        for number, step in enumerate(steps, start=1):
            before = state.changes()
            step()
            assert state.changes() > before, number
        # "Sync this record again" on a record that rides on nothing: its own digest goes with its hash,
        # and no other record's payload takes its hash (only its Halo id), so the others' digests stay.
        # A customer's main site is cleared with it, and the customer then keeps no digest for it either.
        kept = stored_with_rows("c/f", "d" * 32, 1, None)
        for entity, key in (("invoices", "1001"), ("customers", "B")):
            state.save_link(entity, key, 9, kept)
            if entity == "customers":
                state.save_link("sites", key, 10, "s/f")
            before = state.changes()
            state.resync_record(entity, key)
            assert state.changes() == before, entity
            link = state.link(entity, key)
            assert link is not None and kept_rows(link.content_hash) is None
        # A site cleared alone, while its customer keeps a digest that says the site was in step: counted.
        state.save_link("customers", "C", 11, kept)
        state.save_link("sites", "C", 12, "s/f")
        before = state.changes()
        state.resync_record("sites", "C")
        assert state.changes() > before


def test_the_riding_entities_are_the_ones_the_specs_say_ride_with_another():
    from sync.entities import SPECS
    from sync.state import RIDING_ENTITIES

    assert set(RIDING_ENTITIES) == {spec.name for spec in SPECS if spec.rides_with}


def test_a_cell_the_encoder_cannot_write_gives_no_digest_and_its_row_is_converted():
    class Odd:
        pass

    assert digest(b"salt", [1, "A", Odd()]) == ""
    assert digest(b"salt", [1, "A"]) == digest(b"salt", [1, "A"]) != digest(b"other", [1, "A"])
    assert digest(b"salt", [1, "A"]) != digest(b"salt", ["1", "A"])


def test_a_connector_that_has_not_opted_in_reads_every_row(sage_company):
    looked_up: list[list[str]] = []
    known = KnownRows("customers", b"salt", lambda keys: looked_up.append(list(keys)) or {})
    with _slow(sage_company) as connector:
        read = list(connector.read_skipping("customers", None, known))
    assert read and not any(isinstance(r, Unchanged) for r in read) and not looked_up


def test_a_row_whose_digest_is_known_comes_as_unchanged_and_the_others_as_records(sage_company):
    with sage_company.connector() as connector:
        first = KnownRows("customers", b"salt", lambda keys: {})
        records = list(connector.read_skipping("customers", None, first))
        digests = dict(first.noted)
    assert set(digests) == {r.key for r in records}
    known_key = "OBRIEN"

    def lookup(keys: Iterator[str] | list[str]) -> dict[str, str]:
        return {key: digests[key] for key in keys if key == known_key}

    with sage_company.connector() as connector:
        again = list(connector.read_skipping("customers", None, KnownRows("customers", b"salt", lookup)))
    assert [r for r in again if isinstance(r, Unchanged)] == [Unchanged("customers", known_key)]
    assert len(again) == len(records)
    with sage_company.connector() as connector:
        salted = list(connector.read_skipping("customers", None, KnownRows("customers", b"pepper", lookup)))
    assert not any(isinstance(r, Unchanged) for r in salted)


def test_a_customer_whose_tax_halo_matched_by_its_rate_keeps_no_digest(sage_company, conversions):
    """A tax found in Halo's list (no link, no mapping) can change with Halo's list: planned every time."""
    sandbox = sage_company.sandbox
    sandbox.seed("Tax", {"name": "Zero", "code": "T0", "value": 0})
    sandbox.seed("Tax", {"name": "Standard", "code": "T1", "value": 20})
    sage_company.run(entities=["customers"])
    with sage_company.connector() as connector:
        taxed = {r.key for r in connector.read("customers") if isinstance(r, Customer) and r.tax_code}
    with sage_company.state() as state:
        links = {key: link for key, link in state.links("customers").items() if key in taxed}
    assert links and not any(kept_rows(link.content_hash) for link in links.values())
    conversions.clear()
    _full_read(sage_company)
    sage_company.run(entities=["customers"])
    assert conversions["_customer"] >= len(links)


def test_a_row_converted_again_loses_the_digest_its_link_kept(sage_company, conversions):
    """A row changed so that it cannot be read: its old digest goes, so the row is converted from then on
    until its record is found in step again, even if its cells change back to what they were."""
    sage_company.run()
    with sage_company.connector() as connector:
        customer = next(r for r in connector.read("customers") if r.key == "OBRIEN")
    connection = sqlite3.connect(sage_company.path)
    try:
        (modified,) = connection.execute(
            'SELECT "RECORD_MODIFY_DATE" FROM "SALES_LEDGER" WHERE "ACCOUNT_REF" = ?', ("OBRIEN",)
        ).fetchone()
        connection.execute('UPDATE "SALES_LEDGER" SET "NAME" = ? WHERE "ACCOUNT_REF" = ?', ("", "OBRIEN"))
        connection.commit()
        _full_read(sage_company)
        summary = sage_company.run()
        assert any(e.key == "OBRIEN" for e in sage_company.outcomes("failed", "customers"))
        with sage_company.state() as state:
            link = state.link("customers", "OBRIEN")
        assert link is not None and kept_rows(link.content_hash) is None
        assert summary.counts["customers"]["failed"] >= 1
        connection.execute(
            'UPDATE "SALES_LEDGER" SET "NAME" = ?, "RECORD_MODIFY_DATE" = ? WHERE "ACCOUNT_REF" = ?',
            (customer.name, modified, "OBRIEN"),
        )
        connection.commit()
    finally:
        connection.close()
    conversions.clear()
    _full_read(sage_company)
    sage_company.run()
    assert conversions["_customer"] >= 1 + 1  # OBRIEN, found in step again, and the stand-in's bad row
    with sage_company.state() as state:
        link = state.link("customers", "OBRIEN")
    assert link is not None and kept_rows(link.content_hash) is not None


def test_a_customer_whose_site_halo_refused_keeps_no_digest_and_its_site_is_sent_next_time(
    sage_company, monkeypatch
):
    from core.errors import RecordError
    from halo.client import HaloClient

    real_save = HaloClient.save

    def refuse_acme_site(self: HaloClient, resource: str, records: list[dict[str, Any]]) -> Any:
        if resource == "Site" and any(r.get("accountsid") == "ACME01" for r in records):
            raise RecordError("Halo refused the site.")
        return real_save(self, resource, records)

    monkeypatch.setattr(HaloClient, "save", refuse_acme_site)  # a refusal at the client's edge
    sage_company.run()
    with sage_company.state() as state:
        customer = state.link("customers", "ACME01")
        other = state.link("customers", "OBRIEN")
    assert customer is not None and kept_rows(customer.content_hash) is None
    assert other is not None and kept_rows(other.content_hash) is not None

    monkeypatch.setattr(HaloClient, "save", real_save)
    _full_read(sage_company)
    sage_company.run()
    sites = [s for s in sage_company.sandbox.records("Site") if s.get("accountsid") == "ACME01"]
    assert sites and sites[0].get("phonenumber")
    with sage_company.state() as state:
        customer = state.link("customers", "ACME01")
    assert customer is not None and kept_rows(customer.content_hash) is not None


def test_the_generic_odbc_connector_skips_known_rows_and_sends_an_invoice_whose_line_changed(
    tmp_path, halo_sandbox, make_halo_client, monkeypatch
):
    """The user's own SELECTs (a source that may have no modified column, so every sync reads it all)."""
    from connectors.generic import GenericODBCConnector
    from sync.engine import SyncEngine
    from sync.events import RunSummary
    from sync.settings import Settings
    from tests.fixtures_odbc import build_sqlite_odbc
    from tests.test_connector_generic import SCRIPT, retitle_a_line
    from tests.test_connector_generic import connector as generic_connector

    converted: Counter[str] = Counter()
    real_invoice = GenericODBCConnector._invoice

    def counting(self: GenericODBCConnector, *args: Any) -> Any:
        converted["invoices"] += 1
        return real_invoice(self, *args)

    monkeypatch.setattr(GenericODBCConnector, "_invoice", counting)
    source = build_sqlite_odbc(tmp_path / "books.sqlite", SCRIPT)
    settings = Settings()
    settings.source.kind = "odbc"
    state = StateStore(tmp_path / "state.sqlite")
    client = make_halo_client(halo_sandbox)

    def full_run() -> Any:
        for entity in ENTITY_ORDER:
            state.save_cursor(entity, None)
        summary = RunSummary(run_id=0, started=datetime.now(UTC))
        with generic_connector(source) as books:
            SyncEngine(settings, state, books, client, summary=summary).run(
                ["tax_rates", "customers", "items", "invoices"]
            )
        return summary

    try:
        first = full_run()
        assert first.counts["invoices"]["created"] == 2
        converted.clear()
        again = full_run()
        assert converted["invoices"] == 1  # 7003, which cannot be read; 7001 and 7002 are known
        assert again.counts["invoices"]["unchanged"] == 2 and again.total("updated") == 0

        retitle_a_line(tmp_path / "books.sqlite")
        converted.clear()
        changed = full_run()
        assert converted["invoices"] == 2 and changed.counts["invoices"]["updated"] == 1
        invoice = next(i for i in halo_sandbox.records("Invoice") if i.get("accountsid") == "7001")
        assert "Toner (black)" in [line.get("item_shortdescription") for line in invoice["lines"]]
    finally:
        state.close()


# --- a differential check: skipping never leaves anything that converting would send --------------------


def _edit_the_books_or_the_state(company: Any, rng: Any, step: int, renamed: dict[str, Any]) -> str:
    """One random change a user or a package makes between syncs; what it was, for the failure message.
    ``renamed``: customers renamed so far and their first names, so a later step can change one back."""
    connection = sqlite3.connect(company.path)
    try:
        kinds = ["customer", "line", "receipt", "item", "header", "resync"] + (["back"] if renamed else [])
        kind = rng.choice(kinds)
        if kind == "customer":
            ref, name = rng.choice(
                list(connection.execute('SELECT "ACCOUNT_REF", "NAME" FROM "SALES_LEDGER"'))
            )
            renamed.setdefault(ref, name)
            connection.execute(
                'UPDATE "SALES_LEDGER" SET "NAME" = ? WHERE "ACCOUNT_REF" = ?', (f"Renamed {step}", ref)
            )
            done = f"customer {ref} renamed"
        elif kind == "back":  # its cells as they were when a digest may have been kept for them
            ref = rng.choice(sorted(renamed))
            connection.execute(
                'UPDATE "SALES_LEDGER" SET "NAME" = ? WHERE "ACCOUNT_REF" = ?', (renamed.pop(ref), ref)
            )
            done = f"customer {ref} named as before"
        elif kind == "line":
            rowid = rng.choice([r[0] for r in connection.execute('SELECT rowid FROM "INVOICE_ITEM"')])
            connection.execute(
                'UPDATE "INVOICE_ITEM" SET "DESCRIPTION" = ? WHERE rowid = ?', (f"Line {step}", rowid)
            )
            done = f"invoice line {rowid} described anew"
        elif kind == "receipt":
            number, account = rng.choice(
                list(
                    connection.execute(
                        'SELECT "INVOICE_NUMBER", "ACCOUNT_REF" FROM "INVOICE" '
                        "WHERE \"INVOICE_OR_CREDIT\" = 'Invoice' "
                        'AND "ACCOUNT_REF" IN (SELECT "ACCOUNT_REF" FROM "SALES_LEDGER")'
                    )
                )
            )
            from resources.demo.sage50uk_schema import SageLedger

            try:
                split = invoice_split(connection, number)
            except LookupError:  # not posted to the ledger: nothing can pay it
                return f"no receipt (invoice {number} is not posted)"
            SageLedger(connection).add_receipt(
                invoice_split=split,
                account_ref=account,
                when=BASE + timedelta(days=50 + step),
                amount=1.0,
                reference=f"Step {step}",
                touch_invoice=rng.random() < 0.5,
            )
            done = f"a receipt for invoice {number}"
        elif kind == "item":
            code = rng.choice([r[0] for r in connection.execute('SELECT "STOCK_CODE" FROM "STOCK"')])
            connection.execute(
                'UPDATE "STOCK" SET "SALES_PRICE" = ? WHERE "STOCK_CODE" = ?', (step + 0.5, code)
            )
            done = f"item {code} repriced"
        elif kind == "header":
            number = rng.choice([r[0] for r in connection.execute('SELECT "INVOICE_NUMBER" FROM "INVOICE"')])
            connection.execute(
                'UPDATE "INVOICE" SET "CUST_ORDER_NUMBER" = ? WHERE "INVOICE_NUMBER" = ?',
                (f"PO {step}", number),
            )
            done = f"invoice {number} re-referenced"
        elif kind == "resync":
            with company.state() as state:
                entity = rng.choice(["customers", "invoices", "payments", "items"])
                keys = sorted(state.links(entity))
                key = rng.choice(keys)
                state.resync_record(entity, key)
            done = f"sync {entity} {key} again"
        connection.commit()
    finally:
        connection.close()
    return done


@pytest.mark.parametrize("seed", [1, 2, 3, 4])
def test_after_any_edits_a_run_that_converts_every_row_finds_nothing_the_skipping_run_left(
    sage_company, seed
):
    """Random edits of the books (and "Sync this record again"); after each, a full read that skips the
    rows it knows, then one more, then one that converts every row: the last two must send nothing."""
    import random

    rng = random.Random(seed)
    renamed: dict[str, Any] = {}
    sage_company.run()
    for step in range(10):
        done = _edit_the_books_or_the_state(sage_company, rng, step, renamed)
        _full_read(sage_company)
        sage_company.run()
        posts = sage_company.posts()
        _full_read(sage_company)
        skipping = sage_company.run()
        assert sage_company.posts() == posts, f"step {step} ({done}): the second skipping run sent something"
        with sage_company.state() as state:
            state.set_mapping("tax", "VOID", 1)  # as any mapping change does: every digest is void
            state.set_mapping("tax", "VOID", None)
        _full_read(sage_company)
        converting = sage_company.run()
        assert sage_company.posts() == posts, f"step {step} ({done}): converting found something to send"
        assert converting.counts == skipping.counts, f"step {step} ({done})"


def test_the_code_is_told_apart_by_its_sources_or_an_installed_build_by_its_program(tmp_path, monkeypatch):
    """A new version converts every row once: its sources (or its program) give another salt."""
    import sys

    from sync.known_rows import code_digest

    from_sources = code_digest.__wrapped__()
    assert from_sources == code_digest.__wrapped__()
    program = tmp_path / "LedgerBridge.exe"
    program.write_bytes(b"build 1")
    monkeypatch.setattr(sys, "frozen", True, raising=False)  # as PyInstaller sets it
    monkeypatch.setattr(sys, "executable", str(program))
    installed = code_digest.__wrapped__()
    assert installed != from_sources
    program.write_bytes(b"build 2, a little longer")
    assert code_digest.__wrapped__() != installed


def test_settings_that_only_say_how_a_sync_runs_keep_the_salt_and_the_others_change_it():
    from sync.known_rows import stream_salt
    from sync.settings import Settings

    def salt(change: Callable[[Settings], None] | None = None) -> bytes:
        settings = Settings()
        if change is not None:
            change(settings)
        return stream_salt(settings, ("sage50uk", "Europe/London", ""), "invoices", 0)

    same = salt()
    for how in (
        lambda s: setattr(s.sync, "interval_minutes", 15),
        lambda s: setattr(s.sync, "lookback_minutes", 30),
        lambda s: setattr(s.halo, "timeout_seconds", 5.0),
        lambda s: setattr(s.halo, "batch_size", 10),
        lambda s: setattr(s.halo, "requests_per_5_minutes", 100),
    ):
        assert salt(how) == same
    for what in (
        lambda s: setattr(s.source, "timezone", "Europe/Paris"),
        lambda s: setattr(s.sync, "sync_payments", False),
        lambda s: setattr(s.sync, "deactivate_deleted", True),
        lambda s: setattr(s.sync, "toplevel_id", 7),
        lambda s: setattr(s.halo, "resource_server", "https://other.example"),
    ):
        assert salt(what) != same
    assert stream_salt(Settings(), (), "invoices", 1) != stream_salt(Settings(), (), "invoices", 0)
    assert stream_salt(Settings(), (), "customers", 0) != stream_salt(Settings(), (), "invoices", 0)

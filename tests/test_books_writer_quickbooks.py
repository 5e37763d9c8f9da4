"""QuickBooksWriter through real unixODBC + the SQLite3 driver, on the stand-in with QODBC's write rules.

The books are read back with the QuickBooks READER (connectors/quickbooks.py) and checked row by row with
plain sqlite3, so a writer that only believed it had written would fail here.
"""

from __future__ import annotations

import contextlib
import sqlite3
from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal

import pyodbc
import pytest
from msgspec.structs import replace as replace_record

from connectors.quickbooks import QuickBooksConnector
from connectors.quickbooks_writer import QuickBooksWriter, write_error
from connectors.registry import SourceConfig, create_connector
from core.books import BooksDocument, BooksLine
from core.errors import ConfigError, LedgerBridgeError, RecordError, TransientError
from core.records import Address, Customer, Invoice, Item
from tests.standins import qodbc_writes
from tests.standins import quickbooks as standin

D = Decimal


class Company:
    def __init__(self, tmp_path, rules) -> None:
        self.path = tmp_path / "company.sqlite"
        self.read_string = standin.build_quickbooks_company(self.path)
        self.write_string = qodbc_writes.writable_connection_string(self.read_string, rules)

    def writer(self, *, chunk_size: int | None = None, income_account: str = "") -> QuickBooksWriter:
        source = SourceConfig(
            kind="quickbooks", connection_string=self.write_string, income_account=income_account
        )
        writer = QuickBooksWriter.from_source(source, None)
        if chunk_size is not None:
            writer.chunk_size = chunk_size
        return writer

    def reader(self) -> QuickBooksConnector:
        source = SourceConfig(
            kind="quickbooks", connection_string=self.read_string, timezone="America/Vancouver"
        )
        connector = create_connector(source, None, page_size=3)
        assert isinstance(connector, QuickBooksConnector)
        return connector

    def rows(self, sql: str, params: tuple = ()) -> list[tuple]:
        connection = sqlite3.connect(self.path)
        try:
            return connection.execute(sql, params).fetchall()
        finally:
            connection.close()


@pytest.fixture
def company(tmp_path, qodbc_rules) -> Company:
    return Company(tmp_path, qodbc_rules)


def document(**changes) -> BooksDocument:
    """Three lines: 2 x 125.00 GST 5 %, 1 x 100.00 HST 13 %, and a text line: 350.00 + 25.50 = 375.50."""
    base = BooksDocument(
        reference="HALO-1001",
        halo_id=1001,
        number="H1001",
        customer_key="80000001-1",
        date=datetime(2024, 5, 1, tzinfo=UTC),
        due_date=datetime(2024, 5, 31, tzinfo=UTC),
        lines=(
            BooksLine(
                "Onsite support – O'Neil's", D("2"), D("125.00"), D("250.00"), D("12.50"), "S1", "STC-G"
            ),
            BooksLine("Remote fix ☕", D("1"), D("100.00"), D("100.00"), D("13.00"), "S2", "STC-H"),
            BooksLine("Thanks for your business!", D("0"), D("0.00"), D("0.00"), D("0.00")),
        ),
        net=D("350.00"),
        tax=D("25.50"),
        gross=D("375.50"),
        customer_reference="PO 4711",
        memo="May support (Halo)",
    )
    return replace(base, **changes)


def read_document(company: Company, key: str) -> Invoice:
    with company.reader() as reader:
        records = {record.key: record for record in reader.read("invoices")}
    found = records[key]
    assert isinstance(found, Invoice), found
    return found


def marked(company: Company, table: str, marker: str) -> int:
    return company.rows(f"SELECT COUNT(*) FROM {table} WHERE CustomFieldOther = ?", (marker,))[0][0]


# --- posting ------------------------------------------------------------------------------------------------


def test_a_document_with_several_lines_lands_once_and_the_reader_reads_it_back(company):
    with company.writer() as writer:
        posted = writer.post(document())
        assert writer.find_posted(["HALO-1001"]) == {"HALO-1001": posted}
    assert posted.reference == "HALO-1001" and posted.books_number == "H1001" and posted.books_key
    assert marked(company, "Invoice", "HALO-1001") == 1
    assert marked(company, "InvoiceLine", "HALO-1001") == 3
    invoice = read_document(company, posted.books_key)
    assert (invoice.number, invoice.customer_key, invoice.reference) == ("H1001", "80000001-1", "PO 4711")
    assert invoice.date.date().isoformat() == "2024-05-01" and invoice.due_date is not None
    assert (invoice.net, invoice.tax, invoice.gross, invoice.is_credit) == (
        D("350.00"),
        D("25.50"),
        D("375.50"),
        False,
    )
    assert [
        (line.description, line.item_key, line.tax_code, line.net, line.tax) for line in invoice.lines
    ] == [
        ("Onsite support – O'Neil's", "S1", "STC-G", D("250.00"), D("12.50")),
        ("Remote fix ☕", "S2", "STC-H", D("100.00"), D("13.00")),
        ("Thanks for your business!", "", "", D("0.00"), D("0.00")),
    ]
    assert [line.quantity for line in invoice.lines[:2]] == [D("2.0000"), D("1.0000")]
    assert company.rows("SELECT Memo, PONumber FROM Invoice WHERE CustomFieldOther = 'HALO-1001'") == [
        ("May support (Halo)", "PO 4711")
    ]


def test_a_credit_note_lands_as_a_credit_memo(company):
    credit = document(
        reference="HALO-C77",
        halo_id=77,
        number="CN77",
        is_credit=True,
        lines=(BooksLine("Goodwill credit", D("1"), D("40.00"), D("40.00"), D("2.00"), "S1", "STC-G"),),
        net=D("40.00"),
        tax=D("2.00"),
        gross=D("42.00"),
        due_date=None,
    )
    with company.writer() as writer:
        posted = writer.post(credit)
    assert marked(company, "CreditMemo", "HALO-C77") == 1 and marked(company, "Invoice", "HALO-C77") == 0
    memo = read_document(company, posted.books_key)
    assert (memo.is_credit, memo.number, memo.gross, memo.outstanding) == (
        True,
        "CN77",
        D("42.00"),
        D("42.00"),
    )
    assert [(line.item_key, line.net) for line in memo.lines] == [("S1", D("40.00"))]


def test_the_books_number_their_own_when_no_number_is_given(company):
    with company.writer() as writer:
        posted = writer.post(document(number=""))
    # The stand-in's highest all-digit invoice number is MAX_REF; QuickBooks counts on from the last one.
    assert posted.books_number == str(int(standin.MAX_REF) + 1)


def test_find_posted_catches_a_second_post_across_invoices_and_credit_memos(company):
    with company.writer(chunk_size=1) as writer:  # one marker per IN list: chunks are crossed
        first = writer.post(document())
        credit = writer.post(document(reference="HALO-C5", number="", is_credit=True))
        found = writer.find_posted(["HALO-1001", "HALO-C5", "HALO-404", "", "HALO-1001"])
    assert found == {"HALO-1001": first, "HALO-C5": credit}
    assert writer.find_posted([]) == {}


def test_a_document_without_lines_is_refused_before_anything_is_sent(company):
    with company.writer() as writer, pytest.raises(RecordError) as refused:
        writer.post(document(lines=()))
    assert "no lines" in refused.value.message and "H1001" in refused.value.message
    assert marked(company, "Invoice", "HALO-1001") == 0


@pytest.mark.parametrize(
    ("changes", "words"),
    [
        ({"number": "INV-2024-000123"}, "11 characters"),
        ({"reference": "HALO-" + "9" * 30}, "Other field"),
        ({"currency": "EUR"}, "currency"),
        (
            {"lines": (BooksLine("Consulting", D("1"), D("10.00"), D("10.00"), D("0.00")),)},
            "no QuickBooks item",
        ),
    ],
)
def test_what_quickbooks_cannot_take_is_refused_with_what_to_do(company, changes, words):
    with company.writer() as writer, pytest.raises(RecordError) as refused:
        writer.post(document(**changes))
    assert words in refused.value.message and refused.value.action
    assert company.rows("SELECT COUNT(*) FROM Invoice")[0][0] == len(standin.INVOICES)


def test_a_document_quickbooks_refuses_is_a_record_error_and_leaves_no_cached_lines(company):
    with company.writer() as writer:
        with pytest.raises(RecordError) as unknown_customer:
            writer.post(document(customer_key="80000099-1"))
        assert "invalid reference to QuickBooks Customer" in unknown_customer.value.message
        assert "H1001" in unknown_customer.value.message and "Mappings" in unknown_customer.value.action
        # An unknown item on the second line: the first line was already in the connection's cache.
        bad_item = document(reference="HALO-1002", number="H1002")
        bad_item = replace(bad_item, lines=(bad_item.lines[0], replace(bad_item.lines[1], item_key="NOPE")))
        with pytest.raises(RecordError) as unknown_item:
            writer.post(bad_item)
        assert "Item" in unknown_item.value.message and "line 2" in unknown_item.value.message
        # The same writer posts the next document with exactly its own lines: nothing stale was cached.
        posted = writer.post(document(reference="HALO-1003", number="H1003"))
    assert marked(company, "Invoice", "HALO-1001") == 0 and marked(company, "Invoice", "HALO-1002") == 0
    assert company.rows("SELECT COUNT(*) FROM InvoiceLine WHERE TxnID = ?", (posted.books_key,)) == [(3,)]


# --- a link that dies ---------------------------------------------------------------------------------------


class LinkCut:
    """A pyodbc connection whose link dies at the n-th INSERT (before or after the statement ran)."""

    def __init__(
        self, connection_string: str, *, at_insert: int = 0, after: bool = False, at_select: int = 0
    ) -> None:
        self.connection_string = connection_string
        self.at_insert = at_insert
        self.after = after
        self.at_select = at_select  # or at the n-th SELECT
        self.inserts = 0
        self.selects = 0

    def connect(self):
        return _CutConnection(pyodbc.connect(self.connection_string, autocommit=True), self)


class _CutConnection:
    def __init__(self, real, plan: LinkCut) -> None:
        self.real = real
        self.plan = plan

    def cursor(self):
        return _CutCursor(self.real.cursor(), self)

    def close(self) -> None:
        with contextlib.suppress(pyodbc.Error):  # closed already when the link was cut
            self.real.close()

    def __getattr__(self, name):
        return getattr(self.real, name)


class _CutCursor:
    def __init__(self, real, connection: _CutConnection) -> None:
        self.real = real
        self.connection = connection

    def execute(self, sql, params=()):
        plan = self.connection.plan
        if sql.lstrip().upper().startswith("SELECT"):
            plan.selects += 1
            if plan.selects == plan.at_select:
                self.connection.real.close()
                raise pyodbc.OperationalError("08S01", "[08S01] Communication link failure")
        if sql.lstrip().upper().startswith("INSERT"):
            plan.inserts += 1
            if plan.inserts == plan.at_insert:
                if plan.after:
                    self.real.execute(sql, params)
                self.connection.real.close()  # the link is gone, and with it QODBC's cache
                raise pyodbc.OperationalError("08S01", "[08S01] Communication link failure")
        return self.real.execute(sql, params)

    def __getattr__(self, name):
        return getattr(self.real, name)


@pytest.mark.parametrize("after", [False, True])
def test_a_link_lost_after_cached_lines_leaves_nothing_in_the_books(company, after):
    # Line 1 was cached, line 2 was being cached (or was, with ``after``); the last never arrived.
    cut = LinkCut(company.write_string, at_insert=2, after=after)
    with QuickBooksWriter(cut.connect) as writer:
        with pytest.raises(TransientError) as lost:
            writer.post(document())
        assert lost.value.maybe_written is False and "link" in lost.value.message
        assert (
            marked(company, "Invoice", "HALO-1001") == 0 and marked(company, "InvoiceLine", "HALO-1001") == 0
        )
        assert writer.find_posted(["HALO-1001"]) == {}
        posted = writer.post(document())  # posted again on a new connection: once, with its three lines
    assert marked(company, "Invoice", "HALO-1001") == 1
    assert company.rows("SELECT COUNT(*) FROM InvoiceLine WHERE TxnID = ?", (posted.books_key,)) == [(3,)]


@pytest.mark.parametrize("after", [True, False])
def test_a_link_lost_during_the_last_line_may_have_written_and_the_marker_tells(company, after):
    cut = LinkCut(company.write_string, at_insert=3, after=after)
    with QuickBooksWriter(cut.connect) as writer:
        with pytest.raises(TransientError) as lost:
            writer.post(document())
        assert lost.value.maybe_written is True
        found = writer.find_posted(["HALO-1001"])
        assert bool(found) is after
        if not found:
            writer.post(document())
    assert marked(company, "Invoice", "HALO-1001") == 1


# --- customers and items ----------------------------------------------------------------------------------


def new_customer(**changes) -> Customer:
    base = Customer(
        key="",
        name="Zoë's Bakery & Café",
        email="accounts@zoe.example",
        phone="+44 20 7946 0000",
        contact_name="Zoë Adams",
        address=Address(
            lines=("1 Long Lane", "Unit 4"), city="London", region="", postcode="EC1A 1BB", country="UK"
        ),
        delivery_address=Address(lines=("Back door",), city="London"),
    )
    return replace_record(base, **changes)


def test_a_missing_customer_is_created_found_and_posted_to(company):
    with company.writer() as writer:
        assert writer.has_customer("80000001-1") and not writer.has_customer("80000099-1")
        key = writer.create_customer(new_customer())
        assert key and writer.has_customer(key)
        assert writer.create_customer(new_customer()) == key  # the same name again: no second customer
        posted = writer.post(document(customer_key=key))
    with company.reader() as reader:
        customers = {record.key: record for record in reader.read("customers")}
    created = customers[key]
    assert isinstance(created, Customer)
    assert (created.name, created.email, created.contact_name) == (
        "Zoë's Bakery & Café",
        "accounts@zoe.example",
        "Zoë Adams",
    )
    assert created.address.lines == ("1 Long Lane", "Unit 4") and created.address.postcode == "EC1A 1BB"
    assert created.delivery_address.lines == ("Back door",)
    assert read_document(company, posted.books_key).customer_key == key
    assert company.rows("SELECT COUNT(*) FROM Customer WHERE Name = ?", ("Zoë's Bakery & Café",)) == [(1,)]


def test_customer_names_quickbooks_refuses(company):
    with company.writer() as writer:
        with pytest.raises(RecordError) as too_long:
            writer.create_customer(new_customer(name="x" * 42))
        assert "41" in too_long.value.message
        with pytest.raises(RecordError) as vendor_name:  # names are unique across customers and vendors
            writer.create_customer(new_customer(name="Müller Büromaterial"))
        assert "already in use" in vendor_name.value.message and "Mappings" in vendor_name.value.action


def test_an_item_is_created_with_its_price_and_income_account(company):
    service = Item(
        key="",
        code="Backup Monitoring",
        name="Backup Monitoring",
        description="Monthly backup monitoring",
        price=D("45.00"),
        tax_code="STC-G",
        nominal_code="Services Income",
        is_service=True,
    )
    part = replace_record(
        service, code="USB Drive 1TB", name="USB Drive 1TB", is_service=False, nominal_code=""
    )
    with company.writer(income_account="Hardware Sales") as writer:
        assert not writer.has_item("NOPE") and writer.has_item("I1")
        service_key = writer.create_item(service)
        part_key = writer.create_item(part)
        assert writer.has_item(service_key) and writer.has_item(part_key)
        assert writer.create_item(service) == service_key
        line = BooksLine("Backup, May", D("1"), D("45.00"), D("45.00"), D("2.25"), service_key, "STC-G")
        posted = writer.post(document(lines=(line,), net=D("45.00"), tax=D("2.25"), gross=D("47.25")))
    with company.reader() as reader:
        items = {record.key: record for record in reader.read("items")}
    assert (items[service_key].price, items[service_key].nominal_code, items[service_key].is_service) == (
        D("45.00"),
        "Services Income",
        True,
    )
    assert (items[part_key].nominal_code, items[part_key].is_service) == ("Hardware Sales", False)
    assert company.rows("SELECT COUNT(*) FROM ItemNonInventory WHERE ListID = ?", (part_key,)) == [(1,)]
    assert read_document(company, posted.books_key).gross == D("47.25")


def test_an_item_without_an_existing_income_account_says_which_setting_to_fill(company):
    item = Item(key="", code="Widget", name="Widget", price=D("1.00"))
    with company.writer() as writer:
        with pytest.raises(RecordError) as no_account:
            writer.create_item(item)
        assert "income account" in no_account.value.message
        assert (
            "Mappings > Items" in no_account.value.action
            and "Settings > Sync > Halo to the books" in no_account.value.action
        )
        with pytest.raises(RecordError) as unknown:
            writer.create_item(replace_record(item, nominal_code="Widget Income"))
        assert "'Widget Income'" in unknown.value.message
        with pytest.raises(RecordError) as too_long:
            writer.create_item(replace_record(item, code="y" * 32, nominal_code="Sales"))
        assert "31" in too_long.value.message
    assert company.rows("SELECT COUNT(*) FROM ItemNonInventory WHERE Name = 'Widget'") == [(0,)]


def test_supports_everything_the_seam_names(company):
    with company.writer() as writer:
        assert writer.supports() == frozenset({"invoices", "credit_notes", "customers", "items"})


# --- errors -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("exc", "kind", "maybe"),
    [
        (pyodbc.OperationalError("08S01", "[08S01] Communication link failure"), TransientError, True),
        (pyodbc.Error("HY000", "[QODBC] Error: 3175 - failed to acquire the lock"), TransientError, True),
        (pyodbc.Error("HY000", "[QODBC] Error: 3140 - invalid reference to Customer"), RecordError, None),
        (pyodbc.Error("HY000", "[QODBC] Error: 3100 - name is already in use"), RecordError, None),
        (pyodbc.Error("42000", "[QODBC] Expected lexical element not found"), RecordError, None),
        (pyodbc.Error("HY000", "Could not start QuickBooks."), TransientError, True),
        (pyodbc.InterfaceError("IM002", "[IM002] Data source name not found"), ConfigError, None),
    ],
)
def test_write_errors_are_grouped_by_what_the_caller_does(exc, kind, maybe):
    error = write_error(exc, what="Halo invoice 1 (HALO-1)", maybe_written=True)
    assert type(error) is kind
    if maybe is not None:
        assert error.maybe_written is maybe
    if kind is RecordError:
        assert "HALO-1" in error.message and error.action


def test_a_company_that_cannot_be_opened_is_an_error_not_a_missing_record(tmp_path, qodbc_rules):
    missing = f"Driver=SQLite3;Database={tmp_path / 'nowhere.sqlite'};NoCreat=1"
    writer = QuickBooksWriter.from_source(SourceConfig(kind="quickbooks", connection_string=missing), None)
    for ask in (
        lambda: writer.has_item("S1"),
        lambda: writer.has_customer("80000001-1"),
        lambda: writer.find_posted(["HALO-1"]),
    ):
        with pytest.raises(LedgerBridgeError):
            ask()
    with pytest.raises(ConfigError):
        QuickBooksWriter.from_source(SourceConfig(kind="quickbooks", connection_string=" "), None)


def test_a_quickbooks_without_the_marker_column_stops_posting_with_what_to_do(company):
    connection = sqlite3.connect(company.path)
    connection.execute("ALTER TABLE CreditMemo DROP COLUMN CustomFieldOther")
    connection.commit()
    connection.close()
    with company.writer() as writer, pytest.raises(ConfigError) as missing:
        writer.find_posted(["HALO-1"])
    assert "CreditMemo" in missing.value.message and "Other field" in missing.value.message
    assert "Update QODBC" in missing.value.action


def test_long_order_numbers_and_memos_are_cut_to_quickbooks_lengths(company):
    order = "ORDER-" + "7" * 40
    with company.writer() as writer:
        posted = writer.post(document(customer_reference=order, memo="m" * 5000))
    header = company.rows("SELECT PONumber, length(Memo) FROM Invoice WHERE TxnID = ?", (posted.books_key,))
    assert header == [(order[:25], 4095)]


def test_a_link_lost_while_reading_back_a_saved_document_says_it_may_be_written(company):
    cut = LinkCut(company.write_string, at_select=1)  # the first SELECT is the read-back after the save
    with QuickBooksWriter(cut.connect) as writer:
        with pytest.raises(TransientError) as unconfirmed:
            writer.post(document())
        assert unconfirmed.value.maybe_written is True and "read it back" in unconfirmed.value.message
        assert set(writer.find_posted(["HALO-1001"])) == {"HALO-1001"}
    assert marked(company, "Invoice", "HALO-1001") == 1


def test_a_line_whose_quantity_and_price_do_not_make_its_amount_is_sent_as_its_amount(company):
    lines = (
        BooksLine("Fixed fee", D("0"), D("0.00"), D("80.00"), D("4.00"), "S1", "STC-G"),
        BooksLine("3 x a third", D("3"), D("33.333"), D("100.00"), D("5.00"), "S1", "STC-G"),
    )
    with company.writer() as writer:
        posted = writer.post(document(lines=lines, net=D("180.00"), tax=D("9.00"), gross=D("189.00")))
    invoice = read_document(company, posted.books_key)
    assert [(line.quantity, line.net) for line in invoice.lines] == [
        (D("1.0000"), D("80.00")),  # no quantity sent: the reader reads one of the amount
        (D("3.0000"), D("100.00")),
    ]
    assert invoice.gross == D("189.00")

"""QuickBooks Desktop connector through real unixODBC + the SQLite3 driver over the QODBC-shaped stand-in."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from zoneinfo import ZoneInfo

import pyodbc
import pytest

from connectors.quickbooks import QuickBooksConnector
from core.errors import ConfigError, TransientError
from core.records import Customer, Invoice, Item, SourceProblem, TaxComponent, TaxRate
from tests.standins import quickbooks as standin

VANCOUVER = ZoneInfo("America/Vancouver")


@pytest.fixture
def company(tmp_path):
    path = tmp_path / "company.sqlite"
    return path, standin.build_quickbooks_company(path)


def connector_for(connection_string: str, page_size: int = 2) -> QuickBooksConnector:
    return QuickBooksConnector(
        lambda: pyodbc.connect(connection_string), local_zone=VANCOUVER, page_size=page_size
    )


def read_all(connector: QuickBooksConnector, stream, since=None):
    return {record.key: record for record in connector.read(stream, since)}


def test_tax_rates_from_sales_tax_codes_and_rate_items(company):
    with connector_for(company[1]) as connector:
        records = read_all(connector, "tax_rates")
    gst = records["STC-G"]
    assert isinstance(gst, TaxRate)
    assert (gst.code, gst.name, gst.rate) == ("G", "GST only", Decimal("5.0000"))
    assert gst.components == (TaxComponent("GST", Decimal("5.0000")),)
    assert records["STC-H"].rate == Decimal("13.0000")
    assert records["STC-E"].rate == Decimal("0.0000") and records["STC-E"].components == ()
    assert records["STC-OLD"].active is False
    assert isinstance(records["STC-TAX"], SourceProblem) and "by hand" in records["STC-TAX"].action
    assert isinstance(records["STC-BAD"], SourceProblem) and "250" in records["STC-BAD"].message


def test_customers_values_offsets_and_problems(company):
    with connector_for(company[1]) as connector:
        records = read_all(connector, "customers")
    pub = records["80000001-1"]
    assert isinstance(pub, Customer)
    assert (pub.name, pub.contact_name, pub.tax_code) == ("O'Neil's Pub & Grill", "Pat O'Neil", "STC-G")
    assert pub.address.lines == ("12 Granville St", "Unit 3")
    assert pub.delivery_address.lines == ("Loading dock, rear lane",)
    assert pub.modified == datetime(2024, 3, 1, 18, 15, tzinfo=UTC)
    assert pub.modified.utcoffset() == timedelta(hours=-8)  # the offset QuickBooks wrote is kept
    assert records["80000002-1"].name == "Crème Brûlée Café 🍮"
    assert records["80000003-1"].name == standin.MAX_CUSTOMER and len(standin.MAX_CUSTOMER) == 41
    assert records["80000003-1"].modified is None
    assert records["80000004-1"].active is False and records["80000005-1"].active is True
    assert isinstance(records["80000006-1"], SourceProblem) and "yesterday" in records["80000006-1"].message
    assert isinstance(records["80000007-1"], SourceProblem)


def test_items_from_the_specific_tables(company):
    with connector_for(company[1]) as connector:
        records = read_all(connector, "items")
    assert set(records) == {"S1", "S2", "I1", "I2", "N1", "N2"}
    onsite = records["S1"]
    assert isinstance(onsite, Item)
    assert onsite.code == standin.MAX_ITEM and len(onsite.code) == 31
    assert (onsite.price, onsite.is_service, onsite.nominal_code) == (
        Decimal("125.00"),
        True,
        "Services Income",
    )
    remote = records["S2"]
    assert (remote.price, remote.cost, remote.nominal_code) == (
        Decimal("95.50"),
        Decimal("40.00"),
        "Remote Income",
    )
    firewall = records["I1"]
    assert (firewall.price, firewall.cost, firewall.is_service) == (
        Decimal("899.99"),
        Decimal("610.25"),
        False,
    )
    assert records["I2"].active is False
    assert records["N1"].price == Decimal("12.49") and records["N1"].code == "Cable Cat6 – 3m"
    assert records["N2"].price == Decimal("0.00")


def test_items_fall_back_to_the_union_item_table(company):
    path, connection_string = company
    standin.execute(path, "DROP TABLE ItemService")
    with connector_for(connection_string) as connector:
        records = read_all(connector, "items")
    assert set(records) == {"S1", "I1", "N1"}  # the discount item is not a sellable item
    assert records["S1"].is_service and not records["I1"].is_service
    assert records["I1"].price == Decimal("899.99")


def test_invoices_lines_paid_state_and_payments(company):
    with connector_for(company[1]) as connector:
        records = read_all(connector, "invoices")
    paid = records["T1"]
    assert isinstance(paid, Invoice)
    assert (paid.number, paid.customer_key, paid.reference) == ("INV-0001", "80000001-1", "PO 77")
    assert (paid.net, paid.tax, paid.gross) == (Decimal("1000.00"), Decimal("50.00"), Decimal("1050.00"))
    assert paid.is_paid and paid.amount_paid == Decimal("1050.00")
    assert [(p.key, p.amount, p.method) for p in paid.payments] == [
        ("RP1:T1", Decimal("600.00"), "Cheque"),
        ("RP2:T1", Decimal("450.00"), "EFT"),
    ]
    assert paid.paid_date == datetime(2024, 2, 20, tzinfo=VANCOUVER)
    assert paid.modified == datetime(2024, 3, 1, 18, 30, tzinfo=UTC)  # the later payment's change
    assert paid.date == datetime(2024, 2, 1, tzinfo=VANCOUVER)
    assert paid.due_date == datetime(2024, 3, 2, tzinfo=VANCOUVER)

    unpaid = records["T2"]
    assert unpaid.number == standin.MAX_REF
    assert [line.description for line in unpaid.lines] == [
        "Remote fix ☕ l'après-midi",
        "Thanks for your business!",
    ]
    assert unpaid.lines[1].net == Decimal("0.00") and unpaid.lines[1].item_key == ""
    assert unpaid.gross == Decimal("22.59") and unpaid.outstanding == Decimal("22.59") and not unpaid.is_paid

    credit = records["T3"]
    assert credit.is_credit and credit.gross == Decimal("52.50") and credit.lines[0].net == Decimal("50.00")
    included = records["T4"]
    assert (included.gross, included.net, included.tax) == (
        Decimal("113.00"),
        Decimal("100.00"),
        Decimal("13.00"),
    )
    assert included.outstanding == Decimal("63.00") and included.amount_paid == Decimal("50.00")
    assert records["T5"].gross == Decimal("0.00") and not records["T5"].is_paid
    assert isinstance(records["T6"], SourceProblem) and "no date" in records["T6"].message
    assert records["T7"].modified is None


def test_since_compares_instants_across_offsets(company):
    since = datetime(2024, 3, 1, 18, 10, tzinfo=UTC)
    with connector_for(company[1]) as connector:
        keys = set(read_all(connector, "customers", since))
        # The same instant written in another zone selects the same rows.
        same = set(
            read_all(connector, "customers", since.astimezone(timezone(timedelta(hours=5, minutes=30))))
        )
        items = set(read_all(connector, "items", datetime(2024, 3, 1, 18, 20, tzinfo=UTC)))
    # 18:15Z (written -08:00) is in; 19:00+01:00 = 18:00Z is out although its text sorts later.
    assert (
        keys == same == {"80000001-1", "80000003-1", "80000004-1", "80000005-1", "80000006-1", "80000007-1"}
    )
    assert items == {"I1", "I2", "N2"}


def test_incremental_read_after_edits_with_other_offsets(company):
    path, connection_string = company
    with connector_for(connection_string) as connector:
        everything = [read_all(connector, stream) for stream in ("customers", "items", "invoices")]
    newest = max(r.modified for records in everything for r in records.values() if r.modified is not None)
    assert newest == datetime(2024, 3, 1, 18, 30, tzinfo=UTC)
    cursor = datetime(2024, 3, 2, 0, 15, 1, tzinfo=timezone(timedelta(hours=5, minutes=30)))  # 18:45:01Z

    # 11:00-08:00 is 19:00Z: after the cursor although "11:00" is before the cursor's wall-clock time.
    standin.execute(
        path,
        "UPDATE Customer SET Email = ?, TimeModified = ? WHERE ListID = ?",
        ("compta@creme.example", "2024-03-01T11:00:00-08:00", "80000002-1"),
    )
    # 03:00+09:00 next day is 18:00Z: before the cursor, although its text sorts after it.
    standin.execute(
        path,
        "UPDATE Customer SET Phone = ?, TimeModified = ? WHERE ListID = ?",
        ("555", "2024-03-02T03:00:00+09:00", "80000005-1"),
    )
    # A payment applied to T2 (QuickBooks updates the balance, not the invoice's TimeModified).
    standin.execute(
        path,
        "INSERT INTO ReceivePaymentLine (TxnID, TimeModified, CustomerRefListID, TxnDate, RefNumber, "
        "TotalAmount, PaymentMethodRefFullName, AppliedToTxnTxnID, AppliedToTxnTxnType, "
        "AppliedToTxnPaymentAmount, AppliedToTxnBalanceRemaining) VALUES ('RP4', "
        "'2024-03-02T04:00:00+09:00', "
        "'80000002-1', '2024-03-01', 'Interac', '22.59', 'e-Transfer', 'T2', 'Invoice', '22.59', '0')",
    )
    standin.execute(
        path,
        "UPDATE Invoice SET BalanceRemaining = '0', AppliedAmount = '-22.59', IsPaid = 1 WHERE TxnID = 'T2'",
    )
    with connector_for(connection_string) as connector:
        customers = read_all(connector, "customers", cursor)
        invoices = read_all(connector, "invoices", cursor)
    assert set(customers) == {"80000002-1", "80000003-1", "80000006-1"}  # edited + the undated ones
    assert customers["80000002-1"].email == "compta@creme.example"
    assert set(invoices) == {"T2", "T7"}  # re-read by its new payment; T7 has no TimeModified
    t2 = invoices["T2"]
    assert t2.is_paid and t2.amount_paid == Decimal("22.59")
    assert t2.modified == datetime(2024, 3, 1, 19, 0, tzinfo=UTC)
    assert [p.key for p in t2.payments] == ["RP4:T2"]


def test_connection_ok_names_the_company(company):
    check = connector_for(company[1]).test_connection()
    assert check.ok
    assert "Bright Byte IT Services Ltée" in check.detail and "7 customers" in check.detail


def test_missing_qodbc_driver_gives_the_qremote_hint():
    # A real unixODBC failure: this driver is not installed here, exactly like a missing/wrong-bitness QODBC.
    connector = connector_for("Driver={QODBC Driver for QuickBooks};DFQ=.;OpenMode=F;")
    check = connector.test_connection()
    assert not check.ok
    assert "QODBC driver" in check.message
    assert "QRemote" in check.action and "bit" in check.action
    with pytest.raises(ConfigError):
        list(connector.read("customers"))


def test_quickbooks_not_running_says_open_the_company_file():
    # QODBC runs only on Windows next to QuickBooks, so its "Could not start QuickBooks" failure is a real
    # pyodbc.Error built with the driver's text and raised by the connection factory.
    def connect():
        raise pyodbc.Error("HY000", "[QODBC] Could not start QuickBooks. (#10064)")

    connector = QuickBooksConnector(connect)
    check = connector.test_connection()
    assert not check.ok
    assert "company file open" in check.message
    assert "Open the company file in QuickBooks" in check.action
    with pytest.raises(TransientError):
        list(connector.read("invoices"))


def test_known_customer_rows_are_not_converted_and_the_other_streams_still_are(company):
    """Customers go through the declared loop, which skips rows whose digest is known; items and invoices
    have readers of their own, which convert every row whatever the engine knows."""
    from connectors.unchanged import KnownRows, Unchanged

    with connector_for(company[1]) as connector:
        first = KnownRows("customers", b"salt", lambda keys: {})
        records = list(connector.read_skipping("customers", None, first))
    digests = {r.key: first.noted[r.key] for r in records if isinstance(r, Customer)}
    assert digests

    def lookup(keys):
        return {key: digests[key] for key in keys if key in digests}

    with connector_for(company[1]) as connector:
        again = list(connector.read_skipping("customers", None, KnownRows("customers", b"salt", lookup)))
        items = list(connector.read_skipping("items", None, KnownRows("items", b"salt", lambda keys: {})))
    assert {r.key for r in again if isinstance(r, Unchanged)} == set(digests)
    assert all(isinstance(r, SourceProblem) for r in again if not isinstance(r, Unchanged))
    assert items and not any(isinstance(r, Unchanged) for r in items)

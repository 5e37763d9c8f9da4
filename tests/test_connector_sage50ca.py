"""Sage 50 Canada connector through real unixODBC: the SQLite3 driver and a real MariaDB server.

Both engines hold the same stand-in company (tests/standins/sage50ca.py); every assertion runs on both, so
the SQL is proven on MySQL's dialect (what Sage really runs) and on the portable stand-in.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pyodbc
import pytest

from connectors.sage50ca import Sage50CAConnector, parse_tax_description
from core.errors import AuthError, TransientError
from core.records import Customer, Invoice, Item, SourceProblem, TaxComponent, TaxRate
from tests.standins import sage50ca as standin

TORONTO = ZoneInfo("America/Toronto")


@pytest.fixture(params=["sqlite", pytest.param("mariadb", marks=pytest.mark.mariadb)])
def company(request, tmp_path):
    """(connection string to read with, connection string to edit with) for a freshly built company."""
    if request.param == "sqlite":
        read_with = standin.build_sqlite_company(tmp_path / "simply.sqlite")
        return read_with, read_with
    server = request.getfixturevalue("mariadb_company")
    return server.reader_connection_string(), server.admin_connection_string()


@pytest.fixture
def mariadb_company(mariadb_server):
    """The stand-in company rebuilt in the session's MariaDB ``simply`` database."""
    admin = pyodbc.connect(mariadb_server.admin_connection_string())
    try:
        standin.populate(admin)
    finally:
        admin.close()
    return mariadb_server


def connector_for(connection_string: str, page_size: int = 2) -> Sage50CAConnector:
    return Sage50CAConnector(
        lambda: pyodbc.connect(connection_string), local_zone=TORONTO, page_size=page_size
    )


def read_all(connector: Sage50CAConnector, stream, since=None):
    return {record.key: record for record in connector.read(stream, since)}


def test_tax_rates_parse_components_inclusive_and_problems(company):
    with connector_for(company[0]) as connector:
        records = read_all(connector, "tax_rates")
    quebec = records["2"]
    assert isinstance(quebec, TaxRate)
    assert (quebec.code, quebec.rate, quebec.inclusive) == ("GQ", Decimal("14.9750"), False)
    assert quebec.components == (
        TaxComponent("GST", Decimal("5.0000")),
        TaxComponent("QST", Decimal("9.9750")),
    )
    included = records["4"]
    assert (included.rate, included.inclusive) == (Decimal("13.0000"), True)
    assert records["5"].rate == Decimal("12.0000")  # "GST @ 5%, PST @ 7%": comma-separated components
    assert records["8"].active is False
    for key in ("6", "7"):
        problem = records[key]
        assert isinstance(problem, SourceProblem)
        assert "by hand" in problem.action
    assert "'E'" in records["6"].message and "Exempt" in records["6"].message
    assert "included" in records["7"].message


def test_customers_unicode_nulls_inactive_and_problems(company):
    with connector_for(company[0]) as connector:
        records = read_all(connector, "customers")
    assert set(records) == {"1", "2", "3", "4", "5", "6", "7"}
    obrien = records["1"]
    assert isinstance(obrien, Customer)
    assert obrien.name == "O'Brien & Sons Plumbing"
    assert obrien.contact_name == "Siobhán O'Brien"
    assert obrien.address.lines == ("1234, rue Saint-Denis", "Bureau 5")
    assert (obrien.address.city, obrien.address.region, obrien.address.postcode) == (
        "Montréal",
        "QC",
        "H2X 3K8",
    )
    assert obrien.tax_code == "2"
    assert obrien.modified == datetime(2024, 3, 1, 10, 0, tzinfo=TORONTO)
    assert obrien.modified.utcoffset() == timedelta(hours=-5)
    assert records["2"].name == "Café Chez Zoë ☕🥐"
    assert records["3"].name == standin.MAX_NAME and len(records["3"].name) == 52
    assert records["3"].tax_code == ""  # lTaxCode 0 is Sage's "no tax code"
    assert records["4"].active is False and records["5"].active is True
    assert records["6"].modified is None and records["6"].email == ""
    assert isinstance(records["7"], SourceProblem) and "no name" in records["7"].message


def test_items_take_the_regular_home_price_exactly(company):
    with connector_for(company[0]) as connector:
        records = read_all(connector, "items")
    seat = records["1"]
    assert isinstance(seat, Item)
    assert (seat.code, seat.price, seat.is_service) == ("SRV-001", Decimal("49.99"), True)
    assert records["2"].code == "HW-ÉCRAN" and records["2"].price == Decimal("399.95")
    assert records["3"].active is False
    assert records["4"].price == Decimal("0.00")
    assert records["5"].price == Decimal("0.10") and records["5"].modified is None


def test_invoices_lines_paid_state_payments_and_credits(company):
    with connector_for(company[0]) as connector:
        records = read_all(connector, "invoices")
    assert "107" not in records  # a purchase: no receivables document
    paid = records["101"]
    assert isinstance(paid, Invoice)
    assert (paid.number, paid.customer_key, paid.reference) == ("INV-1001", "1", "PO-ÉTÉ-7")
    assert (paid.net, paid.tax, paid.gross) == (Decimal("899.85"), Decimal("134.75"), Decimal("1034.60"))
    assert [line.net for line in paid.lines] == [Decimal("499.90"), Decimal("399.95")]
    assert paid.lines[0].tax_rate == Decimal("14.9750") and paid.lines[0].item_key == "1"
    assert paid.lines[0].description == "Managed Services – per seat (février)"
    assert paid.outstanding == Decimal("0.00") and paid.is_paid
    assert [(p.key, p.amount, p.reference) for p in paid.payments] == [
        ("501-2", Decimal("500.00"), "CHQ 3321"),
        ("501-3", Decimal("534.60"), "Virement Interac"),
    ]
    assert paid.paid_date == datetime(2024, 2, 25, tzinfo=TORONTO)
    assert paid.date.tzinfo is not None

    part = records["102"]
    assert part.lines[0].description == "Consulting — déplacement 🚗"
    assert part.lines[0].item_key == ""  # lInventId 0: coded straight to an account
    assert (part.gross, part.net, part.tax) == (Decimal("150.00"), Decimal("132.74"), Decimal("17.26"))
    assert part.outstanding == Decimal("100.00") and not part.is_paid
    assert [p.amount for p in part.payments] == [Decimal("50.00")]  # the bounced cheque pair is not a payment

    credit = records["103"]
    assert credit.is_credit and credit.gross == Decimal("104.99") and credit.lines[0].net == Decimal("99.99")
    assert credit.outstanding == Decimal("104.99")

    original, reversal = records["104"], records["105"]
    assert not original.is_credit and reversal.is_credit
    assert original.outstanding == reversal.outstanding == Decimal("0.00")
    assert reversal.gross == Decimal("55.99") and reversal.lines[0].net == Decimal("49.99")

    zero = records["106"]
    assert zero.gross == Decimal("0.00") and not zero.is_paid
    assert isinstance(records["108"], SourceProblem) and "no date" in records["108"].message
    assert records["109"].modified is None and records["109"].outstanding == Decimal("20.00")


def test_since_is_exact_and_null_stamps_always_come(company):
    since = datetime(2024, 3, 1, 10, 5, tzinfo=TORONTO)
    with connector_for(company[0]) as connector:
        assert set(read_all(connector, "customers", since)) == {"2", "3", "4", "5", "6", "7"}
        # The same instant expressed in UTC selects the same rows.
        assert set(read_all(connector, "customers", since.astimezone(ZoneInfo("UTC")))) == {
            "2",
            "3",
            "4",
            "5",
            "6",
            "7",
        }
        assert set(read_all(connector, "customers", since + timedelta(seconds=0.5))) == {
            "3",
            "4",
            "5",
            "6",
            "7",
        }
        assert set(read_all(connector, "items", datetime(2024, 3, 2, tzinfo=TORONTO))) == {"5"}


def test_incremental_read_after_edits(company):
    read_with, edit_with = company
    with connector_for(read_with) as connector:
        first = {stream: read_all(connector, stream) for stream in ("customers", "items", "invoices")}
        newest = max(
            record.modified
            for records in first.values()
            for record in records.values()
            if record.modified is not None
        )
    cursor = newest + timedelta(seconds=1)  # past everything read (rows AT the cursor would come again)
    later_day, later_time = "2024-03-05", "09:30:00"
    standin.execute(
        edit_with,
        "UPDATE tcustomr SET sEmail = ?, dtASDate = ?, tmASTime = ? WHERE lId = 4",
        ("new@northwind.example", later_day, later_time),
    )
    standin.execute(
        edit_with,
        "INSERT INTO tcustomr (lId, sName, bInactive, lTaxCode, dtASDate, tmASTime) "
        "VALUES (?, ?, 0, 1, ?, ?)",
        (8, "L'Épicerie Fine ✨", later_day, later_time),
    )
    standin.execute(
        edit_with,
        "INSERT INTO tcustrdt (lCusTrId, nLineNum, nTranType, dtDate, sSource, dAmount, bReversed, "
        "dtASDate, tmASTime) VALUES (502, 5, 1, ?, ?, ?, 0, ?, ?)",
        ("2024-03-05", "Interac e-Transfer", "-100", later_day, later_time),
    )
    with connector_for(read_with) as connector:
        customers = read_all(connector, "customers", cursor)
        items = read_all(connector, "items", cursor)
        invoices = read_all(connector, "invoices", cursor)
    assert set(customers) == {"4", "6", "8"}  # edited, NULL-stamped, new
    assert customers["4"].email == "new@northwind.example"
    assert customers["8"].name == "L'Épicerie Fine ✨"
    assert set(items) == {"5"}  # only the never-stamped one
    assert set(invoices) == {"102", "109"}  # a new receipt re-reads its invoice; 109 has no stamp
    assert invoices["102"].outstanding == Decimal("0.00") and invoices["102"].is_paid
    assert invoices["102"].modified == datetime(2024, 3, 5, 9, 30, tzinfo=TORONTO)
    assert [p.amount for p in invoices["102"].payments] == [Decimal("50.00"), Decimal("100.00")]


def test_connection_ok(company):
    check = connector_for(company[0]).test_connection()
    assert check.ok, check
    assert "7 customers" in check.detail and "8 tax codes" in check.detail


def test_parse_tax_description_variants():
    french = parse_tax_description("TPS @ 5%, incluse; TVQ @ 9,975%, incluse")
    assert french.inclusive and french.rate == Decimal("14.9750")
    assert [c.authority for c in french.components] == ["TPS", "TVQ"]
    with pytest.raises(ValueError, match="part of the tax is included"):
        parse_tax_description("TPS @ 5%; TVQ @ 9,975%, incluse")
    with pytest.raises(ValueError):
        parse_tax_description("")
    with pytest.raises(ValueError):
        parse_tax_description("HST @ 13%, compounded")
    with pytest.raises(ValueError):
        parse_tax_description("Tax: GST @ 5%")
    both = parse_tax_description("GST @ 5%, included; QST @ 9.975%, included", {"QST": "QST"})
    assert both.inclusive and both.rate == Decimal("14.9750")


# --- failures against the real MariaDB server -----------------------------------------------------------


@pytest.mark.mariadb
def test_company_not_open_says_open_it_in_sage(mariadb_server):
    import socket

    with socket.socket() as probe:  # a port nothing listens on, as when Sage's MySQL is not running
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    connection_string = mariadb_server.connection_string(
        mariadb_server.reader_user, mariadb_server.reader_password, port=closed_port
    )
    connector = connector_for(connection_string)
    check = connector.test_connection()
    assert not check.ok
    assert "not open in Sage 50 Canada" in check.message
    assert "Open the company in Sage 50 Canada" in check.action
    with pytest.raises(TransientError):
        list(connector.read("customers"))


@pytest.mark.mariadb
def test_wrong_password_is_an_auth_error_without_the_password(mariadb_server):
    secret = "Wr0ng-S3cret!"
    connector = connector_for(mariadb_server.connection_string(mariadb_server.reader_user, secret))
    check = connector.test_connection()
    assert not check.ok
    assert "rejected the user name or password" in check.message
    assert "Re-enter" in check.action
    assert secret not in f"{check.message} {check.action} {check.detail}"
    with pytest.raises(AuthError) as raised:
        list(connector.read("customers"))
    assert secret not in repr(raised.value) and secret not in str(raised.value.detail)


@pytest.mark.mariadb
def test_missing_read_data_right_says_so(mariadb_company):
    connector = connector_for(
        mariadb_company.connection_string(mariadb_company.norights_user, mariadb_company.norights_password)
    )
    check = connector.test_connection()
    assert not check.ok
    assert "may not read" in check.message
    assert "Read data" in check.action
    with pytest.raises(AuthError):
        list(connector.read("invoices"))


# --- issue 12: documents as Sage 50 Canada really leaves them ---------------------------------------------


def test_a_reposted_invoice_counts_once(company):
    with connector_for(company[0]) as connector:
        records = read_all(connector, "invoices")
    earlier, live = records["110"], records["111"]
    assert isinstance(live, Invoice) and not live.deleted
    # Only the live posting's receivables document: 220 - 100, not (200 - 50) + (220 - 100).
    assert live.gross == Decimal("220.00") and live.outstanding == Decimal("120.00")
    assert [(p.key, p.amount) for p in live.payments] == [("511-2", Decimal("100.00"))]
    assert isinstance(earlier, Invoice) and earlier.deleted  # superseded: never created in Halo
    assert earlier.payments == () and earlier.outstanding is None


def test_a_returned_cheque_cancels_its_receipt(company):
    with connector_for(company[0]) as connector:
        invoice = read_all(connector, "invoices")["112"]
    assert isinstance(invoice, Invoice)
    # 80 paid, the cheque came back (+80), then 30 paid: 50 owed, one payment of 30 (abs() made it 190 paid).
    assert invoice.outstanding == Decimal("50.00") and not invoice.is_paid
    assert [(p.reference, p.amount) for p in invoice.payments] == [("Interac", Decimal("30.00"))]
    assert invoice.amount_paid == Decimal("30.00")


def test_credits_are_told_by_sign_not_by_document_type(company):
    read_with, edit_with = company
    standin.execute(edit_with, "UPDATE tcustr SET nTranType = 0 WHERE lId = 503")  # CN-0001 typed as invoice
    standin.execute(edit_with, "UPDATE tcustr SET nTranType = 8 WHERE lId = 502")  # INV-1002 typed as credit
    with connector_for(read_with) as connector:
        records = read_all(connector, "invoices")
    assert records["103"].is_credit and records["103"].outstanding == Decimal("104.99")
    assert not records["102"].is_credit and records["102"].outstanding == Decimal("100.00")


def test_freight_is_a_line_when_the_total_includes_it(company):
    read_with, edit_with = company
    with connector_for(read_with) as connector:
        invoice = read_all(connector, "invoices")["113"]
    assert [(line.kind, line.net) for line in invoice.lines] == [
        ("item", Decimal("100.00")),
        ("carriage", Decimal("15.00")),
    ]
    assert sum(line.net + line.tax for line in invoice.lines) == invoice.gross == Decimal("120.00")
    # If dInvAmt does not include the freight, no line is invented: the lines still add up to the total.
    standin.execute(edit_with, "UPDATE titrec SET dInvAmt = 105 WHERE lId = 113")
    with connector_for(read_with) as connector:
        invoice = read_all(connector, "invoices")["113"]
    assert [line.kind for line in invoice.lines] == ["item"] and invoice.gross == Decimal("105.00")


def test_reserved_words_take_the_drivers_own_quote_character(company):
    """MySQL/MariaDB quote identifiers with a backtick ("x" is a string there), SQLite with a double quote."""
    with connector_for(company[0]) as connector:
        quoted = connector.identifier("Desc")
        assert connector.identifier("sSource1") == "sSource1"
        expected = "`Desc`" if "MariaDB" in company[0] else '"Desc"'
        assert quoted == expected
        rows = list(connector.rows(f"SELECT 1 AS {quoted}", during="checking quoting"))
        assert rows[0]["Desc"] == 1


def test_known_customer_and_item_rows_are_not_converted_and_invoices_still_are(company):
    """Customers and items go through the declared loop, which skips rows whose digest is known; invoices
    have a reader of its own, which converts every row whatever the engine knows."""
    from connectors.unchanged import KnownRows, Unchanged

    for stream, kind in (("customers", Customer), ("items", Item)):
        with connector_for(company[0]) as connector:
            first = KnownRows(stream, b"salt", lambda keys: {})
            records = list(connector.read_skipping(stream, None, first))
        digests = {r.key: first.noted[r.key] for r in records if isinstance(r, kind)}
        assert digests, stream

        def lookup(keys, digests=digests):
            return {key: digests[key] for key in keys if key in digests}

        with connector_for(company[0]) as connector:
            again = list(connector.read_skipping(stream, None, KnownRows(stream, b"salt", lookup)))
        assert {r.key for r in again if isinstance(r, Unchanged)} == set(digests), stream
    with connector_for(company[0]) as connector:
        invoices = list(
            connector.read_skipping("invoices", None, KnownRows("invoices", b"salt", lambda k: {}))
        )
    assert invoices and not any(isinstance(r, Unchanged) for r in invoices)


def test_the_zone_stamps_are_read_in_is_part_of_the_conversion_context(company):
    with connector_for(company[0]) as toronto:
        in_toronto = toronto.conversion_context()
    with Sage50CAConnector(
        lambda: pyodbc.connect(company[0]), local_zone=ZoneInfo("America/Vancouver")
    ) as other:
        assert other.conversion_context() != in_toronto

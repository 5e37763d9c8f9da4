"""Sage 50 UK connector read through real unixODBC + the SQLite3 ODBC driver on the stand-in company."""

from __future__ import annotations

import shutil
import sqlite3
from datetime import datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pyodbc
import pytest

from connectors.errors import error_from_odbc
from connectors.registry import configure_odbc_connection
from connectors.sage50uk import Sage50UKConnector
from core.errors import ConfigError
from core.records import Customer, Invoice, Item, SourceProblem, TaxRate
from resources.demo.sage50uk_schema import SageLedger, insert_rows, sage_timestamp
from tests.fixtures_odbc import sqlite_odbc_connection_string
from tests.standins.sage50uk import BASE, MAX_NAME, invoice_split, touch

LONDON = ZoneInfo("Europe/London")


def by_key(records):
    return {record.key: record for record in records}


def odbc_connector(connection_string: str, page_size: int = 4) -> Sage50UKConnector:
    return Sage50UKConnector(
        lambda: configure_odbc_connection(pyodbc.connect(connection_string, autocommit=True)),
        local_zone=LONDON,
        page_size=page_size,
    )


# --- streams ------------------------------------------------------------------------------------------------


def test_tax_rates_are_exact_decimals(sage50uk_connector):
    rates = list(sage50uk_connector.read("tax_rates"))
    assert all(isinstance(rate, TaxRate) for rate in rates)
    found = by_key(rates)
    assert set(found) == {"T0", "T1", "T2", "T5", "T9", "T20", "T21"}
    assert found["T1"].rate == Decimal("20.0000") and found["T1"].name == "Standard rate"
    assert found["T20"].rate == Decimal("17.5000")
    assert found["T21"].rate == Decimal("12.3457")  # DOUBLE 12.3456789 rounded to 4 places, not float noise
    assert found["T9"].modified is None  # no modify date: always a full read
    assert sage50uk_connector.stream("tax_rates").replication_key is None


def test_customers_values_unicode_flags_and_problems(sage50uk_connector):
    records = list(sage50uk_connector.read("customers"))
    problems = [record for record in records if isinstance(record, SourceProblem)]
    customers = by_key(record for record in records if isinstance(record, Customer))

    assert [(p.key, p.entity) for p in problems] == [("NONAME", "customers")]
    assert "has no name" in problems[0].message
    assert "ZED" in customers  # rows after the bad one still come through

    acme = customers["ACME01"]
    assert acme.name == "Acme Ltd"
    assert acme.email == "accounts@acme.example.co.uk"
    assert acme.tax_code == "T1" and acme.tax_number == "GB123456789"
    assert acme.address.lines == ("Unit 4, Riverside Park", "Mill Lane")
    assert (acme.address.city, acme.address.region, acme.address.postcode) == (
        "Leeds",
        "West Yorkshire",
        "LS1 4AP",
    )
    assert acme.address.country == "GB"
    assert (
        acme.delivery_address.lines == ("Goods In, Unit 5",) and acme.delivery_address.postcode == "LS1 4AQ"
    )
    assert acme.website == "https://acme.example.co.uk"
    assert acme.modified == datetime(2024, 5, 1, 9, 0, tzinfo=LONDON)
    assert acme.modified.utcoffset() == timedelta(hours=1)  # BST in May

    assert customers["OBRIEN"].name == "O'Brien & Sons (Café Müller) Ltd"
    assert customers["OBRIEN"].contact_name == "Seán O'Brien"
    assert customers["OBRIEN"].address.city == "Dún Laoghaire"
    assert customers["SMILE"].name == "Smile 😀 Studio — Design"
    assert customers["SMILE"].tax_code == ""
    assert customers["MAXLEN08"].name == MAX_NAME and len(customers["MAXLEN08"].name) == 60
    assert customers["ACME02"].name == "ACME Limited"  # duplicate-looking, still its own account

    nulls = customers["NULLS"]
    assert (nulls.modified, nulls.tax_code, nulls.active, nulls.deleted) == (None, "", True, False)
    assert customers["INACT"].active is False and customers["INACT"].deleted is False
    assert customers["GONE"].deleted is True


def test_control_characters_are_removed(sage50uk_connector):
    customers = by_key(r for r in sage50uk_connector.read("customers") if isinstance(r, Customer))
    name = customers["CTRL"].name
    assert "\x07" not in name and "\x00" not in name
    assert name.startswith("Tab\tandbell")


def test_items_money_is_exact_and_cost_falls_back(sage50uk_connector):
    items = by_key(r for r in sage50uk_connector.read("items") if isinstance(r, Item))
    widget = items["WIDGET"]
    assert widget.price == Decimal("19.99") and str(widget.price) == "19.99"
    assert widget.cost == Decimal("7.50")
    assert (widget.tax_code, widget.nominal_code, widget.purchase_nominal_code) == ("T1", "4000", "5000")
    assert items["NOISE"].price == Decimal("0.30")  # 0.1 + 0.2 stored as DOUBLE 0.30000000000000004
    assert items["NOISE"].cost == Decimal("12.34")  # average cost 0 -> last purchase price
    assert items["SUPPORT-HR"].cost == Decimal("0.00")  # average 0 and no last price: 0, not None
    assert items["ZERO"].price == Decimal("0.00") and items["ZERO"].cost is None
    assert items["DISCOUNT"].price == Decimal("-5.00")
    assert items["CAFÉ-Ü"].name == "Café crème 😀"
    assert items["NOPRICE"].price == Decimal("0.00") and items["NOPRICE"].name == "NOPRICE"
    assert items["NOPRICE"].modified is None
    assert items["OLDKIT"].active is False and items["GONEKIT"].deleted is True
    assert items["X" * 30].price == Decimal("1000000000.00")


def test_invoices_lines_paid_state_and_payments(sage50uk_connector):
    records = list(sage50uk_connector.read("invoices"))
    invoices = by_key(r for r in records if isinstance(r, Invoice))
    problems = [r for r in records if isinstance(r, SourceProblem)]

    assert [p.key for p in problems] == ["1007"]  # no customer
    assert "customer account reference" in problems[0].message
    assert "1008" not in invoices  # a quote is not an invoice
    assert {"1001", "1002", "1003", "1004", "1005", "1006", "1009", "1010"} <= set(invoices)

    paid = invoices["1001"]
    assert paid.customer_key == "ACME01" and paid.reference == "PO-7781"
    assert (paid.net, paid.tax, paid.gross) == (Decimal("159.98"), Decimal("32.00"), Decimal("191.98"))
    assert paid.date == datetime(2024, 5, 1, tzinfo=LONDON)
    assert paid.due_date == datetime(2024, 5, 31, tzinfo=LONDON)
    assert [line.number for line in paid.lines] == [1, 2]
    widget, service = paid.lines
    assert (widget.item_key, widget.quantity, widget.unit_price, widget.net, widget.tax) == (
        "WIDGET",
        Decimal("2"),
        Decimal("19.99"),
        Decimal("39.98"),
        Decimal("8.00"),
    )
    assert widget.tax_code == "T1" and widget.tax_rate == Decimal("20")
    assert service.item_key == "" and service.description == "On-site visit: server room clean-up"
    assert paid.is_paid and paid.outstanding == Decimal("0.00") and paid.amount_paid == Decimal("191.98")
    (payment,) = paid.payments
    assert payment.amount == Decimal("191.98") and payment.reference == "BACS ACME 1001"
    assert payment.invoice_key == "1001" and payment.customer_key == "ACME01" and payment.method == "Receipt"
    assert payment.date == datetime(2024, 5, 11, tzinfo=LONDON)
    assert paid.paid_date == payment.date
    assert paid.modified == datetime(2024, 5, 11, 9, 0, tzinfo=LONDON)  # the receipt changed it last

    part = invoices["1002"]
    assert part.amount_paid == Decimal("50.00") and part.outstanding == Decimal("55.00") and not part.is_paid
    assert part.lines[0].description == "Café crème 😀" and part.lines[0].item_key == "CAFÉ-Ü"
    assert part.paid_date is None

    credit = invoices["1003"]
    assert credit.is_credit and credit.gross == Decimal("23.99") and credit.net == Decimal("19.99")
    assert credit.outstanding == Decimal("23.99") and credit.payments == ()

    draft = invoices["1004"]
    assert draft.posted is False and draft.outstanding is None and draft.lines[0].quantity == Decimal("3.5")

    assert invoices["1005"].gross == Decimal("0.00") and not invoices["1005"].is_paid

    odd = invoices["1006"]
    assert [line.item_key for line in odd.lines] == ["", "NOISE", "DISCOUNT"]
    assert odd.lines[0].description == "Thanks for your business 🙏"
    assert odd.lines[1].unit_price == Decimal("0.30") and odd.lines[1].net == Decimal("0.90")
    assert odd.gross == Decimal("-4.92") and odd.outstanding == Decimal("-4.92")

    two = invoices["1009"]
    assert [p.reference for p in two.payments] == ["Card 1/2", "Card 2/2"]
    assert len({p.key for p in two.payments}) == 2
    assert two.is_paid and two.paid_date == datetime(2024, 6, 10, tzinfo=LONDON)


def test_payment_keys_are_stable_between_reads(sage50uk_company):
    first = odbc_connector(sage50uk_company.connection_string)
    second = odbc_connector(sage50uk_company.connection_string, page_size=1000)
    with first, second:
        small_pages = list(first.read("invoices"))
        one_page = list(second.read("invoices"))
    assert small_pages == one_page


# --- incremental reads ---------------------------------------------------------------------------------


def test_incremental_customers_and_items(sage50uk_company, sage50uk_connector):
    everything = list(sage50uk_connector.read("customers"))
    cursor = max(r.modified for r in everything if r.modified is not None)
    later = BASE + timedelta(days=3)
    touch(sage50uk_company.path, "SALES_LEDGER", "ACCOUNT_REF", "ACME01", later, NAME="Acme Group Ltd")
    with sqlite3.connect(sage50uk_company.path) as connection:
        row = dict(
            ACCOUNT_REF="NEW01",
            NAME="Newcomer Ltd",
            RECORD_MODIFY_DATE=sage_timestamp(later),
            INACTIVE_FLAG=0,
            RECORD_DELETED=0,
        )
        insert_rows(connection, "SALES_LEDGER", [row])
    connection.close()

    changed = list(sage50uk_connector.read("customers", since=cursor + timedelta(seconds=1)))
    assert {r.key for r in changed} == {"ACME01", "NEW01", "NULLS"}  # NULL-dated rows always come
    assert by_key(changed)["ACME01"].name == "Acme Group Ltd"

    # A cursor exactly at a row's stamp includes it (>=), in another zone too.
    exact = later.replace(tzinfo=LONDON).astimezone(ZoneInfo("America/New_York"))
    assert {r.key for r in sage50uk_connector.read("customers", since=exact)} == {"ACME01", "NEW01", "NULLS"}

    touch(sage50uk_company.path, "STOCK", "STOCK_CODE", "WIDGET", later, SALES_PRICE=21.49)
    items = list(sage50uk_connector.read("items", since=cursor + timedelta(seconds=1)))
    assert {r.key for r in items} == {"WIDGET", "NOPRICE"}
    assert by_key(items)["WIDGET"].price == Decimal("21.49")


def test_incremental_invoices_reread_on_new_receipt(sage50uk_company, sage50uk_connector):
    everything = [r for r in sage50uk_connector.read("invoices") if isinstance(r, Invoice)]
    cursor = max(r.modified for r in everything if r.modified is not None) + timedelta(seconds=1)
    assert {r.key for r in sage50uk_connector.read("invoices", since=cursor)} == {"1010"}  # NULL-dated only

    paid_at = BASE + timedelta(days=60)
    with sqlite3.connect(sage50uk_company.path) as connection:
        ledger = SageLedger(connection)
        # Only the allocation is new: INVOICE and its AUDIT_HEADER keep their old modify dates.
        ledger.add_receipt(
            invoice_split=invoice_split(connection, 1002),
            account_ref="OBRIEN",
            when=paid_at,
            amount=55.0,
            reference="Cheque 000124",
            touch_invoice=False,
        )
    connection.close()
    again = by_key(sage50uk_connector.read("invoices", since=cursor))
    assert set(again) == {"1002", "1010"}
    assert [p.reference for p in again["1002"].payments] == ["Cheque 000123", "Cheque 000124"]
    assert again["1002"].modified == paid_at.replace(tzinfo=LONDON)

    touch(
        sage50uk_company.path,
        "INVOICE",
        "INVOICE_NUMBER",
        1005,
        paid_at + timedelta(hours=1),
        CUST_ORDER_NUMBER="X",
    )
    later = by_key(sage50uk_connector.read("invoices", since=paid_at.replace(tzinfo=LONDON)))
    assert set(later) == {"1002", "1005", "1010"}
    assert later["1005"].reference == "X"


# --- test connection ---------------------------------------------------------------------------------------


def test_connection_ok_names_company_and_counts(sage50uk_connector):
    check = sage50uk_connector.test_connection()
    assert check.ok, check
    assert "Stand-in Accounts Ltd" in check.detail and "11 customers" in check.detail
    assert sage50uk_connector._connection is None  # the Sage login is not held after the test


def test_connection_missing_driver_gives_bitness_hint(tmp_path):
    check = odbc_connector(f"Driver={{Sage Line 50 v99}};Database={tmp_path / 'x'}").test_connection()
    assert not check.ok
    assert "driver or data source" in check.message
    assert "bit" in check.action and "ODBC Data Sources" in check.action


def test_connection_missing_data_folder_says_check_the_path(tmp_path):
    missing = tmp_path / "Company.000" / "ACCDATA.sqlite"
    check = odbc_connector(sqlite_odbc_connection_string(missing)).test_connection()
    assert not check.ok
    assert "data path" in check.message and "ACCDATA" in check.action


def test_connection_missing_table_says_wrong_path_or_version(sage50uk_company, tmp_path):
    copy = tmp_path / "old-version.sqlite"
    shutil.copy(sage50uk_company.path, copy)
    with sqlite3.connect(copy) as connection:
        connection.execute("DROP TABLE AUDIT_USAGE")
    connection.close()
    check = odbc_connector(sqlite_odbc_connection_string(copy)).test_connection()
    assert not check.ok
    assert "does not have the table or column" in check.message
    assert "right company and package version" in check.action
    assert "AUDIT_USAGE" in check.detail or "AUDIT_USAGE" in check.message


def test_username_already_in_use_is_a_config_error_with_action():
    """Sage's 'Username is already in use' cannot be produced by SQLite, so a real pyodbc.Error instance
    carrying Sage's SQLSTATE and text goes through the connector's real error path."""
    sage_error = pyodbc.Error("HY000", "[Sage][ODBC Driver]Username is already in use (0) (SQLDriverConnect)")

    def refuse():
        raise sage_error

    check = Sage50UKConnector(refuse).test_connection()
    assert not check.ok
    assert "already logged in" in check.message
    assert "dedicated user" in check.action
    mapped = error_from_odbc(sage_error, package="sage50uk")
    assert isinstance(mapped, ConfigError) and "Username is already in use" in mapped.detail


def test_unknown_stream_is_a_config_error(sage50uk_connector):
    with pytest.raises(ConfigError, match="no stream"):
        list(sage50uk_connector.read("payments"))


def test_characters_beyond_plane_15_survive_the_sqlite_driver(sage50uk_company, sage50uk_connector):
    """sqliteodbc's UTF-16 conversion breaks U+100000 and up; the registry reads its UTF-8 instead."""
    name = "Plane 16 \U0010d800 and \U0010ffff Ltd"
    touch(sage50uk_company.path, "SALES_LEDGER", "ACCOUNT_REF", "ZED", BASE, NAME=name)
    customers = by_key(r for r in sage50uk_connector.read("customers") if isinstance(r, Customer))
    assert customers["ZED"].name == name

"""A Sage 50 UK stand-in company: a SQLite file with Sage's real tables, read through the SQLite3 ODBC driver.

Why: Sage's own driver only runs on Windows. The stand-in keeps Sage's table and column names and types
(DDL shared with the demo company: resources/demo/sage50uk_schema.sql), DOUBLE money stored as REAL (so the
float noise is real), and naive local timestamps as TIMESTAMP text that the SQLite ODBC driver returns as
``datetime``. ``build_company`` writes realistic AND nasty rows whose expected values the tests assert;
``make_large`` writes a big company fast for the benchmarks.
"""

from __future__ import annotations

import random
import sqlite3
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from resources.demo.sage50uk_schema import (
    SageLedger,
    create_schema,
    insert_rows,
    sage_date,
    sage_timestamp,
)

# Every stand-in timestamp is naive local time (the tests read with local_zone = LONDON).
BASE = datetime(2024, 5, 1, 9, 0, 0)
MAX_NAME = "Ł" + "ó" * 28 + "ß" * 30 + "Z"  # NAME is 60 characters in Sage
assert len(MAX_NAME) == 60

TAX_CODES: list[dict[str, Any]] = [
    {"TAX_CODE": "T0", "TAX_CODE_ID": 0, "DESCRIPTION": "Zero rated", "TAX_RATE": 0.0},
    {"TAX_CODE": "T1", "TAX_CODE_ID": 1, "DESCRIPTION": "Standard rate", "TAX_RATE": 20.0},
    {"TAX_CODE": "T2", "TAX_CODE_ID": 2, "DESCRIPTION": "Exempt", "TAX_RATE": 0.0},
    {"TAX_CODE": "T5", "TAX_CODE_ID": 5, "DESCRIPTION": "Reduced rate (5%)", "TAX_RATE": 5.0},
    {"TAX_CODE": "T9", "TAX_CODE_ID": 9, "DESCRIPTION": "Outside the scope of VAT", "TAX_RATE": 0.0},
    # A legacy code with float noise: 17.5 is exact, 12.3456789 must round to 4 places.
    {"TAX_CODE": "T20", "TAX_CODE_ID": 20, "DESCRIPTION": "Old standard rate 17.5%", "TAX_RATE": 17.5},
    {"TAX_CODE": "T21", "TAX_CODE_ID": 21, "DESCRIPTION": "Odd rate", "TAX_RATE": 12.3456789},
]


def _customer(ref: str, name: str | None, **extra: Any) -> dict[str, Any]:
    row: dict[str, Any] = {
        "ACCOUNT_REF": ref,
        "NAME": name,
        "ADDRESS_1": None,
        "ADDRESS_2": None,
        "ADDRESS_3": None,
        "ADDRESS_4": None,
        "ADDRESS_5": None,
        "DEL_ADDRESS_1": None,
        "DEL_ADDRESS_2": None,
        "DEL_ADDRESS_3": None,
        "DEL_ADDRESS_4": None,
        "DEL_ADDRESS_5": None,
        "CONTACT_NAME": None,
        "TELEPHONE": None,
        "E_MAIL": None,
        "WEB_ADDRESS": None,
        "DEF_TAX_CODE": "T1",
        "VAT_REG_NUMBER": None,
        "COUNTRY_CODE": "GB",
        "CURRENCY": 0,
        "BALANCE": 0.0,
        "INACTIVE_FLAG": 0,
        "RECORD_CREATE_DATE": sage_timestamp(BASE - timedelta(days=400)),
        "RECORD_MODIFY_DATE": sage_timestamp(BASE),
        "RECORD_DELETED": 0,
    }
    row.update(extra)
    return row


CUSTOMERS: list[dict[str, Any]] = [
    _customer(
        "ACME01",
        "Acme Ltd",
        ADDRESS_1="Unit 4, Riverside Park",
        ADDRESS_2="Mill Lane",
        ADDRESS_3="Leeds",
        ADDRESS_4="West Yorkshire",
        ADDRESS_5="LS1 4AP",
        DEL_ADDRESS_1="Goods In, Unit 5",
        DEL_ADDRESS_3="Leeds",
        DEL_ADDRESS_5="LS1 4AQ",
        CONTACT_NAME="Jane Smith",
        TELEPHONE="0113 496 0000",
        E_MAIL="accounts@acme.example.co.uk",
        WEB_ADDRESS="https://acme.example.co.uk",
        VAT_REG_NUMBER="GB123456789",
    ),
    _customer(
        "ACME02",
        "ACME Limited",  # duplicate-looking name, different account
        DEF_TAX_CODE="T0",
        E_MAIL="ap@acme-limited.example.com",
    ),
    _customer(
        "OBRIEN",
        "O'Brien & Sons (Café Müller) Ltd",
        ADDRESS_1="12 St. Mary's Road",
        ADDRESS_3="Dún Laoghaire",
        ADDRESS_5="A96 X2Y3",
        COUNTRY_CODE="IE",
        DEF_TAX_CODE="T5",
        CONTACT_NAME="Seán O'Brien",
        VAT_REG_NUMBER="IE6388047V",
    ),
    _customer("SMILE", "Smile 😀 Studio — Design", E_MAIL="hello@smile.example", DEF_TAX_CODE=None),
    _customer("MAXLEN08", MAX_NAME, CONTACT_NAME="X" * 30),
    _customer(
        "NULLS",
        "Only A Name Ltd",
        DEF_TAX_CODE=None,
        COUNTRY_CODE=None,
        INACTIVE_FLAG=None,
        RECORD_DELETED=None,
        RECORD_MODIFY_DATE=None,
    ),
    _customer("INACT", "Dormant Holdings plc", INACTIVE_FLAG=1),
    _customer("GONE", "Gone Away Ltd", RECORD_DELETED=1),
    _customer("CTRL", "Tab\tand\x07bell\x00 Ltd  "),
    _customer("NONAME", None),  # no name: a problem, the stream goes on
    _customer("ZED", "Zed's Last Customer"),
]

ITEMS: list[dict[str, Any]] = [
    {
        "STOCK_CODE": "WIDGET",
        "DESCRIPTION": "Blue widget",
        "SALES_PRICE": 19.99,
        "AVERAGE_COST_PRICE": 7.5,
        "LAST_PURCHASE_PRICE": 7.25,
        "TAX_CODE": "T1",
        "NOMINAL_CODE": "4000",
        "PURCHASE_NOMINAL_CODE": "5000",
    },
    {
        "STOCK_CODE": "SUPPORT-HR",
        "DESCRIPTION": "Remote support (per hour)",
        "SALES_PRICE": 65.0,
        "AVERAGE_COST_PRICE": 0.0,
        "LAST_PURCHASE_PRICE": None,
        "TAX_CODE": "T1",
        "NOMINAL_CODE": "4010",
        "PURCHASE_NOMINAL_CODE": "5010",
    },
    {
        "STOCK_CODE": "NOISE",
        "DESCRIPTION": "Float noise",
        "SALES_PRICE": 0.1 + 0.2,
        "AVERAGE_COST_PRICE": 0.0,
        "LAST_PURCHASE_PRICE": 12.34,
        "TAX_CODE": "T1",
        "NOMINAL_CODE": "4000",
        "PURCHASE_NOMINAL_CODE": "5000",
    },
    {
        "STOCK_CODE": "ZERO",
        "DESCRIPTION": "Free delivery",
        "SALES_PRICE": 0.0,
        "AVERAGE_COST_PRICE": None,
        "LAST_PURCHASE_PRICE": None,
        "TAX_CODE": "T0",
        "NOMINAL_CODE": "4905",
        "PURCHASE_NOMINAL_CODE": "5000",
    },
    {
        "STOCK_CODE": "DISCOUNT",
        "DESCRIPTION": "Loyalty discount",
        "SALES_PRICE": -5.0,
        "AVERAGE_COST_PRICE": None,
        "LAST_PURCHASE_PRICE": None,
        "TAX_CODE": "T1",
        "NOMINAL_CODE": "4000",
        "PURCHASE_NOMINAL_CODE": "5000",
    },
    {
        "STOCK_CODE": "CAFÉ-Ü",
        "DESCRIPTION": "Café crème 😀",
        "SALES_PRICE": 2.5,
        "AVERAGE_COST_PRICE": 1.0,
        "LAST_PURCHASE_PRICE": 1.1,
        "TAX_CODE": "T5",
        "NOMINAL_CODE": "4000",
        "PURCHASE_NOMINAL_CODE": "5000",
    },
    {
        "STOCK_CODE": "INSURE",
        "DESCRIPTION": "Device insurance",
        "SALES_PRICE": 120.0,
        "AVERAGE_COST_PRICE": 80.0,
        "LAST_PURCHASE_PRICE": 80.0,
        "TAX_CODE": "T2",
        "NOMINAL_CODE": "4100",
        "PURCHASE_NOMINAL_CODE": "5100",
    },
    {
        "STOCK_CODE": "NOPRICE",
        "DESCRIPTION": None,
        "SALES_PRICE": None,
        "AVERAGE_COST_PRICE": None,
        "LAST_PURCHASE_PRICE": None,
        "TAX_CODE": None,
        "NOMINAL_CODE": None,
        "PURCHASE_NOMINAL_CODE": None,
        "RECORD_MODIFY_DATE": None,
    },
    {
        "STOCK_CODE": "OLDKIT",
        "DESCRIPTION": "Discontinued router",
        "SALES_PRICE": 99.0,
        "AVERAGE_COST_PRICE": 50.0,
        "LAST_PURCHASE_PRICE": 50.0,
        "TAX_CODE": "T1",
        "NOMINAL_CODE": "4000",
        "PURCHASE_NOMINAL_CODE": "5000",
        "INACTIVE_FLAG": 1,
    },
    {
        "STOCK_CODE": "GONEKIT",
        "DESCRIPTION": "Deleted switch",
        "SALES_PRICE": 45.0,
        "AVERAGE_COST_PRICE": 20.0,
        "LAST_PURCHASE_PRICE": 20.0,
        "TAX_CODE": "T1",
        "NOMINAL_CODE": "4000",
        "PURCHASE_NOMINAL_CODE": "5000",
        "RECORD_DELETED": 1,
    },
    {
        "STOCK_CODE": "X" * 30,
        "DESCRIPTION": "D" * 60,
        "SALES_PRICE": 1e9,
        "AVERAGE_COST_PRICE": None,
        "LAST_PURCHASE_PRICE": None,
        "TAX_CODE": "T9",
        "NOMINAL_CODE": "4000",
        "PURCHASE_NOMINAL_CODE": "5000",
    },
]


@dataclass(frozen=True)
class LineSpec:
    stock_code: str
    description: str
    quantity: float
    unit_price: float
    net: float
    tax: float
    tax_code: str
    tax_rate: float
    text: str | None = None


@dataclass(frozen=True)
class InvoiceSpec:
    number: int
    account_ref: str | None
    kind: str  # INVOICE_OR_CREDIT text as Sage shows it
    day: int  # days after BASE
    lines: tuple[LineSpec, ...]
    posted: bool = True
    order_number: str | None = None
    receipts: tuple[tuple[float, str, int], ...] = ()  # (amount, reference, days after the invoice)
    modified: bool = True  # False: RECORD_MODIFY_DATE is NULL
    carriage: tuple[float, float] = (0.0, 0.0)  # CARR_NET, CARR_TAX (part of INVOICE_NET / INVOICE_TAX)
    currency: int = 1  # CURRENCY.NUMBER; 1 is the base currency (pounds)
    foreign_rate: float = 1.0  # units of the document's currency per pound; amounts above are in it

    @property
    def items_net(self) -> float:
        return round(sum(line.net for line in self.lines), 2)

    @property
    def items_tax(self) -> float:
        return round(sum(line.tax for line in self.lines), 2)

    @property
    def net(self) -> float:
        return round(self.items_net + self.carriage[0], 2)

    @property
    def tax(self) -> float:
        return round(self.items_tax + self.carriage[1], 2)

    @property
    def gross(self) -> float:
        return round(self.net + self.tax, 2)


INVOICES: list[InvoiceSpec] = [
    InvoiceSpec(
        1001,
        "ACME01",
        "Invoice",
        0,
        (
            LineSpec("WIDGET", "Blue widget", 2, 19.99, 39.98, 8.0, "T1", 20.0),
            LineSpec("S1", "", 1, 120.0, 120.0, 24.0, "T1", 20.0, text="On-site visit: server room clean-up"),
        ),
        order_number="PO-7781",
        receipts=((191.98, "BACS ACME 1001", 10),),
    ),
    InvoiceSpec(
        1002,
        "OBRIEN",
        "Invoice",
        2,
        (LineSpec("CAFÉ-Ü", "Café crème 😀", 40, 2.5, 100.0, 5.0, "T5", 5.0),),
        receipts=((50.0, "Cheque 000123", 5),),
    ),
    InvoiceSpec(
        1003,
        "ACME01",
        "Credit",
        3,
        (LineSpec("WIDGET", "Returned widget", 1, 19.99, 19.99, 4.0, "T1", 20.0),),
    ),
    InvoiceSpec(
        1004,
        "ACME02",
        "Invoice",
        4,
        (LineSpec("SUPPORT-HR", "Support March", 3.5, 65.0, 227.5, 0.0, "T0", 0.0),),
        posted=False,
    ),
    InvoiceSpec(1005, "ZED", "Invoice", 5, (LineSpec("ZERO", "Free delivery", 1, 0.0, 0.0, 0.0, "T0", 0.0),)),
    InvoiceSpec(
        1006,
        "SMILE",
        "Invoice",
        6,
        (
            LineSpec("M", "Thanks for your business 🙏", 0, 0.0, 0.0, 0.0, "T9", 0.0),
            LineSpec("NOISE", "Noise line", 3, 0.1 + 0.2, 0.9, 0.18, "T1", 20.0),
            LineSpec("DISCOUNT", "Loyalty discount", 1, -5.0, -5.0, -1.0, "T1", 20.0),
        ),
    ),
    InvoiceSpec(1007, None, "Invoice", 7, (LineSpec("WIDGET", "Orphan", 1, 19.99, 19.99, 4.0, "T1", 20.0),)),
    InvoiceSpec(
        1008, "ACME01", "Quote", 8, (LineSpec("WIDGET", "Quoted", 1, 19.99, 19.99, 4.0, "T1", 20.0),)
    ),
    InvoiceSpec(
        1009,
        "MAXLEN08",
        "Invoice",
        9,
        (LineSpec("INSURE", "Device insurance", 1, 120.0, 120.0, 0.0, "T2", 0.0),),
        receipts=((60.0, "Card 1/2", 1), (60.0, "Card 2/2", 31)),
    ),
    InvoiceSpec(
        1010,
        "NULLS",
        "Invoice",
        10,
        (LineSpec("WIDGET", "No date", 1, 19.99, 19.99, 4.0, "T1", 20.0),),
        modified=False,
    ),
    # Carriage on the header only (CARR_*): INVOICE_NET/TAX/GROSS include it, INVOICE_ITEM does not.
    InvoiceSpec(
        1011,
        "ACME01",
        "Invoice",
        11,
        (LineSpec("WIDGET", "Blue widget", 5, 19.99, 99.95, 19.99, "T1", 20.0),),
        carriage=(12.5, 2.5),
    ),
    # A euro invoice: its amounts (and FOREIGN_* columns) in euros, the plain columns in pounds at 1.16.
    InvoiceSpec(
        1012,
        "OBRIEN",
        "Invoice",
        12,
        (LineSpec("INSURE", "Device insurance (EUR)", 2, 116.0, 232.0, 0.0, "T2", 0.0),),
        carriage=(11.6, 0.0),
        currency=2,
        foreign_rate=1.16,
        receipts=((100.0, "SEPA 1012", 3),),  # pounds; 116 euros
    ),
]

# Another customer's ledger entry whose reference happens to be invoice 1002's number (INV_REF is free text
# in Sage: a batch invoice typed with "1002"). Paid in full: it must not make invoice 1002 look paid.
FOREIGN_REFERENCE_ENTRY = {"account_ref": "ZED", "reference": 1002, "gross": 50.0, "day": 4}


def invoice_spec(number: int) -> InvoiceSpec:
    return next(spec for spec in INVOICES if spec.number == number)


def odbc_connection_string(path: Path) -> str:
    """The pyodbc connection string for a stand-in file (see tests.fixtures_odbc for StepAPI / NoCreat)."""
    return f"Driver=SQLite3;Database={path};StepAPI=1;NoCreat=1"


# Suppliers (PURCHASE_LEDGER): an ordinary one, an inactive one, a deleted one, one changed later and one
# without a name (a row problem).
SUPPLIERS: list[dict[str, Any]] = [
    {
        **_customer(
            "CON001",
            "Concept Stationery Supplies",
            ADDRESS_1="66 New Street",
            ADDRESS_2="Ridgeway",
            ADDRESS_3="Newcastle upon Tyne",
            ADDRESS_5="NE1 4GF",
            CONTACT_NAME="Mark Ramsay",
            TELEPHONE="0191 643 4343",
            E_MAIL="orders@concept.example",
            WEB_ADDRESS="www.concept.example",
            VAT_REG_NUMBER="GB988 3453 23",
        ),
        "DEF_NOM_CODE": "5000",
    },
    _customer("OLDSUP", "Old Supplier Ltd", INACTIVE_FLAG=1),
    _customer("GONE01", "Gone Supplies", RECORD_DELETED=1),
    _customer("LATE01", "Late Parts plc", RECORD_MODIFY_DATE=sage_timestamp(BASE + timedelta(days=2))),
    _customer("NONAME", None),
]
_SUPPLIER_COLUMNS = (
    "ACCOUNT_REF",
    "NAME",
    *(f"ADDRESS_{n}" for n in range(1, 6)),
    "CONTACT_NAME",
    "TELEPHONE",
    "E_MAIL",
    "WEB_ADDRESS",
    "DEF_TAX_CODE",
    "DEF_NOM_CODE",
    "VAT_REG_NUMBER",
    "CURRENCY",
    "COUNTRY_CODE",
    "BALANCE",
    "INACTIVE_FLAG",
    "RECORD_CREATE_DATE",
    "RECORD_MODIFY_DATE",
    "RECORD_DELETED",
)


def _stock_row(row: dict[str, Any]) -> dict[str, Any]:
    full: dict[str, Any] = {
        "UNIT_OF_SALE": "Each",
        "QTY_IN_STOCK": 10.0,
        "INACTIVE_FLAG": 0,
        "RECORD_DELETED": 0,
        "RECORD_CREATE_DATE": sage_timestamp(BASE - timedelta(days=300)),
        "RECORD_MODIFY_DATE": sage_timestamp(BASE),
    }
    full.update(row)
    return full


def build_company(path: Path) -> Path:
    """Write the realistic-and-nasty stand-in company to ``path`` (replacing it) and return the path."""
    path.unlink(missing_ok=True)
    connection = sqlite3.connect(path)
    try:
        create_schema(connection)
        insert_rows(
            connection, "COMPANY", [{"NAME": "Stand-in Accounts Ltd", "VAT_REG_NUMBER": "GB999999973"}]
        )
        # VAT_INCLUDE is "tax code included in VAT return" (normally 1), not "prices include tax".
        insert_rows(connection, "TAX_CODE", [{**row, "VAT_INCLUDE": 1} for row in TAX_CODES])
        insert_rows(connection, "SALES_LEDGER", CUSTOMERS)
        insert_rows(
            connection,
            "PURCHASE_LEDGER",
            [{column: row.get(column) for column in _SUPPLIER_COLUMNS} for row in SUPPLIERS],
        )
        insert_rows(connection, "STOCK", [_stock_row(row) for row in ITEMS])
        ledger = SageLedger(connection)
        for spec in INVOICES:
            write_invoice(connection, ledger, spec)
        _write_foreign_reference_entry(ledger)
        connection.commit()
    finally:
        connection.close()
    return path


def _write_foreign_reference_entry(ledger: SageLedger) -> None:
    entry = FOREIGN_REFERENCE_ENTRY
    when = BASE + timedelta(days=int(entry["day"]))
    split = ledger.post_document(
        invoice_number=int(entry["reference"]),
        is_credit=False,
        account_ref=str(entry["account_ref"]),
        when=when,
        due=None,
        net=float(entry["gross"]),
        tax=0.0,
        gross=float(entry["gross"]),
    )
    ledger.add_receipt(
        invoice_split=split,
        account_ref=str(entry["account_ref"]),
        when=when,
        amount=float(entry["gross"]),
        reference="ZED batch",
    )


def write_invoice(connection: sqlite3.Connection, ledger: SageLedger, spec: InvoiceSpec) -> None:
    when = BASE + timedelta(days=spec.day)
    is_credit = spec.kind == "Credit"
    rate = spec.foreign_rate

    def base(value: float) -> float:
        return round(value / rate, 2)

    carriage_net, carriage_tax = spec.carriage
    insert_rows(
        connection,
        "INVOICE",
        [
            {
                "INVOICE_NUMBER": spec.number,
                "INVOICE_TYPE_CODE": 1 if is_credit else 0,
                "INVOICE_TYPE": "Service" if any(line.text for line in spec.lines) else "Product",
                "INVOICE_OR_CREDIT": spec.kind,
                "INVOICE_DATE": sage_timestamp(when.replace(hour=0)),
                "ACCOUNT_REF": spec.account_ref,
                "NAME": spec.account_ref,
                "CUST_ORDER_NUMBER": spec.order_number,
                "ITEMS_NET": base(spec.items_net),
                "ITEMS_TAX": base(spec.items_tax),
                "ITEMS_GROSS": base(spec.items_net + spec.items_tax),
                "CARR_NOM_CODE": "4905" if carriage_net or carriage_tax else None,
                "CARR_TAX_CODE": ("T1" if carriage_tax else "T0") if carriage_net or carriage_tax else None,
                "FOREIGN_CARR_NET": carriage_net,
                "FOREIGN_CARR_TAX": carriage_tax,
                "FOREIGN_CARR_GROSS": round(carriage_net + carriage_tax, 2),
                "CARR_NET": base(carriage_net),
                "CARR_TAX": base(carriage_tax),
                "CARR_GROSS": base(carriage_net + carriage_tax),
                "FOREIGN_INVOICE_NET": spec.net,
                "FOREIGN_INVOICE_TAX": spec.tax,
                "FOREIGN_INVOICE_GROSS": spec.gross,
                "INVOICE_NET": base(spec.net),
                "INVOICE_TAX": base(spec.tax),
                "INVOICE_GROSS": base(spec.gross),
                "CURRENCY": spec.currency,
                "CURRENCY_TYPE": 0,
                "FOREIGN_RATE": rate,
                "POSTED": "Posted" if spec.posted else "Not posted",
                "POSTED_CODE": 1 if spec.posted else 0,
                "PAYMENT_DUE_DATE": sage_timestamp(when.replace(hour=0) + timedelta(days=30)),
                "RECORD_CREATE_DATE": sage_timestamp(when),
                "RECORD_MODIFY_DATE": sage_timestamp(when) if spec.modified else None,
                "RECORD_DELETED": 0,
            }
        ],
    )
    insert_rows(
        connection,
        "INVOICE_ITEM",
        [
            {
                "INVOICE_NUMBER": spec.number,
                "ITEM_NUMBER": index,
                "ITEMID": spec.number * 100 + index,
                "STOCK_CODE": line.stock_code,
                "DESCRIPTION": line.description,
                "TEXT": line.text,
                "SERVICE_FLAG": 1 if line.text else 0,
                "QUANTITY": line.quantity,
                "FOREIGN_UNIT_PRICE": line.unit_price,
                "UNIT_PRICE": base(line.unit_price),
                "NOMINAL_CODE": "4000",
                "TAX_CODE": line.tax_code,
                "TAX_RATE": line.tax_rate,
                "FULL_NET_AMOUNT": base(line.net),
                "NET_AMOUNT": base(line.net),
                "TAX_AMOUNT": base(line.tax),
                "GROSS_AMOUNT": base(line.net + line.tax),
                "FOREIGN_FULL_NET_AMOUNT": line.net,
                "FOREIGN_NET_AMOUNT": line.net,
                "FOREIGN_TAX_AMOUNT": line.tax,
                "FOREIGN_GROSS_AMOUNT": round(line.net + line.tax, 2),
                "RECORD_MODIFY_DATE": sage_timestamp(when),
            }
            for index, line in enumerate(spec.lines, start=1)
        ],
    )
    if not spec.posted or spec.kind not in ("Invoice", "Credit"):
        return
    split = ledger.post_document(
        invoice_number=spec.number,
        is_credit=is_credit,
        account_ref=spec.account_ref or "",
        when=when,
        due=(when + timedelta(days=30)).date(),
        net=spec.net,
        tax=spec.tax,
        gross=spec.gross,
        currency=spec.currency,
        foreign_rate=rate,
    )
    for amount, reference, days in spec.receipts:
        ledger.add_receipt(
            invoice_split=split,
            account_ref=spec.account_ref or "",
            when=when + timedelta(days=days),
            amount=amount,
            reference=reference,
            foreign_amount=round(amount * rate, 2),
        )


def invoice_split(connection: sqlite3.Connection, number: int) -> int:
    """The ledger split of a posted invoice (to allocate a new receipt to it in a test)."""
    row = connection.execute(
        "SELECT s.SPLIT_NUMBER FROM AUDIT_SPLIT s JOIN AUDIT_HEADER h ON h.HEADER_NUMBER = s.HEADER_NUMBER "
        "WHERE h.INV_REF = ? AND h.\"TYPE\" IN ('SI', 'SC') "
        "AND h.ACCOUNT_REF = (SELECT ACCOUNT_REF FROM INVOICE WHERE INVOICE_NUMBER = ?)",
        (str(number), number),
    ).fetchone()
    if row is None:
        raise LookupError(f"invoice {number} is not posted")
    return int(row[0])


# --- the large company for the benchmarks -----------------------------------------------------------------


def make_large(
    path: Path, customers: int, items: int, invoices: int, lines_per_inv: int, *, seed: int = 7
) -> Path:
    """A big stand-in company (executemany in one transaction): about 1 in 3 invoices has a receipt."""
    path.unlink(missing_ok=True)
    rng = random.Random(seed)
    connection = sqlite3.connect(path)
    try:
        connection.execute("PRAGMA journal_mode = OFF")
        connection.execute("PRAGMA synchronous = OFF")
        create_schema(connection)
        insert_rows(connection, "COMPANY", [{"NAME": f"Large Stand-in {customers}"}])
        insert_rows(connection, "TAX_CODE", [{**row, "VAT_INCLUDE": 0} for row in TAX_CODES[:5]])
        stamp = sage_timestamp(BASE)
        refs = [f"C{n:07d}" for n in range(customers)]
        insert_rows(
            connection,
            "SALES_LEDGER",
            (
                _customer(
                    ref,
                    f"Customer {n} Ltd",
                    ADDRESS_1=f"{n} High Street",
                    ADDRESS_3="Manchester",
                    ADDRESS_5="M1 1AA",
                    E_MAIL=f"accounts{n}@example.co.uk",
                    TELEPHONE="0161 496 0000",
                    VAT_REG_NUMBER=f"GB{100000000 + n}",
                    RECORD_MODIFY_DATE=stamp,
                )
                for n, ref in enumerate(refs)
            ),
        )
        codes = [f"ITEM{n:05d}" for n in range(items)]
        prices = [round(rng.uniform(1, 500), 2) for _ in codes]
        insert_rows(
            connection,
            "STOCK",
            (
                _stock_row(
                    {
                        "STOCK_CODE": code,
                        "DESCRIPTION": f"Product {code}",
                        "SALES_PRICE": price,
                        "AVERAGE_COST_PRICE": round(price * 0.6, 2),
                        "LAST_PURCHASE_PRICE": round(price * 0.55, 2),
                        "TAX_CODE": "T1",
                        "NOMINAL_CODE": "4000",
                        "PURCHASE_NOMINAL_CODE": "5000",
                    }
                )
                for code, price in zip(codes, prices, strict=True)
            ),
        )
        headers: list[dict[str, Any]] = []
        splits: list[dict[str, Any]] = []
        usages: list[dict[str, Any]] = []

        def invoice_rows() -> Any:
            for number in range(1, invoices + 1):
                ref = refs[number % len(refs)] if refs else "NONE"
                when = BASE + timedelta(minutes=number)
                lines = []
                for index in range(1, lines_per_inv + 1):
                    pick = (number * 31 + index) % len(codes) if codes else 0
                    price = prices[pick] if codes else 10.0
                    quantity = 1 + (number + index) % 3
                    net = round(price * quantity, 2)
                    lines.append(
                        (index, codes[pick] if codes else "S1", quantity, price, net, round(net * 0.2, 2))
                    )
                net = round(sum(line[4] for line in lines), 2)
                tax = round(sum(line[5] for line in lines), 2)
                gross = round(net + tax, 2)
                paid = number % 3 == 0
                headers.append(
                    {
                        "HEADER_NUMBER": number,
                        "TRAN_NUMBER": number,
                        "TYPE": "SI",
                        "DATE": sage_date(when.date()),
                        "ACCOUNT_REF": ref,
                        "INV_REF": str(number),
                        "ISP_REFERENCE": number,
                        "NET_AMOUNT": net,
                        "TAX_AMOUNT": tax,
                        "GROSS_AMOUNT": gross,
                        "AMOUNT_PAID": gross if paid else 0.0,
                        "OUTSTANDING": 0.0 if paid else gross,
                        "PAID_FLAG": "Y" if paid else "N",
                        "DELETED_FLAG": 0,
                        "RECORD_MODIFY_DATE": sage_timestamp(when),
                    }
                )
                splits.append(
                    {
                        "SPLIT_NUMBER": number,
                        "TRAN_NUMBER": number,
                        "HEADER_NUMBER": number,
                        "TYPE": "SI",
                        "GROSS_AMOUNT": gross,
                        "RECORD_MODIFY_DATE": sage_timestamp(when),
                    }
                )
                if paid:
                    usages.append(
                        {
                            "USAGE_NUMBER": number,
                            "SPLIT_NUMBER": number,
                            "SPLIT_CROSSREF": invoices + number,
                            "TYPE": "SR",
                            "REFERENCE": f"BACS {number}",
                            "DATE": sage_date(when.date()),
                            "AMOUNT": gross,
                            "FOREIGN_AMOUNT": gross,
                            "DELETED_FLAG": 0,
                            "RECORD_MODIFY_DATE": sage_timestamp(when),
                        }
                    )
                yield (
                    {
                        "INVOICE_NUMBER": number,
                        "INVOICE_OR_CREDIT": "Invoice",
                        "INVOICE_DATE": sage_timestamp(when),
                        "ACCOUNT_REF": ref,
                        "INVOICE_NET": net,
                        "INVOICE_TAX": tax,
                        "INVOICE_GROSS": gross,
                        "POSTED_CODE": 1,
                        "PAYMENT_DUE_DATE": sage_timestamp(when + timedelta(days=30)),
                        "RECORD_MODIFY_DATE": sage_timestamp(when),
                        "RECORD_DELETED": 0,
                    },
                    lines,
                    when,
                )

        line_rows: list[dict[str, Any]] = []
        invoice_batch: list[dict[str, Any]] = []

        def flush() -> None:
            insert_rows(connection, "INVOICE", invoice_batch)
            insert_rows(connection, "INVOICE_ITEM", line_rows)
            insert_rows(connection, "AUDIT_HEADER", headers)
            insert_rows(connection, "AUDIT_SPLIT", splits)
            insert_rows(connection, "AUDIT_USAGE", usages)
            for batch in (invoice_batch, line_rows, headers, splits, usages):
                batch.clear()

        for invoice, lines, when in invoice_rows():
            invoice_batch.append(invoice)
            for index, code, quantity, price, net, tax in lines:
                line_rows.append(
                    {
                        "INVOICE_NUMBER": invoice["INVOICE_NUMBER"],
                        "ITEM_NUMBER": index,
                        "STOCK_CODE": code,
                        "DESCRIPTION": f"Product {code}",
                        "QUANTITY": float(quantity),
                        "UNIT_PRICE": price,
                        "NOMINAL_CODE": "4000",
                        "TAX_CODE": "T1",
                        "TAX_RATE": 20.0,
                        "NET_AMOUNT": net,
                        "TAX_AMOUNT": tax,
                        "GROSS_AMOUNT": round(net + tax, 2),
                        "RECORD_MODIFY_DATE": sage_timestamp(when),
                    }
                )
            if len(invoice_batch) >= 5000:
                flush()
        flush()
        connection.commit()
    finally:
        connection.close()
    return path


def touch(path: Path, table: str, key_column: str, key: Any, when: datetime, **changes: Any) -> None:
    """Edit a row as Sage would: apply ``changes`` and bump RECORD_MODIFY_DATE to ``when`` (naive local)."""
    assignments = {**changes, "RECORD_MODIFY_DATE": sage_timestamp(when)}
    sql = (
        f'UPDATE "{table}" SET {", ".join(f"{chr(34)}{c}{chr(34)} = ?" for c in assignments)} '
        f'WHERE "{key_column}" = ?'
    )
    connection = sqlite3.connect(path)
    try:
        cursor = connection.execute(sql, (*assignments.values(), key))
        if cursor.rowcount != 1:
            raise LookupError(f"no {table} row with {key_column} = {key!r}")
        connection.commit()
    finally:
        connection.close()

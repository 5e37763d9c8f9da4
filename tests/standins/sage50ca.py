"""A stand-in Sage 50 Canada company: the real ``simply`` table and column names, in SQLite or MariaDB.

Why two engines: Sage 50 CA really is MySQL, so the MariaDB copy (read through the "MariaDB Unicode" ODBC
driver) proves the SQL and the types; the SQLite copy (read through the "SQLite3" ODBC driver) runs anywhere.
The DDL is written once in types both accept. Data is small but nasty: apostrophes, accents, emoji, names at
Sage's maximum length, NULLs, inactive rows, look-alike names, zero and negative amounts, credit notes, a
tax-included code, a reversed invoice pair, a bounced (reversed) receipt and rows that cannot be read.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

SCHEMA: dict[str, str] = {
    "ttaxauth": (
        "lId INT PRIMARY KEY, sName VARCHAR(20), sTaxId VARCHAR(20), lAcSalTax INT, lAcPurTax INT, "
        "bTaxable TINYINT, sNameF VARCHAR(20)"
    ),
    "ttaxcode": (
        "lId INT PRIMARY KEY, sCode VARCHAR(2), sDesc VARCHAR(50), sDescF VARCHAR(50), bUsed TINYINT, "
        "bHidden TINYINT, lUseInFlag INT"
    ),
    "tcustomr": (
        "lId INT PRIMARY KEY, sName VARCHAR(52), sCntcName VARCHAR(30), sStreet1 VARCHAR(50), "
        "sStreet2 VARCHAR(50), sCity VARCHAR(35), sProvState VARCHAR(20), sCountry VARCHAR(30), "
        "sPostalZip VARCHAR(9), sPhone1 VARCHAR(25), sPhone2 VARCHAR(25), "
        "sFax VARCHAR(25), sEmail VARCHAR(50), "
        "sWebSite VARCHAR(50), dCrLimit DECIMAL(19,4), lTaxCode INT, lCurrncyId INT, lPrcListId INT, "
        "bInactive TINYINT, dtASDate DATE, tmASTime TIME, sASUserId VARCHAR(20), sASOrgId VARCHAR(20)"
    ),
    # The vendor ledger, laid out as tcustomr (docs/connectors.md: inferred, to check on a real company).
    "tvendor": (
        "lId INT PRIMARY KEY, sName VARCHAR(52), sCntcName VARCHAR(30), sStreet1 VARCHAR(50), "
        "sStreet2 VARCHAR(50), sCity VARCHAR(35), sProvState VARCHAR(20), sCountry VARCHAR(30), "
        "sPostalZip VARCHAR(9), sPhone1 VARCHAR(25), sEmail VARCHAR(50), sWebSite VARCHAR(50), "
        "lTaxCode INT, bInactive TINYINT, dtASDate DATE, tmASTime TIME"
    ),
    "tinvent": (
        "lId INT PRIMARY KEY, sPartCode VARCHAR(52), sName VARCHAR(52), sStockUnit VARCHAR(15), "
        "bService TINYINT, bInactive TINYINT, dtASDate DATE, tmASTime TIME"
    ),
    "tinvprc": "lInventId INT, lPrcListId INT, lCurrncyId INT, dPrice DECIMAL(19,4)",
    "titrec": (
        "lId INT PRIMARY KEY, lVenCusId INT, lJourId INT, nJournal SMALLINT, dtJournal DATE, "
        "sSource1 VARCHAR(20), sComment VARCHAR(75), dFreight DECIMAL(19,4), dInvAmt DECIMAL(19,4), "
        "bReversal TINYINT, bReversed TINYINT, lCurIdUsed INT, dExchRate DECIMAL(19,6), nOrdType SMALLINT, "
        "lChqId INT, dtASDate DATE, tmASTime TIME"
    ),
    "titlu": "lITRecId INT PRIMARY KEY, sName VARCHAR(52), sPONum VARCHAR(20), dTotal DECIMAL(19,4)",
    "titrline": (
        "lITRecId INT, nLineNum SMALLINT, lInventId INT, lAcctId INT, "
        "dQty DECIMAL(19,4), dPrice DECIMAL(19,4), "
        "dAmt DECIMAL(19,4), dCost DECIMAL(19,4), dRev DECIMAL(19,4), bService TINYINT"
    ),
    "titluli": (
        "lITRecId INT, nLineNum SMALLINT, sItem VARCHAR(52), sDesc VARCHAR(255), sUnits VARCHAR(15), "
        "dPrice DECIMAL(19,4), lTaxCode INT, dTaxAmt DECIMAL(19,4), dAmtInclTx DECIMAL(19,4)"
    ),
    "tcustr": (
        "lId INT PRIMARY KEY, lCusId INT, nTranType SMALLINT, sSource VARCHAR(20), dtDate DATE, "
        "dAmount DECIMAL(19,4), bReversed TINYINT, dtASDate DATE, tmASTime TIME"
    ),
    "tcustrdt": (
        "lCusTrId INT, nLineNum SMALLINT, nTranType SMALLINT, dtDate DATE, sSource VARCHAR(20), "
        "dAmount DECIMAL(19,4), bReversed TINYINT, dtASDate DATE, tmASTime TIME"
    ),
}

MAX_NAME = "Société Générale de Réfrigération Québécoise d'Été ★"[:52].ljust(52, "x")
STAMP_DAY = "2024-03-01"

TAX_AUTHORITIES = [
    (1, "GST", "123456789RT0001", 2310, 2315, 1, "TPS"),
    (2, "PST", "PST-1234-5678", 2320, 0, 1, "TVP"),
    (3, "QST", "1234567890TQ0001", 2330, 2335, 1, "TVQ"),
    (4, "HST", "123456789RT0001", 2340, 2345, 1, "TVH"),
]

TAX_CODES = [
    (1, "G", "GST @ 5%", "TPS @ 5%", 1, 0, 3),
    (2, "GQ", "GST @ 5%; QST @ 9.975%", "TPS @ 5%; TVQ @ 9,975%", 1, 0, 3),
    (3, "H", "HST @ 13%", "TVH @ 13%", 1, 0, 3),
    (4, "HI", "HST @ 13%, included", "TVH @ 13%, incluse", 1, 0, 3),
    (5, "GP", "GST @ 5%, PST @ 7%", "TPS @ 5%, TVP @ 7%", 1, 0, 3),
    (6, "E", "Exempt", "Exonéré", 1, 0, 3),  # no rate in the text: must be mapped by hand
    (7, "X", "GST @ 5%, included; PST @ 7%", "", 0, 0, 3),  # half included: cannot be one Halo tax
    (8, "N", "GST @ 0%", "TPS @ 0%", 0, 1, 3),  # hidden
]

_CUSTOMER_COLUMNS = (
    "lId, sName, sCntcName, sStreet1, sStreet2, sCity, sProvState, sCountry, sPostalZip, sPhone1, sPhone2, "
    "sFax, sEmail, sWebSite, dCrLimit, lTaxCode, lCurrncyId, lPrcListId, bInactive, dtASDate, tmASTime, "
    "sASUserId, sASOrgId"
)
CUSTOMERS: list[tuple[Any, ...]] = [
    (
        1,
        "O'Brien & Sons Plumbing",
        "Siobhán O'Brien",
        "1234, rue Saint-Denis",
        "Bureau 5",
        "Montréal",
        "QC",
        "Canada",
        "H2X 3K8",
        "514-555-0101",
        None,
        None,
        "accounts@obrien.example",
        "obrien.example",
        "5000",
        2,
        0,
        1,
        0,
        STAMP_DAY,
        "10:00:00",
        "sysadmin",
        "",
    ),
    (
        2,
        "Café Chez Zoë ☕🥐",
        "Zoë Tremblay",
        "88 Queen St W",
        None,
        "Toronto",
        "Ontario",
        "CA",
        "M5H 2N2",
        "(416) 555-0199",
        None,
        None,
        "zoe@cafe.example",
        None,
        "0",
        4,
        0,
        1,
        0,
        STAMP_DAY,
        "10:05:00",
        "sysadmin",
        "",
    ),
    (
        3,
        MAX_NAME,
        None,
        "1 Place Ville-Marie",
        None,
        "Montréal",
        "Québec",
        "Canada",
        "H3B 2C4",
        None,
        None,
        None,
        None,
        None,
        None,
        0,
        0,
        1,
        0,
        STAMP_DAY,
        "10:10:00",
        "sysadmin",
        "",
    ),
    (
        4,
        "Northwind Traders",
        None,
        None,
        None,
        "Vancouver",
        "BC",
        None,
        None,
        None,
        None,
        None,
        "old@northwind.example",
        None,
        None,
        5,
        0,
        1,
        1,
        STAMP_DAY,
        "10:15:00",
        "sysadmin",
        "",
    ),
    (
        5,
        "NORTHWIND TRADERS",
        None,
        None,
        None,
        "Vancouver",
        "BC",
        None,
        None,
        "604 555 0123 (call first)",
        None,
        None,
        None,
        None,
        None,
        5,
        0,
        1,
        0,
        STAMP_DAY,
        "10:20:00",
        "sysadmin",
        "",
    ),
    (
        6,
        "Never Saved Ltd",
        None,
        None,
        None,
        None,
        None,
        None,
        None,
        None,
        None,
        None,
        None,
        None,
        None,
        None,
        None,
        None,
        None,
        None,
        None,
        None,
        None,
    ),
    (
        7,
        "   ",
        None,
        None,
        None,
        None,
        None,
        None,
        None,
        None,
        None,
        None,
        None,
        None,
        None,
        0,
        0,
        1,
        0,
        STAMP_DAY,
        "10:25:00",
        "sysadmin",
        "",
    ),
]

ITEMS: list[tuple[Any, ...]] = [
    (1, "SRV-001", "Managed Services – per seat", "seat", 1, 0, STAMP_DAY, "11:00:00"),
    (2, "HW-ÉCRAN", 'Écran 27" Dell UltraSharp', "each", 0, 0, STAMP_DAY, "11:05:00"),
    (3, "OLD-1", "Discontinued router", "each", 0, 1, STAMP_DAY, "11:10:00"),
    (4, "NOPRICE", "Item without a regular price", "each", 0, 0, STAMP_DAY, "11:15:00"),
    (5, "NULLSTAMP", "Never-stamped item", "each", 1, 0, None, None),
]
ITEM_PRICES = [
    (1, 1, 0, "49.99"),
    (1, 2, 0, "45.0000"),  # preferred price list: not the regular price
    (1, 1, 2, "39.99"),  # a foreign-currency price: not the home price
    (2, 1, 0, "399.95"),
    (3, 1, 0, "0"),
    (5, 1, 0, "0.1"),
]

_HEADER_COLUMNS = (
    "lId, lVenCusId, lJourId, nJournal, dtJournal, sSource1, sComment, dFreight, dInvAmt, bReversal, "
    "bReversed, lCurIdUsed, dExchRate, nOrdType, lChqId, dtASDate, tmASTime"
)


def _header(
    lid: int,
    customer: int,
    day: str | None,
    number: str,
    total: str,
    *,
    reversal: int = 0,
    reversed_: int = 0,
    stamp: tuple[str | None, str | None] = (STAMP_DAY, "12:00:00"),
    comment: str = "",
    freight: str = "0",
) -> tuple[Any, ...]:
    return (
        lid,
        customer,
        9000 + lid,
        11,
        day,
        number,
        comment,
        freight,
        total,
        reversal,
        reversed_,
        0,
        "1",
        0,
        0,
        *stamp,
    )


INVOICE_HEADERS = [
    _header(101, 1, "2024-02-10", "INV-1001", "1034.6"),
    _header(102, 2, "2024-02-11", "INV-1002", "150", comment="Déplacement à Laval"),
    _header(103, 1, "2024-02-12", "CN-0001", "-104.99"),
    _header(104, 2, "2024-02-13", "INV-1004", "55.99", reversed_=1),
    _header(105, 2, "2024-02-14", "INV-1004", "-55.99", reversal=1),
    _header(106, 3, "2024-02-15", "INV-1006", "0"),
    _header(107, 1, "2024-02-16", "P-77", "300"),  # a purchase: vendor 1, no receivables document
    _header(108, 1, None, "INV-1008", "10"),  # no date: a problem row
    _header(109, 1, "2024-02-18", "INV-1009", "20", stamp=(None, None)),  # never stamped
    # Posted, corrected and reposted: two entries for customer 3's INV-1010; only the later one is live.
    _header(110, 3, "2024-02-19", "INV-1010", "200", stamp=(STAMP_DAY, "09:00:00")),
    _header(111, 3, "2024-02-19", "INV-1010", "220", stamp=(STAMP_DAY, "09:30:00")),
    # Paid by a cheque that came back (a positive receipt application, not flagged), then paid again.
    _header(112, 2, "2024-02-20", "INV-1012", "80"),
    _header(113, 1, "2024-02-21", "INV-1013", "120", freight="15"),  # 100 + 5 tax + 15 freight
]
INVOICE_PO_NUMBERS = [(101, "O'Brien & Sons Plumbing", "PO-ÉTÉ-7", "1034.6")]

_LINE_COLUMNS = "lITRecId, nLineNum, lInventId, lAcctId, dQty, dPrice, dAmt, dCost, dRev, bService"
INVOICE_LINES = [
    (101, 1, 1, 4100, "10", "49.99", "499.9", "0", "499.9", 1),
    (101, 2, 2, 4000, "1", "399.95", "399.95", "250", "399.95", 0),
    (102, 1, 0, 4200, "1", "132.74", "132.74", "0", "132.74", 1),
    (103, 1, 1, 4100, "-1", "99.99", "-99.99", "0", "-99.99", 1),
    (104, 1, 1, 4100, "1", "49.99", "49.99", "0", "49.99", 1),
    (105, 1, 1, 4100, "-1", "49.99", "-49.99", "0", "-49.99", 1),
    (106, 1, 1, 4100, "0", "49.99", "0", "0", "0", 1),
    (109, 1, 0, 4100, "1", "19.05", "19.05", "0", "19.05", 1),
    (110, 1, 1, 4100, "4", "50", "200", "0", "200", 1),
    (111, 1, 1, 4100, "4", "55", "220", "0", "220", 1),
    (112, 1, 1, 4100, "1", "80", "80", "0", "80", 1),
    (113, 1, 1, 4100, "2", "50", "100", "0", "100", 1),
]
_DISPLAY_COLUMNS = "lITRecId, nLineNum, sItem, sDesc, sUnits, dPrice, lTaxCode, dTaxAmt, dAmtInclTx"
INVOICE_DISPLAY_LINES = [
    (101, 1, "SRV-001", "Managed Services – per seat (février)", "seat", "49.99", 2, "74.86", "574.76"),
    (101, 2, "HW-ÉCRAN", 'Écran 27" Dell UltraSharp', "each", "399.95", 2, "59.89", "459.84"),
    (102, 1, "", "Consulting — déplacement 🚗", "", "150", 4, "17.26", "150"),
    (103, 1, "SRV-001", "Credit: seat not used", "seat", "99.99", 1, "-5", "-104.99"),
    (104, 1, "SRV-001", "Managed Services", "seat", "49.99", 5, "6", "55.99"),
    (105, 1, "SRV-001", "Managed Services", "seat", "49.99", 5, "-6", "-55.99"),
    (106, 1, "SRV-001", "No-charge seat", "seat", "49.99", 0, "0", "0"),
    (109, 1, "", "Labour", "", "19.05", 1, "0.95", "20"),
    (113, 1, "SRV-001", "Managed Services", "seat", "50", 1, "5", "105"),
]

_DOC_COLUMNS = "lId, lCusId, nTranType, sSource, dtDate, dAmount, bReversed, dtASDate, tmASTime"
AR_DOCUMENTS = [
    (501, 1, 0, "INV-1001", "2024-02-10", "1034.6", 0, STAMP_DAY, "12:00:00"),
    (502, 2, 0, "INV-1002", "2024-02-11", "150", 0, STAMP_DAY, "12:00:00"),
    (503, 1, 8, "CN-0001", "2024-02-12", "-104.99", 0, STAMP_DAY, "12:00:00"),
    (504, 2, 0, "INV-1004", "2024-02-13", "55.99", 1, STAMP_DAY, "12:00:00"),
    (506, 3, 0, "INV-1006", "2024-02-15", "0", 0, STAMP_DAY, "12:00:00"),
    (508, 1, 0, "INV-1008", "2024-02-17", "10", 0, STAMP_DAY, "12:00:00"),
    (509, 1, 0, "INV-1009", "2024-02-18", "20", 0, None, None),
    (599, 9, 0, "INV-1001", "2024-02-10", "5", 0, STAMP_DAY, "12:00:00"),  # same number, other customer
    (510, 3, 0, "INV-1010", "2024-02-19", "200", 0, STAMP_DAY, "09:00:00"),  # the superseded posting
    (511, 3, 0, "INV-1010", "2024-02-19", "220", 0, STAMP_DAY, "09:30:00"),  # the live one
    (512, 2, 0, "INV-1012", "2024-02-20", "80", 0, STAMP_DAY, "12:00:00"),
    (513, 1, 0, "INV-1013", "2024-02-21", "120", 0, STAMP_DAY, "12:00:00"),
]
_DETAIL_COLUMNS = "lCusTrId, nLineNum, nTranType, dtDate, sSource, dAmount, bReversed, dtASDate, tmASTime"
AR_DETAILS = [
    (501, 1, 0, "2024-02-10", "INV-1001", "1034.6", 0, STAMP_DAY, "12:00:00"),
    (501, 2, 1, "2024-02-20", "CHQ 3321", "-500", 0, STAMP_DAY, "12:00:00"),
    (501, 3, 1, "2024-02-25", "Virement Interac", "-534.6", 0, STAMP_DAY, "12:00:00"),
    (502, 1, 0, "2024-02-11", "INV-1002", "150", 0, STAMP_DAY, "12:00:00"),
    (502, 2, 1, "2024-02-21", "Cash", "-50", 0, STAMP_DAY, "12:00:00"),
    (502, 3, 1, "2024-02-22", "CHQ 88 (NSF)", "-20", 1, STAMP_DAY, "12:00:00"),
    (502, 4, 1, "2024-02-23", "CHQ 88 (NSF)", "20", 1, STAMP_DAY, "12:00:00"),
    (503, 1, 8, "2024-02-12", "CN-0001", "-104.99", 0, STAMP_DAY, "12:00:00"),
    (504, 1, 0, "2024-02-13", "INV-1004", "55.99", 0, STAMP_DAY, "12:00:00"),
    (504, 2, 0, "2024-02-14", "INV-1004", "-55.99", 0, STAMP_DAY, "12:00:00"),
    (506, 1, 0, "2024-02-15", "INV-1006", "0", 0, STAMP_DAY, "12:00:00"),
    (508, 1, 0, "2024-02-17", "INV-1008", "10", 0, STAMP_DAY, "12:00:00"),
    (509, 1, 0, "2024-02-18", "INV-1009", "20", 0, None, None),
    (599, 1, 0, "2024-02-10", "INV-1001", "5", 0, STAMP_DAY, "12:00:00"),
    (510, 1, 0, "2024-02-19", "INV-1010", "200", 0, STAMP_DAY, "09:00:00"),
    (510, 2, 1, "2024-02-19", "CHQ 40 (1st post)", "-50", 0, STAMP_DAY, "09:00:00"),
    (511, 1, 0, "2024-02-19", "INV-1010", "220", 0, STAMP_DAY, "09:30:00"),
    (511, 2, 1, "2024-02-21", "CHQ 41", "-100", 0, STAMP_DAY, "09:30:00"),
    (512, 1, 0, "2024-02-20", "INV-1012", "80", 0, STAMP_DAY, "12:00:00"),
    (512, 2, 1, "2024-02-21", "CHQ 512", "-80", 0, STAMP_DAY, "12:00:00"),
    (512, 3, 1, "2024-02-24", "CHQ 512 returned", "80", 0, STAMP_DAY, "12:00:00"),
    (512, 4, 1, "2024-02-26", "Interac", "-30", 0, STAMP_DAY, "12:00:00"),
    (513, 1, 0, "2024-02-21", "INV-1013", "120", 0, STAMP_DAY, "12:00:00"),
]

_VENDOR_COLUMNS = (
    "lId, sName, sCntcName, sStreet1, sStreet2, sCity, sProvState, sCountry, sPostalZip, sPhone1, sEmail, "
    "sWebSite, lTaxCode, bInactive, dtASDate, tmASTime"
)
# An ordinary vendor, an inactive one, one never stamped, and one without a name (a row problem).
VENDORS: list[tuple[Any, ...]] = [
    (
        1,
        "Fournitures Québec Inc.",
        "Élise Tremblay",
        "500, boul. René-Lévesque",
        None,
        "Québec",
        "QC",
        "Canada",
        "G1R 2B5",
        "418-555-0100",
        "ventes@fournitures.example",
        "fournitures.example",
        2,
        0,
        STAMP_DAY,
        "10:00:00",
    ),
    (
        2,
        "Old Parts Co",
        None,
        None,
        None,
        None,
        None,
        None,
        None,
        None,
        None,
        None,
        None,
        1,
        STAMP_DAY,
        "10:00:00",
    ),
    (
        3,
        "Never Stamped Ltd",
        None,
        None,
        None,
        "Toronto",
        "ON",
        None,
        None,
        None,
        None,
        None,
        None,
        0,
        None,
        None,
    ),
    (4, None, None, None, None, None, None, None, None, None, None, None, None, 0, STAMP_DAY, "10:00:00"),
]

TABLE_ROWS: list[tuple[str, str, list[tuple[Any, ...]]]] = [
    ("ttaxauth", "lId, sName, sTaxId, lAcSalTax, lAcPurTax, bTaxable, sNameF", TAX_AUTHORITIES),
    ("ttaxcode", "lId, sCode, sDesc, sDescF, bUsed, bHidden, lUseInFlag", TAX_CODES),
    ("tcustomr", _CUSTOMER_COLUMNS, CUSTOMERS),
    ("tvendor", _VENDOR_COLUMNS, VENDORS),
    ("tinvent", "lId, sPartCode, sName, sStockUnit, bService, bInactive, dtASDate, tmASTime", ITEMS),
    ("tinvprc", "lInventId, lPrcListId, lCurrncyId, dPrice", ITEM_PRICES),
    ("titrec", _HEADER_COLUMNS, INVOICE_HEADERS),
    ("titlu", "lITRecId, sName, sPONum, dTotal", INVOICE_PO_NUMBERS),
    ("titrline", _LINE_COLUMNS, INVOICE_LINES),
    ("titluli", _DISPLAY_COLUMNS, INVOICE_DISPLAY_LINES),
    ("tcustr", _DOC_COLUMNS, AR_DOCUMENTS),
    ("tcustrdt", _DETAIL_COLUMNS, AR_DETAILS),
]


def create_tables(connection: Any) -> None:
    """(Re)create every stand-in table, empty. Works on sqlite3 and on MariaDB through pyodbc."""
    cursor = connection.cursor()
    for table, columns in SCHEMA.items():
        cursor.execute(f"DROP TABLE IF EXISTS {table}")
        cursor.execute(f"CREATE TABLE {table} ({columns})")
    connection.commit()


def insert_rows(connection: Any, table: str, columns: str, rows: list[tuple[Any, ...]]) -> None:
    if not rows:
        return
    marks = ", ".join("?" for _ in columns.split(","))
    connection.cursor().executemany(f"INSERT INTO {table} ({columns}) VALUES ({marks})", rows)
    connection.commit()


def populate(connection: Any) -> None:
    """Create the tables and fill them with the nasty little company above."""
    create_tables(connection)
    for table, columns, rows in TABLE_ROWS:
        insert_rows(connection, table, columns, rows)


def build_sqlite_company(path: Path) -> str:
    """Write the stand-in into a SQLite file; return the ODBC connection string to read it with."""
    connection = sqlite3.connect(path)
    try:
        populate(connection)
    finally:
        connection.close()
    return f"Driver=SQLite3;Database={path}"


def execute(connection_string: str, sql: str, params: tuple[Any, ...] = ()) -> None:
    """Change the stand-in between reads (as Sage would), through ODBC so both engines work the same."""
    import pyodbc

    connection = pyodbc.connect(connection_string, autocommit=True)
    try:
        connection.cursor().execute(sql, params)
    finally:
        connection.close()

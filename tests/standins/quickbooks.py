"""A stand-in QuickBooks Desktop company file as QODBC shows it: the real table and column names, in SQLite.

Why SQLite: QODBC exists only on Windows next to QuickBooks; the SQLite3 ODBC driver lets the connector run
its real SQL through real unixODBC. Money is declared DECIMAL so the driver hands it back as exact decimal
text, like QuickBooks' decimal amounts; ``TimeModified`` is ISO-8601 text with the UTC offset QuickBooks
writes (several offsets on purpose). Nasty data: apostrophes, accents, emoji, names at QuickBooks' maximum
lengths (Customer Name 41, Item Name 31, RefNumber 11), NULLs, inactive and look-alike rows, zero and negative
invoices, a tax-included invoice, a taxable code without a rate, and rows that cannot be read.

Writing: the line tables also have the columns a QODBC insert carries (header fields, references by name,
``CustomFieldOther``, ``FQSaveToCache``); QODBC's write rules are loaded into each connection by
``tests/standins/qodbc_writes.py`` (the reader's connections do not need them).
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

_ADDRESS = ", ".join(
    [f"{kind}Addr{n} VARCHAR(41)" for kind in ("BillAddress", "ShipAddress") for n in range(1, 6)]
    + [
        f"{kind}{part} VARCHAR({size})"
        for kind in ("BillAddress", "ShipAddress")
        for part, size in (("City", 31), ("State", 21), ("PostalCode", 13), ("Country", 31))
    ]
)
_ITEM_SALES = (
    "SalesOrPurchaseDesc VARCHAR(4095), SalesOrPurchasePrice DECIMAL(15,5), "
    "SalesOrPurchaseAccountRefFullName VARCHAR(159), SalesAndPurchaseSalesDesc VARCHAR(4095), "
    "SalesAndPurchaseSalesPrice DECIMAL(15,5), SalesAndPurchaseIncomeAccountRefFullName VARCHAR(159), "
    "SalesAndPurchasePurchaseCost DECIMAL(15,5)"
)
_LIST = (
    "ListID VARCHAR(36) PRIMARY KEY, TimeCreated VARCHAR(32), TimeModified VARCHAR(32), "
    "EditSequence VARCHAR(16)"
)


def _line_table(prefix: str) -> str:
    """InvoiceLine / CreditMemoLine as QODBC flattens them: header, group and line columns."""
    return (
        "TxnID VARCHAR(36), TimeModified VARCHAR(32), CustomerRefListID VARCHAR(36), TxnDate DATE, "
        f"RefNumber VARCHAR(11), {prefix}Type VARCHAR(11), {prefix}SeqNo INTEGER, "
        f"{prefix}GroupTxnLineID VARCHAR(36), {prefix}GroupItemGroupRefListID VARCHAR(36), "
        f"{prefix}GroupDesc VARCHAR(4095), {prefix}GroupQuantity DECIMAL(15,5), "
        f"{prefix}GroupIsPrintItemsInGroup BIT, {prefix}GroupTotalAmount DECIMAL(15,2), "
        f"{prefix}GroupSeqNo INTEGER, "
        f"{prefix}TxnLineID VARCHAR(36), {prefix}ItemRefListID VARCHAR(36), "
        f"{prefix}ItemRefFullName VARCHAR(159), {prefix}Desc VARCHAR(4095), "
        f"{prefix}Quantity DECIMAL(15,5), {prefix}Rate DECIMAL(15,5), {prefix}Amount DECIMAL(15,2), "
        f"{prefix}TaxAmount DECIMAL(15,2), {prefix}SalesTaxCodeRefListID VARCHAR(36), "
        # Insert-only columns (tests/standins/qodbc_writes.py): the header fields a QODBC insert carries on
        # every line, the references by name, and QODBC's FQSaveToCache / FQPrimaryKey pseudo-columns.
        f"CustomerRefFullName VARCHAR(209), DueDate DATE, PONumber VARCHAR(25), Memo VARCHAR(4095), "
        f"CustomFieldOther VARCHAR(29), {prefix}SalesTaxCodeRefFullName VARCHAR(3), "
        f"{prefix}OverrideItemAccountRefFullName VARCHAR(159), "
        "FQSaveToCache BIT, FQPrimaryKey VARCHAR(80)"
    )


SCHEMA: dict[str, str] = {
    "Company": "CompanyName VARCHAR(41)",
    "ItemSalesTax": f"{_LIST}, Name VARCHAR(31), ItemDesc VARCHAR(4095), IsActive BIT, TaxRate DECIMAL(15,5)",
    "SalesTaxCode": (
        # Published column list: ListID, TimeModified, Name, IsActive, IsTaxable, Desc, ItemPurchaseTaxRef*,
        # ItemSalesTaxRef* ("Desc" is a reserved word in SQL, hence quoted here and by the connector).
        f'{_LIST}, Name VARCHAR(3), "Desc" VARCHAR(31), IsTaxable BIT, IsActive BIT, '
        "ItemPurchaseTaxRefListID VARCHAR(36), ItemPurchaseTaxRefFullName VARCHAR(31), "
        "ItemSalesTaxRefListID VARCHAR(36), ItemSalesTaxRefFullName VARCHAR(31)"
    ),
    "Customer": (
        f"{_LIST}, Name VARCHAR(41), FullName VARCHAR(209), "
        f"CompanyName VARCHAR(41), IsActive BIT, {_ADDRESS}, "
        "Phone VARCHAR(21), Email VARCHAR(1023), Contact VARCHAR(41), SalesTaxCodeRefListID VARCHAR(36), "
        "SalesTaxCodeRefFullName VARCHAR(3), Balance DECIMAL(15,2)"
    ),
    # QODBC's Vendor (doc.qodbc.com Vendor table detail): address in VendorAddress*, 41 characters a line.
    "Vendor": (
        f"{_LIST}, Name VARCHAR(41), IsActive BIT, IsTaxAgency BIT, CompanyName VARCHAR(41), "
        + ", ".join(f"VendorAddressAddr{n} VARCHAR(41)" for n in range(1, 6))
        + ", VendorAddressCity VARCHAR(31), VendorAddressState VARCHAR(21), "
        "VendorAddressPostalCode VARCHAR(13), VendorAddressCountry VARCHAR(31), "
        "Phone VARCHAR(21), Email VARCHAR(1023), Contact VARCHAR(41), Balance DECIMAL(15,2)"
    ),
    "ItemService": (
        f"{_LIST}, Name VARCHAR(31), FullName VARCHAR(159), IsActive BIT, SalesTaxCodeRefListID VARCHAR(36), "
        f"{_ITEM_SALES}"
    ),
    "ItemNonInventory": (
        f"{_LIST}, Name VARCHAR(31), FullName VARCHAR(159), IsActive BIT, SalesTaxCodeRefListID VARCHAR(36), "
        f"{_ITEM_SALES}"
    ),
    "ItemInventory": (
        f"{_LIST}, Name VARCHAR(31), FullName VARCHAR(159), IsActive BIT, SalesTaxCodeRefListID VARCHAR(36), "
        "SalesDesc VARCHAR(4095), SalesPrice DECIMAL(15,5), IncomeAccountRefFullName VARCHAR(159), "
        "PurchaseCost DECIMAL(15,5), QuantityOnHand DECIMAL(15,5)"
    ),
    # The union of every item type [I: its exact column list was not verified; these are the common ones].
    "Item": (
        f"{_LIST}, Name VARCHAR(31), FullName VARCHAR(159), IsActive BIT, Type VARCHAR(40), "
        "SalesTaxCodeRefListID VARCHAR(36), Description VARCHAR(4095), SalesPrice DECIMAL(15,5), "
        "IncomeAccountRefFullName VARCHAR(159), PurchaseCost DECIMAL(15,5)"
    ),
    "Invoice": (
        "TxnID VARCHAR(36) PRIMARY KEY, TimeCreated VARCHAR(32), "
        "TimeModified VARCHAR(32), TxnNumber INTEGER, "
        "CustomerRefListID VARCHAR(36), CustomerRefFullName VARCHAR(209), "
        "TxnDate DATE, RefNumber VARCHAR(11), "
        "PONumber VARCHAR(25), DueDate DATE, Subtotal DECIMAL(15,2), SalesTaxPercentage DECIMAL(15,5), "
        "SalesTaxTotal DECIMAL(15,2), AppliedAmount DECIMAL(15,2), "
        "BalanceRemaining DECIMAL(15,2), IsPaid BIT, "
        "Memo VARCHAR(4095), IsTaxIncluded BIT, CustomFieldOther VARCHAR(29)"
    ),
    "InvoiceLine": _line_table("InvoiceLine"),
    # Credit memos are their own tables in QODBC (qbXML CreditMemoQueryRq), laid out like Invoice.
    "CreditMemo": (
        "TxnID VARCHAR(36) PRIMARY KEY, TimeCreated VARCHAR(32), TimeModified VARCHAR(32), "
        "TxnNumber INTEGER, CustomerRefListID VARCHAR(36), CustomerRefFullName VARCHAR(209), TxnDate DATE, "
        "RefNumber VARCHAR(11), "
        "IsPending BIT, PONumber VARCHAR(25), DueDate DATE, Subtotal DECIMAL(15,2), "
        "SalesTaxPercentage DECIMAL(15,5), SalesTaxTotal DECIMAL(15,2), TotalAmount DECIMAL(15,2), "
        "CreditRemaining DECIMAL(15,2), Memo VARCHAR(4095), IsTaxIncluded BIT, CustomFieldOther VARCHAR(29)"
    ),
    "CreditMemoLine": _line_table("CreditMemoLine"),
    # The chart of accounts (qbXML AccountRet: Name 31, FullName 159): new items need an income account.
    "Account": (f"{_LIST}, Name VARCHAR(31), FullName VARCHAR(159), IsActive BIT, AccountType VARCHAR(40)"),
    "ItemSubtotal": f"{_LIST}, Name VARCHAR(31), IsActive BIT, ItemDesc VARCHAR(4095)",
    "ItemDiscount": (
        f"{_LIST}, Name VARCHAR(31), IsActive BIT, ItemDesc VARCHAR(4095), DiscountRate DECIMAL(15,5)"
    ),
    "ReceivePaymentLine": (
        "TxnID VARCHAR(36), TimeModified VARCHAR(32), CustomerRefListID VARCHAR(36), TxnDate DATE, "
        "RefNumber VARCHAR(20), TotalAmount DECIMAL(15,2), PaymentMethodRefFullName VARCHAR(31), "
        "AppliedToTxnTxnID VARCHAR(36), AppliedToTxnTxnType VARCHAR(20), "
        "AppliedToTxnPaymentAmount DECIMAL(15,2), "
        "AppliedToTxnBalanceRemaining DECIMAL(15,2)"
    ),
}

T_PST = "2024-03-01T10:15:00-08:00"  # 18:15 UTC
T_CET = "2024-03-01T19:00:00+01:00"  # 18:00 UTC
T_UTC = "2024-03-01T18:30:00+00:00"
MAX_CUSTOMER = "Ångström Laboratories International d'Été"[:41].ljust(41, "x")
MAX_ITEM = "Onsite Support – After Hours ☎"[:31].ljust(31, "x")
MAX_REF = "12345678901"

ITEM_SALES_TAX = [
    ("IST-GST", T_PST, T_PST, "1", "GST", "Goods and Services Tax", 1, "5"),
    ("IST-HST", T_PST, T_PST, "1", "HST ON", "Harmonized Sales Tax (Ontario)", 1, "13"),
    ("IST-BAD", T_PST, T_PST, "1", "Bogus", "A typo", 1, "250"),
]
SALES_TAX_CODES = [
    ("STC-G", T_PST, T_PST, "1", "G", "GST only", 1, 1, "IST-GST", "GST"),
    ("STC-H", T_PST, T_CET, "1", "H", "HST Ontario", 1, 1, "IST-HST", "HST ON"),
    ("STC-E", T_PST, T_PST, "1", "E", "Exempt", 0, 1, None, None),
    ("STC-TAX", T_PST, T_PST, "1", "Tax", "Taxable (US style)", 1, 1, None, None),
    ("STC-BAD", T_PST, T_PST, "1", "Z", "Broken rate", 1, 1, "IST-BAD", "Bogus"),
    ("STC-OLD", T_PST, T_PST, "1", "O", "Old code", 0, 0, None, None),
]

_VENDOR_COLUMNS = (
    "ListID, TimeCreated, TimeModified, EditSequence, Name, IsActive, CompanyName, VendorAddressAddr1, "
    "VendorAddressCity, VendorAddressState, VendorAddressPostalCode, VendorAddressCountry, Phone, Email, "
    "Contact"
)
# An ordinary vendor (another UTC offset), an inactive one, one never modified and one without a name.
VENDORS: list[tuple[Any, ...]] = [
    (
        "90000001-1",
        T_PST,
        T_CET,
        "1",
        "Müller Büromaterial",
        1,
        "Müller Büromaterial GmbH",
        "Königstraße 1",
        "Stuttgart",
        "BW",
        "70173",
        "Germany",
        "+49 711 555 0100",
        "info@mueller.example",
        "Jürgen Müller",
    ),
    ("90000002-1", T_PST, T_PST, "1", "Old Vendor", 0, None, None, None, None, None, None, None, None, None),
    (
        "90000003-1",
        T_PST,
        None,
        "1",
        "Undated Vendor",
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
    ("90000004-1", T_PST, T_UTC, "1", None, 1, None, None, None, None, None, None, None, None, None),
]

_CUSTOMER_COLUMNS = (
    "ListID, TimeCreated, TimeModified, EditSequence, Name, FullName, CompanyName, IsActive, "
    "BillAddressAddr1, BillAddressAddr2, BillAddressCity, BillAddressState, BillAddressPostalCode, "
    "BillAddressCountry, ShipAddressAddr1, ShipAddressCity, Phone, Email, "
    "Contact, SalesTaxCodeRefListID, Balance"
)
CUSTOMERS: list[tuple[Any, ...]] = [
    (
        "80000001-1",
        T_PST,
        T_PST,
        "1",
        "O'Neil's Pub & Grill",
        "O'Neil's Pub & Grill",
        "O'Neil's Pub & Grill Ltd",
        1,
        "12 Granville St",
        "Unit 3",
        "Vancouver",
        "BC",
        "V6C 1T2",
        "Canada",
        "Loading dock, rear lane",
        "Vancouver",
        "604-555-0150",
        "ap@oneils.example",
        "Pat O'Neil",
        "STC-G",
        "0",
    ),
    (
        "80000002-1",
        T_PST,
        T_CET,
        "1",
        "Crème Brûlée Café 🍮",
        "Crème Brûlée Café 🍮",
        None,
        1,
        "5 Rue de Rivoli",
        None,
        "Paris",
        None,
        "75001",
        "France",
        None,
        None,
        None,
        "bonjour@creme.example",
        None,
        "STC-H",
        "22.59",
    ),
    (
        "80000003-1",
        T_PST,
        None,
        "1",
        MAX_CUSTOMER,
        MAX_CUSTOMER,
        None,
        1,
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
        "80000004-1",
        T_PST,
        T_UTC,
        "1",
        "Acme Corp",
        "Acme Corp",
        "Acme Corp",
        0,
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
        "80000005-1",
        T_PST,
        T_UTC,
        "1",
        "ACME Corp.",
        "ACME Corp.",
        "ACME Corporation",
        1,
        None,
        None,
        None,
        None,
        None,
        None,
        None,
        None,
        "+1 (212) 555-0100",
        None,
        None,
        "STC-E",
        None,
    ),
    (
        "80000006-1",
        T_PST,
        "yesterday",
        "1",
        "Bad Date Inc",
        "Bad Date Inc",
        None,
        1,
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
        "80000007-1",
        T_PST,
        T_PST,
        "1",
        "",
        "",
        None,
        1,
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
]

_SERVICE_COLUMNS = (
    "ListID, TimeCreated, TimeModified, EditSequence, Name, FullName, IsActive, SalesTaxCodeRefListID, "
    "SalesOrPurchaseDesc, SalesOrPurchasePrice, "
    "SalesOrPurchaseAccountRefFullName, SalesAndPurchaseSalesPrice, "
    "SalesAndPurchaseIncomeAccountRefFullName, SalesAndPurchasePurchaseCost"
)
SERVICE_ITEMS = [
    (
        "S1",
        T_PST,
        T_PST,
        "1",
        MAX_ITEM,
        "Support:" + MAX_ITEM,
        1,
        "STC-G",
        "Onsite support, after hours",
        "125",
        "Services Income",
        None,
        None,
        None,
    ),
    (
        "S2",
        T_PST,
        T_CET,
        "1",
        "Remote Support",
        "Remote Support",
        1,
        "STC-H",
        None,
        None,
        None,
        "95.5",
        "Remote Income",
        "40",
    ),
]
NON_INVENTORY_ITEMS = [
    (
        "N1",
        T_PST,
        T_PST,
        "1",
        "Cable Cat6 – 3m",
        "Cable Cat6 – 3m",
        1,
        "STC-G",
        "Patch cable, 3 m",
        "12.49",
        "Sales",
        None,
        None,
        None,
    ),
    ("N2", T_PST, None, "1", "Misc part", "Misc part", 1, None, None, None, None, None, None, None),
]
_INVENTORY_COLUMNS = (
    "ListID, TimeCreated, TimeModified, EditSequence, Name, FullName, IsActive, SalesTaxCodeRefListID, "
    "SalesDesc, SalesPrice, IncomeAccountRefFullName, PurchaseCost, QuantityOnHand"
)
INVENTORY_ITEMS = [
    (
        "I1",
        T_PST,
        T_UTC,
        "1",
        "Firewall FG-60F",
        "Firewall FG-60F",
        1,
        "STC-G",
        "FortiGate 60F",
        "899.99",
        "Hardware Sales",
        "610.25",
        "4",
    ),
    (
        "I2",
        T_PST,
        T_UTC,
        "1",
        "Router (old)",
        "Router (old)",
        0,
        "STC-G",
        "Discontinued",
        "0",
        "Hardware Sales",
        "0",
        "0",
    ),
]
_UNION_COLUMNS = (
    "ListID, TimeCreated, TimeModified, EditSequence, Name, FullName, IsActive, Type, SalesTaxCodeRefListID, "
    "Description, SalesPrice, IncomeAccountRefFullName, PurchaseCost"
)
UNION_ITEMS = [
    (
        "S1",
        T_PST,
        T_PST,
        "1",
        MAX_ITEM,
        "Support:" + MAX_ITEM,
        1,
        "ItemService",
        "STC-G",
        "Onsite support, after hours",
        "125",
        "Services Income",
        None,
    ),
    (
        "I1",
        T_PST,
        T_UTC,
        "1",
        "Firewall FG-60F",
        "Firewall FG-60F",
        1,
        "ItemInventory",
        "STC-G",
        "FortiGate 60F",
        "899.99",
        "Hardware Sales",
        "610.25",
    ),
    (
        "N1",
        T_PST,
        T_PST,
        "1",
        "Cable Cat6 – 3m",
        "Cable Cat6 – 3m",
        1,
        "ItemNonInventory",
        "STC-G",
        "Patch cable, 3 m",
        "12.49",
        "Sales",
        None,
    ),
    (
        "D1",
        T_PST,
        T_PST,
        "1",
        "Loyalty discount",
        "Loyalty discount",
        1,
        "ItemDiscount",
        None,
        None,
        "-10",
        None,
        None,
    ),
]

_INVOICE_COLUMNS = (
    "TxnID, TimeCreated, TimeModified, TxnNumber, CustomerRefListID, "
    "CustomerRefFullName, TxnDate, RefNumber, "
    "PONumber, DueDate, Subtotal, SalesTaxTotal, AppliedAmount, BalanceRemaining, IsPaid, Memo, IsTaxIncluded"
)
INVOICES = [
    (
        "T1",
        T_PST,
        T_PST,
        1,
        "80000001-1",
        "O'Neil's Pub & Grill",
        "2024-02-01",
        "INV-0001",
        "PO 77",
        "2024-03-02",
        "1000",
        "50",
        "-1050",
        "0",
        1,
        "February support",
        0,
    ),
    (
        "T2",
        T_PST,
        T_CET,
        2,
        "80000002-1",
        "Crème Brûlée Café 🍮",
        "2024-02-02",
        MAX_REF,
        None,
        None,
        "19.99",
        "2.6",
        "0",
        "22.59",
        0,
        "Merci ! 🙏",
        0,
    ),
    (
        "T3",
        T_PST,
        T_PST,
        3,
        "80000001-1",
        "O'Neil's Pub & Grill",
        "2024-02-03",
        "INV-0003",
        None,
        None,
        "-50",
        "-2.5",
        "0",
        "-52.5",
        0,
        "Refund of a seat",
        0,
    ),
    (
        "T4",
        T_PST,
        T_UTC,
        4,
        "80000002-1",
        "Crème Brûlée Café 🍮",
        "2024-02-04",
        "INV-0004",
        None,
        None,
        "113",
        "13",
        "-50",
        "63",
        0,
        None,
        1,
    ),
    (
        "T5",
        T_PST,
        T_PST,
        5,
        "80000005-1",
        "ACME Corp.",
        "2024-02-05",
        "INV-0005",
        None,
        None,
        "0",
        "0",
        "0",
        "0",
        1,
        "No charge",
        0,
    ),
    (
        "T6",
        T_PST,
        T_PST,
        6,
        "80000005-1",
        "ACME Corp.",
        None,
        "INV-0006",
        None,
        None,
        "10",
        "0",
        "0",
        "10",
        0,
        None,
        0,
    ),
    (
        "T7",
        T_PST,
        None,
        7,
        "80000001-1",
        "O'Neil's Pub & Grill",
        "2024-02-07",
        "INV-0007",
        None,
        None,
        "5",
        "0.25",
        "0",
        "5.25",
        0,
        None,
        0,
    ),
]
# T8: a bundle (an item group: its header row and two member rows), a subtotal, a discount, a text line.
# Lines: 2 x 400 + 1 x 100 (group total 900), subtotal 900, discount -90, so Subtotal 810, tax 40.50.
INVOICES.append(
    (
        "T8",
        T_PST,
        T_PST,
        8,
        "80000005-1",
        "ACME Corp.",
        "2024-02-08",
        "INV-0008",
        None,
        "2024-03-08",
        "810",
        "40.5",
        "0",
        "850.5",
        0,
        "Office bundle",
        0,
    )
)
CREDIT_MEMOS = [
    # A credit memo of 52.50 (50 + 2.50 GST), 20.00 of it still to use.
    (
        "CM1",
        T_PST,
        T_PST,
        9,
        "80000001-1",
        "O'Neil's Pub & Grill",
        "2024-02-09",
        "CM-0001",
        0,
        None,
        None,
        "50",
        "2.5",
        "52.5",
        "20",
        "Goodwill credit",
        0,
    ),
]
_CREDIT_MEMO_COLUMNS = (
    "TxnID, TimeCreated, TimeModified, TxnNumber, CustomerRefListID, CustomerRefFullName, TxnDate, "
    "RefNumber, IsPending, PONumber, DueDate, Subtotal, SalesTaxTotal, TotalAmount, CreditRemaining, Memo, "
    "IsTaxIncluded"
)
_CREDIT_LINE_COLUMNS = (
    "TxnID, TimeModified, CustomerRefListID, TxnDate, RefNumber, CreditMemoLineType, CreditMemoLineSeqNo, "
    "CreditMemoLineTxnLineID, CreditMemoLineItemRefListID, CreditMemoLineDesc, CreditMemoLineQuantity, "
    "CreditMemoLineRate, CreditMemoLineAmount, CreditMemoLineTaxAmount, CreditMemoLineSalesTaxCodeRefListID"
)
CREDIT_MEMO_LINES = [
    (
        "CM1",
        T_PST,
        "80000001-1",
        "2024-02-09",
        "CM-0001",
        "Item",
        1,
        "C1-1",
        "S1",
        "Goodwill: outage",
        "1",
        "50",
        "50",
        "2.5",
        "STC-G",
    ),
]
_GROUP_COLUMNS = (
    "TxnID, TimeModified, CustomerRefListID, TxnDate, RefNumber, InvoiceLineType, InvoiceLineSeqNo, "
    "InvoiceLineGroupTxnLineID, InvoiceLineGroupItemGroupRefListID, InvoiceLineGroupDesc, "
    "InvoiceLineGroupQuantity, InvoiceLineGroupIsPrintItemsInGroup, InvoiceLineGroupTotalAmount, "
    "InvoiceLineGroupSeqNo, InvoiceLineTxnLineID, InvoiceLineItemRefListID, InvoiceLineDesc, "
    "InvoiceLineQuantity, InvoiceLineRate, InvoiceLineAmount, InvoiceLineTaxAmount, "
    "InvoiceLineSalesTaxCodeRefListID"
)
_T8 = ("T8", T_PST, "80000005-1", "2024-02-08", "INV-0008")
_BUNDLE = ("G8", "GRP1", "Office bundle", "1", 1, "900")
GROUP_INVOICE_LINES = [
    (
        *_T8,
        "ItemGroup",
        1,
        *_BUNDLE,
        None,
        None,
        None,
        None,
        None,
        None,
        None,
        None,
        None,
    ),  # the group's header
    (*_T8, "ItemGroup", 1, *_BUNDLE, 1, "L8-1", "I1", "Firewall", "2", "400", "800", "40", "STC-G"),
    (*_T8, "ItemGroup", 1, *_BUNDLE, 2, "L8-2", "S1", "Set-up", "1", "100", "100", "5", "STC-G"),
    (
        *_T8,
        "Item",
        2,
        None,
        None,
        None,
        None,
        None,
        None,
        None,
        "L8-3",
        "SUB1",
        "Subtotal",
        None,
        None,
        "900",
        None,
        None,
    ),
    (
        *_T8,
        "Item",
        3,
        None,
        None,
        None,
        None,
        None,
        None,
        None,
        "L8-4",
        "D1",
        "10% loyalty discount",
        None,
        "-10",
        "-90",
        "-4.5",
        "STC-G",
    ),
    (
        *_T8,
        "Item",
        4,
        None,
        None,
        None,
        None,
        None,
        None,
        None,
        "L8-5",
        None,
        "Delivered to site B",
        None,
        None,
        None,
        None,
        None,
    ),
]

_LINE_COLUMNS = (
    "TxnID, TimeModified, CustomerRefListID, TxnDate, RefNumber, InvoiceLineType, InvoiceLineSeqNo, "
    "InvoiceLineTxnLineID, InvoiceLineItemRefListID, InvoiceLineDesc, InvoiceLineQuantity, InvoiceLineRate, "
    "InvoiceLineAmount, InvoiceLineTaxAmount, InvoiceLineSalesTaxCodeRefListID"
)
INVOICE_LINES = [
    (
        "T1",
        T_PST,
        "80000001-1",
        "2024-02-01",
        "INV-0001",
        "Item",
        1,
        "L1-1",
        "S1",
        "Onsite support — 8 h",
        "8",
        "125",
        "1000",
        "50",
        "STC-G",
    ),
    (
        "T2",
        T_CET,
        "80000002-1",
        "2024-02-02",
        MAX_REF,
        "Item",
        1,
        "L2-1",
        "S2",
        "Remote fix ☕ l'après-midi",
        "1",
        "19.99",
        "19.99",
        "2.6",
        "STC-H",
    ),
    (
        "T2",
        T_CET,
        "80000002-1",
        "2024-02-02",
        MAX_REF,
        "Item",
        2,
        "L2-2",
        None,
        "Thanks for your business!",
        None,
        None,
        "0",
        None,
        None,
    ),
    (
        "T3",
        T_PST,
        "80000001-1",
        "2024-02-03",
        "INV-0003",
        "Item",
        1,
        "L3-1",
        "S1",
        "Seat not used",
        "-1",
        "50",
        "-50",
        "-2.5",
        "STC-G",
    ),
    (
        "T4",
        T_UTC,
        "80000002-1",
        "2024-02-04",
        "INV-0004",
        "Item",
        1,
        "L4-1",
        "I1",
        "Firewall, tax included",
        "1",
        "113",
        "100",
        "13",
        "STC-H",
    ),
    (
        "T5",
        T_PST,
        "80000005-1",
        "2024-02-05",
        "INV-0005",
        "Item",
        1,
        "L5-1",
        "N1",
        "Free cable",
        "1",
        "0",
        "0",
        "0",
        "STC-G",
    ),
    (
        "T7",
        None,
        "80000001-1",
        "2024-02-07",
        "INV-0007",
        "Item",
        1,
        "L7-1",
        "N1",
        "Cable",
        "1",
        "5",
        "5",
        "0.25",
        "STC-G",
    ),
]
_PAYMENT_COLUMNS = (
    "TxnID, TimeModified, CustomerRefListID, TxnDate, RefNumber, TotalAmount, PaymentMethodRefFullName, "
    "AppliedToTxnTxnID, AppliedToTxnTxnType, AppliedToTxnPaymentAmount, AppliedToTxnBalanceRemaining"
)
PAYMENTS = [
    ("RP1", T_PST, "80000001-1", "2024-02-10", "CHQ 1001", "600", "Cheque", "T1", "Invoice", "600", "450"),
    ("RP2", T_UTC, "80000001-1", "2024-02-20", "EFT-77", "450", "EFT", "T1", "Invoice", "450", "0"),
    ("RP3", T_CET, "80000002-1", "2024-02-21", "Visa ••••4242", "50", "Visa", "T4", "Invoice", "50", "63"),
]

# The income accounts the items above post to, and the receivables account.
ACCOUNTS = [
    (f"A{number}", T_PST, T_PST, "1", name, name, 1, kind)
    for number, (name, kind) in enumerate(
        (
            ("Services Income", "Income"),
            ("Remote Income", "Income"),
            ("Sales", "Income"),
            ("Hardware Sales", "Income"),
            ("Accounts Receivable", "AccountsReceivable"),
        ),
        start=1,
    )
]

TABLE_ROWS: list[tuple[str, str, list[tuple[Any, ...]]]] = [
    ("Company", "CompanyName", [("Bright Byte IT Services Ltée",)]),
    (
        "ItemSalesTax",
        "ListID, TimeCreated, TimeModified, EditSequence, Name, ItemDesc, IsActive, TaxRate",
        ITEM_SALES_TAX,
    ),
    (
        "SalesTaxCode",
        'ListID, TimeCreated, TimeModified, EditSequence, Name, "Desc", IsTaxable, IsActive, '
        "ItemSalesTaxRefListID, ItemSalesTaxRefFullName",
        SALES_TAX_CODES,
    ),
    ("Customer", _CUSTOMER_COLUMNS, CUSTOMERS),
    ("Vendor", _VENDOR_COLUMNS, VENDORS),
    ("ItemService", _SERVICE_COLUMNS, SERVICE_ITEMS),
    ("ItemNonInventory", _SERVICE_COLUMNS, NON_INVENTORY_ITEMS),
    ("ItemInventory", _INVENTORY_COLUMNS, INVENTORY_ITEMS),
    ("Item", _UNION_COLUMNS, UNION_ITEMS),
    ("Invoice", _INVOICE_COLUMNS, INVOICES),
    ("InvoiceLine", _LINE_COLUMNS, INVOICE_LINES),
    ("InvoiceLine", _GROUP_COLUMNS, GROUP_INVOICE_LINES),
    ("ReceivePaymentLine", _PAYMENT_COLUMNS, PAYMENTS),
    ("ItemSubtotal", "ListID, TimeModified, Name, IsActive", [("SUB1", T_PST, "Subtotal", 1)]),
    (
        "ItemDiscount",
        "ListID, TimeModified, Name, IsActive, DiscountRate",
        [("D1", T_PST, "Loyalty discount", 1, None)],
    ),
    (
        "Account",
        "ListID, TimeCreated, TimeModified, EditSequence, Name, FullName, IsActive, AccountType",
        ACCOUNTS,
    ),
    ("CreditMemo", _CREDIT_MEMO_COLUMNS, CREDIT_MEMOS),
    ("CreditMemoLine", _CREDIT_LINE_COLUMNS, CREDIT_MEMO_LINES),
]


def populate(connection: sqlite3.Connection) -> None:
    for table, columns in SCHEMA.items():
        connection.execute(f"DROP TABLE IF EXISTS {table}")
        connection.execute(f"CREATE TABLE {table} ({columns})")
    for table, columns, rows in TABLE_ROWS:
        marks = ", ".join("?" for _ in columns.split(","))
        connection.executemany(f"INSERT INTO {table} ({columns}) VALUES ({marks})", rows)
    connection.commit()


def build_quickbooks_company(path: Path) -> str:
    """Write the stand-in into a SQLite file; return the ODBC connection string to read it with."""
    connection = sqlite3.connect(path)
    try:
        populate(connection)
    finally:
        connection.close()
    return f"Driver=SQLite3;Database={path}"


def execute(path: Path, sql: str, params: tuple[Any, ...] = ()) -> None:
    """Change the company between reads, as QuickBooks would."""
    connection = sqlite3.connect(path)
    try:
        connection.execute(sql, params)
        connection.commit()
    finally:
        connection.close()

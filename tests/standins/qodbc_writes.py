"""QODBC's write rules on the QuickBooks stand-in: InvoiceLine / CreditMemoLine, Customer and item inserts.

Why an extension: QODBC keeps the lines sent with ``FQSaveToCache = 1`` in "a cache specific to your current
QODBC connection" and saves header + cached lines + the last line (``FQSaveToCache = 0``) as one transaction
(Flexquarters KB 3103 "How FQSaveToCache works", KB 2345 "How to create multiple lines in the Invoice,
Purchase and Journal table"). In SQLite the only per-connection storage is the TEMP schema, and a trigger
stored in the company file may not reference TEMP objects ("no such table: main.<name>"). So the rules are
TEMP tables, views and triggers created in every connection the moment it opens: a tiny SQLite extension the
SQLite3 ODBC driver loads itself (its ``LoadExt=`` connection attribute), compiled here from SQL kept in this
module. The writer under test connects through the real driver as it would to QODBC, sends plain INSERTs and
never knows the rules are emulated; closing (or losing) the connection drops its cache exactly as QODBC's is.

What is enforced (the messages follow QuickBooks' SDK status codes, docs/writing-quickbooks.md):
- lines with FQSaveToCache = 1 wait in the connection's cache and are not in the books;
- every cached line must carry the same header fields as the first; the last line saves them all as one new
  transaction: a fresh TxnID, TxnNumber, TimeModified, the next RefNumber when none is given, line tax from
  each line's sales tax code, Subtotal / SalesTaxTotal / BalanceRemaining (or CreditRemaining);
- the customer must be given by ListID or FullName (not both) and exist; items, tax codes and an income
  account must exist (3140 "invalid reference"); text longer than QuickBooks' field is refused (3070);
- a new customer or item needs a Name unique in its list (3100), at most 41 / 31 characters; its ListID is
  unique across all lists, as QuickBooks' are (a random "8xxxxxxx-<seconds>" in QuickBooks' own shape).
A refused insert leaves the connection's cache as it was (the writer drops the connection after a failure).
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

# Header fields a QODBC line insert carries (KB 2345: "The child record ... has all of the data required by
# the parent record"), and their QuickBooks lengths (qbXML InvoiceAdd / CreditMemoAdd).
HEADER = ("CustomerRefListID", "CustomerRefFullName", "TxnDate", "RefNumber", "DueDate", "PONumber", "Memo")
HEADER_LENGTHS = {
    "CustomerRefFullName": 209,
    "RefNumber": 11,
    "PONumber": 25,
    "Memo": 4095,
    "CustomFieldOther": 29,
}
LINE_PARTS = (
    "ItemRefListID",
    "ItemRefFullName",
    "Desc",
    "Quantity",
    "Rate",
    "Amount",
    "SalesTaxCodeRefListID",
    "SalesTaxCodeRefFullName",
    "OverrideItemAccountRefFullName",
)
# qbXML CustomerAdd lengths (Name 41, addresses 41/31/21/13/31, Phone 21, Email 1023, Contact 41).
CUSTOMER_LENGTHS = {
    "Name": 41,
    "CompanyName": 41,
    "Phone": 21,
    "Email": 1023,
    "Contact": 41,
    **{f"{kind}Addr{n}": 41 for kind in ("BillAddress", "ShipAddress") for n in range(1, 6)},
    **{
        f"{kind}{part}": size
        for kind in ("BillAddress", "ShipAddress")
        for part, size in (("City", 31), ("State", 21), ("PostalCode", 13), ("Country", 31))
    },
}
ITEM_TABLES = ("ItemService", "ItemNonInventory", "ItemInventory", "ItemSubtotal", "ItemDiscount")
ITEM_LENGTHS = {
    "Name": 31,
    "SalesOrPurchaseDesc": 4095,
    "SalesAndPurchaseSalesDesc": 4095,
    "SalesOrPurchaseAccountRefFullName": 159,
    "SalesAndPurchaseIncomeAccountRefFullName": 159,
}
ITEM_COLUMNS = (
    "SalesTaxCodeRefListID",
    "SalesOrPurchaseDesc",
    "SalesOrPurchasePrice",
    "SalesOrPurchaseAccountRefFullName",
    "SalesAndPurchaseSalesDesc",
    "SalesAndPurchaseSalesPrice",
    "SalesAndPurchaseIncomeAccountRefFullName",
)

_NOW = "strftime('%Y-%m-%dT%H:%M:%S+00:00', 'now')"
_SECONDS = "CAST(strftime('%s', 'now') AS INTEGER)"


def _abort(message: str, condition: str) -> str:
    """One rule: the insert is refused with QODBC-like ``message`` when ``condition`` holds."""
    quoted = ("[QODBC] Error: " + message).replace("'", "''")
    return f"  SELECT RAISE(ABORT, '{quoted}') WHERE {condition};"


def _too_long(lengths: dict[str, int], what: str) -> list[str]:
    return [
        _abort(
            f"3070 - The string in the field {column} is too long for {what} "
            f"(QuickBooks allows {size} characters).",
            f"length(NEW.{column}) > {size}",
        )
        for column, size in lengths.items()
    ]


def _line_rules(prefix: str, header_table: str, cache: str) -> list[str]:
    """What QuickBooks checks on every line, cached or last, and the cache's one-header rule."""
    item, tax = f"NEW.{prefix}ItemRef", f"NEW.{prefix}SalesTaxCodeRef"
    same_header = " OR ".join(f"c.{column} IS NOT NEW.{column}" for column in (*HEADER, "CustomFieldOther"))
    return [
        _abort(
            f"3140 - There is an invalid reference to QuickBooks Item in the {header_table} line.",
            f"({item}ListID IS NOT NULL"
            f" AND NOT EXISTS (SELECT 1 FROM qodbc_items WHERE ListID = {item}ListID))"
            f" OR ({item}FullName IS NOT NULL"
            f" AND NOT EXISTS (SELECT 1 FROM qodbc_items WHERE FullName = {item}FullName))",
        ),
        _abort(
            f"3140 - There is an invalid reference to QuickBooks Sales Tax Code in the {header_table} line.",
            f"({tax}ListID IS NOT NULL"
            f" AND NOT EXISTS (SELECT 1 FROM SalesTaxCode WHERE ListID = {tax}ListID))"
            f" OR ({tax}FullName IS NOT NULL"
            f" AND NOT EXISTS (SELECT 1 FROM SalesTaxCode WHERE Name = {tax}FullName))",
        ),
        _abort(
            f"3140 - There is an invalid reference to QuickBooks Account in the {header_table} line.",
            f"NEW.{prefix}OverrideItemAccountRefFullName IS NOT NULL AND NOT EXISTS "
            f"(SELECT 1 FROM Account WHERE FullName = NEW.{prefix}OverrideItemAccountRefFullName)",
        ),
        _abort(
            "3045 - A line with an amount needs an item.",
            f"{item}ListID IS NULL AND {item}FullName IS NULL AND coalesce(NEW.{prefix}Amount, 0) <> 0",
        ),
        *_too_long({f"{prefix}Desc": 4095}, f"the {header_table} line"),
        _abort(
            "The header fields differ from the lines already in this connection's FQSaveToCache cache.",
            f"EXISTS (SELECT 1 FROM {cache} c WHERE {same_header})",
        ),
    ]


def _document_sql(prefix: str, header_table: str) -> str:
    """TEMP cache, helper table and the two triggers for one of InvoiceLine / CreditMemoLine."""
    cache = f"qodbc_{prefix.lower()}_cache"
    saving = f"qodbc_{prefix.lower()}_saving"
    cached = [*HEADER, "CustomFieldOther", *(f"{prefix}{part}" for part in LINE_PARTS)]
    cache_insert = (
        f"  INSERT INTO {cache} ({', '.join(cached)}) VALUES ({', '.join('NEW.' + c for c in cached)});"
    )
    rules = "\n".join(_line_rules(prefix, header_table, cache))
    header_rules = "\n".join(
        [
            _abort(
                "Either CustomerRefListID or CustomerRefFullName must be supplied (not both).",
                "(NEW.CustomerRefListID IS NULL) = (NEW.CustomerRefFullName IS NULL)",
            ),
            _abort(
                f"3140 - There is an invalid reference to QuickBooks Customer in the {header_table}.",
                "NOT EXISTS (SELECT 1 FROM Customer "
                "WHERE ListID = NEW.CustomerRefListID OR FullName = NEW.CustomerRefFullName)",
            ),
            *_too_long(HEADER_LENGTHS, f"the {header_table}"),
        ]
    )
    if header_table == "Invoice":
        totals, totals_values = "AppliedAmount, BalanceRemaining, IsPaid", "0, t.sub + t.tax, 0"
    else:
        totals, totals_values = "TotalAmount, CreditRemaining, IsPending", "t.sub + t.tax, t.sub + t.tax, 0"
    return f"""
CREATE TEMP TABLE {cache} (Seq INTEGER PRIMARY KEY AUTOINCREMENT,
  CustomerRefListID VARCHAR(36), CustomerRefFullName VARCHAR(209), TxnDate DATE, RefNumber VARCHAR(11),
  DueDate DATE, PONumber VARCHAR(25), Memo VARCHAR(4095), CustomFieldOther VARCHAR(29),
  {prefix}ItemRefListID VARCHAR(36), {prefix}ItemRefFullName VARCHAR(159), {prefix}Desc VARCHAR(4095),
  {prefix}Quantity DECIMAL(15,5), {prefix}Rate DECIMAL(15,5), {prefix}Amount DECIMAL(15,2),
  {prefix}SalesTaxCodeRefListID VARCHAR(36), {prefix}SalesTaxCodeRefFullName VARCHAR(3),
  {prefix}OverrideItemAccountRefFullName VARCHAR(159));
CREATE TEMP TABLE {saving} (TxnID VARCHAR(36), TxnNumber INTEGER, RefNumber VARCHAR(11),
  CustomerRefListID VARCHAR(36), CustomerRefFullName VARCHAR(209), Stamp VARCHAR(32));

CREATE TEMP TRIGGER {cache}_add BEFORE INSERT ON main.{prefix}
WHEN NEW.TxnID IS NULL AND coalesce(NEW.FQSaveToCache, 0) <> 0
BEGIN
{rules}
{cache_insert}
  SELECT RAISE(IGNORE);
END;

CREATE TEMP TRIGGER {cache}_save BEFORE INSERT ON main.{prefix}
WHEN NEW.TxnID IS NULL AND coalesce(NEW.FQSaveToCache, 0) = 0
BEGIN
{rules}
{header_rules}
{cache_insert}
  DELETE FROM {saving};
  INSERT INTO {saving} (TxnID, TxnNumber, RefNumber, CustomerRefListID, CustomerRefFullName, Stamp)
  SELECT printf('%X-%d', n.next + 4096, {_SECONDS}), n.next,
         coalesce(NEW.RefNumber, (SELECT printf('%d', coalesce(max(CAST(RefNumber AS INTEGER)), 0) + 1)
                                  FROM {header_table}
                                  WHERE RefNumber <> '' AND RefNumber NOT GLOB '*[^0-9]*')),
         c.ListID, c.FullName, {_NOW}
  FROM (SELECT max(coalesce((SELECT max(TxnNumber) FROM Invoice), 0),
                   coalesce((SELECT max(TxnNumber) FROM CreditMemo), 0)) + 1 AS next) n,
       Customer c
  WHERE c.ListID = NEW.CustomerRefListID OR c.FullName = NEW.CustomerRefFullName;
  INSERT INTO {prefix} (TxnID, TimeModified, CustomerRefListID, CustomerRefFullName, TxnDate, RefNumber,
      DueDate, PONumber, Memo, CustomFieldOther, {prefix}Type, {prefix}SeqNo, {prefix}TxnLineID,
      {prefix}ItemRefListID, {prefix}ItemRefFullName, {prefix}Desc, {prefix}Quantity, {prefix}Rate,
      {prefix}Amount, {prefix}TaxAmount, {prefix}SalesTaxCodeRefListID, {prefix}SalesTaxCodeRefFullName,
      {prefix}OverrideItemAccountRefFullName)
  SELECT s.TxnID, s.Stamp, s.CustomerRefListID, s.CustomerRefFullName, coalesce(l.TxnDate, date('now')),
         s.RefNumber, l.DueDate, l.PONumber, l.Memo, l.CustomFieldOther, 'Item',
         (SELECT count(*) FROM {cache} e WHERE e.Seq <= l.Seq),
         printf('%s-%d', s.TxnID, l.Seq), i.ListID, i.FullName, l.{prefix}Desc, l.{prefix}Quantity,
         l.{prefix}Rate, l.a,
         CASE WHEN tc.IsTaxable THEN round(l.a * coalesce(ist.TaxRate, 0) / 100.0, 2) ELSE 0 END,
         tc.ListID, tc.Name, l.{prefix}OverrideItemAccountRefFullName
  FROM (SELECT *, coalesce({prefix}Amount, round({prefix}Quantity * {prefix}Rate, 2), 0) AS a
        FROM {cache}) l
  CROSS JOIN {saving} s
  LEFT JOIN qodbc_items i ON i.ListID = l.{prefix}ItemRefListID OR i.FullName = l.{prefix}ItemRefFullName
  LEFT JOIN SalesTaxCode tc
    ON tc.ListID = l.{prefix}SalesTaxCodeRefListID OR tc.Name = l.{prefix}SalesTaxCodeRefFullName
  LEFT JOIN ItemSalesTax ist ON ist.ListID = tc.ItemSalesTaxRefListID
  ORDER BY l.Seq;
  INSERT INTO {header_table} (TxnID, TimeCreated, TimeModified, TxnNumber, CustomerRefListID,
      CustomerRefFullName, TxnDate, RefNumber, PONumber, DueDate, Subtotal, SalesTaxTotal, {totals}, Memo,
      IsTaxIncluded, CustomFieldOther)
  SELECT s.TxnID, s.Stamp, s.Stamp, s.TxnNumber, s.CustomerRefListID, s.CustomerRefFullName,
         coalesce(NEW.TxnDate, date('now')), s.RefNumber, NEW.PONumber, NEW.DueDate, t.sub, t.tax,
         {totals_values}, NEW.Memo, 0, NEW.CustomFieldOther
  FROM {saving} s,
       (SELECT coalesce(sum({prefix}Amount), 0) AS sub, coalesce(sum({prefix}TaxAmount), 0) AS tax
        FROM {prefix} WHERE TxnID = (SELECT TxnID FROM {saving})) t;
  DELETE FROM {cache};
  SELECT RAISE(IGNORE);
END;
"""


def _list_sql(
    table: str,
    columns: tuple[str, ...],
    lengths: dict[str, int],
    unique_in: tuple[str, ...],
    rules: list[str],
) -> str:
    """A new list entry (no ListID given): QuickBooks' rules, then the row with its generated ListID."""
    names = " UNION ALL ".join(f"SELECT Name FROM {other}" for other in unique_in)
    checks = "\n".join(
        [
            _abort(f"3080 - A name is required to add to {table}.", "trim(coalesce(NEW.Name, '')) = ''"),
            _abort(
                "3100 - The name of the list element is already in use.",
                f"lower(NEW.Name) IN (SELECT lower(Name) FROM ({names}))",
            ),
            *_too_long(lengths, table),
            *rules,
        ]
    )
    return f"""
CREATE TEMP TRIGGER qodbc_{table.lower()}_add BEFORE INSERT ON main.{table}
WHEN NEW.ListID IS NULL
BEGIN
{checks}
  INSERT INTO {table} (ListID, TimeCreated, TimeModified, EditSequence, Name, FullName, IsActive,
      {", ".join(columns)})
  VALUES (printf('%08X-%d', 2147483648 + abs(random() % 268435456), {_SECONDS}),
      {_NOW}, {_NOW}, CAST({_SECONDS} AS TEXT), NEW.Name, NEW.Name, coalesce(NEW.IsActive, 1),
      {", ".join(f"NEW.{column}" for column in columns)});
  SELECT RAISE(IGNORE);
END;
"""


def _item_sql(table: str) -> str:
    account = "coalesce(NEW.SalesOrPurchaseAccountRefFullName, NEW.SalesAndPurchaseIncomeAccountRefFullName)"
    rules = [
        _abort(
            f"3140 - There is an invalid reference to QuickBooks Account in the {table}.",
            f"{account} IS NULL OR NOT EXISTS (SELECT 1 FROM Account WHERE FullName = {account})",
        ),
        _abort(
            f"3140 - There is an invalid reference to QuickBooks Sales Tax Code in the {table}.",
            "NEW.SalesTaxCodeRefListID IS NOT NULL "
            "AND NOT EXISTS (SELECT 1 FROM SalesTaxCode WHERE ListID = NEW.SalesTaxCodeRefListID)",
        ),
    ]
    return _list_sql(table, ITEM_COLUMNS, ITEM_LENGTHS, ITEM_TABLES, rules)


def emulation_sql() -> str:
    """Everything each connection creates on opening (TEMP objects only: the company file is untouched)."""
    items = " UNION ALL ".join(
        f"SELECT ListID, {'Name' if table in ('ItemSubtotal', 'ItemDiscount') else 'FullName'} AS FullName "
        f"FROM main.{table}"
        for table in ITEM_TABLES
    )
    customer_columns = tuple(column for column in CUSTOMER_LENGTHS if column != "Name")
    return "\n".join(
        [
            f"CREATE TEMP VIEW qodbc_items AS {items};",
            _document_sql("InvoiceLine", "Invoice"),
            _document_sql("CreditMemoLine", "CreditMemo"),
            _list_sql("Customer", customer_columns, CUSTOMER_LENGTHS, ("Customer", "Vendor"), []),
            _item_sql("ItemService"),
            _item_sql("ItemNonInventory"),
        ]
    )


def _c_string(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace('"', '\\"')
    return "\n".join(f'"{line}\\n"' for line in escaped.splitlines())


_C_SOURCE = """#include <sqlite3ext.h>
SQLITE_EXTENSION_INIT1
static const char *qodbc_rules =
{sql};
int sqlite3_extension_init(sqlite3 *db, char **error, const sqlite3_api_routines *api) {{
  SQLITE_EXTENSION_INIT2(api);
  return sqlite3_exec(db, qodbc_rules, 0, 0, error) == SQLITE_OK ? SQLITE_OK : SQLITE_ERROR;
}}
"""


def build_extension(folder: Path) -> Path | None:
    """Compile the per-connection rules into ``folder``/qodbc_rules.so; None when no C compiler or SQLite
    headers are available (the tests that need it skip with that reason)."""
    compiler = shutil.which("gcc") or shutil.which("cc")
    if compiler is None or not Path("/usr/include/sqlite3ext.h").is_file():
        return None
    folder.mkdir(parents=True, exist_ok=True)
    source = folder / "qodbc_rules.c"
    library = folder / "qodbc_rules.so"
    source.write_text(_C_SOURCE.format(sql=_c_string(emulation_sql())), encoding="utf-8")
    subprocess.run(
        [compiler, "-shared", "-fPIC", "-O1", "-o", str(library), str(source)],
        check=True,
        capture_output=True,
        timeout=120,
    )
    return library


def writable_connection_string(connection_string: str, extension: Path) -> str:
    """The stand-in's ODBC string with QODBC's write rules loaded into every connection it opens."""
    return f"{connection_string.rstrip(';')};LoadExt={extension}"

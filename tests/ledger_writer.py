"""A BooksWriter over a small SQLite ledger read and written through real unixODBC (the SQLite3 driver).

Why in tests: the posting run's exactly-once state machine must be proved against books that really keep
what was written, and that can fail between the steps that matter: the document committed in the books
and the answer lost (``fail_after_commit``), or the process killed right there (``exit_after_commit``).
The ledger's ``Documents`` table has NO unique constraint on the marker, so a document written twice shows
as two rows: the tests count them. The package writers (connectors/) are tested against their own
stand-ins; this one only serves the state machine's tests.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from decimal import Decimal
from pathlib import Path

import pyodbc

from core.books import BooksDocument, BooksKind, PostedDocument
from core.errors import RecordError, TransientError
from core.records import Customer, Item

SCHEMA = """
CREATE TABLE IF NOT EXISTS Customers (CustKey VARCHAR(20) PRIMARY KEY, Name VARCHAR(60));
CREATE TABLE IF NOT EXISTS Items (ItemKey VARCHAR(20) PRIMARY KEY, Name VARCHAR(60));
CREATE TABLE IF NOT EXISTS Documents (
    DocId INTEGER PRIMARY KEY AUTOINCREMENT, Reference VARCHAR(40), DocNumber VARCHAR(20),
    CustKey VARCHAR(20), DocDate VARCHAR(32), Net DECIMAL(15,2), Tax DECIMAL(15,2), Gross DECIMAL(15,2),
    IsCredit INTEGER, CustomerRef VARCHAR(60)
);
CREATE TABLE IF NOT EXISTS DocumentLines (
    DocId INTEGER, SeqNo INTEGER, Description VARCHAR(200), Quantity DECIMAL(15,5),
    UnitPrice DECIMAL(15,5), Net DECIMAL(15,2), Tax DECIMAL(15,2), ItemKey VARCHAR(20),
    TaxCode VARCHAR(20), Account VARCHAR(20)
);
"""


def create_ledger(
    path: Path, customers: Sequence[tuple[str, str]] = (), tax_codes: Sequence[str] = ()
) -> str:
    """Create the ledger file with ``customers`` ((key, name)); returns its ODBC connection string."""
    import sqlite3

    path.parent.mkdir(parents=True, exist_ok=True)
    with sqlite3.connect(path) as db:
        db.executescript(SCHEMA)
        db.executemany("INSERT OR IGNORE INTO Customers VALUES (?, ?)", list(customers))
    return f"Driver=SQLite3;Database={path};NoCreat=1"


class LedgerWriter:
    """core.books.BooksWriter over the ledger; ``refuse`` names customer keys the books refuse."""

    def __init__(self, connection_string: str) -> None:
        self._connection_string = connection_string
        self._db: pyodbc.Connection | None = None
        self.fail_after_commit: Callable[[BooksDocument], bool] | None = None
        self.exit_after_commit = False
        self.refuse: set[str] = set()
        self.posts = 0

    def _conn(self) -> pyodbc.Connection:
        if self._db is None:
            self._db = pyodbc.connect(self._connection_string, autocommit=False)
        return self._db

    def supports(self) -> frozenset[BooksKind]:
        return frozenset({"invoices", "credit_notes", "customers", "items"})

    def find_posted(self, references: Sequence[str]) -> dict[str, PostedDocument]:
        if not references:
            return {}
        cursor = self._conn().cursor()
        marks = ", ".join("?" for _ in references)
        cursor.execute(
            f"SELECT Reference, DocId, DocNumber FROM Documents WHERE Reference IN ({marks}) ORDER BY DocId",
            list(references),
        )
        found = {
            str(ref): PostedDocument(str(ref), f"DOC{doc_id}", str(number)) for ref, doc_id, number in cursor
        }
        self._conn().commit()
        return found

    def post(self, document: BooksDocument) -> PostedDocument:
        if document.customer_key in self.refuse:
            raise RecordError(
                f"The books refused customer {document.customer_key}: it is on hold.",
                action="Take the customer off hold in the books.",
            )
        if not self.has_customer(document.customer_key):
            raise RecordError(f"There is no customer {document.customer_key} in the books.")
        db = self._conn()
        cursor = db.cursor()
        cursor.execute(
            "INSERT INTO Documents (Reference, DocNumber, CustKey, DocDate, Net, Tax, Gross, IsCredit, "
            "CustomerRef) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            document.reference,
            document.number,
            document.customer_key,
            document.date.isoformat(),
            str(document.net),
            str(document.tax),
            str(document.gross),
            int(document.is_credit),
            document.customer_reference,
        )
        doc_id = int(cursor.execute("SELECT last_insert_rowid()").fetchone()[0])
        number = document.number or f"B{doc_id:05}"
        if not document.number:
            cursor.execute("UPDATE Documents SET DocNumber=? WHERE DocId=?", number, doc_id)
        for seq, line in enumerate(document.lines, start=1):
            cursor.execute(
                "INSERT INTO DocumentLines VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                doc_id,
                seq,
                line.description,
                str(line.quantity),
                str(line.unit_price),
                str(line.net),
                str(line.tax),
                line.item_key,
                line.tax_code,
                line.account,
            )
        db.commit()
        self.posts += 1
        if self.exit_after_commit:
            os._exit(9)  # the books hold it; the caller never hears
        if self.fail_after_commit is not None and self.fail_after_commit(document):
            raise TransientError(
                "The connection to the books dropped after the document was sent.",
                maybe_written=True,
            )
        return PostedDocument(document.reference, f"DOC{doc_id}", number)

    def has_customer(self, customer_key: str) -> bool:
        row = (
            self._conn().cursor().execute("SELECT 1 FROM Customers WHERE CustKey=?", customer_key).fetchone()
        )
        self._conn().commit()
        return row is not None

    def create_customer(self, customer: Customer) -> str:
        db = self._conn()
        count = int(db.cursor().execute("SELECT COUNT(*) FROM Customers").fetchone()[0])
        key = f"NEW{count + 1:03}"
        db.cursor().execute("INSERT INTO Customers VALUES (?, ?)", key, customer.name)
        db.commit()
        return key

    def has_item(self, item_key: str) -> bool:
        row = self._conn().cursor().execute("SELECT 1 FROM Items WHERE ItemKey=?", item_key).fetchone()
        self._conn().commit()
        return row is not None

    def create_item(self, item: Item) -> str:
        db = self._conn()
        key = (item.code or item.name)[:20].upper()
        db.cursor().execute("INSERT INTO Items VALUES (?, ?)", key, item.name)
        db.commit()
        return key

    def close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None

    # --- what the tests count --------------------------------------------------------------------------

    def documents(self) -> list[tuple[str, str, Decimal, bool]]:
        """(reference, number, gross, is credit) of every document row, in the order written."""
        rows = (
            self._conn()
            .cursor()
            .execute("SELECT Reference, DocNumber, Gross, IsCredit FROM Documents ORDER BY DocId")
            .fetchall()
        )
        self._conn().commit()
        return [
            (str(r[0]), str(r[1]), Decimal(str(r[2])).quantize(Decimal("0.01")), bool(r[3])) for r in rows
        ]

    def delete_documents(self) -> None:
        """What a person deleting every posted document in the books does."""
        self._conn().cursor().execute("DELETE FROM DocumentLines")
        self._conn().cursor().execute("DELETE FROM Documents")
        self._conn().commit()

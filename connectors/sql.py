"""Reading through any DB-API 2 connection a page at a time.

Why: a full ``fetchall`` of 50,000 invoices would hold them all in memory; ``fetchmany`` keeps memory flat
whatever the size of the books. Rows come out as dicts keyed by the column names the driver reports.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from typing import Any

from connectors.errors import error_from_odbc


def quote(identifier: str) -> str:
    """Quote an identifier the ODBC/SQL-92 way (works for Sage's DATE/TYPE/TEXT and QODBC's Desc)."""
    return '"' + identifier.replace('"', '""') + '"'


def iter_rows(
    connection: Any,
    sql: str,
    params: Sequence[Any] = (),
    *,
    page_size: int = 500,
    package: str = "odbc",
    during: str = "",
) -> Iterator[dict[str, Any]]:
    """Run ``sql`` and yield each row as {column: value}, fetching ``page_size`` rows at a time."""
    try:
        cursor = connection.cursor()
        cursor.execute(sql, tuple(params))
        columns = [column[0] for column in cursor.description]
    except Exception as exc:
        raise error_from_odbc(exc, package=package, during=during) from exc
    try:
        while True:
            try:
                page = cursor.fetchmany(page_size)
            except Exception as exc:
                raise error_from_odbc(exc, package=package, during=during) from exc
            if not page:
                return
            for row in page:
                yield dict(zip(columns, row, strict=False))
    finally:
        # A broken link cannot close a cursor either; there is nothing more to do then.
        with contextlib.suppress(Exception):
            cursor.close()

"""Reading through any DB-API 2 connection a page at a time.

Why: a full ``fetchall`` of 50,000 invoices would hold them all in memory; ``fetchmany`` keeps memory flat
whatever the size of the books. Rows come out as dicts keyed by the column names the driver reports
(``iter_rows``), or, where a connector's conversion is hot, as values in the order of the columns it selected
(``iter_values``).
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Iterator, Sequence
from operator import itemgetter
from typing import Any

from connectors.errors import error_from_odbc

log = logging.getLogger("ledgerbridge.connectors")


def quote(identifier: str) -> str:
    """Quote an identifier the ODBC/SQL-92 way (QODBC's Desc, Sage's DATE/TYPE/TEXT)."""
    return '"' + identifier.replace('"', '""') + '"'


# Words that cannot stand unquoted as a column or table name: SQL-92's reserved words among the columns the
# packages have (DATE, DESC, ...), plus TYPE and TEXT, which Sage's driver is reported to reserve. Everything
# else stays unquoted, as in the public queries against Sage's driver.
RESERVED_WORDS = frozenset(
    {"DATE", "DESC", "ORDER", "TEXT", "TIME", "TIMESTAMP", "TYPE", "USER", "VALUE", "VALUES"}
)


def name(identifier: str) -> str:
    """An identifier as the query should spell it: quoted only when it is a reserved word (or odd)."""
    plain = identifier.replace("_", "").isalnum() and not identifier[:1].isdigit()
    if plain and identifier.upper() not in RESERVED_WORDS:
        return identifier
    return quote(identifier)


_TEXT_TYPES = (1, 12, -1, -8, -9, -10)  # SQL_CHAR, SQL_VARCHAR, SQL_LONGVARCHAR and their wide forms


class UndecodableText(str):
    """Text a driver sent that is valid in none of the encodings tried; shown with replacement characters.

    Why a type: a value like this must never reach Halo as mojibake. ``connectors.common.text`` turns it
    into a row problem (the record is skipped with a reason and read again once it is corrected).
    """


def decode_native_text(raw: bytes | None) -> str | None:
    """Text from a driver's raw bytes: UTF-16LE, UTF-8, or the Windows ANSI code page (cp1252), strictly.

    UTF-16LE is recognised by its NUL high bytes (text here is mostly Latin); UTF-8 and then cp1252 (older
    ANSI drivers such as Sage's) are tried strictly. Bytes valid in none of them come back as
    ``UndecodableText`` so the row becomes a problem instead of a guess.
    """
    if raw is None:
        return None
    if len(raw) >= 2 and len(raw) % 2 == 0 and raw[1::2].count(0) * 2 >= len(raw) // 2:
        try:
            return raw.decode("utf-16-le")
        except UnicodeDecodeError:
            return UndecodableText(raw.decode("utf-16-le", errors="replace"))
    for encoding in ("utf-8", "cp1252"):
        try:
            return raw.decode(encoding)
        except UnicodeDecodeError:
            continue
    return UndecodableText(raw.decode("cp1252", errors="replace"))


def _open_cursor(
    connection: Any, sql: str, params: Sequence[Any], *, tolerant: bool
) -> tuple[Any, list[str]]:
    if tolerant:
        for sql_type in _TEXT_TYPES:
            connection.add_output_converter(sql_type, decode_native_text)
    cursor = connection.cursor()
    cursor.execute(sql, tuple(params))
    return cursor, [column[0] for column in cursor.description]


def iter_rows(
    connection: Any,
    sql: str,
    params: Sequence[Any] = (),
    *,
    page_size: int = 500,
    package: str = "odbc",
    during: str = "",
) -> Iterator[dict[str, Any]]:
    """Run ``sql`` and yield each row as {column: value}, fetching ``page_size`` rows at a time.

    A page the driver sends undecodable text in (pyodbc raises UnicodeDecodeError and the page is lost)
    makes the query run again with tolerant text decoding (``decode_native_text``), skipping the rows
    already yielded, so one odd value never stops a stream. Queries should have an ORDER BY for that.
    """
    for columns, page in _pages(connection, sql, params, page_size, package, during):
        for row in page:
            yield dict(zip(columns, row, strict=False))
        del page  # let the page go before the next is fetched: one page in memory, not two


def iter_values(
    connection: Any,
    sql: str,
    columns: Sequence[str],
    params: Sequence[Any] = (),
    *,
    page_size: int = 500,
    package: str = "odbc",
    during: str = "",
) -> Iterator[Sequence[Any]]:
    """``iter_rows`` without a dict per row: each row's values in the order of ``columns``.

    Why: building a dict for every row was a fifth of a large read's Python time. ``row[i]`` is the value
    ``iter_rows`` would give for ``columns[i]``: a name the driver reports twice gives its last value, a
    name it does not report gives None. When the driver reports exactly ``columns`` (a SELECT of them), its
    rows are handed on as they are.
    """
    wanted = list(columns)
    for names, page in _pages(connection, sql, params, page_size, package, during):
        pick = _picker(names, wanted)
        if pick is None:
            yield from page
        else:
            for row in page:
                yield pick(row)
        del page  # as in iter_rows: one page in memory


def _picker(names: list[str], wanted: list[str]) -> Callable[[Sequence[Any]], Sequence[Any]] | None:
    """None when rows already hold ``wanted`` in order, else what reorders one row (missing names: None)."""
    if names == wanted:
        return None
    index = {name: position for position, name in enumerate(names)}  # the last of a repeated name wins
    positions = [index.get(name) for name in wanted]
    if None not in positions:
        found = [position for position in positions if position is not None]  # all of them, for mypy
        if len(found) == 1:
            only = found[0]
            return lambda row: (row[only],)
        return itemgetter(*found)
    return lambda row: tuple(None if position is None else row[position] for position in positions)


def _pages(
    connection: Any, sql: str, params: Sequence[Any], page_size: int, package: str, during: str
) -> Iterator[tuple[list[str], Sequence[Sequence[Any]]]]:
    """(the driver's column names, a page of rows) for ``iter_rows`` and ``iter_values``, with the tolerant
    re-read: the next page is fetched only once the caller asked for it, so the last one was all taken."""
    tolerant = False
    try:
        cursor, columns = _open_cursor(connection, sql, params, tolerant=False)
    except Exception as exc:
        raise error_from_odbc(exc, package=package, during=during) from exc
    yielded = 0
    try:
        while True:
            page = None  # let the last page go before the next is fetched: one page in memory, not two
            try:
                page = cursor.fetchmany(page_size)
            except UnicodeDecodeError as exc:
                if tolerant or not hasattr(connection, "add_output_converter"):
                    raise error_from_odbc(exc, package=package, during=during) from exc
                log.warning(
                    "Undecodable text %s; reading again with tolerant decoding.", during or "in a query"
                )
                with contextlib.suppress(Exception):
                    cursor.close()
                tolerant = True
                try:
                    cursor, columns = _open_cursor(connection, sql, params, tolerant=True)
                    for _ in range(yielded):
                        if cursor.fetchone() is None:
                            break
                except Exception as retry_exc:
                    raise error_from_odbc(retry_exc, package=package, during=during) from retry_exc
                continue
            except Exception as exc:
                raise error_from_odbc(exc, package=package, during=during) from exc
            if not page:
                return
            yield columns, page
            yielded += len(page)  # the next fetch comes only once the whole page was taken
    finally:
        # A broken link cannot close a cursor either; there is nothing more to do then.
        with contextlib.suppress(Exception):
            cursor.close()
        if tolerant:
            connection.clear_output_converters()

"""Row-conversion helpers shared by the SQL connectors.

Why: every package hands back driver values (DOUBLE money, naive timestamps, 0/1/-1/'Y' flags, NULLs) that
must become canonical values the same way, and every row that cannot be converted must become a
``SourceProblem`` with a sentence an office manager understands, while the stream carries on. Keep the
signatures stable: other connectors import them.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import UTC, datetime, tzinfo
from decimal import Decimal
from typing import Any, TypeVar

from connectors.cells import quick_aware, quick_decimal
from connectors.sql import UndecodableText
from core.records import (
    CENT,
    RATE_PLACES,
    EntityName,
    Record,
    SourceProblem,
    aware,
    clean_text,
    to_decimal,
)

T = TypeVar("T")

_TRUE_TEXT = frozenset({"1", "-1", "y", "yes", "t", "true"})
_FALSE_TEXT = frozenset({"", "0", "n", "no", "f", "false"})

# What clean_text removes: C0 controls other than tab and newline, and DEL.
_CONTROL_CHARACTERS = re.compile("[\x00-\x08\x0b-\x1f\x7f]")

# Quantities keep four places: the same object as RATE_PLACES, so their conversions are kept (cells.py).
QUANTITY_PLACES = RATE_PLACES

# Keep IN (...) lists short: some ODBC drivers (Sage's among them) are slow or fail with long parameter lists.
MAX_IN_LIST = 200


class RowProblem(ValueError):
    """A row value that cannot be converted; the message is the user-facing reason."""


def flag(value: object) -> bool:
    """Sage/QuickBooks flags: 1, -1 (Access-style true), 'Y', 'True'... NULL counts as not set."""
    if value is None:
        return False
    if type(value) is int:  # what drivers send for TINYINT/BIT: the common case first
        return value != 0
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float | Decimal):
        return value != 0
    text = clean_text(value).lower()
    if text in _TRUE_TEXT:
        return True
    if text in _FALSE_TEXT:
        return False
    raise RowProblem(f"the yes/no value {clean_text(value)!r} is not understood")


def flag_or_false(value: object) -> bool:
    """A flag where an unreadable value must not drop a ledger row: treat it as 'not set'."""
    try:
        return flag(value)
    except ValueError:
        return False


def changed_since(record: Record | SourceProblem, since: datetime | None) -> bool:
    """The exact in-Python test after a deliberately wide SQL bound: changed at/after ``since`` or undated."""
    modified = record.modified
    return since is None or modified is None or modified >= since


def text(value: object, max_length: int | None = None) -> str:
    """``core.records.clean_text``, with quick paths for printable text and whole numbers.

    Text the driver sent in no encoding we could read (``UndecodableText``) is a row problem: it must not
    reach Halo as mojibake.
    """
    if type(value) is str and value.isprintable():  # printable: no control characters, quickly told
        result = value.strip()
        return result if max_length is None else result[:max_length]
    if value is None:
        return ""
    if type(value) is int:  # a numeric key (INVOICE_NUMBER, lId): its digits are already clean
        result = str(value)
        return result if max_length is None else result[:max_length]
    if isinstance(value, UndecodableText):
        raise RowProblem(
            f"some of its text ({clean_text(value, 40)!r}) is not in a character set LedgerBridge can read; "
            "retype that text in the accounting package"
        )
    if isinstance(value, str) and not _CONTROL_CHARACTERS.search(value):
        result = value.strip()
        return result if max_length is None else result[:max_length]
    return clean_text(value, max_length)


def readable_text(value: object) -> str | None:
    """``text(value)``, or None for text in no character set we can read (``text`` makes that a row problem).

    For keys that group child rows under their parent (an invoice's lines by invoice number): a child whose
    key cannot be read is left out, as its parent's key is the same unreadable text and the parent is a row
    problem of its own; a whole page is not lost over it.
    """
    if isinstance(value, UndecodableText):
        return None
    return text(value)


def required_text(value: object, label: str) -> str:
    result = text(value)
    if not result:
        raise RowProblem(f"it has no {label}")
    return result


def amount(value: object, label: str, *, places: Decimal = CENT, default: Decimal | None = None) -> Decimal:
    """A Decimal from a driver number; NULL gives ``default`` or, without one, a problem naming the field."""
    if value is None:
        if default is not None:
            return default
        raise RowProblem(f"the {label} is empty")
    found = quick_decimal(value, places)
    if found is not None:
        return found
    try:
        return to_decimal(value, places)
    except ValueError as exc:
        raise RowProblem(f"the {label} {_shown(value)} is not a number") from exc


def optional_amount(value: object, label: str, *, places: Decimal = CENT) -> Decimal | None:
    return None if value is None else amount(value, label, places=places)


def rate(value: object, label: str = "tax rate") -> Decimal:
    return amount(value, label, places=RATE_PLACES)


def when(value: object, local_zone: tzinfo | None, label: str) -> datetime | None:
    """A timezone-aware datetime; naive values are in the package's zone (``local_zone``)."""
    found = quick_aware(value, local_zone)
    if found is not None:
        return found
    try:
        return aware(value, local_zone)
    except (ValueError, OverflowError) as exc:
        raise RowProblem(f"the {label} {_shown(value)} is not a date") from exc


def required_when(value: object, local_zone: tzinfo | None, label: str) -> datetime:
    result = when(value, local_zone, label)
    if result is None:
        raise RowProblem(f"it has no {label}")
    return result


def latest(*values: datetime | None) -> datetime | None:
    """The latest of several aware datetimes (None ignored) — e.g. an invoice changed by a new payment."""
    present = [value for value in values if value is not None]
    return max(present) if present else None


def since_parameter(since: datetime, local_zone: tzinfo | None, connection: Any) -> Any:
    """``since`` as the package stores its timestamps: naive, in the package's zone, whole seconds.

    Flooring to the second only ever reads a little more, never less. The stdlib sqlite3 connection (demo
    company) gets text, because its datetime adapter is deprecated from Python 3.12.
    """
    if since.tzinfo is None:
        since = since.replace(tzinfo=UTC)
    zone = local_zone or datetime.now().astimezone().tzinfo or UTC
    local = since.astimezone(zone).replace(tzinfo=None, microsecond=0)
    if isinstance(connection, sqlite3.Connection):
        return local.strftime("%Y-%m-%d %H:%M:%S")
    return local


def timestamp_literal(value: datetime, connection: Any = None) -> str:
    """A naive timestamp as an ODBC literal, ``{ts 'yyyy-mm-dd hh:mm:ss.000'}``, the form public queries use
    against QODBC and Sage's driver; the stdlib sqlite3 connection (demo company) gets the plain text form,
    which it compares the same way."""
    shown = value.strftime("%Y-%m-%d %H:%M:%S") + ".000"
    if isinstance(connection, sqlite3.Connection):
        return f"'{shown}'"
    return "{ts '" + shown + "'}"


def chunks(values: Sequence[T], size: int = MAX_IN_LIST) -> Iterator[Sequence[T]]:
    for start in range(0, len(values), size):
        yield values[start : start + size]


def placeholders(count: int) -> str:
    return ", ".join("?" for _ in range(count))


def pages(rows: Iterable[T], size: int) -> Iterator[list[T]]:
    """Group a row iterator into lists of ``size`` (the unit for per-page child queries)."""
    page: list[T] = []
    for row in rows:
        page.append(row)
        if len(page) >= size:
            yield page
            page = []
    if page:
        yield page


# What a row's conversion may raise for a bad cell: the row becomes a problem, the stream goes on.
CONVERSION_ERRORS = (RowProblem, ValueError, TypeError, ArithmeticError)


def convert_row(
    entity: EntityName,
    key: str,
    convert: Callable[[], Record],
    *,
    what: str,
    modified: Callable[[], datetime | None] | None = None,
) -> Record | SourceProblem:
    """Run ``convert``; a conversion failure becomes a SourceProblem naming the record and the reason."""
    try:
        return convert()
    except CONVERSION_ERRORS as exc:
        return row_problem(entity, key, exc, what=what, modified=modified)


def row_problem(
    entity: EntityName,
    key: str,
    exc: Exception,
    *,
    what: str,
    modified: Callable[[], datetime | None] | None = None,
) -> SourceProblem:
    """The SourceProblem for a row whose conversion raised ``exc``: readers that convert in their own loop
    (no closure per row) call this from their ``except CONVERSION_ERRORS``, worded as ``convert_row``."""
    reason = str(exc) if isinstance(exc, RowProblem) else f"a value could not be read ({exc})"
    article = "An" if what[:1].lower() in "aeiou" else "A"
    label = f"{what} {key}" if key else f"{article} {what.lower()} without a key"
    stamp: datetime | None = None
    if modified is not None:
        try:
            stamp = modified()
        except (RowProblem, ValueError, TypeError, OverflowError):
            stamp = None
    return SourceProblem(entity=entity, key=key, message=f"{label} was not read: {reason}.", modified=stamp)


def _shown(value: object) -> str:
    shown = clean_text(value, 40) if not isinstance(value, float) else repr(value)
    return repr(shown)

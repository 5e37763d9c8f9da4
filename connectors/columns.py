"""Converting a page of positional rows a column at a time (issue 16, "close to the wire").

Why: after the driver, most of a large invoice read went on one Python call per cell (``quick_decimal``,
``text``, ``quick_aware``). A driver sends one type per column almost always, so a converter is chosen per
column once a page is in hand: a column whose cells are all of the usual type is converted with ``map`` over
C-level functions (the bounded cache's ``dict.get``, ``str.strip``, ``datetime.combine``), and only the
cells the quick paths do not cover are looked at one by one.

Each converter gives, for each cell, exactly what the per-row code's quick path gives for it, or ``OFF``
where the per-row code would go on to its reference conversion (which may word an error). ``OFF`` is never
a converted value: a row with an ``OFF`` cell is converted by the per-row code, unchanged, so its record or
its error (naming the same first bad cell) is the reference's by construction. The per-row code stays the
definition; these are shortcuts to the answers it would give.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, tzinfo
from decimal import Decimal
from itertools import compress, repeat
from operator import attrgetter, is_
from typing import Any, Final

from connectors.cells import kept_conversions, quick_aware, quick_decimal, quick_floats
from core.records import CENT


class _Off:
    """The type of ``OFF``: one object, compared by identity, shown by name in a failing test."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "OFF"


# A cell the quick paths leave to the per-row code; looked for by identity (``holds``), never by ``==``.
OFF: Final[Any] = _Off()

_NONE_TYPE: Final = type(None)
# The set of types a column of one kind holds (``set(map(type, cells))``), for the callers' own tests too.
_ONLY_FLOATS: Final = {float}
ONLY_TEXT: Final = {str}
ONLY_NULLS: Final = {_NONE_TYPE}
ONLY_INTS: Final = {int}
_ONLY_DATETIMES: Final = {datetime}
_ONLY_NAIVE: Final = {None}
_zone_of = attrgetter("tzinfo")
_fold_of = attrgetter("fold")


def money_column(cells: Sequence[Any], places: Decimal = CENT, empty: Any = OFF) -> list[Any]:
    """``quick_decimal(cell, places)`` for each cell, ``empty`` for a NULL, ``OFF`` where it gives None.

    ``empty`` is what the per-row code gives for NULL without asking the reference (a default amount, None
    for an optional rate); OFF (the default) sends a NULL row to the per-row code. A column of floats is
    first looked up in ``quick_decimal``'s own kept conversions: a hit is what ``quick_decimal`` returns
    for that float (it looks there first), and only the misses call it. Only an all-float column may: an
    int, bool or Decimal equal to a kept float would find its entry, though ``quick_decimal`` treats them
    otherwise (True is not a number to the reference).
    """
    kept = kept_conversions(places)
    if kept is not None and set(map(type, cells)) == _ONLY_FLOATS:
        found = list(map(kept.get, cells))
        if holds(found, None):  # never kept yet (or not to be: zero, NaN, huge)
            misses = [cell for cell, hit in zip(cells, found, strict=True) if hit is None]
            fresh = quick_floats(misses, places)
            if fresh is not None:  # each what quick_decimal gives that float, in the order of the misses
                converted = iter(fresh)
                return [hit if hit is not None else next(converted) for hit in found]
            found = [
                hit if hit is not None else _decimal_or_off(cell, places)
                for cell, hit in zip(cells, found, strict=True)
            ]
        return found
    return [empty if cell is None else _decimal_or_off(cell, places) for cell in cells]


def _decimal_or_off(cell: Any, places: Decimal) -> Any:
    found = quick_decimal(cell, places)
    return OFF if found is None else found


def text_column(cells: Sequence[Any]) -> list[Any]:
    """``connectors.common.text(cell)`` for the cells its quick branches answer, ``OFF`` for the others.

    Those branches: an exact ``str`` that is printable is stripped, NULL is "", an exact ``int`` is its
    digits. An ``UndecodableText`` (a str subclass), a string with anything unprintable in it and every
    other type are left to ``text``, which cleans them or raises.
    """
    kinds = set(map(type, cells))
    if kinds == ONLY_TEXT and all(map(str.isprintable, cells)):
        return list(map(str.strip, cells))
    if kinds == ONLY_NULLS:
        return [""] * len(cells)
    if kinds == ONLY_INTS:  # a numeric key: text gives its digits
        return list(map(str, cells))
    return list(map(quick_text, cells))


def quick_text(cell: Any) -> Any:
    """``text(cell)`` where its first three branches answer (the order matters not: the types differ)."""
    kind = type(cell)
    if kind is str:
        return cell.strip() if cell.isprintable() else OFF
    if cell is None:
        return ""
    if kind is int:
        return str(cell)
    return OFF


def aware_column(cells: Sequence[Any], zone: tzinfo | None, empty: Any = OFF) -> list[Any]:
    """``quick_aware(cell, zone)`` for each cell, ``empty`` for a NULL, ``OFF`` where it gives None.

    With a zone, a column of naive datetimes none of which has ``fold`` set is what ``quick_aware`` gives
    each of them: ``datetime.combine(cell, cell.time(), zone)``, here through ``map``. Without a zone the
    PC's offset is found per day, so ``quick_aware`` itself is asked for each cell (a day with a clock
    change gives None there, hence OFF here).
    """
    if (
        zone is not None
        and set(map(type, cells)) == _ONLY_DATETIMES
        and set(map(_zone_of, cells)) == _ONLY_NAIVE
        and not any(map(_fold_of, cells))
    ):
        return list(map(datetime.combine, cells, map(datetime.time, cells), repeat(zone)))
    return [empty if cell is None else _aware_or_off(cell, zone) for cell in cells]


def _aware_or_off(cell: Any, zone: tzinfo | None) -> Any:
    found = quick_aware(cell, zone)
    return OFF if found is None else found


def holds(column: Sequence[Any], marker: Any) -> bool:
    """Whether ``marker`` itself is in ``column``, told by identity alone: ``marker in column`` would
    compare each cell with ``==``, and a Decimal's comparison with a foreign type asks ``numbers.Rational``
    (an ABC, in Python) first: a tenth of the read's time went there."""
    return any(map(is_, column, repeat(marker)))


def off_rows(columns: Sequence[list[Any]]) -> set[int]:
    """The positions of the rows with an ``OFF`` cell in any of ``columns``: the per-row code's rows."""
    found: set[int] = set()
    for column in columns:
        if holds(column, OFF):
            found.update(position for position, cell in enumerate(column) if cell is OFF)
    return found


def without_rows(columns: list[list[Any]], dropped: set[int], count: int) -> list[list[Any]]:
    """``columns`` without the cells of the ``dropped`` rows (``count`` rows in all), in order."""
    if not dropped:
        return columns
    kept = [position not in dropped for position in range(count)]
    return [list(compress(column, kept)) for column in columns]

"""CSV files the pages export (Mappings, Problems): one format, so Excel opens them all the same way.

Why one module: UTF-8 with a byte-order mark (Excel on Windows otherwise mangles "Café Müller"), and no cell
may start a formula: names and messages come from the books and from Halo, and a cell such as
``=HYPERLINK(...)`` would run when the file is opened in a spreadsheet.
"""

from __future__ import annotations

import csv
from collections.abc import Sequence
from pathlib import Path

FORMULA_STARTS = ("=", "+", "-", "@")


def write_csv(path: Path, headers: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
    """Write ``headers`` then ``rows`` to ``path`` (file I/O: call it off the GUI thread)."""
    with path.open("w", encoding="utf-8-sig", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(headers)
        writer.writerows([_inert(value) for value in row] for row in rows)


def _inert(value: str) -> str:
    """A cell a spreadsheet shows as text, never evaluates."""
    return "'" + value if value[:1] in FORMULA_STARTS else value

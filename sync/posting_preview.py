"""What a posting preview (and a posting run) reports: plain frozen values the GUI can show as they are.

Why its own module: the events (sync/events.py) carry a preview to whoever listens, and the posting run
(sync/posting.py) builds one; both import these values, neither imports the other.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Literal

# What a run does with one Halo document: write it, find it in the books already, or tell why not.
Action = Literal["post", "already in books", "problem", "skipped"]
ACTIONS: tuple[Action, ...] = ("post", "already in books", "problem", "skipped")


@dataclass(frozen=True, slots=True)
class PreviewRow:
    """One Halo document and what a posting run does with it."""

    halo_id: int
    number: str  # Halo's invoice number
    client: str  # the Halo client's name
    date: datetime | None
    net: Decimal
    tax: Decimal
    gross: Decimal
    is_credit: bool
    action: Action
    message: str = ""  # why (a problem, a skip), or what else happens ("creates customer X in the books")
    fix: str = ""  # what the user can do about a problem
    reference: str = ""


@dataclass(frozen=True, slots=True)
class PostingPreview:
    """What a posting run would do now; nothing was written to produce it."""

    rows: tuple[PreviewRow, ...]
    filtered: int = 0  # Halo listed them, the rule leaves them out (posted, dated before the start...)

    def of(self, action: Action) -> tuple[PreviewRow, ...]:
        return tuple(row for row in self.rows if row.action == action)

    def totals(self, action: Action = "post") -> tuple[Decimal, Decimal, Decimal]:
        """(net, tax, gross) of the rows with ``action``; a credit note counts negative."""
        rows = self.of(action)
        sign = {True: -1, False: 1}
        return (
            sum((row.net * sign[row.is_credit] for row in rows), Decimal("0.00")),
            sum((row.tax * sign[row.is_credit] for row in rows), Decimal("0.00")),
            sum((row.gross * sign[row.is_credit] for row in rows), Decimal("0.00")),
        )

    def counts(self) -> dict[Action, int]:
        return {action: len(self.of(action)) for action in ACTIONS}

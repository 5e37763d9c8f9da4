"""The list of what a posting run would write into the books, with its totals, before anything is written.

Why a widget of its own: the wizard's last page and the Status tab both show it after a dry run, and an
office manager checks the totals against what they expect to raise before turning posting on.
"""

from __future__ import annotations

from decimal import Decimal

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel, QTableWidget, QVBoxLayout, QWidget

from gui.pages.common import cell, read_only_table, stretch_columns
from sync.posting_preview import PostingPreview, PreviewRow

HEADERS = ["Number", "Client", "Date", "Net", "Tax", "Gross", "What happens", "Why, and what to do"]
ACTION_TEXT = {
    "post": "Posted to the books",
    "already in books": "Already in the books",
    "problem": "Not posted",
    "skipped": "Left alone",
}
RIGHT = Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter


def amount_text(value: Decimal, is_credit: bool = False) -> str:
    """1234.5 -> '1,234.50'; a credit note's amounts show negative, as they count in the totals."""
    return f"{-value if is_credit else value:,.2f}"


def summary_text(preview: PostingPreview) -> str:
    """One sentence of counts and the totals the books would gain."""
    counts = preview.counts()
    to_post = counts["post"]
    if not preview.rows:
        tail = f" ({preview.filtered:,} left out by the posting rule)" if preview.filtered else ""
        return f"No Halo invoice is waiting to be posted to the books{tail}."
    net, tax, gross = preview.totals("post")
    noun = "document" if to_post == 1 else "documents"
    parts = [
        f"<b>{to_post:,} {noun} would be posted to the books</b>: net {amount_text(net)}, tax "
        f"{amount_text(tax)}, gross {amount_text(gross)}"
    ]
    if counts["already in books"]:
        parts.append(f"{counts['already in books']:,} already in the books (only marked posted in Halo)")
    if counts["problem"]:
        parts.append(f"{counts['problem']:,} cannot be posted yet (see why below)")
    if counts["skipped"]:
        parts.append(f"{counts['skipped']:,} left alone")
    return "; ".join(parts) + ". Nothing has been written yet."


class PostingPreviewView(QWidget):
    """A dry run's posting plan: a summary line and one row per Halo document."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        self.summary = QLabel("")
        self.summary.setWordWrap(True)
        self.table: QTableWidget = read_only_table(HEADERS)
        stretch_columns(self.table)
        self.table.setMinimumHeight(120)
        layout.addWidget(self.summary)
        layout.addWidget(self.table, 1)
        self.preview: PostingPreview | None = None

    def show_preview(self, preview: PostingPreview) -> None:
        self.preview = preview
        self.summary.setText(summary_text(preview))
        rows = sorted(preview.rows, key=_row_order)
        self.table.setSortingEnabled(False)
        self.table.setRowCount(len(rows))
        for row, document in enumerate(rows):
            number = document.number or str(document.halo_id)
            values = [
                f"{number} (credit)" if document.is_credit else number,
                document.client,
                document.date.strftime("%d %b %Y") if document.date else "",
                amount_text(document.net, document.is_credit),
                amount_text(document.tax, document.is_credit),
                amount_text(document.gross, document.is_credit),
                ACTION_TEXT.get(document.action, document.action),
                " ".join(part for part in (document.message, document.fix) if part),
            ]
            for column, value in enumerate(values):
                item = cell(value)
                if 3 <= column <= 5:
                    item.setTextAlignment(RIGHT)
                self.table.setItem(row, column, item)

    def clear(self) -> None:
        self.preview = None
        self.summary.setText("")
        self.table.setRowCount(0)


def _row_order(row: PreviewRow) -> tuple[int, str]:
    """Problems first (they need a person), then what would be posted, then the rest."""
    rank = {"problem": 0, "post": 1, "already in books": 2, "skipped": 3}
    return rank.get(row.action, 4), row.number

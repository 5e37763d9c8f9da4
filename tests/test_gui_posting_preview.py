"""The posting preview shows what a dry run would write into the books, with totals a person can check.

Real Qt widgets; the preview values are the plain data sync.posting builds (sync/posting_preview.py). The
end-to-end path (a dry run through the worker thread emitting the preview) is in test_gui_sync.py.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

import pytest

from gui.widgets.posting_preview import PostingPreviewView, summary_text
from sync.posting_preview import PostingPreview, PreviewRow

pytestmark = pytest.mark.qt_log_ignore("This plugin does not support")


def row(halo_id: int, action: str, gross: str, *, credit: bool = False, message: str = "", fix: str = ""):
    gross_value = Decimal(gross)
    net = (gross_value / Decimal("1.2")).quantize(Decimal("0.01"))
    return PreviewRow(
        halo_id=halo_id,
        number=f"INV{halo_id}",
        client="Acme Widgets",
        date=datetime(2026, 11, 3),
        net=net,
        tax=gross_value - net,
        gross=gross_value,
        is_credit=credit,
        action=action,  # type: ignore[arg-type]
        message=message,
        fix=fix,
    )


PREVIEW = PostingPreview(
    rows=(
        row(1, "post", "1200.00"),
        row(2, "post", "120.00", credit=True),
        row(3, "problem", "60.00", message="Customer ACME is not in the books.", fix="Turn on creating."),
        row(4, "already in books", "240.00"),
    ),
    filtered=5,
)


def test_the_summary_counts_and_totals_what_would_be_posted_with_credits_negative():
    text = summary_text(PREVIEW)
    assert "2 documents would be posted to the books" in text
    assert "gross 1,080.00" in text  # 1,200.00 less the 120.00 credit note
    assert "1 already in the books" in text and "1 cannot be posted yet" in text
    assert "Nothing has been written yet." in text


def test_nothing_to_post_says_so_and_how_many_the_rule_left_out():
    assert summary_text(PostingPreview(rows=(), filtered=3)) == (
        "No Halo invoice is waiting to be posted to the books (3 left out by the posting rule)."
    )


def test_the_table_lists_problems_first_with_what_to_do(qtbot):
    view = PostingPreviewView()
    qtbot.addWidget(view)
    view.show_preview(PREVIEW)
    table = view.table
    assert table.rowCount() == 4
    first = [table.item(0, column).text() for column in range(table.columnCount())]
    assert first[0] == "INV3" and first[6] == "Not posted"
    assert first[7] == "Customer ACME is not in the books. Turn on creating."
    numbers = [table.item(r, 0).text() for r in range(4)]
    assert numbers == ["INV3", "INV1", "INV2 (credit)", "INV4"]
    assert table.item(2, 5).text() == "-120.00"
    assert table.item(1, 2).text() == "03 Nov 2026"

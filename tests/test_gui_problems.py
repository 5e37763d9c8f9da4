"""Problems after a real sync of the stand-in Sage company: skipped records listed with their reason,
search, filters, grouping by cause, and a CSV export that writes exactly what is shown."""

from __future__ import annotations

import csv

from gui.pages.problems import HEADERS, PROBLEM, SKIPPED, ProblemsPage, cause_of
from tests.fixtures_gui import run_and_wait


def rows_of(page: ProblemsPage) -> list[list[str]]:
    table = page.table
    return [
        [table.item(r, c).text() if table.item(r, c) else "" for c in range(table.columnCount())]
        for r in range(table.rowCount())
    ]


def synced_page(qtbot, gui_controller) -> ProblemsPage:
    page = ProblemsPage(gui_controller)
    qtbot.addWidget(page)
    gui_controller.start()
    run_and_wait(qtbot, gui_controller)
    assert page.problems and page.skipped  # the stand-in company has both
    return page


def test_a_skipped_record_is_listed_with_its_reason(qtbot, gui_controller):
    page = synced_page(qtbot, gui_controller)
    status = HEADERS.index("Status")
    skipped = [row for row in rows_of(page) if row[status] == SKIPPED]
    assert skipped and all(row[HEADERS.index("Why")] for row in skipped)
    assert any("in the books" in row[HEADERS.index("Why")] for row in skipped)  # e.g. an inactive customer
    assert "skipped on purpose" in page.summary_label.text()
    page.show_combo.setCurrentIndex(page.show_combo.findData(SKIPPED))
    assert {row[status] for row in rows_of(page)} == {SKIPPED}
    page.show_combo.setCurrentIndex(page.show_combo.findData(PROBLEM))
    assert {row[status] for row in rows_of(page)} == {PROBLEM}


def test_search_and_the_kind_filter_narrow_the_list(qtbot, gui_controller):
    page = synced_page(qtbot, gui_controller)
    everything = len(rows_of(page))
    key = page.entries[0].key
    page.search_edit.setText(key.lower())  # case does not matter
    found = rows_of(page)
    assert 0 < len(found) < everything and all(key.casefold() in " ".join(r).casefold() for r in found)
    page.search_edit.clear()
    entity = page.entries[-1].entity
    page.kind_combo.setCurrentIndex(page.kind_combo.findData(entity))
    assert {e.entity for e in page.shown} == {entity}


def test_grouping_by_cause_puts_alike_problems_under_one_heading(qtbot, gui_controller):
    page = synced_page(qtbot, gui_controller)
    page.group_check.setChecked(True)
    rows = rows_of(page)
    headings = [r for r, entry in enumerate(page._row_entries) if entry is None]
    causes = {entry.cause for entry in page.shown}
    assert len(headings) == len(causes) and len(rows) == len(page.shown) + len(causes)
    first = headings[0]
    assert rows[first][HEADERS.index("Why")] in causes and rows[first][1].endswith("record(s)")
    assert page.table.item(first, HEADERS.index("Why")).font().bold()
    under_first = page._row_entries[first + 1]
    assert under_first is not None and under_first.cause == rows[first][HEADERS.index("Why")]
    assert cause_of("Several Halo customers are called “Acme” (ids 3, 4).") == cause_of(
        "Several Halo customers are called “Bolt” (ids 17, 29)."
    )
    waiting = "Invoice {} waits for customer ACME01, which is not in Halo yet."
    assert cause_of(waiting.format("INV0001"), "INV0001") == cause_of(waiting.format("INV0002"), "INV0002")


def test_the_csv_export_writes_what_is_shown(qtbot, gui_controller, tmp_path):
    page = synced_page(qtbot, gui_controller)
    page.show_combo.setCurrentIndex(page.show_combo.findData(SKIPPED))
    target = tmp_path / "problems.csv"
    page.export_csv(target)
    qtbot.waitUntil(lambda: page.export_label.text().startswith("Saved"), timeout=5000)
    with target.open(encoding="utf-8-sig", newline="") as handle:
        written = list(csv.reader(handle))
    assert written[0] == HEADERS
    assert written[1:] == rows_of(page) and len(written) - 1 == len(page.skipped)


def test_retry_on_a_skipped_record_reads_it_again(qtbot, gui_controller):
    page = synced_page(qtbot, gui_controller)
    page.show_combo.setCurrentIndex(page.show_combo.findData(SKIPPED))
    entry = page.shown[0]
    page.table.selectRow(page._row_entries.index(entry))
    assert page.selected_entries() == [entry]
    with qtbot.waitSignal(gui_controller.run_finished, timeout=120_000) as finished:
        page.retry()
    summary = finished.args[0]
    assert summary.counts[entry.entity]["skipped"] >= 1  # read again (an incremental run would not have)
    qtbot.waitUntil(lambda: not gui_controller.is_running() and gui_controller.tasks.pending == 0)
    assert any(e.key == entry.key and e.status == SKIPPED for e in page.entries)  # still skipped, and why

"""The Log tab on a real log file and live records: lines for people (no logger or thread names), a level
filter, search, and the raw lines one tick away."""

from __future__ import annotations

import logging

from gui.pages.log_view import LogPage
from gui.worker import TaskRunner
from sync.logs import parse_log, remove_handlers, setup_logging
from sync.paths import app_paths


def lines_shown(page: LogPage) -> list[str]:
    text = page.view.toPlainText()
    return text.splitlines() if text else []


def test_the_log_reads_for_people_filters_by_level_and_searches(qtbot):
    paths = app_paths().ensure()
    log_file = setup_logging(paths)
    log = logging.getLogger("ledgerbridge.sync")
    try:
        log.info("Sync 1 ok in 2.0 s: customers 3 created.")
        log.warning("Problem with customers ACME02: Tax code T7 is not mapped to a Halo tax.")
        try:
            raise ValueError("boom")
        except ValueError:
            log.exception("The sync stopped with an unexpected error")
        tasks = TaskRunner()
        page = LogPage(log_file, tasks)
        qtbot.addWidget(page)
        qtbot.waitUntil(lambda: len(page.lines) >= 3, timeout=5000)
        log.info("Timed sync starting")  # a live line, after the file was read
        qtbot.waitUntil(lambda: len(page.lines) >= 4, timeout=5000)
    finally:
        remove_handlers()
    shown = lines_shown(page)
    assert len(shown) == 4
    assert all("[" not in line and "ledgerbridge." not in line for line in shown)  # no thread or logger
    assert any(
        line.endswith("Warning  Problem with customers ACME02: Tax code T7 is not mapped to a Halo tax.")
        for line in shown
    )
    assert any("Error    The sync stopped" in line and "details in the raw log" in line for line in shown)
    assert "Traceback" not in page.view.toPlainText()

    page.level_combo.setCurrentIndex(page.level_combo.findText("Warnings and errors"))
    assert [line.split("  ")[1].strip() for line in lines_shown(page)] == ["Warning", "Error"]
    page.level_combo.setCurrentIndex(page.level_combo.findText("Errors only"))
    assert len(lines_shown(page)) == 1
    page.level_combo.setCurrentIndex(page.level_combo.findText("Everything"))
    page.search_edit.setText("acme02")
    assert len(lines_shown(page)) == 1 and "ACME02" in lines_shown(page)[0]
    page.search_edit.clear()

    page.raw_check.setChecked(True)  # the raw log, as written to the file
    raw = page.view.toPlainText()
    assert "ledgerbridge.sync [MainThread]" in raw and "Traceback (most recent call last)" in raw
    assert raw.splitlines()[:5] == log_file.read_text(encoding="utf-8").splitlines()[:5]
    page.detach()


def test_a_log_file_is_parsed_into_records_with_tracebacks_attached():
    records = parse_log(
        [
            "2026-12-01 09:16:05,123 ERROR   ledgerbridge.gui.worker [lb-sync] It broke",
            "Traceback (most recent call last):",
            "ValueError: boom",
            "2026-12-01 09:16:06,000 INFO    ledgerbridge.gui.controller [MainThread] Timed sync starting",
        ]
    )
    assert [(r.level, r.message, r.has_details) for r in records] == [
        ("ERROR", "It broke", True),
        ("INFO", "Timed sync starting", False),
    ]
    assert records[1].for_people(today="2026-12-01") == "09:16:06  Info     Timed sync starting"
    assert records[1].for_people(today="2026-12-02") == "2026-12-01 09:16:06  Info     Timed sync starting"

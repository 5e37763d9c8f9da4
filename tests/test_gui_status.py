"""The Status page at a glance, on a real event loop with real syncs (stand-in Sage company -> sandbox).

The countdown ticks; the last real sync's figures survive a failed run and are labelled; a preview's figures
are never shown as "Last sync"; a passing failure says "Retrying in N s"; the health chart has one bar per
sync, coloured by how it ended; History shows how long each run took and what it skipped.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from PySide6.QtGui import QColor

from gui.controller import SyncController
from gui.pages.history import HEADERS as HISTORY_HEADERS
from gui.pages.history import HistoryPage
from gui.pages.status import StatusPage, pace_text
from gui.widgets.health_chart import OUTCOME_COLOURS, PROBLEM_COLOUR, RunHealthChart
from sync.secrets import HALO_CLIENT_SECRET
from sync.state import RunRecord
from tests.fixtures_gui import run_and_wait


def counts_in_table(status: StatusPage) -> dict[str, list[str]]:
    table = status.counts_table
    return {
        table.item(row, 0).text(): [table.item(row, c).text() for c in range(1, table.columnCount())]
        for row in range(table.rowCount())
    }


def test_the_countdown_to_the_next_sync_ticks(qtbot, gui_context):
    controller = SyncController(gui_context, interval_ms=10 * 60_000)
    status = StatusPage(controller)
    qtbot.addWidget(status)
    try:
        controller.scheduler.start()
        first = status.next_run_label.text()
        assert first.startswith("Next sync in 9 min") or first.startswith("Next sync in 10 min")
        qtbot.waitUntil(lambda: status.next_run_label.text() != first, timeout=3000)
        assert status.next_run_label.text().startswith("Next sync in 9 min")
    finally:
        controller.shutdown()


def test_the_last_real_syncs_figures_survive_a_failed_run_and_say_so(qtbot, gui_controller, sage_company):
    status = StatusPage(gui_controller)
    qtbot.addWidget(status)
    gui_controller.start()
    good = run_and_wait(qtbot, gui_controller)
    assert good.status in ("ok", "partial")
    figures = counts_in_table(status)
    assert figures and not status.figures_note.isVisible()
    assert "Customers" in figures
    # A first sync: every main site counts as updated (Halo made it with the customer), and the page says why.
    assert figures["Main sites (addresses)"][:2] == ["0", figures["Customers"][0]]
    assert not status.sites_note.isHidden() and "Halo makes a main site" in status.sites_note.text()

    sage_company.secrets.delete(HALO_CLIENT_SECRET)  # the next sync cannot run (a setting to fix)
    failed = run_and_wait(qtbot, gui_controller)
    assert failed.status == "failed"
    assert counts_in_table(status) == figures  # kept, not emptied
    assert "Could not run" in status.last_run_label.text()
    assert "client secret" in status.last_run_label.text()
    assert "kept from the last sync that went through" in status.figures_note.text()
    assert not status.figures_note.isHidden()


def test_a_preview_is_never_shown_as_the_last_sync(qtbot, gui_controller):
    status = StatusPage(gui_controller)
    qtbot.addWidget(status)
    gui_controller.start()
    preview = run_and_wait(qtbot, gui_controller, dry_run=True)
    assert preview.dry_run and preview.total("created") > 0
    assert status.last_run_label.text().startswith("<b>No sync has run yet.")  # the wizard's preview case
    assert status.counts_table.rowCount() == 0
    assert not status.preview_label.isHidden() and "nothing was written" in status.preview_label.text()
    assert f"{preview.total('created'):,} created" in status.preview_label.text()

    real = run_and_wait(qtbot, gui_controller)
    assert status.last_run_label.text().startswith("<b>Last sync") and real.status in ("ok", "partial")
    assert status.preview_label.isHidden()  # an older preview is not news any more
    assert len(status.health_chart.bars()) == 1  # the preview is not a sync in the chart either


def test_a_sync_that_cannot_reach_halo_says_retrying_in_n_seconds(qtbot, gui_context):
    gui_context.settings.halo.resource_server = "http://127.0.0.1:9"  # nothing listens there
    controller = SyncController(gui_context, retry_delays_ms=(45_000, 90_000))
    status = StatusPage(controller)
    qtbot.addWidget(status)
    try:
        controller.start()
        summary = run_and_wait(qtbot, controller)
        assert summary.status == "failed" and summary.error_kind == "transient"
        assert controller.scheduler.retrying and controller.retry_attempt == 1
        text = status.next_run_label.text()
        assert text.startswith("Retrying in 4") and " s (attempt 2, " in text
        first = text
        qtbot.waitUntil(lambda: status.next_run_label.text() != first, timeout=3000)  # it counts down
        next_run = controller.scheduler.next_run()
        assert next_run is not None and next_run - datetime.now(UTC) < timedelta(seconds=46)
    finally:
        controller.shutdown()


def _run(run_id: int, status: str, *, created: int = 0, failed: int = 0, dry_run: bool = False) -> RunRecord:
    started = datetime(2026, 3, 1, 9, 0, tzinfo=UTC) + timedelta(hours=run_id)
    counts = {"customers": {"created": created, "failed": failed}}
    return RunRecord(
        run_id, started, started + timedelta(seconds=12), status, dry_run, ("customers",), counts, ""
    )


def test_the_health_chart_has_one_bar_per_sync_coloured_by_outcome(qtbot):
    chart = RunHealthChart()
    qtbot.addWidget(chart)
    chart.resize(600, 120)
    runs = [  # newest first, as the history is read
        _run(5, "ok", created=3),
        _run(4, "partial", created=40, failed=2),
        _run(3, "ok", created=99, dry_run=True),  # a preview: not a sync
        _run(2, "failed"),
        _run(1, "cancelled", created=1),
    ]
    chart.set_runs(runs)
    bars = chart.bars()
    assert [bar.run.id for bar in bars] == [1, 2, 4, 5]  # oldest on the left
    assert [bar.colour for bar in bars] == [
        OUTCOME_COLOURS["cancelled"],
        OUTCOME_COLOURS["failed"],
        OUTCOME_COLOURS["partial"],
        OUTCOME_COLOURS["ok"],
    ]
    assert bars[2].synced.height() > bars[3].synced.height() > 0  # more records synced, taller
    assert bars[2].problems is not None and bars[3].problems is None
    image = chart.grab().toImage()
    for bar in bars:  # really drawn, in its colour
        centre = bar.synced.center().toPoint()
        assert image.pixelColor(centre) == QColor(bar.colour)
    assert image.pixelColor(bars[2].problems.center().toPoint()) == QColor(PROBLEM_COLOUR)
    tip = chart.describe(bars[2].run)  # what pointing at a bar says
    assert "Completed with problems" in tip and "40 record(s) written to Halo, 2 problem(s)" in tip
    assert "Took 12 s" in tip
    chart.set_runs([_run(n, "ok", created=n) for n in range(40, 0, -1)])
    assert len(chart.bars()) == 30


def test_history_shows_how_long_each_run_took_and_what_it_skipped(qtbot, gui_controller):
    history = HistoryPage(gui_controller)
    qtbot.addWidget(history)
    gui_controller.start()
    summary = run_and_wait(qtbot, gui_controller)
    assert summary.total("skipped") > 0  # the stand-in company has inactive customers
    took = history.table.item(0, HISTORY_HEADERS.index("Took")).text()
    assert took.endswith(" s") or " min" in took
    assert history.table.item(0, HISTORY_HEADERS.index("Skipped")).text() == f"{summary.total('skipped'):,}"
    assert history.table.item(0, HISTORY_HEADERS.index("Kind")).text() == "Sync"


def test_neither_a_preview_nor_a_retry_of_one_kind_moves_the_next_sync(qtbot, gui_controller):
    gui_controller.start()
    run_and_wait(qtbot, gui_controller)
    planned = gui_controller.scheduler.next_run()
    assert planned is not None
    run_and_wait(qtbot, gui_controller, dry_run=True)
    assert gui_controller.scheduler.next_run() == planned
    run_and_wait(qtbot, gui_controller, entities=["tax_rates"])  # what "Retry these" runs
    assert gui_controller.scheduler.next_run() == planned
    run_and_wait(qtbot, gui_controller)  # a full sync: an interval after it began
    later = gui_controller.scheduler.next_run()
    assert later is not None and later > planned


def test_a_headless_sync_shows_up_in_the_app_and_sets_its_cadence(qtbot, gui_context):
    from sync.runner import run_sync

    controller = SyncController(gui_context, watch_runs_ms=100)
    status = StatusPage(controller)
    qtbot.addWidget(status)
    try:
        controller.start()
        qtbot.waitUntil(lambda: controller.tasks.pending == 0, timeout=5000)
        assert status.last_run_label.text().startswith("<b>No sync has run yet.")
        # What Task Scheduler's `ledgerbridge sync` does, beside the running app.
        summary = run_sync(gui_context.settings, gui_context.secrets, paths=gui_context.paths)
        assert summary.status in ("ok", "partial")
        qtbot.waitUntil(lambda: status.last_run_label.text().startswith("<b>Last sync"), timeout=5000)
        next_run = controller.scheduler.next_run()
        interval = timedelta(milliseconds=controller.scheduler.interval_ms)
        assert next_run is not None and abs(next_run - (summary.started + interval)) < timedelta(seconds=5)
    finally:
        controller.shutdown()


def test_a_long_paced_first_sync_says_how_long_it_takes_at_halos_rate_limit(qtbot, gui_context):
    """A real first sync at 40 requests per 5 minutes (one every 7.5 s): the progress line says about how
    many minutes are left; the run is cancelled once it has said so."""
    gui_context.settings.halo.requests_per_5_minutes = 40
    controller = SyncController(gui_context)
    status = StatusPage(controller)
    qtbot.addWidget(status)
    try:
        assert controller.sync_now()
        qtbot.waitUntil(lambda: "at Halo's rate limit" in status.progress_label.text(), timeout=60_000)
        text = status.progress_label.text()
        assert re.search(r" · about \d+ minutes? at Halo's rate limit$", text), text
        assert not status.progress_bar.isHidden()  # the bar of the run going (the page is not shown)
        with qtbot.waitSignal(controller.run_finished, timeout=60_000) as finished:
            controller.cancel()
        assert finished.args[0].status == "cancelled"
    finally:
        controller.shutdown()


def test_the_time_left_is_said_only_when_it_is_worth_a_line():
    assert pace_text(None) == "" and pace_text(59) == ""
    assert pace_text(60) == "about 1 minute at Halo's rate limit"
    assert pace_text(360) == "about 6 minutes at Halo's rate limit"
    assert pace_text(3 * 3600 + 125) == "about 3 hours 2 minutes at Halo's rate limit"
    assert pace_text(3600) == "about 1 hour at Halo's rate limit"

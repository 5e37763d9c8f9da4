"""How quickly the Problems and Records tabs take a long list: the longest event-loop stall for each step.

Why: a first sync of a large company can leave thousands of problems (invoices waiting for one customer) and
tens of thousands of links; filling, grouping, searching and sorting those lists must not freeze the window.
A QTimer ticks every 5 ms on the GUI thread; the longest gap between ticks during a step is the worst stall a
user could feel. The pages are the app's real ones, offscreen, on made-up rows.

    python bench/gui_lists.py                     # 3,000 problems, 50,000 records
    python bench/gui_lists.py --problems 10000 --records 100000
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("LEDGERBRIDGE_HOME", tempfile.mkdtemp(prefix="lb-bench-lists-"))

from PySide6.QtCore import QEventLoop, QTimer  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

import gui  # noqa: E402, F401  (guards None/True/False against the PySide6 6.12 reference leak)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--problems", type=int, default=3000)
    parser.add_argument("--records", type=int, default=50_000)
    args = parser.parse_args(argv)
    app = QApplication.instance() or QApplication(sys.argv[:1])

    from gui.controller import AppContext, SyncController
    from gui.pages.problems import ProblemsPage
    from gui.pages.records import RecordsPage
    from sync.paths import app_paths
    from sync.settings import Settings
    from sync.state import Problem, RecordOverview

    paths = app_paths().ensure()
    controller = SyncController(AppContext(Settings(), None, paths, paths.settings_file))
    gaps = [0.0]
    last = [time.perf_counter()]

    def tick() -> None:
        now = time.perf_counter()
        gaps[0] = max(gaps[0], now - last[0])
        last[0] = now

    timer = QTimer()
    timer.timeout.connect(tick)
    timer.start(5)

    def step(name: str, action: Callable[[], None], done: Callable[[], bool] = lambda: True) -> None:
        """Run ``action``, turn the event loop until ``done``, print the time taken and the longest stall."""
        for _ in range(5):
            app.processEvents(QEventLoop.ProcessEventsFlag.AllEvents, 10)
        gaps[0], last[0] = 0.0, time.perf_counter()
        started = time.perf_counter()
        action()
        while not done():
            app.processEvents(QEventLoop.ProcessEventsFlag.AllEvents, 10)
        app.processEvents(QEventLoop.ProcessEventsFlag.AllEvents, 10)
        tick()
        print(f"{name:<44} {time.perf_counter() - started:6.2f} s   longest stall {gaps[0] * 1000:5.0f} ms")

    now = datetime.now(UTC)
    problems = [
        Problem(
            "invoices",
            f"INV{n:06d}",
            f"Invoice INV{n:06d} waits for customer C{n % 50:03d}, which is not in Halo yet.",
            "Fix that customer's problem first; the invoice follows on the next sync.",
            now,
            now,
            1,
            now,
        )
        for n in range(args.problems)
    ]
    page = ProblemsPage(controller)
    page.resize(1300, 700)
    step(f"Problems: show {args.problems:,}", lambda: page.show_problems(problems))
    step("Problems: group by cause", lambda: page.group_check.setChecked(True))
    step("Problems: search", lambda: page.search_edit.setText("C007"))

    records = [RecordOverview("invoices", f"{n}", f"INV{n:06d}", n, now, "") for n in range(args.records)]
    records_page = RecordsPage(controller)
    records_page.resize(1300, 700)
    step(
        f"Records: show {args.records:,}",
        lambda: records_page.show_records(records),
        lambda: len(records_page.model.records) == len(records),
    )
    step("Records: search", lambda: (records_page.search_edit.setText("4242"), records_page._apply_filters()))
    step(
        "Records: sort by Halo id",
        lambda: records_page.view.sortByColumn(3, records_page.view.horizontalHeader().sortIndicatorOrder()),
    )
    controller.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())

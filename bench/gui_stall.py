"""GUI responsiveness during a large sync: the longest event-loop stall while "Sync now" runs.

Why: the window must never freeze while the engine works; the engine runs on a worker thread and reports
through queued signals, so the event loop should keep turning. A QTimer ticks every 5 ms on the GUI thread and
the gaps between ticks are recorded; the longest gap is the worst stall a user could feel (target < 100 ms).

The company is the large stand-in (10,000 customers, 2,000 items, 50,000 invoices, 150,000 lines at full
size); the sandbox runs in its own process (`main.py sandbox`), as a real Halo does, so its CPU is not the
app's. The window's real SyncController and StatusPage run offscreen.

    python bench/gui_stall.py               # full size (a couple of minutes)
    python bench/gui_stall.py --scale 0.1
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PySide6.QtCore import QElapsedTimer, QEventLoop, QTimer  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

from gui.controller import AppContext, SyncController  # noqa: E402
from gui.pages.status import StatusPage  # noqa: E402
from halo.sandbox.cli import start_sandbox_process  # noqa: E402
from sync.paths import app_paths  # noqa: E402
from sync.secrets import HALO_CLIENT_SECRET, MemorySecretStore  # noqa: E402
from sync.settings import Settings  # noqa: E402
from tests.standins.sage50uk import make_large, odbc_connection_string  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=1.0, help="fraction of the full-size company")
    args = parser.parse_args()
    customers, items, invoices = (max(10, round(n * args.scale)) for n in (10_000, 2_000, 50_000))
    app = QApplication.instance() or QApplication([])
    with tempfile.TemporaryDirectory(prefix="lb-gui-stall-") as folder:
        root = Path(folder)
        print(
            f"Building the stand-in company: {customers:,} customers, {items:,} items, {invoices:,} invoices"
        )
        company = make_large(root / "ACCDATA.sqlite", customers, items, invoices, 3)
        sandbox = start_sandbox_process()
        try:
            settings = Settings()
            settings.halo.resource_server, settings.halo.client_id = sandbox.url, sandbox.client_id
            settings.halo.requests_per_5_minutes = 0  # no rate limit here: our own work is timed
            settings.source.kind = "sage50uk"
            settings.source.connection_string = odbc_connection_string(company)
            paths = app_paths(root / "home").ensure()
            context = AppContext(
                settings,
                MemorySecretStore({HALO_CLIENT_SECRET: sandbox.client_secret}),
                paths,
                paths.settings_file,
            )
            controller = SyncController(context)
            status = StatusPage(controller)
            status.show()
            gaps: list[float] = []
            clock = QElapsedTimer()
            ticker = QTimer()
            ticker.setInterval(5)
            ticker.timeout.connect(lambda: gaps.append(clock.restart()))
            started = time.monotonic()
            clock.start()
            ticker.start()
            loop = QEventLoop()
            controller.run_finished.connect(lambda _summary: loop.quit())
            controller.sync_now()
            loop.exec()  # the app's own event loop, as in the running program
            ticker.stop()
            elapsed = time.monotonic() - started
            summary = controller.last_summary
            while controller.tasks.pending:  # history/problems reloads after the run
                app.processEvents()
            controller.shutdown()
        finally:
            sandbox.stop()
    measured = sorted(gaps[1:])
    records = sum(sum(per.values()) for per in summary.counts.values()) if summary else 0
    print(f"sync status                 {summary.status if summary else 'none'}")
    print(f"records                     {records:,} in {elapsed:.1f} s")
    print(f"event-loop ticks (5 ms)     {len(measured):,}")
    print(f"longest stall               {measured[-1]:.0f} ms (target < 100 ms)")
    print(f"99th percentile gap         {measured[int(len(measured) * 0.99)]:.0f} ms")
    print(f"median gap                  {statistics.median(measured):.0f} ms")
    return 0 if summary and summary.status == "ok" else 1


if __name__ == "__main__":
    sys.exit(main())

"""Long run: many timer-driven no-change syncs in one app process — does anything grow?

Why: the desktop app stays up for weeks in the tray and syncs every N minutes. A few KB, one thread, one file
descriptor or one socket kept per run is invisible in a test of three runs and fatal after a month.

How: the app's own SyncController (its SyncScheduler's QTimer on a real Qt event loop, the SyncThread
worker, run_sync with the real ODBC connector and HaloClient, the history refresh after each run) with a 1 ms
interval, against a stand-in Sage 50 UK company and a Halo sandbox in ANOTHER process (so its threads and
sockets are not counted here). After a warm-up it samples RSS, threads, open file descriptors and inet sockets
of this process, lets the timer run N more syncs, and samples again. Every sample is taken with the scheduler
paused, the run finished and the worker pool idle.

    python bench/long_run.py              # 500 syncs after 20 warm-up syncs
    python bench/long_run.py --runs 100
"""

from __future__ import annotations

import argparse
import gc
import json
import multiprocessing
import os
import sys
import tempfile
import threading
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

import psutil  # noqa: E402
from PySide6.QtCore import QCoreApplication, QEventLoop, QTimer  # noqa: E402

import gui  # noqa: E402, F401  (the PySide6 6.12 refcount guard comes first)
from gui.controller import AppContext, SyncController  # noqa: E402
from sync.paths import app_paths  # noqa: E402
from sync.secrets import HALO_CLIENT_SECRET, MemorySecretStore  # noqa: E402
from sync.settings import Settings  # noqa: E402
from tests.standins.sage50uk import make_large, odbc_connection_string  # noqa: E402


def _serve_sandbox(pipe: Any, stop: Any) -> None:  # runs in the child process
    from halo.sandbox.server import HaloSandbox

    with HaloSandbox() as sandbox:
        pipe.send((sandbox.url, sandbox.client_id, sandbox.client_secret))
        stop.wait()


@dataclass
class Sample:
    rss: int
    threads: int
    python_threads: int
    fds: int
    sockets: int

    def line(self) -> str:
        return (
            f"RSS {self.rss / 2**20:7.1f} MiB  threads {self.threads:3d} (Python {self.python_threads})  "
            f"fds {self.fds:3d}  inet sockets {self.sockets}"
        )


@dataclass
class LongRunFigures:
    runs: int = 0
    statuses: dict[str, int] = field(default_factory=dict)
    start: Sample | None = None
    end: Sample | None = None
    posts_after_warmup: int = -1
    seconds: float = 0.0

    @property
    def rss_growth(self) -> float:
        assert self.start is not None and self.end is not None
        return (self.end.rss - self.start.rss) / self.start.rss


def sample() -> Sample:
    gc.collect()
    process = psutil.Process()
    return Sample(
        rss=process.memory_info().rss,
        threads=process.num_threads(),
        python_threads=threading.active_count(),
        fds=process.num_fds(),
        sockets=len(process.net_connections(kind="inet")),
    )


def halo_posts(url: str) -> int:
    """POSTs the sandbox received (its /sandbox/stats), read after sampling so the socket is not counted."""
    with urllib.request.urlopen(f"{url}/sandbox/stats", timeout=10) as answer:
        stats = json.load(answer)
    return sum(n for name, n in stats["requests"].items() if name.startswith("POST /api/"))


def _wait(condition: Any, timeout: float) -> None:
    """Run the Qt event loop until ``condition()`` holds (the app's own loop, not a sleep)."""
    deadline = time.monotonic() + timeout
    loop = QEventLoop()
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError("the app did not get there in time")
        QTimer.singleShot(5, loop.quit)
        loop.exec()


def _settle(controller: SyncController) -> Sample:
    """Pause the timer, let the run and the history refresh finish, give Qt a moment, then sample."""
    controller.scheduler.pause(None)
    _wait(lambda: not controller.is_running() and controller.tasks.pending == 0, 120)
    end = time.monotonic() + 0.3
    _wait(lambda: time.monotonic() >= end, 5)
    return sample()


def long_run(folder: Path, *, runs: int, warmup: int = 20, report: Any = None) -> LongRunFigures:
    """``warmup`` timer-driven syncs, a sample, ``runs`` more, a sample. Needs a Q(Core)Application."""
    say = report or (lambda text: None)
    if QCoreApplication.instance() is None:
        raise RuntimeError("create the QApplication first")
    company = make_large(folder / "ACCDATA.sqlite", 100, 20, 100, 2)
    context = multiprocessing.get_context("spawn")
    parent_end, child_end = context.Pipe()
    stop = context.Event()
    server = context.Process(target=_serve_sandbox, args=(child_end, stop), daemon=True)
    server.start()
    figures = LongRunFigures()
    try:
        url, client_id, secret = parent_end.recv()
        settings = Settings()
        settings.halo.resource_server = url
        settings.halo.client_id = client_id
        settings.halo.requests_per_5_minutes = 0  # no rate limit here: our own work is timed
        settings.source.kind = "sage50uk"
        settings.source.connection_string = odbc_connection_string(company)
        settings.source.timezone = "Europe/London"
        paths = app_paths(folder / "home").ensure()
        app_context = AppContext(
            settings=settings,
            secrets=MemorySecretStore({HALO_CLIENT_SECRET: secret}),
            paths=paths,
            config_path=paths.settings_file,
        )
        controller = SyncController(app_context, interval_ms=1)
        finished: list[str] = []
        controller.run_finished.connect(lambda summary: finished.append(summary.status))
        try:
            controller.start()
            _wait(lambda: len(finished) >= warmup, 600)
            figures.start = _settle(controller)
            posts_at_start = halo_posts(url)
            say(f"after {len(finished)} warm-up syncs: {figures.start.line()}")
            target = len(finished) + runs
            started = time.monotonic()
            controller.scheduler.resume()
            while len(finished) < target:
                checkpoint = min(target, len(finished) + 100)
                _wait(lambda checkpoint=checkpoint: len(finished) >= checkpoint, 3600)
                say(f"  {len(finished) - warmup:4d} syncs: {sample().line()}")
            figures.seconds = time.monotonic() - started
            figures.end = _settle(controller)
            figures.posts_after_warmup = halo_posts(url) - posts_at_start
        finally:
            controller.shutdown()
        figures.runs = len(finished) - warmup
        figures.statuses = {status: finished[warmup:].count(status) for status in set(finished[warmup:])}
        say(f"after {figures.runs} more syncs: {figures.end.line()}")
    finally:
        stop.set()
        server.join(30)
        if server.is_alive():
            server.terminate()
            server.join(10)
    return figures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=500)
    parser.add_argument("--warmup", type=int, default=20)
    args = parser.parse_args(argv)
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance() or QApplication([])
    with tempfile.TemporaryDirectory(prefix="lb-long-") as temp:
        figures = long_run(Path(temp), runs=args.runs, warmup=args.warmup, report=print)
    assert figures.start is not None and figures.end is not None
    print(
        f"\nsyncs timed by the app's scheduler  {figures.runs} ({figures.statuses}) "
        f"in {figures.seconds:.1f} s"
    )
    print(
        f"RSS      {figures.start.rss / 2**20:.1f} -> {figures.end.rss / 2**20:.1f} MiB "
        f"({figures.rss_growth:+.1%})"
    )
    print(f"threads  {figures.start.threads} -> {figures.end.threads}")
    print(f"fds      {figures.start.fds} -> {figures.end.fds}")
    print(f"sockets  {figures.start.sockets} -> {figures.end.sockets}")
    print(f"POSTs after the warm-up (no-change syncs)  {figures.posts_after_warmup}")
    del app
    return 0


if __name__ == "__main__":
    sys.exit(main())

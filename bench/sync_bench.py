"""Sync benchmark: a large Sage 50 UK stand-in -> a local Halo sandbox, first sync, no-change and 1% resyncs.

Prints wall time, records/s, HTTP requests by method and endpoint, write requests per record and peak memory
(tracemalloc and RSS) for each phase. The sandbox runs in its own process so the memory figures are the
engine's alone. Targets: <= 0.02 write requests per record on the first sync, zero writes on the no-change
resync, the 1% resync in <= 5% of the first sync's time.

The stand-in's rows all carry one modify date; the bench spreads them over the year before it (as real books
look) so an incremental read after the first sync only reads what changed since.

    python bench/sync_bench.py              # full size: 10,000 customers, 2,000 items, 50,000 invoices
    python bench/sync_bench.py --scale 0.1  # a tenth of that, for a quick look
    python bench/sync_bench.py --scale 0.1 --modes   # requests per record: default vs lean list rows

``--modes`` measures HTTP requests per record in the sandbox's default mode and with lean list rows (rows
without the matching fields, as Halo's partial list objects may be; docs/halo.md), each on a fresh Halo:
a first sync, a relink of everything by key from a fresh state store, and a resync with 1% of customers
unlinked (the two cases that read Halo's lists).
Target: lean rows cost no more than 5% extra requests on a first sync.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import sqlite3
import sys
import tempfile
import threading
import time
import tracemalloc
from collections import Counter
from datetime import timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import psutil
import pyodbc

from connectors.sage50uk import Sage50UKConnector
from halo.client import HaloClient
from resources.demo.sage50uk_schema import sage_timestamp
from sync.halo_connection import halo_connection
from sync.paths import app_paths
from sync.runner import run_sync
from sync.secrets import HALO_CLIENT_SECRET, MemorySecretStore
from sync.settings import Settings
from sync.state import StateStore
from tests.standins.sage50uk import BASE, make_large, odbc_connection_string

FULL = {"customers": 10_000, "items": 2_000, "invoices": 50_000, "lines_per_inv": 3}
LONDON = ZoneInfo("Europe/London")


def _serve_sandbox(pipe, stop, modes=None) -> None:  # runs in the child process
    from halo.sandbox.server import HaloSandbox

    with HaloSandbox() as sandbox:
        sandbox.faults.update(modes or {})
        pipe.send((sandbox.url, sandbox.client_id, sandbox.client_secret))
        stop.wait()


def spread_modify_dates(path: Path) -> None:
    """Give every row a modify date within the year before BASE (real books are edited over time)."""
    connection = sqlite3.connect(path)
    try:
        tables = [r[0] for r in connection.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        for table in tables:
            columns = {r[1] for r in connection.execute(f'PRAGMA table_info("{table}")')}
            if "RECORD_MODIFY_DATE" not in columns:
                continue
            connection.execute(
                f'UPDATE "{table}" SET RECORD_MODIFY_DATE = '
                "strftime('%Y-%m-%d %H:%M:%f', ?, '-' || (rowid % 365) || ' days') "
                "WHERE RECORD_MODIFY_DATE IS NOT NULL",
                (sage_timestamp(BASE),),
            )
        connection.commit()
    finally:
        connection.close()


def change_one_percent(path: Path) -> int:
    """Edit 1% of customers, items and invoices as Sage would (new values, modify date after the cursor)."""
    when = sage_timestamp(BASE + timedelta(days=1))
    connection = sqlite3.connect(path)
    changed = 0
    try:
        for table, column, value in (
            ("SALES_LEDGER", "TELEPHONE", "'0113 000 0000'"),
            ("STOCK", "SALES_PRICE", "SALES_PRICE + 1"),
            ("INVOICE", "CUST_ORDER_NUMBER", "'PO-CHANGED'"),
        ):
            cursor = connection.execute(
                f'UPDATE "{table}" SET "{column}" = {value}, RECORD_MODIFY_DATE = ? WHERE rowid % 100 = 7',
                (when,),
            )
            changed += cursor.rowcount
        connection.commit()
    finally:
        connection.close()
    return changed


class MemoryWatch:
    """Peak RSS sampled every 50 ms in a thread, plus tracemalloc's peak when it is on."""

    def __init__(self, use_tracemalloc: bool) -> None:
        self.use_tracemalloc = use_tracemalloc
        self._process = psutil.Process()
        self._stop = threading.Event()
        self.start_rss = self.peak_rss = self._process.memory_info().rss
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        while not self._stop.wait(0.05):
            self.peak_rss = max(self.peak_rss, self._process.memory_info().rss)

    def __enter__(self) -> MemoryWatch:
        if self.use_tracemalloc:
            tracemalloc.start()
            tracemalloc.reset_peak()
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak_rss = max(self.peak_rss, self._process.memory_info().rss)
        self.traced_peak = tracemalloc.get_traced_memory()[1] if self.use_tracemalloc else 0
        if self.use_tracemalloc:
            tracemalloc.stop()


def run_phase(
    name: str, settings: Settings, secrets: MemorySecretStore, paths, db: Path, traced: bool
) -> dict:
    client = HaloClient(halo_connection(settings.halo), secrets.get(HALO_CLIENT_SECRET) or "")
    connection_string = odbc_connection_string(db)
    connector = Sage50UKConnector(lambda: pyodbc.connect(connection_string), local_zone=LONDON, page_size=500)
    started = time.perf_counter()
    with MemoryWatch(traced) as memory:
        summary = run_sync(settings, secrets, paths=paths, connector=connector, client=client)
    elapsed = time.perf_counter() - started
    connector.close()
    client.close()
    records = sum(n for per in summary.counts.values() for n in per.values())
    requests: Counter = client.stats.requests
    writes = sum(n for (method, path), n in requests.items() if method == "POST" and path.startswith("/api/"))
    print(f"\n== {name}: status {summary.status} {summary.error}")
    print(f"   wall time {elapsed:8.1f} s   records {records:,}   {records / elapsed:,.0f} records/s")
    for entity, per in summary.counts.items():
        shown = ", ".join(f"{k} {v:,}" for k, v in per.items() if v)
        print(f"   {entity:<10} {shown}")
    for (method, path), n in sorted(requests.items()):
        print(f"   {method:<5} {path:<22} {n:7,}")
    per_record = writes / max(records, 1)
    print(
        f"   write requests {writes:,}   per record {per_record:.4f}   retries {dict(client.stats.retries)}"
        f"   look-ups {dict(client.stats.lookups)}"
    )
    traced_text = f"{memory.traced_peak / 2**20:7.1f} MiB" if traced else "   (off)"
    print(
        f"   peak memory: tracemalloc {traced_text}   RSS peak {memory.peak_rss / 2**20:7.1f} MiB "
        f"(+{(memory.peak_rss - memory.start_rss) / 2**20:.1f} MiB during the phase)"
    )
    return {"elapsed": elapsed, "records": records, "writes": writes}


def count_requests(settings: Settings, secrets: MemorySecretStore, paths, db: Path) -> tuple[int, int, int]:
    """One sync: (records, HTTP requests, of which look-ups for missing keys)."""
    client = HaloClient(halo_connection(settings.halo), secrets.get(HALO_CLIENT_SECRET) or "")
    connection_string = odbc_connection_string(db)
    connector = Sage50UKConnector(lambda: pyodbc.connect(connection_string), local_zone=LONDON, page_size=500)
    summary = run_sync(settings, secrets, paths=paths, connector=connector, client=client)
    connector.close()
    client.close()
    if summary.status == "failed":
        raise RuntimeError(f"the sync failed: {summary.error}")
    records = sum(n for per in summary.counts.values() for n in per.values())
    return records, client.stats.total(), sum(client.stats.lookups.values())


UNLINKED = "1% of customers unlinked"


def unlink_one_percent(paths) -> None:
    """Forget every 100th customer's link and the customers' cursor: those match against Halo's list again."""
    with StateStore(paths.state_file) as state:
        for key in sorted(state.links("customers"))[::100]:
            state.drop_link("customers", key)
            state.drop_link("sites", key)
        state.save_cursor("customers", None)


def compare_modes(db: Path, folder: Path) -> None:
    """Requests per record, default mode vs lean list rows: a first sync, then a relink from a fresh state."""
    context = multiprocessing.get_context("spawn")
    figures: dict[str, dict[str, tuple[int, int, int]]] = {}
    for name, modes in (("default", {}), ("lean rows", {"lean_rows": True})):
        parent_end, child_end = context.Pipe()
        stop = context.Event()
        server = context.Process(target=_serve_sandbox, args=(child_end, stop, modes), daemon=True)
        server.start()
        try:
            url, client_id, secret = parent_end.recv()
            settings = Settings()
            settings.halo.resource_server, settings.halo.client_id = url, client_id
            settings.halo.page_size = settings.halo.batch_size = 100
            settings.halo.requests_per_5_minutes = 0  # no rate limit here: our own work is timed
            settings.source.kind = "sage50uk"
            settings.source.connection_string = odbc_connection_string(db)
            secrets = MemorySecretStore({HALO_CLIENT_SECRET: secret})
            figures[name] = {}
            for phase in ("first sync", "relink from a fresh state"):
                paths = app_paths(folder / f"home-{name}-{phase}".replace(" ", "-")).ensure()
                figures[name][phase] = count_requests(settings, secrets, paths, db)
            unlink_one_percent(paths)
            figures[name][UNLINKED] = count_requests(settings, secrets, paths, db)
        finally:
            stop.set()
            server.join(30)
            if server.is_alive():
                server.terminate()
    print("\n== requests per record by sandbox mode")
    for phase in ("first sync", "relink from a fresh state", UNLINKED):
        base = figures["default"][phase]
        for name in figures:
            records, requests, lookups = figures[name][phase]
            extra = requests / max(base[1], 1) - 1
            print(
                f"   {phase:<26} {name:<10} records {records:7,}   requests {requests:7,}   "
                f"per record {requests / max(records, 1):.4f}   look-ups {lookups:6,}   "
                f"vs default {extra:+.1%}"
            )
    lean_first = figures["lean rows"]["first sync"][1] / max(figures["default"]["first sync"][1], 1) - 1
    print(f"   lean rows, first sync: {lean_first:+.1%} requests (target <= +5%)")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--scale", type=float, default=1.0, help="fraction of the full size (default 1.0)")
    parser.add_argument(
        "--no-tracemalloc", action="store_true", help="skip tracemalloc (it slows Python down)"
    )
    parser.add_argument("--keep", type=Path, help="build the company here and keep it (default: a temp dir)")
    parser.add_argument(
        "--modes", action="store_true", help="only compare requests per record: default vs lean list rows"
    )
    args = parser.parse_args(argv)
    size = {k: max(1, round(v * args.scale)) if k != "lines_per_inv" else v for k, v in FULL.items()}

    with tempfile.TemporaryDirectory(prefix="lb-sync-bench-") as temp:
        folder = args.keep or Path(temp)
        folder.mkdir(parents=True, exist_ok=True)
        db = folder / "large.sqlite"
        os.environ["LEDGERBRIDGE_HOME"] = str(folder / "home")
        paths = app_paths().ensure()
        paths.state_file.unlink(missing_ok=True)
        started = time.perf_counter()
        make_large(db, size["customers"], size["items"], size["invoices"], size["lines_per_inv"])
        spread_modify_dates(db)
        print(
            f"Built the stand-in company ({size['customers']:,} customers, {size['items']:,} items, "
            f"{size['invoices']:,} invoices x {size['lines_per_inv']} lines) "
            f"in {time.perf_counter() - started:.1f} s"
        )
        if args.modes:
            compare_modes(db, folder)
            return 0

        context = multiprocessing.get_context("spawn")
        parent_end, child_end = context.Pipe()
        stop = context.Event()
        server = context.Process(target=_serve_sandbox, args=(child_end, stop), daemon=True)
        server.start()
        try:
            url, client_id, secret = parent_end.recv()
            settings = Settings()
            settings.halo.resource_server = url
            settings.halo.client_id = client_id
            settings.halo.page_size = 100
            settings.halo.batch_size = 100
            settings.halo.requests_per_5_minutes = 0  # no rate limit here: our own work is timed
            settings.source.kind = "sage50uk"
            settings.source.connection_string = odbc_connection_string(db)
            secrets = MemorySecretStore({HALO_CLIENT_SECRET: secret})
            traced = not args.no_tracemalloc
            first = run_phase("first sync", settings, secrets, paths, db, traced)
            second = run_phase("no-change resync", settings, secrets, paths, db, traced)
            with StateStore(paths.state_file) as state:  # forget the cursors: every row is read and hashed
                for entity in settings.sync.entities:
                    state.save_cursor(entity, None)
            full = run_phase("no-change full re-read (cursors cleared)", settings, secrets, paths, db, traced)
            changed = change_one_percent(db)
            print(f"\nChanged {changed:,} rows (1% of customers, items and invoices)")
            third = run_phase("1% changed resync", settings, secrets, paths, db, traced)
        finally:
            stop.set()
            server.join(30)
            if server.is_alive():
                server.terminate()

    print("\n== targets")
    print(
        f"   first sync write requests per record: {first['writes'] / max(first['records'], 1):.4f} (<= 0.02)"
    )
    print(f"   no-change resync writes: {second['writes']} (0); full re-read writes: {full['writes']} (0)")
    ratio = third["elapsed"] / first["elapsed"]
    print(f"   1% resync time / first sync time: {ratio:.1%} (<= 5%)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

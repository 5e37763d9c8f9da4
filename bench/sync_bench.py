"""Sync benchmark: is the engine close to the wire? One run prints, on a Sage 50 UK stand-in company:

- raw fetch: plain pyodbc ``fetchmany`` of every table and column the connector reads (the floor);
- connector read: the Sage 50 UK connector reading all four streams into canonical records;
- the engine's no-change full re-read (cursors cleared: every row is read and found unchanged, no write to
  Halo), with the rows' digests the links keep (rows known unchanged are not converted, sync/known_rows.py)
  and with them void (as after a changed mapping or an upgrade: every row is converted, its digest kept
  again);
- a first sync into the local sandbox (an empty Halo, pacing off), then a no-change and a 1% resync;

and the ratios to the connector read (targets: full re-read <= 1.5x, first sync <= 3x; each step is the
best of --repeat turns, as the machine may be shared, and the median of each turn's own ratios is printed
too, as a machine whose speed changes between turns moves it less), in wall time and in this process's
CPU time (which leaves out the sandbox's work and the wait for it, and moves less with the machine's load),
the CPU the sandbox's own process used during the first sync (it runs in its own process, so the engine's
figures are its own), and peak memory (RSS, and tracemalloc unless --no-tracemalloc) of the first sync and
the full re-read for the company and for one --factor times larger (target: within 10%).

The stand-in's rows all carry one modify date; the bench spreads them over the year before it (as real books
look) so an incremental read after the first sync only reads what changed since.

    python bench/sync_bench.py --scale 0.2              # 2,000 customers, 400 items, 10,000 invoices, x5
    python bench/sync_bench.py --scale 0.2 --factor 0   # no larger company (no memory ratio)
    python bench/sync_bench.py --scale 0.1 --modes      # requests per record: default vs lean list rows

Full size (--scale 1) is 10,000 customers, 2,000 items and 50,000 invoices with 150,000 lines.

``--modes`` measures HTTP requests per record in the sandbox's default mode and with lean list rows (rows
without the matching fields, as Halo's partial list objects may be; docs/halo.md), each on a fresh Halo:
a first sync, a relink of everything by key from a fresh state store, and a resync with 1% of customers
unlinked (the two cases that read Halo's lists).
Target: lean rows cost no more than 5% extra requests on a first sync.
"""

from __future__ import annotations

import argparse
import gc
import multiprocessing
import os
import sqlite3
import statistics
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
PAGE_SIZE = 500  # rows per fetchmany, for the raw fetch, the connector read and the engine's connector
STREAMS = ("tax_rates", "customers", "items", "invoices")  # what the default settings sync
ALL_STREAMS = (*STREAMS, "suppliers")


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
    """Peak RSS sampled every 20 ms in a thread, plus tracemalloc's peak when it is on."""

    def __init__(self, use_tracemalloc: bool) -> None:
        self.use_tracemalloc = use_tracemalloc
        self._process = psutil.Process()
        self._stop = threading.Event()
        self.start_rss = self.peak_rss = self._process.memory_info().rss
        self.traced_peak = 0
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        while not self._stop.wait(0.02):
            self.peak_rss = max(self.peak_rss, self._process.memory_info().rss)

    def __enter__(self) -> MemoryWatch:
        gc.collect()
        self.start_rss = self.peak_rss = self._process.memory_info().rss
        if self.use_tracemalloc:
            tracemalloc.start()
            tracemalloc.reset_peak()
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak_rss = max(self.peak_rss, self._process.memory_info().rss)
        if self.use_tracemalloc:
            self.traced_peak = tracemalloc.get_traced_memory()[1]
            tracemalloc.stop()


class SandboxProcess:
    """The local Halo in its own process, so its CPU and memory are not counted as the engine's."""

    def __init__(self, modes: dict | None = None) -> None:
        context = multiprocessing.get_context("spawn")
        self._parent_end, child_end = context.Pipe()
        self._stop = context.Event()
        self._server = context.Process(
            target=_serve_sandbox, args=(child_end, self._stop, modes), daemon=True
        )
        self.url = self.client_id = self.secret = ""

    def __enter__(self) -> SandboxProcess:
        self._server.start()
        self.url, self.client_id, self.secret = self._parent_end.recv()
        self._process = psutil.Process(self._server.pid)
        return self

    def cpu_seconds(self) -> float:
        times = self._process.cpu_times()
        return times.user + times.system

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._server.join(30)
        if self._server.is_alive():
            self._server.terminate()

    def settings(self, db: Path) -> Settings:
        settings = Settings()
        settings.halo.resource_server = self.url
        settings.halo.client_id = self.client_id
        settings.halo.page_size = 100
        settings.halo.batch_size = 100
        settings.halo.requests_per_5_minutes = 0  # no rate limit here: our own work is timed
        settings.source.kind = "sage50uk"
        settings.source.connection_string = odbc_connection_string(db)
        return settings

    def secrets(self) -> MemorySecretStore:
        return MemorySecretStore({HALO_CLIENT_SECRET: self.secret})


def _connector(db: Path) -> Sage50UKConnector:
    connection_string = odbc_connection_string(db)
    return Sage50UKConnector(
        lambda: pyodbc.connect(connection_string), local_zone=LONDON, page_size=PAGE_SIZE
    )


def _clocks() -> tuple[float, float]:
    """Now, by the wall clock and by this process's CPU time (both are printed for every timed step)."""
    return time.perf_counter(), time.process_time()


def _spent(since: tuple[float, float]) -> tuple[float, float]:
    """Wall and CPU seconds since ``since`` (``_clocks()``)."""
    wall, cpu = _clocks()
    return wall - since[0], cpu - since[1]


def raw_fetch(db: Path) -> tuple[int, float, float]:
    """Every table and column the connector declares, with nothing but execute + fetchmany: the floor."""
    connector = _connector(db)
    connection = connector.connection()  # opened outside the timing, as the connector's read below
    rows = 0
    started = _clocks()
    for use in connector.tables():
        names = ", ".join(f'"{column}"' for column in use.columns)
        cursor = connection.cursor()
        cursor.execute(f'SELECT {names} FROM "{use.table}"')
        while page := cursor.fetchmany(PAGE_SIZE):
            rows += len(page)
        cursor.close()
    elapsed, cpu = _spent(started)
    connector.close()
    return rows, elapsed, cpu


def connector_read(db: Path) -> tuple[int, float, float]:
    """The connector reading the four streams the engine syncs, into canonical records."""
    connector = _connector(db)
    connector.connection()
    records = 0
    started = _clocks()
    for stream in STREAMS:
        for _record in connector.read(stream):
            records += 1
    elapsed, cpu = _spent(started)
    connector.close()
    return records, elapsed, cpu


def run_phase(
    name: str, sandbox: SandboxProcess, paths, db: Path, *, traced: bool = False, quiet: bool = False
) -> dict:
    settings, secrets = sandbox.settings(db), sandbox.secrets()
    client = HaloClient(halo_connection(settings.halo), secrets.get(HALO_CLIENT_SECRET) or "")
    connector = _connector(db)
    sandbox_before = sandbox.cpu_seconds()
    with MemoryWatch(traced) as memory:  # its full collection on entering is not the phase's: not timed
        started = _clocks()
        summary = run_sync(settings, secrets, paths=paths, connector=connector, client=client)
        elapsed, cpu = _spent(started)
    sandbox_cpu = sandbox.cpu_seconds() - sandbox_before
    connector.close()
    client.close()
    if summary.status != "ok":
        raise RuntimeError(f"{name}: the sync ended {summary.status}: {summary.error}")
    records = sum(n for per in summary.counts.values() for n in per.values())
    requests: Counter = client.stats.requests
    writes = sum(n for (method, path), n in requests.items() if method == "POST" and path.startswith("/api/"))
    sign_in = sum(
        n
        for (_method, path), n in requests.items()
        if not path.startswith("/api/") or path == "/api/authinfo"
    )
    figures = {
        "elapsed": elapsed,
        "cpu": cpu,
        "records": records,
        "writes": writes,
        "requests": client.stats.total(),
        "data_requests": sum(requests.values()) - sign_in,
        "peak_rss": memory.peak_rss,
        "rss_growth": memory.peak_rss - memory.start_rss,
        "traced_peak": memory.traced_peak,
        "sandbox_cpu": sandbox_cpu,
    }
    if quiet:
        return figures
    print(f"\n== {name}: status {summary.status}")
    print(
        f"   wall time {elapsed:8.2f} s   CPU {cpu:6.2f} s   records {records:,}   "
        f"{records / elapsed:,.0f} records/s"
    )
    for entity, per in summary.counts.items():
        shown = ", ".join(f"{k} {v:,}" for k, v in per.items() if v)
        print(f"   {entity:<10} {shown}")
    for (method, path), n in sorted(requests.items()):
        print(f"   {method:<5} {path:<22} {n:7,}")
    print(
        f"   write requests {writes:,}   per record {writes / max(records, 1):.4f}   "
        f"retries {dict(client.stats.retries)}   look-ups {dict(client.stats.lookups)}"
    )
    print(f"   sandbox process CPU {sandbox_cpu:.2f} s")
    traced_text = f"   tracemalloc peak {memory.traced_peak / 2**20:.1f} MiB" if traced else ""
    print(
        f"   RSS peak {memory.peak_rss / 2**20:.1f} MiB (+{figures['rss_growth'] / 2**20:.1f} MiB during the "
        f"phase){traced_text}"
    )
    return figures


def _elapsed(figures: dict) -> float:
    return figures["elapsed"]


def fresh_first_sync(db: Path, folder: Path, turn: int) -> dict:
    """One more first sync of the same books: an empty Halo and a new state store."""
    with SandboxProcess() as sandbox:
        return run_phase(
            "first sync, again", sandbox, app_paths(folder / f"home-first-{turn}").ensure(), db, quiet=True
        )


def void_known_rows(paths) -> None:
    """Void every rows' digest the links keep, as a changed mapping does: the next read converts every row."""
    with StateStore(paths.state_file) as state:
        state.set_mapping("tax", "BENCH-VOID", 1)
        state.set_mapping("tax", "BENCH-VOID", None)


def clear_cursors(paths) -> None:
    """Forget every stream's cursor: the next run reads (and hashes) every row."""
    with StateStore(paths.state_file) as state:
        for entity in ALL_STREAMS:
            state.save_cursor(entity, None)


def build_company(folder: Path, scale: float) -> tuple[Path, dict[str, int]]:
    size = {k: max(1, round(v * scale)) if k != "lines_per_inv" else v for k, v in FULL.items()}
    db = folder / f"large-{scale:g}.sqlite"
    started = time.perf_counter()
    make_large(db, size["customers"], size["items"], size["invoices"], size["lines_per_inv"])
    spread_modify_dates(db)
    print(
        f"\nBuilt the stand-in company x{scale:g} ({size['customers']:,} customers, {size['items']:,} items, "
        f"{size['invoices']:,} invoices x {size['lines_per_inv']} lines) "
        f"in {time.perf_counter() - started:.1f} s"
    )
    return db, size


def memory_pass(db: Path, folder: Path, traced: bool, label: str) -> dict[str, dict]:
    """A first sync and a full re-read on a fresh Halo and state store: their peak memory (and times)."""
    paths = app_paths(folder / f"home-{label}").ensure()
    with SandboxProcess() as sandbox:
        first = run_phase(f"first sync ({label})", sandbox, paths, db, traced=traced, quiet=traced)
        clear_cursors(paths)
        full = run_phase(f"no-change full re-read ({label})", sandbox, paths, db, traced=traced, quiet=traced)
    return {"first": first, "full": full}


def count_requests(sandbox: SandboxProcess, paths, db: Path) -> tuple[int, int, int]:
    """One sync: (records, HTTP requests, of which look-ups for missing keys)."""
    settings, secrets = sandbox.settings(db), sandbox.secrets()
    client = HaloClient(halo_connection(settings.halo), secrets.get(HALO_CLIENT_SECRET) or "")
    connector = _connector(db)
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
    figures: dict[str, dict[str, tuple[int, int, int]]] = {}
    for name, modes in (("default", {}), ("lean rows", {"lean_rows": True})):
        with SandboxProcess(modes) as sandbox:
            figures[name] = {}
            for phase in ("first sync", "relink from a fresh state"):
                paths = app_paths(folder / f"home-{name}-{phase}".replace(" ", "-")).ensure()
                figures[name][phase] = count_requests(sandbox, paths, db)
            unlink_one_percent(paths)
            figures[name][UNLINKED] = count_requests(sandbox, paths, db)
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


def _ratio(value: float, base: float) -> str:
    return f"{value / base:5.2f}x" if base else "    -"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--scale", type=float, default=1.0, help="fraction of the full size (default 1.0)")
    parser.add_argument(
        "--factor",
        type=float,
        default=5.0,
        help="how much larger the company of the memory comparison is (default 5; 0: none)",
    )
    parser.add_argument(
        "--no-tracemalloc",
        action="store_true",
        help="memory from RSS only (no traced passes; tracemalloc slows Python down, so it never runs "
        "during a timed phase)",
    )
    parser.add_argument(
        "--repeat",
        type=int,
        default=3,
        help="raw fetch, connector read, full re-read and first sync (each into an empty Halo) taken in "
        "turns this many times, the best of each (default 3)",
    )
    parser.add_argument(
        "--keep", type=Path, help="build the companies here and keep them (default: a temp dir)"
    )
    parser.add_argument(
        "--modes", action="store_true", help="only compare requests per record: default vs lean list rows"
    )
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="lb-sync-bench-") as temp:
        folder = args.keep or Path(temp)
        folder.mkdir(parents=True, exist_ok=True)
        os.environ["LEDGERBRIDGE_HOME"] = str(folder / "home")
        db, size = build_company(folder, args.scale)
        if args.modes:
            compare_modes(db, folder)
            return 0

        raw_turns, read_turns = [raw_fetch(db)], [connector_read(db)]  # (count, wall, CPU) of each turn
        raw_rows, read_records = raw_turns[0][0], read_turns[0][0]
        print(f"\n== raw fetch: {raw_rows:,} rows in {raw_turns[0][1]:.2f} s (plain pyodbc fetchmany)")
        print(f"== connector read: {read_records:,} records in {read_turns[0][1]:.2f} s (four streams)")

        paths = app_paths(folder / "home-timed").ensure()
        with SandboxProcess() as sandbox:
            first = run_phase("first sync", sandbox, paths, db)
            second = run_phase("no-change resync", sandbox, paths, db)
            clear_cursors(paths)
            full_turns = [run_phase("no-change full re-read (cursors cleared)", sandbox, paths, db)]
            void_known_rows(paths)
            clear_cursors(paths)
            cold_turns = [run_phase("no-change full re-read, rows not known", sandbox, paths, db)]
            first_turns = [first]
            for turn in range(1, args.repeat):  # the machine may be shared: the best of each, in turns
                raw_turns.append(raw_fetch(db))
                read_turns.append(connector_read(db))
                clear_cursors(paths)
                full_turns.append(run_phase("no-change full re-read, again", sandbox, paths, db, quiet=True))
                void_known_rows(paths)
                clear_cursors(paths)
                cold_turns.append(run_phase("rows not known, again", sandbox, paths, db, quiet=True))
                first_turns.append(fresh_first_sync(db, folder, turn))
            # The best wall time and the best CPU time of each step (not always of the same turn).
            raw_seconds, raw_cpu = min(t[1] for t in raw_turns), min(t[2] for t in raw_turns)
            read_seconds, read_cpu = min(t[1] for t in read_turns), min(t[2] for t in read_turns)
            full, full_cpu = min(full_turns, key=_elapsed), min(f["cpu"] for f in full_turns)
            cold, cold_cpu = min(cold_turns, key=_elapsed), min(f["cpu"] for f in cold_turns)
            first, first_cpu = min(first_turns, key=_elapsed), min(f["cpu"] for f in first_turns)
            print(
                f"\n== best of {args.repeat}: raw fetch {raw_seconds:.2f} s, "
                f"connector read {read_seconds:.2f} s, full re-read {full['elapsed']:.2f} s, "
                f"first sync {first['elapsed']:.2f} s"
            )
            changed = change_one_percent(db)
            print(f"\nChanged {changed:,} rows (1% of customers, items and invoices)")
            third = run_phase("1% changed resync", sandbox, paths, db)

        traced = not args.no_tracemalloc
        memory: dict[str, dict[str, dict]] = {}
        if traced:
            db, _size = build_company(folder, args.scale)  # the 1% edit undone: the same company again
            memory["1x"] = memory_pass(db, folder, traced, "1x")
        else:
            memory["1x"] = {"first": first, "full": full}
        if args.factor > 0:
            big_db, big_size = build_company(folder, args.scale * args.factor)
            memory[f"{args.factor:g}x"] = memory_pass(big_db, folder, traced, f"{args.factor:g}x")
            if traced:  # the times of the larger company, untraced
                timed = memory_pass(big_db, folder, False, f"{args.factor:g}x-timed")
                memory[f"{args.factor:g}x-timed"] = timed

    print(
        f"\n== summary: {size['customers']:,} customers, {size['items']:,} items, "
        f"{size['invoices']:,} invoices x {size['lines_per_inv']} lines (scale {args.scale:g})"
    )
    print(f"   {'':<44} {'seconds':>8} {'/ raw':>7} {'/ read':>7} {'CPU s':>7} {'/ read':>7}  target")
    rows = (
        ("raw fetch (pyodbc fetchmany)", raw_seconds, raw_cpu, ""),
        ("connector read (four streams)", read_seconds, read_cpu, ""),
        (f"no-change full re-read ({full['data_requests']} requests)", full["elapsed"], full_cpu, "<= 1.5x"),
        ("  the same, rows not known (a mapping changed)", cold["elapsed"], cold_cpu, "<= 1.5x"),
        ("first sync into the local sandbox", first["elapsed"], first_cpu, "<= 3x"),
    )
    for label, seconds, cpu, target in rows:
        print(
            f"   {label:<44} {seconds:8.2f} {_ratio(seconds, raw_seconds):>7} "
            f"{_ratio(seconds, read_seconds):>7} {cpu:7.2f} {_ratio(cpu, read_cpu):>7}  {target}"
        )
    print(
        "   (wall: the best of each step's turns; CPU: this process's, the best of each step's turns, so the "
        "sandbox's own work and any wait for it are left out)"
    )
    paired = [  # each turn's steps ran one after another, minutes apart at most
        (
            read[1] / raw[1],
            full_turn["elapsed"] / read[1],
            cold_turn["elapsed"] / read[1],
            first_turn["elapsed"] / read[1],
        )
        for raw, read, full_turn, cold_turn, first_turn in zip(
            raw_turns, read_turns, full_turns, cold_turns, first_turns, strict=True
        )
    ]
    medians = [statistics.median(ratios) for ratios in zip(*paired, strict=True)]
    print(
        f"   each turn's own ratios, the median of {len(paired)} (a machine that changes speed between turns "
        f"moves these less): read / raw {medians[0]:.2f}x, re-read / read {medians[1]:.2f}x, "
        f"re-read with rows not known / read {medians[2]:.2f}x, first sync / read {medians[3]:.2f}x"
    )
    print(
        f"   the sandbox's own process used {first['sandbox_cpu']:.2f} s CPU during the first sync "
        f"({first['sandbox_cpu'] / first['elapsed']:.0%} of its wall time)"
    )
    print(
        f"   first sync write requests per record: {first['writes'] / max(first['records'], 1):.4f} "
        f"(<= 0.02); no-change resync writes: {second['writes']} (0); "
        f"full re-read writes: {full['writes']} (0)"
    )
    print(f"   1% resync time / first sync time: {third['elapsed'] / first['elapsed']:.1%} (<= 5%)")
    if f"{args.factor:g}x" in memory:
        big = f"{args.factor:g}x"
        timed = memory.get(f"{big}-timed", memory[big])
        print(
            f"   x{args.factor:g} company ({big_size['invoices']:,} invoices): first sync "
            f"{timed['first']['elapsed']:.2f} s ({timed['first']['elapsed'] / first['elapsed']:.1f}x), full "
            f"re-read {timed['full']['elapsed']:.2f} s ({timed['full']['elapsed'] / full['elapsed']:.1f}x)"
        )
        print(f"\n   peak memory{'':<33} {'1x':>10} {big:>10}   ratio  (target: within 10%)")
        kinds = [("RSS peak", "peak_rss")] + ([("tracemalloc peak", "traced_peak")] if traced else [])
        for phase, phase_label in (("first", "first sync"), ("full", "full re-read")):
            for kind_label, kind in kinds:
                small, large = memory["1x"][phase][kind], memory[big][phase][kind]
                print(
                    f"   {phase_label + ', ' + kind_label:<44} {small / 2**20:7.1f} MiB "
                    f"{large / 2**20:7.1f} MiB  {_ratio(large, small)}"
                )
    return 0


if __name__ == "__main__":
    sys.exit(main())

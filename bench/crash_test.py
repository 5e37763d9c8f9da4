"""Crash test: SIGKILL `main.py sync` at random moments, rerun, prove Halo holds every record exactly once.

Why: the "never twice" invariant (DESIGN.md) says a crash at ANY instant, then a new run, leaves no duplicate
and nothing missing. Only a real process killed without warning (no finally blocks, no atexit, a half-written
SQLite WAL, a POST on the wire) tests that; an exception raised inside the engine does not.

How: a stand-in Sage 50 UK company (tests/standins/sage50uk.make_large) and a HaloSandbox persisted to SQLite
in this process, with a little latency so POSTed batches are in flight for a while. Each round starts
`python main.py sync --config FILE` as a real subprocess and SIGKILLs it either when the sandbox has received
a random number of new POSTs (polled every millisecond: the kill lands while that batch is being processed,
so Halo commits a write the client never hears about) or after a random delay (start-up, reading, planning,
state-store commits). After the kills, one clean run must exit 0. Then every resource is counted by its key
field (accountsid / thirdpartyid / third_party_id): duplicates and missing source records must both be 0, and
every link in the state store must point at an existing Halo record carrying that key.

    python bench/crash_test.py                 # 2,000 customers, 400 items, 4,000 invoices, 25 kills
    python bench/crash_test.py --scale 0.1 --kills 20
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

import pyodbc  # noqa: E402
import tomli_w  # noqa: E402

from connectors.sage50uk import Sage50UKConnector  # noqa: E402
from core.records import ENTITY_ORDER, Customer, Invoice, Item, TaxRate  # noqa: E402
from halo.sandbox.server import HaloSandbox  # noqa: E402
from sync.state import StateStore  # noqa: E402
from tests.standins.sage50uk import make_large, odbc_connection_string  # noqa: E402

FULL = {"customers": 2_000, "items": 400, "invoices": 4_000, "lines_per_inv": 2}
KEY_FIELD = {
    "Tax": "third_party_id",
    "Client": "accountsid",
    "Site": "accountsid",
    "Item": "accountsid",
    "Invoice": "accountsid",
    "InvoicePayment": "thirdpartyid",
}
ENTITY_RESOURCE = {
    "tax_rates": "Tax",
    "customers": "Client",
    "sites": "Site",
    "items": "Item",
    "invoices": "Invoice",
    "payments": "InvoicePayment",
}
LONDON = ZoneInfo("Europe/London")


# --- a configured LedgerBridge next to a sandbox ------------------------------------------------------------


@dataclass
class Setup:
    """A configuration the `sync` subprocess runs with: its own home, keyring file and settings file."""

    folder: Path
    company: Path
    config: Path
    env: dict[str, str]

    @property
    def state_file(self) -> Path:
        return self.folder / "home" / "data" / "state.sqlite3"

    @property
    def log_dir(self) -> Path:
        return self.folder / "home" / "logs"


def subprocess_env(folder: Path) -> dict[str, str]:
    """Own LEDGERBRIDGE_HOME, keyrings.alt's file keyring under XDG_DATA_HOME: nothing touches the machine."""
    env = dict(os.environ)
    env.update(
        {
            "LEDGERBRIDGE_HOME": str(folder / "home"),
            "PYTHON_KEYRING_BACKEND": "keyrings.alt.file.PlaintextKeyring",
            "XDG_DATA_HOME": str(folder / "xdg"),
            "PYTHONIOENCODING": "utf-8",
        }
    )
    return env


def run_main(
    env: dict[str, str], *args: str, stdin: str = "", timeout: float = 600
) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(REPO / "main.py"), *args],
        input=stdin,
        capture_output=True,
        text=True,
        env=env,
        cwd=REPO,
        timeout=timeout,
        check=False,
    )


def configure(
    folder: Path, company: Path, sandbox: HaloSandbox, *, batch_size: int, secret: str | None = None
) -> Setup:
    """Write the settings file; store the Halo secret through `main.py secret set` (the real keyring path)."""
    folder.mkdir(parents=True, exist_ok=True)
    config = folder / "settings.toml"
    settings = {
        "halo": {
            "resource_server": sandbox.url,
            "client_id": sandbox.client_id,
            "batch_size": batch_size,
            "page_size": 100,
            "timeout_seconds": 30.0,
            "requests_per_5_minutes": 0,  # a local sandbox with no rate limit (bench/pacing_bench.py paces)
        },
        "source": {
            "kind": "sage50uk",
            "connection_string": odbc_connection_string(company),
            "timezone": "Europe/London",
        },
        "app": {"allow_plaintext_secrets": True},
    }
    config.write_text(tomli_w.dumps(settings), encoding="utf-8")
    env = subprocess_env(folder)
    value = sandbox.client_secret if secret is None else secret
    stored = run_main(env, "--config", str(config), "secret", "set", "halo.client_secret", stdin=value + "\n")
    if stored.returncode != 0:
        raise RuntimeError(f"could not store the Halo secret: {stored.stderr.strip()}")
    return Setup(folder, company, config, env)


# --- what the books hold and what Halo holds ----------------------------------------------------------------


def expected_keys(company: Path) -> dict[str, set[str]]:
    """Per Halo resource, the keys every source record must appear under (read by the real connector)."""
    connection_string = odbc_connection_string(company)
    keys: dict[str, set[str]] = {
        name: set() for name in ("Tax", "Client", "Item", "Invoice", "InvoicePayment")
    }
    with Sage50UKConnector(lambda: pyodbc.connect(connection_string), local_zone=LONDON) as connector:
        for stream, kind, resource in (
            ("tax_rates", TaxRate, "Tax"),
            ("customers", Customer, "Client"),
            ("items", Item, "Item"),
            ("invoices", Invoice, "Invoice"),
        ):
            for record in connector.read(stream):
                if isinstance(record, kind):
                    keys[resource].add(record.key)
                    if isinstance(record, Invoice):
                        keys["InvoicePayment"].update(payment.key for payment in record.payments)
    return keys


@dataclass
class Verdict:
    """What Halo and the state store hold after the final run."""

    duplicates: dict[str, int] = field(default_factory=dict)  # extra copies per resource
    missing: dict[str, int] = field(default_factory=dict)  # source records absent from Halo
    bad_links: list[str] = field(default_factory=list)  # links to no record / a record with another key
    links: int = 0
    halo_records: dict[str, int] = field(default_factory=dict)

    @property
    def duplicate_total(self) -> int:
        return sum(self.duplicates.values())

    @property
    def missing_total(self) -> int:
        return sum(self.missing.values())

    def ok(self) -> bool:
        return self.duplicate_total == 0 and self.missing_total == 0 and not self.bad_links


def census(sandbox: HaloSandbox) -> dict[str, Counter[str]]:
    """Per resource, how many Halo records carry each key (records without a key are not ours)."""
    result: dict[str, Counter[str]] = {}
    for resource, key_field in KEY_FIELD.items():
        result[resource] = Counter(
            str(record.get(key_field)) for record in sandbox.records(resource) if record.get(key_field)
        )
    return result


def verify(sandbox: HaloSandbox, state_file: Path, expected: dict[str, set[str]]) -> Verdict:
    """Exactly once in Halo, nothing missing, and every state-store link agrees with Halo."""
    verdict = Verdict()
    counted = census(sandbox)
    by_id: dict[str, dict[int, dict[str, Any]]] = {
        resource: {int(record["id"]): record for record in sandbox.records(resource)}
        for resource in KEY_FIELD
    }
    for resource, keys in counted.items():
        verdict.halo_records[resource] = len(by_id[resource])
        verdict.duplicates[resource] = sum(n - 1 for n in keys.values() if n > 1)
    for resource, keys in expected.items():
        verdict.missing[resource] = len(keys - set(counted[resource]))
    database = sqlite3.connect(f"file:{state_file}?mode=ro", uri=True)
    try:
        rows = database.execute("SELECT entity, source_key, halo_id FROM links").fetchall()
    finally:
        database.close()
    verdict.links = len(rows)
    for entity, source_key, halo_id in rows:
        resource = ENTITY_RESOURCE.get(entity)
        if resource is None:
            verdict.bad_links.append(f"{entity} {source_key}: unknown entity")
            continue
        record = by_id[resource].get(int(halo_id))
        if record is None:
            verdict.bad_links.append(f"{entity} {source_key} -> {resource} {halo_id}: no such Halo record")
        elif str(record.get(KEY_FIELD[resource]) or "") != source_key:
            verdict.bad_links.append(
                f"{entity} {source_key} -> {resource} {halo_id} carries {record.get(KEY_FIELD[resource])!r}"
            )
    return verdict


def sandbox_record_total(sandbox: HaloSandbox) -> int:
    """Records in the sandbox now, read over its own /sandbox/stats endpoint (cheap, no record copies)."""
    with urllib.request.urlopen(f"{sandbox.url}/sandbox/stats", timeout=10) as answer:
        stats = json.load(answer)
    return sum(int(n) for n in stats["records"].values())


def post_count(sandbox: HaloSandbox) -> int:
    return sum(
        n for (method, path), n in sandbox.counts().items() if method == "POST" and path.startswith("/api/")
    )


# --- the kill loop ------------------------------------------------------------------------------------------


@dataclass
class CrashFigures:
    kills: int = 0
    kills_by_mode: Counter[str] = field(default_factory=Counter)  # post / after_first_request / startup
    writes_landed_after_kill: int = 0  # kills after which Halo still committed a batch nobody confirmed
    kills_before_any_write: int = 0
    runs_finished_unkilled: int = 0
    final_exit: int | None = None
    final_output: str = ""
    posts: int = 0
    rerun_exit: int | None = None  # one more run after the verification: it must find nothing to send
    rerun_posts: int = -1
    # Full re-reads after it (cursors cleared): with the rows' digests the links kept, and with every digest
    # void (as after an upgrade), so every row is converted. Both must find nothing to send: what the first
    # settled without converting agrees with what converting finds.
    full_read_posts: int = -1
    converting_read_posts: int = -1
    seconds: float = 0.0
    verdict: Verdict = field(default_factory=Verdict)


def start_sync(setup: Setup) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, str(REPO / "main.py"), "sync", "--config", str(setup.config)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env=setup.env,
        cwd=REPO,
    )


def request_count(sandbox: HaloSandbox) -> int:
    return sum(sandbox.counts().values())


def kill_round(
    sandbox: HaloSandbox,
    setup: Setup,
    rng: random.Random,
    figures: CrashFigures,
    *,
    max_posts: int,
    max_delay: float,
) -> None:
    """One run, SIGKILLed at a random moment (or finishing by itself first).

    Three kinds of moment: after a random number of new POSTs (a batch in flight), a random time after the
    run's first request to Halo (sign-in, index reads, planning, link commits), or a random time after
    start-up (imports, lock, state-store open) before it has talked to Halo at all.
    """
    roll = rng.random()
    mode = "post" if roll < 0.55 else "after_first_request" if roll < 0.9 else "startup"
    threshold = rng.randint(1, max_posts)
    delay = rng.uniform(0.0, max_delay) if mode == "after_first_request" else rng.uniform(0.05, 0.8)
    posts_before, requests_before = post_count(sandbox), request_count(sandbox)
    process = start_sync(setup)
    started = time.monotonic()
    first_request_at: float | None = None
    killed = False
    while process.poll() is None:
        now = time.monotonic()
        sent = post_count(sandbox) - posts_before
        if first_request_at is None and request_count(sandbox) > requests_before:
            first_request_at = now
        due = (
            (mode == "post" and sent >= threshold)
            or (mode == "startup" and now - started >= delay)
            or (
                mode == "after_first_request"
                and first_request_at is not None
                and now - first_request_at >= delay
            )
        )
        if due:
            records_at_kill = sandbox_record_total(sandbox) if mode == "post" else 0
            os.kill(process.pid, signal.SIGKILL)
            process.wait()
            killed = True
            figures.kills += 1
            figures.kills_by_mode[mode] += 1
            if sent == 0:
                figures.kills_before_any_write += 1
            if mode == "post":
                time.sleep(sandbox.faults.latency * 5 + 0.2)  # let the in-flight batch land (or not)
                if sandbox_record_total(sandbox) > records_at_kill:
                    figures.writes_landed_after_kill += 1
            break
        time.sleep(0.001)
    if process.stderr is not None:
        process.stderr.read()
        process.stderr.close()
    if not killed:
        figures.runs_finished_unkilled += 1


def crash_test(
    folder: Path,
    *,
    customers: int,
    items: int,
    invoices: int,
    lines_per_inv: int = 2,
    kills: int = 20,
    batch_size: int = 20,
    latency: float = 0.02,
    max_posts: int = 6,
    max_delay: float = 1.0,
    seed: int = 1,
    report: Any = None,
) -> CrashFigures:
    """Build, kill ``kills`` times (at most 3x as many rounds), run once cleanly, verify; the figures."""
    say = report or (lambda text: None)
    rng = random.Random(seed)
    company = make_large(folder / "ACCDATA.sqlite", customers, items, invoices, lines_per_inv, seed=seed)
    expected = expected_keys(company)
    say(
        f"Company: {customers:,} customers, {items:,} items, {invoices:,} invoices "
        f"({len(expected['InvoicePayment']):,} payments); batch size {batch_size}, sandbox latency {latency}s"
    )
    sandbox = HaloSandbox(db_path=folder / "halo.sqlite3", seed=seed).start()
    try:
        sandbox.faults.latency = latency
        setup = configure(folder / "lb", company, sandbox, batch_size=batch_size)
        figures = CrashFigures()
        started = time.monotonic()
        rounds = 0
        while figures.kills < kills and rounds < kills * 3 and figures.runs_finished_unkilled < 3:
            rounds += 1
            kill_round(sandbox, setup, rng, figures, max_posts=max_posts, max_delay=max_delay)
            if rounds % 5 == 0:
                say(f"  round {rounds}: {figures.kills} kills, {post_count(sandbox)} POSTs so far")
        sandbox.faults.latency = 0.0
        final = run_main(setup.env, "sync", "--config", str(setup.config))
        figures.final_exit = final.returncode
        figures.final_output = (final.stdout + final.stderr)[-2000:]
        figures.seconds = time.monotonic() - started
        figures.posts = post_count(sandbox)
        figures.verdict = verify(sandbox, setup.state_file, expected)
        again = run_main(setup.env, "sync", "--config", str(setup.config))
        figures.rerun_exit = again.returncode
        figures.rerun_posts = post_count(sandbox) - figures.posts
        figures.full_read_posts = full_read_posts(setup, sandbox, void_digests=False)
        figures.converting_read_posts = full_read_posts(setup, sandbox, void_digests=True)
        return figures
    finally:
        sandbox.stop()


def full_read_posts(setup: Setup, sandbox: HaloSandbox, *, void_digests: bool) -> int:
    """POSTs of one run that reads every row (cursors cleared); ``void_digests``: as a changed mapping does,
    so every row is converted (sync/known_rows.py). -1 when the run did not exit 0."""
    with StateStore(setup.state_file) as state:
        for entity in ENTITY_ORDER:
            state.save_cursor(entity, None)
        if void_digests:
            state.set_mapping("tax", "CRASH-TEST-VOID", 1)
            state.set_mapping("tax", "CRASH-TEST-VOID", None)
    before = post_count(sandbox)
    run = run_main(setup.env, "sync", "--config", str(setup.config))
    return post_count(sandbox) - before if run.returncode == 0 else -1


def print_figures(figures: CrashFigures) -> None:
    verdict = figures.verdict
    print(f"kills                         {figures.kills}")
    print(f"  right after a POST arrived  {figures.kills_by_mode['post']}")
    print(f"  during the run (timed)      {figures.kills_by_mode['after_first_request']}")
    print(f"  during start-up             {figures.kills_by_mode['startup']}")
    print(f"  ...and Halo still wrote     {figures.writes_landed_after_kill}  (written, never confirmed)")
    print(f"  before any write            {figures.kills_before_any_write}")
    print(f"runs that finished unkilled   {figures.runs_finished_unkilled}")
    print(f"final clean run exit code     {figures.final_exit}")
    print(f"a further run: exit {figures.rerun_exit}, POSTs {figures.rerun_posts}")
    print(f"a full re-read: POSTs {figures.full_read_posts}")
    print(f"  ...converting every row:    POSTs {figures.converting_read_posts}")
    print(f"POST requests in all          {figures.posts:,}")
    print(f"Halo records                  {verdict.halo_records}")
    print(f"state-store links             {verdict.links:,}")
    print(f"duplicates found              {verdict.duplicate_total}  {verdict.duplicates}")
    print(f"missing                       {verdict.missing_total}  {verdict.missing}")
    print(f"links disagreeing with Halo   {len(verdict.bad_links)}  {verdict.bad_links[:5]}")
    print(f"time                          {figures.seconds:.1f} s")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--scale", type=float, default=1.0, help="fraction of the default company size")
    parser.add_argument("--kills", type=int, default=25, help="SIGKILLs before the clean run (default 25)")
    parser.add_argument("--batch-size", type=int, default=50)
    parser.add_argument("--latency", type=float, default=0.02, help="sandbox seconds per request")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    size = {k: max(1, round(v * args.scale)) if k != "lines_per_inv" else v for k, v in FULL.items()}
    with tempfile.TemporaryDirectory(prefix="lb-crash-") as temp:
        figures = crash_test(
            Path(temp),
            customers=size["customers"],
            items=size["items"],
            invoices=size["invoices"],
            lines_per_inv=size["lines_per_inv"],
            kills=args.kills,
            batch_size=args.batch_size,
            latency=args.latency,
            seed=args.seed,
            report=print,
        )
    print_figures(figures)
    if figures.final_exit != 0:
        print(figures.final_output)
    return 0 if figures.final_exit == 0 and figures.verdict.ok() and figures.rerun_posts == 0 else 1


if __name__ == "__main__":
    sys.exit(main())

"""Posting crash test: SIGKILL `main.py sync` posting Halo invoices into QuickBooks; prove exactly once.

Why: a doubled invoice in the ledger is a wrong VAT return. The posting run (sync/posting.py) claims that a
crash at ANY instant, then a new run, leaves every Halo document in the books exactly once, marked posted in
Halo, and never read back into Halo as a new invoice. Only a real process killed without warning (no finally
blocks, a half-written SQLite WAL, an INSERT on the wire) tests that.

How: the QuickBooks stand-in company with QODBC's write rules (tests/standins: FQSaveToCache, one SDK
transaction per document) written through real unixODBC + the SQLite3 driver by connectors/quickbooks_writer,
and a HaloSandbox in this process with a little latency. One clean `main.py sync` links the books' customers,
items and tax codes into Halo; then N invoices (one in eleven a credit note) are raised in Halo on those
clients, posting is turned on, and each round starts `main.py sync --config FILE` as a real subprocess and
SIGKILLs it at a random moment of one of three kinds:

- *books*: as soon as QuickBooks holds a random number (1..4) of new documents from this round (the file is
  polled every millisecond): the kill lands right after a books commit, before or while the state store
  records it ("in the books, not recorded": the hardest case for exactly once);
- *mark*: as soon as the sandbox received a random number (1..2) of new POST /api/Invoice (marking posted);
- *timed*: a random 0.05..1 s after spawning (start-up, the books -> Halo run, reading Halo's invoices).

Then one clean run must exit 0, and: every Halo document's marker is in QuickBooks exactly once (0 doubles,
0 missing), every one is marked posted in Halo with QuickBooks' number, no Halo invoice carries one of the
posted QuickBooks TxnIDs (nothing read back), every posting row is "marked", and a further run writes
nothing (no books insert, no Halo POST).

    python bench/posting_crash_test.py                 # 300 Halo invoices, 25 kills
    python bench/posting_crash_test.py --invoices 60 --kills 8
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
from collections import Counter
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

import tomli_w  # noqa: E402

from bench.crash_test import post_count, run_main, subprocess_env  # noqa: E402
from halo.sandbox.seed import SeedLine, halo_invoice  # noqa: E402
from halo.sandbox.server import HaloSandbox  # noqa: E402
from tests.standins import qodbc_writes  # noqa: E402
from tests.standins import quickbooks as standin  # noqa: E402

ITEM_KEY = "S1"  # a service item of the stand-in
TAX_KEY = "STC-G"  # GST 5 %
START = date(2026, 1, 1)


@dataclass
class Setup:
    folder: Path
    company: Path
    config: Path
    env: dict[str, str]
    settings: dict[str, Any]

    @property
    def state_file(self) -> Path:
        return self.folder / "home" / "data" / "state.sqlite3"

    def write_settings(self) -> None:
        self.config.write_text(tomli_w.dumps(self.settings), encoding="utf-8")


def configure(folder: Path, sandbox: HaloSandbox, extension: Path, *, batch_size: int) -> Setup:
    folder.mkdir(parents=True, exist_ok=True)
    company = folder / "company.sqlite"
    connection_string = qodbc_writes.writable_connection_string(
        standin.build_quickbooks_company(company), extension
    )
    settings: dict[str, Any] = {
        "halo": {
            "resource_server": sandbox.url,
            "client_id": sandbox.client_id,
            "batch_size": batch_size,
            "timeout_seconds": 30.0,
            "requests_per_5_minutes": 0,
        },
        "source": {"kind": "quickbooks", "connection_string": connection_string, "timezone": "UTC"},
        "posting": {"enabled": False, "start_date": START.isoformat()},
        "app": {"allow_plaintext_secrets": True},
    }
    setup = Setup(folder, company, folder / "settings.toml", subprocess_env(folder), settings)
    setup.write_settings()
    stored = run_main(
        setup.env,
        "--config",
        str(setup.config),
        "secret",
        "set",
        "halo.client_secret",
        stdin=sandbox.client_secret + "\n",
    )
    if stored.returncode != 0:
        raise RuntimeError(f"could not store the Halo secret: {stored.stderr.strip()}")
    return setup


def read_only(path: Path) -> sqlite3.Connection:
    return sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5)


def books_markers(company: Path) -> Counter[str]:
    """How many QuickBooks documents carry each HALO marker (invoices and credit memos).

    Opened read-write (it only reads): a process killed mid-write leaves a hot journal, which only a
    connection that may write can roll back, as the next opener of the company file does."""
    for _ in range(50):
        try:
            db = sqlite3.connect(company, timeout=5)
            try:
                rows = db.execute(
                    "SELECT CustomFieldOther FROM Invoice WHERE CustomFieldOther LIKE 'HALO-%' UNION ALL "
                    "SELECT CustomFieldOther FROM CreditMemo WHERE CustomFieldOther LIKE 'HALO-%'"
                ).fetchall()
            finally:
                db.close()
            return Counter(str(row[0]) for row in rows)
        except sqlite3.OperationalError:  # the writer holds the file for a moment
            time.sleep(0.002)
    raise RuntimeError(f"the company file {company} stayed locked")


def recorded(state_file: Path) -> set[str]:
    """References the state store records as written (or marked)."""
    if not state_file.exists():
        return set()
    try:
        db = read_only(state_file)
        try:
            rows = db.execute(
                "SELECT reference FROM postings WHERE state IN ('written', 'marked')"
            ).fetchall()
        finally:
            db.close()
    except sqlite3.OperationalError:
        return set()
    return {str(row[0]) for row in rows}


def seed_invoices(
    sandbox: HaloSandbox, setup: Setup, count: int, rng: random.Random, first: int = 0
) -> dict[int, str]:
    """``count`` more Halo-origin documents (numbered on from ``first``) on the clients the first sync
    linked; Halo id -> its marker."""
    db = read_only(setup.state_file)
    try:
        links = {
            (entity, key): int(halo_id)
            for entity, key, halo_id in db.execute(
                "SELECT entity, source_key, halo_id FROM links WHERE direction='to_halo'"
            )
        }
    finally:
        db.close()
    clients = sorted(halo_id for (entity, _), halo_id in links.items() if entity == "customers")
    item_id, tax_id = links[("items", ITEM_KEY)], links[("tax_rates", TAX_KEY)]
    seeded: dict[int, str] = {}
    for index in range(first, first + count):
        credit = index % 11 == 10
        lines = [
            SeedLine(
                f"Work {n + 1} of HC-{index + 1}",
                rng.choice((1, 2, 3)),
                rng.choice((40.0, 95.5)),
                5,
                tax_id=tax_id,
                item_id=item_id,
            )
            for n in range(rng.choice((1, 2, 3)))
        ]
        body = halo_invoice(
            clients[index % len(clients)],
            f"HC-{index + 1:05}",
            START.replace(day=1 + index % 28),
            lines,
            credit=credit,
        )
        halo_id = int(sandbox.seed("Invoice", body)["id"])
        seeded[halo_id] = f"HALO-C{halo_id}" if credit else f"HALO-{halo_id}"
    return seeded


def _posting_counts(output: str) -> dict[str, int]:
    """The posting row of a `sync --json` summary ({} when the run could not run)."""
    try:
        document = json.loads(output)
    except ValueError:
        return {}
    if document.get("status") == "failed":
        return {}
    return dict(document.get("counts", {}).get("posting", {}))


def mark_posts(sandbox: HaloSandbox) -> int:
    return sandbox.counts().get(("POST", "/api/Invoice"), 0)


@dataclass
class Figures:
    invoices: int = 0
    kills: int = 0
    kills_by_mode: Counter[str] = field(default_factory=Counter)
    in_books_not_recorded: int = (
        0  # kills after which QuickBooks held a document the state store did not record
    )
    runs_finished_unkilled: int = 0
    final_exit: int | None = None  # 1 is fine: the stand-in has deliberately broken rows of its own
    final_output: str = ""
    final_posting: dict[str, int] = field(default_factory=dict)
    rerun_posting: dict[str, int] = field(default_factory=dict)
    doubles: int = 0
    missing: int = 0
    not_marked_in_halo: int = 0
    wrong_number_in_halo: int = 0
    read_back_into_halo: int = 0
    postings_not_marked: int = 0
    rerun_exit: int | None = None
    rerun_books_inserts: int = -1
    rerun_posts: int = -1
    seconds: float = 0.0

    def ok(self) -> bool:
        return (
            self.final_exit in (0, 1)
            and bool(self.final_posting)
            and self.final_posting.get("failed", 1) == 0
            and self.rerun_posting.get("created", 1) == 0
            and self.rerun_posting.get("failed", 1) == 0
            and self.doubles == 0
            and self.missing == 0
            and self.not_marked_in_halo == 0
            and self.wrong_number_in_halo == 0
            and self.read_back_into_halo == 0
            and self.postings_not_marked == 0
            and self.rerun_books_inserts == 0
            and self.rerun_posts == 0
        )


class BooksWatch:
    """How many HALO documents QuickBooks holds, asked over one open read-only connection (tens of
    microseconds a look, so a kill can land between the books' commit and the state store's)."""

    def __init__(self, company: Path) -> None:
        self._db = read_only(company)

    def count(self) -> int:
        try:
            row = self._db.execute(
                "SELECT (SELECT COUNT(*) FROM Invoice WHERE CustomFieldOther LIKE 'HALO-%') + "
                "(SELECT COUNT(*) FROM CreditMemo WHERE CustomFieldOther LIKE 'HALO-%')"
            ).fetchone()
        except sqlite3.OperationalError:
            return -1  # the writer holds the file this instant
        return int(row[0])

    def close(self) -> None:
        self._db.close()


def kill_round(sandbox: HaloSandbox, setup: Setup, rng: random.Random, figures: Figures) -> None:
    roll = rng.random()
    mode = "books" if roll < 0.6 else "mark" if roll < 0.8 else "timed"
    threshold = rng.randint(1, 4) if mode == "books" else rng.randint(1, 2)
    delay = rng.uniform(0.05, 1.0)
    watch = BooksWatch(setup.company)
    books_before = watch.count()
    marks_before = mark_posts(sandbox)
    process = subprocess.Popen(
        [sys.executable, str(REPO / "main.py"), "sync", "--config", str(setup.config)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=setup.env,
        cwd=REPO,
    )
    started = time.monotonic()
    try:
        while process.poll() is None:
            if mode == "books":
                due = watch.count() - books_before >= threshold
            elif mode == "mark":
                due = mark_posts(sandbox) - marks_before >= threshold
                time.sleep(0.0005)
            else:
                due = time.monotonic() - started >= delay
                time.sleep(0.001)
            if due:
                os.kill(process.pid, signal.SIGKILL)
                process.wait()
                figures.kills += 1
                figures.kills_by_mode[mode] += 1
                if set(books_markers(setup.company)) - recorded(setup.state_file):
                    figures.in_books_not_recorded += 1
                return
        figures.runs_finished_unkilled += 1
    finally:
        watch.close()


def verify(sandbox: HaloSandbox, setup: Setup, seeded: dict[int, str], figures: Figures) -> None:
    markers = books_markers(setup.company)
    figures.doubles = sum(n - 1 for n in markers.values() if n > 1)
    figures.missing = len(set(seeded.values()) - set(markers))
    db = sqlite3.connect(setup.company, timeout=5)
    try:
        numbers = dict(
            db.execute(
                "SELECT CustomFieldOther, RefNumber FROM Invoice WHERE CustomFieldOther LIKE 'HALO-%' "
                "UNION ALL "
                "SELECT CustomFieldOther, RefNumber FROM CreditMemo WHERE CustomFieldOther LIKE 'HALO-%'"
            ).fetchall()
        )
        txn_ids = {
            str(row[0])
            for row in db.execute(
                "SELECT TxnID FROM Invoice WHERE CustomFieldOther LIKE 'HALO-%' UNION ALL "
                "SELECT TxnID FROM CreditMemo WHERE CustomFieldOther LIKE 'HALO-%'"
            )
        }
    finally:
        db.close()
    halo = {int(record["id"]): record for record in sandbox.records("Invoice")}
    for halo_id, marker in seeded.items():
        record = halo[halo_id]
        if not record.get("posted") or not record.get("dateposted"):
            figures.not_marked_in_halo += 1
        elif str(record.get("thirdpartyinvoicenumber") or "") != str(numbers.get(marker) or ""):
            figures.wrong_number_in_halo += 1
    figures.read_back_into_halo = sum(1 for r in halo.values() if str(r.get("accountsid") or "") in txn_ids)
    state = read_only(setup.state_file)
    try:
        figures.postings_not_marked = int(
            state.execute("SELECT COUNT(*) FROM postings WHERE state <> 'marked'").fetchone()[0]
        )
    finally:
        state.close()


def posting_crash_test(
    folder: Path,
    *,
    invoices: int,
    kills: int,
    batch_size: int = 10,
    latency: float = 0.005,
    seed: int = 1,
    ignore_filters: bool = False,
    report: Any = None,
) -> Figures:
    say = report or (lambda text: None)
    rng = random.Random(seed)
    extension = qodbc_writes.build_extension(folder / "qodbc")
    if extension is None:
        raise RuntimeError("the QuickBooks stand-in's write rules need gcc and the SQLite headers")
    sandbox = HaloSandbox(seed=seed).start()
    sandbox.faults.update({"ignore_invoice_filters": ignore_filters})  # the rule then rests on our checks
    try:
        setup = configure(folder / "lb", sandbox, extension, batch_size=batch_size)
        first = run_main(setup.env, "sync", "--config", str(setup.config))
        if first.returncode not in (0, 1):
            raise RuntimeError(
                f"the first books -> Halo sync failed: {first.stdout[-800:]} {first.stderr[-800:]}"
            )
        per_round = max(4, invoices // (kills + 5))
        setup.settings["posting"]["enabled"] = True
        setup.write_settings()
        seeded = seed_invoices(sandbox, setup, per_round, rng)  # more are raised in Halo round after round
        say(f"{invoices} Halo invoices to post into the QuickBooks stand-in; {kills} kills")
        figures = Figures()
        sandbox.faults.latency = latency
        started = time.monotonic()
        rounds = 0
        finished_when_all_seeded = 0
        while figures.kills < kills and rounds < kills * 3:
            rounds += 1
            if len(seeded) >= invoices and figures.runs_finished_unkilled > finished_when_all_seeded:
                break  # everything raised in Halo is posted: no work left to interrupt
            if len(seeded) < invoices:
                seeded.update(
                    seed_invoices(sandbox, setup, min(per_round, invoices - len(seeded)), rng, len(seeded))
                )
                finished_when_all_seeded = figures.runs_finished_unkilled
            kill_round(sandbox, setup, rng, figures)
            if rounds % 5 == 0:
                say(
                    f"  round {rounds}: {figures.kills} kills, {sum(books_markers(setup.company).values())} "
                    "documents in the books"
                )
        sandbox.faults.latency = 0.0
        final = run_main(setup.env, "sync", "--config", str(setup.config), "--json")
        figures.final_exit = final.returncode
        figures.final_output = (final.stdout + final.stderr)[-2000:]
        figures.final_posting = _posting_counts(final.stdout)
        figures.seconds = time.monotonic() - started
        figures.invoices = len(seeded)
        verify(sandbox, setup, seeded, figures)
        books_before, posts_before = sum(books_markers(setup.company).values()), post_count(sandbox)
        again = run_main(setup.env, "sync", "--config", str(setup.config), "--json")
        figures.rerun_exit = again.returncode
        figures.rerun_posting = _posting_counts(again.stdout)
        figures.rerun_books_inserts = sum(books_markers(setup.company).values()) - books_before
        figures.rerun_posts = post_count(sandbox) - posts_before
        return figures
    finally:
        sandbox.stop()


def print_figures(figures: Figures) -> None:
    print(f"Halo invoices to post         {figures.invoices}")
    print(f"kills                         {figures.kills}")
    print(f"  right after a books write   {figures.kills_by_mode['books']}")
    print(f"  while marking in Halo       {figures.kills_by_mode['mark']}")
    print(f"  timed (start-up, reading)   {figures.kills_by_mode['timed']}")
    print(f"  ...in the books, not yet recorded  {figures.in_books_not_recorded}")
    print(f"runs that finished unkilled   {figures.runs_finished_unkilled}")
    print(f"final clean run exit code     {figures.final_exit}  posting {figures.final_posting}")
    print(f"doubles in the books          {figures.doubles}")
    print(f"missing from the books        {figures.missing}")
    print(f"not marked posted in Halo     {figures.not_marked_in_halo}")
    print(f"wrong number in Halo          {figures.wrong_number_in_halo}")
    print(f"read back into Halo           {figures.read_back_into_halo}")
    print(f"postings not 'marked'         {figures.postings_not_marked}")
    print(
        f"a further run: exit {figures.rerun_exit}, books inserts {figures.rerun_books_inserts}, "
        f"Halo POSTs {figures.rerun_posts}"
    )
    print(f"time                          {figures.seconds:.1f} s")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--invoices", type=int, default=300)
    parser.add_argument("--kills", type=int, default=25)
    parser.add_argument("--batch-size", type=int, default=10)
    parser.add_argument("--latency", type=float, default=0.005)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--ignore-filters", action="store_true", help="a Halo that ignores GET /Invoice's filters"
    )
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="lb-posting-crash-") as tmp:
        figures = posting_crash_test(
            Path(tmp),
            invoices=args.invoices,
            kills=args.kills,
            batch_size=args.batch_size,
            latency=args.latency,
            seed=args.seed,
            ignore_filters=args.ignore_filters,
            report=print,
        )
    print_figures(figures)
    if not figures.ok():
        print("FAILED", figures.final_output, sep="\n")
        return 1
    print("OK: every Halo invoice is in the books exactly once and marked posted in Halo.")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Fault soak: a full sync against a Halo that fails the way real ones do, compared with a clean run.

Why: retries must make a sync finish through 5xx answers, 429 bursts at Halo's rate limit, slow answers,
dropped connections and a token that expires mid-run — without doubling a record, and without a request
storm (every extra request must be a retry the client reports, or within 20% of a clean run's requests).

How: one stand-in Sage 50 UK company; a clean sandbox gets one run (the expected Halo content and request
count); a second sandbox gets the faults: ``error_rate`` 10% (500/502/503), ``rate_limit`` 70 requests per
3 s (Halo's reported 700 per 5 minutes, scaled down), ``latency``, ``drop_rate`` and a short
``token_lifetime`` plus ``expire_tokens()`` called three times during the run. Runs repeat (up to
``--max-runs``) until Halo holds what the clean run produced; each extra run is counted and reported.

    python bench/fault_soak.py                    # 500 customers, 200 items, 500 invoices
    python bench/fault_soak.py --scale 0.2
"""

from __future__ import annotations

import argparse
import logging
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

import pyodbc  # noqa: E402

from bench.crash_test import LONDON, census  # noqa: E402
from connectors.sage50uk import Sage50UKConnector  # noqa: E402
from halo.client import HaloClient, RetryPolicy  # noqa: E402
from halo.sandbox.server import HaloSandbox  # noqa: E402
from sync.events import Event, RecordOutcome  # noqa: E402
from sync.halo_connection import halo_connection  # noqa: E402
from sync.paths import app_paths  # noqa: E402
from sync.runner import run_sync  # noqa: E402
from sync.secrets import HALO_CLIENT_SECRET, MemorySecretStore  # noqa: E402
from sync.settings import Settings  # noqa: E402
from tests.standins.sage50uk import make_large, odbc_connection_string  # noqa: E402

FULL = {"customers": 500, "items": 200, "invoices": 500, "lines_per_inv": 2}
DEFAULT_FAULTS: dict[str, Any] = {
    "error_rate": 0.10,
    "rate_limit": (70, 3.0),
    "latency": 0.01,
    "drop_rate": 0.03,
    "token_lifetime": 30,
}
TOKEN_EXPIRIES = 3


@dataclass
class RunFigures:
    status: str
    error: str
    requests: int
    retries: Counter[str]
    seconds: float
    by_endpoint: Counter[tuple[str, str]] = field(default_factory=Counter)
    reconciles: int = 0  # "did that create reach Halo?" look-ups after an ambiguous POST failure


class ReconcileCounter(logging.Handler):
    """Counts the engine's reconcile look-ups (its INFO line), so the soak can say where requests went."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.count = 0

    def emit(self, record: logging.LogRecord) -> None:
        if record.getMessage().startswith("Checking which of"):
            self.count += 1


@dataclass
class SoakFigures:
    clean_requests: int = 0
    clean_by_endpoint: Counter[tuple[str, str]] = field(default_factory=Counter)
    clean_seconds: float = 0.0
    runs: list[RunFigures] = field(default_factory=list)
    server_requests: int = 0  # what the faulty sandbox received (incl. those it dropped or refused)
    tokens_expired: int = 0
    duplicates: int = 0
    complete: bool = False

    @property
    def requests(self) -> int:
        return sum(run.requests for run in self.runs)

    @property
    def retries(self) -> int:
        return sum(sum(run.retries.values()) for run in self.runs)

    @property
    def reconciles(self) -> int:
        return sum(run.reconciles for run in self.runs)

    def extra_by_endpoint(self) -> dict[str, int]:
        """Requests beyond the clean run's, per endpoint: where the faults' cost went."""
        total: Counter[tuple[str, str]] = Counter()
        for run in self.runs:
            total.update(run.by_endpoint)
        return {
            f"{method} {path}": total[(method, path)] - self.clean_by_endpoint.get((method, path), 0)
            for method, path in sorted(set(total) | set(self.clean_by_endpoint))
            if total[(method, path)] != self.clean_by_endpoint.get((method, path), 0)
        }

    @property
    def allowed(self) -> float:
        """The brief's budget: within 20% of a clean run's requests, plus every retry the client reported."""
        return 1.2 * self.clean_requests + self.retries


def _settings(sandbox: HaloSandbox, company: Path, batch_size: int, page_size: int = 100) -> Settings:
    settings = Settings()
    settings.halo.page_size = page_size
    settings.halo.resource_server = sandbox.url
    settings.halo.client_id = sandbox.client_id
    settings.halo.batch_size = batch_size
    settings.halo.requests_per_5_minutes = 0  # no rate limit here: our own work is timed
    settings.source.kind = "sage50uk"
    settings.source.connection_string = odbc_connection_string(company)
    settings.source.timezone = "Europe/London"
    return settings


def one_run(
    sandbox: HaloSandbox,
    company: Path,
    home: Path,
    batch_size: int,
    retry: RetryPolicy | None,
    listener: Any = None,
    page_size: int = 100,
) -> RunFigures:
    """A real run_sync (real ODBC connector, real HaloClient) whose client's stats are kept."""
    settings = _settings(sandbox, company, batch_size, page_size)
    secrets = MemorySecretStore({HALO_CLIENT_SECRET: sandbox.client_secret})
    client = HaloClient(halo_connection(settings.halo), sandbox.client_secret, retry=retry)
    connection_string = odbc_connection_string(company)
    connector = Sage50UKConnector(lambda: pyodbc.connect(connection_string), local_zone=LONDON)
    reconciles = ReconcileCounter()
    engine_log = logging.getLogger("ledgerbridge.sync")
    engine_log.addHandler(reconciles)
    old_level = engine_log.level
    engine_log.setLevel(min(old_level or logging.INFO, logging.INFO))
    started = time.monotonic()
    try:
        summary = run_sync(
            settings,
            secrets,
            paths=app_paths(home).ensure(),
            connector=connector,
            client=client,
            listener=listener,
        )
    finally:
        connector.close()
        client.close()
        engine_log.removeHandler(reconciles)
        engine_log.setLevel(old_level)
    return RunFigures(
        summary.status,
        summary.error,
        client.stats.total(),
        Counter(client.stats.retries),
        time.monotonic() - started,
        Counter(client.stats.requests),
        reconciles.count,
    )


class TokenExpirer:
    """Listener that makes Halo forget every token after the 1st, 1/3 and 2/3 of the expected creates."""

    def __init__(self, sandbox: HaloSandbox, expected_creates: int) -> None:
        self.sandbox = sandbox
        self.marks = sorted({1, max(2, expected_creates // 3), max(3, 2 * expected_creates // 3)})
        self.created = 0
        self.expired = 0
        self._lock = threading.Lock()

    def __call__(self, event: Event) -> None:
        if isinstance(event, RecordOutcome) and event.outcome == "created":
            with self._lock:
                self.created += 1
                if self.expired < len(self.marks) and self.created >= self.marks[self.expired]:
                    self.sandbox.expire_tokens()
                    self.expired += 1


def fault_soak(
    folder: Path,
    *,
    customers: int,
    items: int,
    invoices: int,
    lines_per_inv: int = 2,
    batch_size: int = 50,
    faults: dict[str, Any] | None = None,
    retry: RetryPolicy | None = None,
    max_runs: int = 4,
    seed: int = 11,
    report: Any = None,
) -> SoakFigures:
    say = report or (lambda text: None)
    company = make_large(folder / "ACCDATA.sqlite", customers, items, invoices, lines_per_inv, seed=seed)
    figures = SoakFigures()
    with HaloSandbox(seed=seed) as clean:
        clean_run = one_run(clean, company, folder / "clean-home", batch_size, retry)
        if clean_run.status != "ok":
            raise RuntimeError(f"the clean run did not succeed: {clean_run.status} {clean_run.error}")
        figures.clean_requests, figures.clean_seconds = clean_run.requests, clean_run.seconds
        figures.clean_by_endpoint = clean_run.by_endpoint
        expected = census(clean)
    say(f"clean run: {figures.clean_requests} requests, {figures.clean_seconds:.1f} s")
    expected_creates = sum(sum(keys.values()) for name, keys in expected.items() if name != "Site")
    with HaloSandbox(seed=seed) as faulty:
        faulty.faults.update({"seed": seed, **(faults if faults is not None else DEFAULT_FAULTS)})
        expirer = TokenExpirer(faulty, expected_creates)
        for number in range(1, max_runs + 1):
            run = one_run(faulty, company, folder / "faulty-home", batch_size, retry, expirer)
            figures.runs.append(run)
            now = census(faulty)
            figures.duplicates = sum(n - 1 for keys in now.values() for n in keys.values() if n > 1)
            say(
                f"faulty run {number}: {run.status} {run.error[:120]!r} {run.requests} requests, "
                f"retries {dict(run.retries)}, {run.seconds:.1f} s, duplicates so far {figures.duplicates}"
            )
            if now == expected:
                figures.complete = True
                break
        figures.server_requests = sum(
            n for (_, path), n in faulty.counts().items() if path.startswith(("/api/", "/auth/"))
        )
        figures.tokens_expired = expirer.expired
    return figures


def print_figures(figures: SoakFigures) -> None:
    print(f"clean run requests            {figures.clean_requests:,} ({figures.clean_seconds:.1f} s)")
    print(f"runs needed under faults      {len(figures.runs)} ({', '.join(r.status for r in figures.runs)})")
    print(f"requests sent (client stats)  {figures.requests:,}")
    print(f"requests received (sandbox)   {figures.server_requests:,}")
    retries: Counter[str] = Counter()
    for run in figures.runs:
        retries.update(run.retries)
    print(f"retries the client reported   {figures.retries:,} {dict(retries)}")
    print(
        f"budget 1.2 x clean + retries  {figures.allowed:,.0f}  "
        f"-> within: {figures.requests <= figures.allowed}"
    )
    print(f"reconcile look-ups            {figures.reconciles} (did an ambiguous create land?)")
    print(f"extra requests per endpoint   {figures.extra_by_endpoint()}")
    print(f"tokens expired mid-run        {figures.tokens_expired}")
    print(f"time under faults             {sum(r.seconds for r in figures.runs):.1f} s")
    print(f"duplicates                    {figures.duplicates}")
    print(f"complete (== clean run)       {figures.complete}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--batch-size", type=int, default=50)
    parser.add_argument("--max-runs", type=int, default=4)
    args = parser.parse_args(argv)
    size = {k: max(1, round(v * args.scale)) if k != "lines_per_inv" else v for k, v in FULL.items()}
    print(f"faults: {DEFAULT_FAULTS} + expire_tokens() x{TOKEN_EXPIRIES} during the run; default RetryPolicy")
    with tempfile.TemporaryDirectory(prefix="lb-soak-") as temp:
        figures = fault_soak(
            Path(temp),
            customers=size["customers"],
            items=size["items"],
            invoices=size["invoices"],
            lines_per_inv=size["lines_per_inv"],
            batch_size=args.batch_size,
            max_runs=args.max_runs,
            report=print,
        )
    print_figures(figures)
    good = figures.complete and figures.duplicates == 0 and figures.requests <= figures.allowed
    return 0 if good else 1


if __name__ == "__main__":
    sys.exit(main())

"""Pacing benchmark: a first sync against a sandbox that enforces a (scaled) Halo rate limit.

The sandbox refuses with 429 + Retry-After past ``limit`` requests in any rolling ``window`` seconds (Halo's
reported 700 per 5 minutes, scaled down in time so the run is short); the client paces itself at ``budget``
per window (600 per 5 minutes, scaled the same way). Small batches make the sync request-bound, as a large
first sync into a real Halo is. The same sync runs twice, paced and unpaced, each into a fresh sandbox.
Targets: the paced run gets no 429, and its wall time is within 10% of requests / budget rate.

    python bench/pacing_bench.py                 # 700 vs 600 per 30 s window, ~900 requests
    python bench/pacing_bench.py --window 60     # slower, closer to the real proportions
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import pyodbc

from connectors.sage50uk import Sage50UKConnector
from halo.client import HaloClient, HaloConnection
from halo.sandbox.server import HaloSandbox
from sync.paths import app_paths
from sync.runner import run_sync
from sync.secrets import HALO_CLIENT_SECRET, MemorySecretStore
from sync.settings import Settings
from tests.standins.sage50uk import make_large, odbc_connection_string

LONDON = ZoneInfo("Europe/London")


def one_run(label: str, db: Path, home: Path, *, limit: int, budget: int, window: float, batch: int) -> dict:
    os.environ["LEDGERBRIDGE_HOME"] = str(home)
    paths = app_paths().ensure()
    with HaloSandbox() as sandbox:
        sandbox.faults.update({"rate_limit": [limit, window]})
        settings = Settings()
        settings.halo.resource_server = sandbox.url
        settings.halo.client_id = sandbox.client_id
        settings.halo.batch_size = batch
        settings.source.kind = "sage50uk"
        settings.source.connection_string = odbc_connection_string(db)
        secrets = MemorySecretStore({HALO_CLIENT_SECRET: sandbox.client_secret})
        conn = HaloConnection(
            resource_server=sandbox.url,
            client_id=sandbox.client_id,
            batch_size=batch,
            requests_per_window=budget,
            window_seconds=window,
        )
        client = HaloClient(conn, sandbox.client_secret)
        connection_string = odbc_connection_string(db)
        connector = Sage50UKConnector(lambda: pyodbc.connect(connection_string), local_zone=LONDON)
        started = time.perf_counter()
        summary = run_sync(settings, secrets, paths=paths, connector=connector, client=client)
        elapsed = time.perf_counter() - started
        connector.close()
        client.close()
    requests = client.stats.total()
    retried_429 = client.stats.retries.get("429", 0)
    print(f"\n== {label}: status {summary.status} {summary.error}")
    print(f"   requests {requests:,}   answered 429: {retried_429:,}   wall time {elapsed:6.1f} s")
    if budget > 0:
        expected = requests / (budget / window)
        print(
            f"   requests / budget rate = {expected:6.1f} s   wall / that = {elapsed / expected:5.2f}   "
            f"waited for the budget {client.stats.paced_seconds:6.1f} s   "
            f"slow-downs {client.budget.figures().slowdowns}"
        )
    return {"elapsed": elapsed, "requests": requests, "429": retried_429, "status": summary.status}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--window", type=float, default=30.0, help="seconds standing for Halo's 5 minutes")
    parser.add_argument("--limit", type=int, default=700, help="requests the sandbox admits per window")
    parser.add_argument(
        "--budget", type=int, default=600, help="requests the client allows itself per window"
    )
    parser.add_argument("--customers", type=int, default=600)
    parser.add_argument("--invoices", type=int, default=2400)
    parser.add_argument("--batch", type=int, default=5, help="records per POST (small: request-bound)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="lb-pacing-bench-") as temp:
        folder = Path(temp)
        db = folder / "company.sqlite"
        make_large(db, args.customers, max(10, args.customers // 10), args.invoices, 2)
        print(
            f"Sandbox limit {args.limit} per {args.window:g} s; client budget {args.budget} per "
            f"{args.window:g} s; {args.customers:,} customers, {args.invoices:,} invoices, "
            f"batches of {args.batch}"
        )
        common = {"limit": args.limit, "window": args.window, "batch": args.batch}
        paced = one_run("paced", db, folder / "paced", budget=args.budget, **common)
        unpaced = one_run("unpaced (reacts to 429 only)", db, folder / "unpaced", budget=0, **common)
    expected = paced["requests"] / (args.budget / args.window)
    print("\n== targets")
    print(f"   paced run answered 429: {paced['429']} (0)")
    print(f"   paced wall time / (requests / budget rate): {paced['elapsed'] / expected:.2f} (0.90 to 1.10)")
    print(f"   unpaced run answered 429: {unpaced['429']}, wall time {unpaced['elapsed']:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())

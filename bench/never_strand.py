"""A run that ends badly, then a good one: does the good one complete everything? Prints the counts.

Why: a 403 on POST /Site (permission missing, then fixed) and a double SIGTERM used to move the customers'
cursor past customers never read, so 27 of 39 (403) and 24 of 39 (SIGTERM) were stranded for good with
their invoices "waiting for customer". Each case here: the demo company into a fresh sandbox through
``main.py sync`` (the 403 from a refusing proxy on 127.0.0.1), the counts after the bad run, then after one
more run, against what the books hold.

    python bench/never_strand.py [--batch-size 5]
"""

from __future__ import annotations

import argparse
import json
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from halo.sandbox.server import HaloSandbox  # noqa: E402
from tests.proxy_halo import refusing_proxy  # noqa: E402
from tests.test_cli_never_strand import _configure, _expected  # noqa: E402
from tests.test_cli_setup import run_cli  # noqa: E402


def counts(sandbox: HaloSandbox) -> tuple[int, int]:
    return len(sandbox.records("Client")), len(sandbox.records("Invoice"))


def refused_then_fixed(folder: Path, batch_size: int) -> tuple[tuple[int, int], tuple[int, int], int]:
    with HaloSandbox() as sandbox, refusing_proxy(sandbox.url) as proxy:
        env = _configure(folder, sandbox, resource_server=proxy.url, halo={"batch_size": batch_size})
        proxy.refused.add(("POST", "/api/site"))
        run_cli(env, "sync")
        bad = counts(sandbox)
        proxy.refused.clear()
        again = run_cli(env, "sync", "--json")
        return bad, counts(sandbox), again.returncode


def double_sigterm(folder: Path, batch_size: int) -> tuple[tuple[int, int], tuple[int, int], int]:
    with HaloSandbox() as sandbox:
        env = _configure(folder, sandbox, halo={"batch_size": batch_size})
        sandbox.faults.latency = 0.15
        process = subprocess.Popen(
            [sys.executable, str(REPO / "main.py"), "sync"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
            cwd=REPO,
        )
        assert process.stdout is not None
        for line in process.stdout:
            if line.startswith("customers: reading"):
                break
        time.sleep(0.5)
        process.send_signal(signal.SIGTERM)
        for line in process.stdout:
            if "Stopping after the current batch" in line:
                break
        process.send_signal(signal.SIGTERM)
        process.communicate(timeout=60)
        bad = counts(sandbox)
        sandbox.faults.latency = 0.0
        again = run_cli(env, "sync", "--json")
        json.loads(again.stdout)
        return bad, counts(sandbox), again.returncode


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch-size", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as temp:
        folder = Path(temp)
        cases = {
            "403 on POST /Site, then fixed": refused_then_fixed(folder / "403", args.batch_size),
            "double SIGTERM mid-customers": double_sigterm(folder / "sigterm", args.batch_size),
        }
        customers, invoices = _expected(folder / "403")
    print(f"books: {len(customers)} customers, {len(invoices)} invoices to sync; batch {args.batch_size}")
    print(f"{'case':<32}  {'after the bad run':>18}  {'after one more run':>19}  exit")
    for name, (bad, good, code) in cases.items():
        print(f"{name:<32}  {bad[0]:>4} cl. {bad[1]:>4} inv.  {good[0]:>5} cl. {good[1]:>4} inv.  {code:>4}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

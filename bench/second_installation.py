"""Two PCs syncing the same books into one Halo at once: how often each side stops, and how many doubles.

Why: two installations (two PCs, or an old one left running) used to double everything (78 clients and 600
invoices for the demo company). Each trial starts two ``main.py sync`` processes with their own
LEDGERBRIDGE_HOME (settings, state store, lock: two PCs) on the same demo company and one sandbox, at the
same instant, with a little sandbox latency so they overlap; then counts every Halo record by its key. A
final run of each configuration must complete with no double. Also prints the guard's cost on a clean,
single-PC sync (requests with and without it).

    python bench/second_installation.py [--trials 10] [--latency 0.02] [--batch-size 5]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

import tomli_w  # noqa: E402

from halo.sandbox.server import HaloSandbox  # noqa: E402

KEYS = {
    "Tax": "third_party_id",
    "Client": "accountsid",
    "Item": "accountsid",
    "Invoice": "accountsid",
    "InvoicePayment": "thirdpartyid",
}


def configure(folder: Path, sandbox: HaloSandbox, company: Path, batch_size: int) -> dict[str, str]:
    """One PC: a LEDGERBRIDGE_HOME with settings for the demo company, and the secret in a file keyring."""
    import os

    settings = {
        "halo": {
            "resource_server": sandbox.url,
            "client_id": sandbox.client_id,
            "batch_size": batch_size,
            "requests_per_5_minutes": 0,  # a local sandbox with no rate limit (bench/pacing_bench.py paces)
        },
        "source": {"kind": "demo", "connection_string": str(company)},
        "app": {"allow_plaintext_secrets": True},
    }
    (folder / "home" / "config").mkdir(parents=True)
    (folder / "home" / "config" / "settings.toml").write_text(tomli_w.dumps(settings), encoding="utf-8")
    env = dict(os.environ)
    env.update(
        {
            "LEDGERBRIDGE_HOME": str(folder / "home"),
            "PYTHON_KEYRING_BACKEND": "keyrings.alt.file.PlaintextKeyring",
            "XDG_DATA_HOME": str(folder / "xdg"),
        }
    )
    subprocess.run(
        [sys.executable, str(REPO / "main.py"), "secret", "set", "halo.client_secret"],
        input=sandbox.client_secret + "\n",
        text=True,
        env=env,
        check=True,
        capture_output=True,
    )
    return env


def sync(env: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, str(REPO / "main.py"), "sync", "--json"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        cwd=REPO,
    )


def doubles(sandbox: HaloSandbox) -> int:
    total = 0
    for resource, key in KEYS.items():
        counts = Counter(str(r.get(key)) for r in sandbox.records(resource) if r.get(key))
        total += sum(n - 1 for n in counts.values() if n > 1)
    return total


def trial(folder: Path, company: Path, latency: float, batch_size: int) -> dict[str, object]:
    with HaloSandbox() as sandbox:
        first = configure(folder / "pc1", sandbox, company, batch_size)
        second = configure(folder / "pc2", sandbox, company, batch_size)
        sandbox.faults.latency = latency
        runs = [sync(first), sync(second)]
        documents = [json.loads(process.communicate(timeout=300)[0]) for process in runs]
        codes = [process.returncode for process in runs]
        after_race = doubles(sandbox)
        removed = sum("were removed again" in d["error"] for d in documents)
        sandbox.faults.latency = 0.0
        final_codes = []
        for env in (first, second):  # the other PC stopped: one after the other, each must complete
            final = sync(env)
            final.communicate(timeout=300)
            final_codes.append(final.returncode)
        return {
            "codes": codes,
            "stopped": sum(code == 2 for code in codes),
            "removed": removed,
            "doubles": after_race,
            "final": final_codes,
            "final_doubles": doubles(sandbox),
            "clients": len(sandbox.records("Client")),
            "invoices": len(sandbox.records("Invoice")),
        }


def guard_cost(folder: Path, company: Path, batch_size: int) -> tuple[int, int]:
    """Requests of one clean single-PC sync: as shipped (guard on), and with the guard left out."""
    results = []
    for label, guarded in (("on", True), ("off", False)):
        with HaloSandbox() as sandbox:
            env = configure(folder / f"cost-{label}", sandbox, company, batch_size)
            code = "import sys, runpy; sys.argv = ['main.py', 'sync']\n"
            if not guarded:
                code += "import sync.runner as r; r.SecondInstallationGuard = lambda client, state: None\n"
            code += f"runpy.run_path({str(REPO / 'main.py')!r}, run_name='__main__')\n"
            subprocess.run([sys.executable, "-c", code], env=env, cwd=REPO, check=True, capture_output=True)
            results.append(sum(n for (_, path), n in sandbox.counts().items() if path.startswith("/api")))
    return results[0], results[1]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=10)
    parser.add_argument("--latency", type=float, default=0.02)
    parser.add_argument("--batch-size", type=int, default=5)
    args = parser.parse_args()
    from resources.demo.build_demo_company import ensure_demo_company

    with tempfile.TemporaryDirectory() as temp:
        folder = Path(temp)
        company = ensure_demo_company(folder / "company.sqlite3")
        started = time.monotonic()
        rows = [trial(folder / f"t{n}", company, args.latency, args.batch_size) for n in range(args.trials)]
        seconds = time.monotonic() - started
        with_guard, without = guard_cost(folder, company, args.batch_size)
    print(
        f"{args.trials} trials, demo company (39 customers, 300 invoices), batch {args.batch_size}, latency "
        f"{args.latency * 1000:.0f} ms, {seconds:.1f} s"
    )
    print(
        f"{'trial':>5}  exit codes  stopped  removed own copies  doubles after race  final runs  doubles"
        "  clients  invoices"
    )
    for number, row in enumerate(rows, start=1):
        print(
            f"{number:>5}  {row['codes']!s:>10}  {row['stopped']:>7}  {row['removed']:>18}  "
            f"{row['doubles']:>18}  {row['final']!s:>10}  {row['final_doubles']:>7}  {row['clients']:>7}  "
            f"{row['invoices']:>8}"
        )
    print(
        f"both stopped: {sum(r['stopped'] == 2 for r in rows)}, one stopped: "
        f"{sum(r['stopped'] == 1 for r in rows)}, none: {sum(r['stopped'] == 0 for r in rows)}; "
        f"doubles after the race, in all: {sum(r['doubles'] for r in rows)}; after the final runs: "
        f"{sum(r['final_doubles'] for r in rows)}"
    )
    print(f"clean single-PC sync: {with_guard} requests with the guard, {without} without")
    return 0


if __name__ == "__main__":
    sys.exit(main())

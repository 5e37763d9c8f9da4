"""How fast the Halo sandbox takes and gives back records over real HTTP (it must not be the bottleneck).

Prints: POST throughput for clients and invoices (with lines), paging speed over everything, the same with
SQLite write-through, reopen time, and the process's resident memory.
Run: ``python bench/bench_sandbox.py [--records 100000] [--batch 100] [--page-size 100]``.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import psutil
import requests

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from halo.sandbox.server import HaloSandbox


def sign_in(sandbox: HaloSandbox) -> requests.Session:
    session = requests.Session()
    token = session.post(
        f"{sandbox.url}/auth/token",
        data={
            "grant_type": "client_credentials",
            "client_id": sandbox.client_id,
            "client_secret": sandbox.client_secret,
            "scope": "all",
        },
        timeout=30,
    ).json()["access_token"]
    session.headers["Authorization"] = f"Bearer {token}"
    return session


def post_all(session: requests.Session, url: str, records: list[dict], batch: int) -> float:
    started = time.perf_counter()
    for start in range(0, len(records), batch):
        answer = session.post(url, json=records[start : start + batch], timeout=60)
        answer.raise_for_status()
    return time.perf_counter() - started


def page_all(session: requests.Session, url: str, key: str, page_size: int) -> tuple[float, int]:
    started = time.perf_counter()
    seen, page_no = 0, 1
    while True:
        body = session.get(
            url, params={"pageinate": "true", "page_size": page_size, "page_no": page_no}, timeout=60
        ).json()
        seen += len(body[key])
        if seen >= body["record_count"] or not body[key]:
            break
        page_no += 1
    return time.perf_counter() - started, seen


def run(records: int, batch: int, page_size: int, db_path: Path | None) -> None:
    label = "SQLite write-through" if db_path else "in memory"
    clients = [
        {"name": f"Customer {n:06d} Ltd", "accountsid": f"C{n:06d}", "inactive": False}
        for n in range(records)
    ]
    with HaloSandbox(db_path=db_path).start() as sandbox, sign_in(sandbox) as session:
        took = post_all(session, f"{sandbox.url}/api/Client", clients, batch)
        print(
            f"[{label}] POST {records} clients in batches of {batch}: {took:.1f} s ({records / took:,.0f}/s)"
        )
        took, seen = page_all(session, f"{sandbox.url}/api/Client", "clients", page_size)
        print(f"[{label}] GET all {seen} clients, pages of {page_size}: {took:.1f} s ({seen / took:,.0f}/s)")
        invoice_count = records // 10
        invoices = [
            {
                "client_id": 1 + (n % records),
                "invoicenumber": f"INV{n:06d}",
                "accountsid": f"I{n:06d}",
                "invoice_date": "2026-01-31T00:00:00Z",
                "lines": [
                    {
                        "item_shortdescription": "Support",
                        "qty_order": 2,
                        "unit_price": 45.5,
                        "tax_amount": 18.2,
                    },
                    {
                        "item_shortdescription": "Licence",
                        "qty_order": 1,
                        "unit_price": 12.0,
                        "tax_amount": 2.4,
                    },
                ],
            }
            for n in range(invoice_count)
        ]
        took = post_all(session, f"{sandbox.url}/api/Invoice", invoices, batch)
        print(
            f"[{label}] POST {invoice_count} invoices (2 lines each): {took:.1f} s "
            f"({invoice_count / took:,.0f}/s)"
        )
        rss = psutil.Process().memory_info().rss / 2**20
        print(f"[{label}] resident memory of this process (client + sandbox): {rss:,.0f} MiB")
    if db_path:
        started = time.perf_counter()
        with HaloSandbox(db_path=db_path) as reopened:
            total = sum(len(reopened.records(name)) for name in ("Client", "Site", "Invoice"))
        print(f"[{label}] reopen and read back {total} records: {time.perf_counter() - started:.1f} s")
        print(f"[{label}] data file size: {db_path.stat().st_size / 2**20:,.1f} MiB")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--batch", type=int, default=100)
    parser.add_argument("--page-size", type=int, default=100)
    args = parser.parse_args()
    run(args.records, args.batch, args.page_size, None)
    with tempfile.TemporaryDirectory() as folder:
        run(args.records, args.batch, args.page_size, Path(folder) / "bench.sqlite3")
    return 0


if __name__ == "__main__":
    sys.exit(main())

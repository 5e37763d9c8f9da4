"""`ledgerbridge sync` as a subprocess: however a run ends, the next sync completes everything, once.

Every case gets its own data folder and a real sandbox (behind a refusing proxy on 127.0.0.1 for the 403).
The demo company's customers are read in key order while their modified dates are not in that order, so a
cursor saved past the records a stopped run confirmed strands the ones it never read.
"""

from __future__ import annotations

import json
import signal
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

from core.records import Customer, Invoice, utc
from sync.runner import build_connector
from sync.secrets import KeyringSecretStore
from sync.settings import Settings
from sync.state import StateStore
from tests.proxy_halo import refusing_proxy
from tests.test_cli_setup import REPO, cli_env, run_cli, write_settings


def _configure(tmp_path: Path, sandbox, *, resource_server: str = "", **extra: dict) -> dict[str, str]:
    from resources.demo.build_demo_company import ensure_demo_company

    company = ensure_demo_company(tmp_path / "company.sqlite3")
    data = {
        "halo": {
            "resource_server": resource_server or sandbox.url,
            "client_id": sandbox.client_id,
            "requests_per_5_minutes": 0,  # not about pacing (tests/test_halo_pacing.py is)
        },
        "source": {"kind": "demo", "connection_string": str(company)},
        "app": {"allow_plaintext_secrets": True},
    }
    for section, values in extra.items():
        data.setdefault(section, {}).update(values)
    write_settings(tmp_path, data)
    env = cli_env(tmp_path)
    stored = run_cli(env, "secret", "set", "halo.client_secret", stdin=sandbox.client_secret + "\n")
    assert stored.returncode == 0, stored.stderr
    return env


def _company(tmp_path: Path) -> Path:
    return tmp_path / "company.sqlite3"


def _expected(tmp_path: Path) -> tuple[set[str], set[str]]:
    """The customers and invoices a complete sync puts in Halo, read from the books by the real connector."""
    settings = Settings()
    settings.source.kind = "demo"
    settings.source.connection_string = str(_company(tmp_path))
    with build_connector(settings, KeyringSecretStore(allow_plaintext=True)) as connector:
        customers = [r for r in connector.read("customers") if isinstance(r, Customer)]
        invoices = [r for r in connector.read("invoices") if isinstance(r, Invoice)]
    active = {c.key for c in customers if c.active and not c.deleted}
    return active, {i.key for i in invoices if not i.deleted and i.customer_key in active}


def _assert_complete_and_once(tmp_path: Path, sandbox) -> None:
    customers, invoices = _expected(tmp_path)
    clients = Counter(c.get("accountsid") for c in sandbox.records("Client"))
    halo_invoices = Counter(i.get("accountsid") for i in sandbox.records("Invoice"))
    assert set(clients) == customers and max(clients.values()) == 1
    assert set(halo_invoices) == invoices and max(halo_invoices.values()) == 1
    sites = {s.get("accountsid") for s in sandbox.records("Site") if s.get("accountsid")}
    assert sites == customers  # every main site got its address


def _state(tmp_path: Path) -> StateStore:
    return StateStore(tmp_path / "home" / "data" / "state.sqlite3")


def test_a_403_on_sites_then_fixed_then_a_sync_completes_everything(tmp_path, halo_sandbox):
    with refusing_proxy(halo_sandbox.url) as proxy:
        env = _configure(tmp_path, halo_sandbox, resource_server=proxy.url, halo={"batch_size": 5})
        proxy.refused.add(("POST", "/api/site"))
        refused = run_cli(env, "sync", "--json")
        assert refused.returncode == 2, refused.stdout + refused.stderr
        document = json.loads(refused.stdout)
        assert "refused permission" in document["error"]
        assert proxy.refusals >= 1
        landed = len(halo_sandbox.records("Client"))
        assert 0 < landed < len(_expected(tmp_path)[0])  # stopped part-way through the customers
        with _state(tmp_path) as state:
            assert state.cursor("customers") is None  # the unfinished stream kept its (empty) cursor

        proxy.refused.clear()  # the permission is fixed in Halo
        fixed = run_cli(env, "sync", "--json")
    assert fixed.returncode == 0, fixed.stdout + fixed.stderr
    document = json.loads(fixed.stdout)
    assert document["status"] == "ok"
    assert sum(counts.get("failed", 0) for counts in document["counts"].values()) == 0
    _assert_complete_and_once(tmp_path, halo_sandbox)


def test_a_double_sigterm_mid_customers_then_a_sync_completes_everything(tmp_path, halo_sandbox):
    env = _configure(tmp_path, halo_sandbox, halo={"batch_size": 4})
    halo_sandbox.faults.latency = 0.15  # every request in flight long enough for the signals to land in one
    process = subprocess.Popen(
        [sys.executable, str(REPO / "main.py"), "sync"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        cwd=REPO,
    )
    try:
        assert process.stdout is not None
        for line in process.stdout:
            if line.startswith("customers: reading"):
                break
        time.sleep(0.5)  # a batch or two of customers has landed
        process.send_signal(signal.SIGTERM)
        for line in process.stdout:
            if "Stopping after the current batch" in line:
                break
        process.send_signal(signal.SIGTERM)  # the second one stops at once, mid-request
        _, errors = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode in (2, -signal.SIGTERM), errors
    landed = len(halo_sandbox.records("Client"))
    assert landed < len(_expected(tmp_path)[0])

    halo_sandbox.faults.latency = 0.0
    again = run_cli(env, "sync", "--json")
    assert again.returncode == 0, again.stdout + again.stderr
    assert json.loads(again.stdout)["status"] == "ok"
    _assert_complete_and_once(tmp_path, halo_sandbox)


def _set_modified(tmp_path: Path, account: str, stamp: str, **changes: str) -> None:
    assignments = {**changes, "RECORD_MODIFY_DATE": stamp}
    columns = ", ".join(f'"{name}" = ?' for name in assignments)
    with sqlite3.connect(_company(tmp_path)) as connection:
        done = connection.execute(
            f'UPDATE "SALES_LEDGER" SET {columns} WHERE "ACCOUNT_REF" = ?', (*assignments.values(), account)
        )
        assert done.rowcount == 1


def _client(sandbox, key: str) -> dict:
    return next(c for c in sandbox.records("Client") if c.get("accountsid") == key)


def test_a_future_dated_row_does_not_stop_later_edits(tmp_path, halo_sandbox):
    env = _configure(tmp_path, halo_sandbox, sync={"entities": ["tax_rates", "customers"]})
    _set_modified(tmp_path, "ACHTER01", "2031-01-01 09:00:00.000")
    first = run_cli(env, "sync")
    assert first.returncode == 0, first.stdout + first.stderr
    assert "carry a modified date in the future" in first.stdout and "ACHTER01" in first.stdout
    with _state(tmp_path) as state:
        cursor = state.cursor("customers")
        problem = next(p for p in state.problems("customers") if p.key == "ACHTER01")
    assert cursor is not None and cursor < datetime.now(UTC)  # never in the future
    assert "in the future" in problem.message

    edited = (datetime.now() - timedelta(minutes=1)).strftime("%Y-%m-%d %H:%M:%S.000")  # naive, this PC
    _set_modified(tmp_path, "ACMEWI01", edited, NAME="Acme Widgets (renamed)")
    second = run_cli(env, "sync", "--json")
    assert second.returncode == 0, second.stdout + second.stderr
    assert _client(halo_sandbox, "ACMEWI01")["name"] == "Acme Widgets (renamed)"
    assert json.loads(second.stdout)["counts"]["customers"]["updated"] == 1


def test_an_edit_in_the_repeated_dst_hour_is_read(tmp_path, halo_sandbox):
    env = _configure(
        tmp_path,
        halo_sandbox,
        source={"timezone": "Europe/London"},
        sync={"entities": ["tax_rates", "customers"]},
    )
    with sqlite3.connect(_company(tmp_path)) as connection:
        connection.execute("UPDATE SALES_LEDGER SET RECORD_MODIFY_DATE = '2026-10-24 12:00:00.000'")
    # 01:45 on 25 Oct 2026 in London, first pass (BST, 00:45 UTC): the newest change the first sync sees.
    _set_modified(tmp_path, "ACHTER01", "2026-10-25 01:45:00.000")
    first = run_cli(env, "sync")
    assert first.returncode == 0, first.stdout + first.stderr
    with _state(tmp_path) as state:
        assert state.cursor("customers") == datetime(2026, 10, 25, 0, 45, tzinfo=UTC)

    # Clocks went back at 02:00 BST; an edit at 01:10 GMT (01:10 UTC, 25 minutes later) carries the wall
    # time 01:10, below the cursor's 01:45: a 10-minute look-back alone would never read it again.
    _set_modified(tmp_path, "ACMEWI01", "2026-10-25 01:10:00.000", NAME="Edited after the clocks went back")
    second = run_cli(env, "sync", "--json")
    assert second.returncode == 0, second.stdout + second.stderr
    assert _client(halo_sandbox, "ACMEWI01")["name"] == "Edited after the clocks went back"
    with _state(tmp_path) as state:
        assert utc(state.cursor("customers")) == datetime(2026, 10, 25, 0, 45, tzinfo=UTC)


def test_a_dry_run_on_a_fresh_state_store_against_a_populated_halo_says_what_it_would_link(
    tmp_path, halo_sandbox
):
    env = _configure(tmp_path, halo_sandbox)
    assert run_cli(env, "sync").returncode == 0
    state = tmp_path / "home" / "data" / "state.sqlite3"
    for file in state.parent.glob("state.sqlite3*"):
        file.unlink()  # a new PC, or the store renamed after damage: Halo already holds everything

    listed = run_cli(env, "sync", "--dry-run")
    assert listed.returncode == 0, listed.stdout + listed.stderr
    assert "FAILED" not in listed.stdout and "waiting for customer" not in listed.stdout.lower()
    linked = [line for line in listed.stdout.splitlines() if "linked to the existing Halo record" in line]
    customers, invoices = _expected(tmp_path)
    assert len([line for line in linked if line.startswith("customers ")]) == len(customers)
    assert len([line for line in linked if line.startswith("invoices ")]) == len(invoices)
    dry = json.loads(run_cli(env, "sync", "--dry-run", "--json").stdout)
    assert dry["status"] == "ok" and sum(c["failed"] for c in dry["counts"].values()) == 0

"""`ledgerbridge sync` end to end as a subprocess: the demo company (Sage 50 UK connector) -> real sandbox."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import tomllib

import pytest

from sync.lock import SyncLock
from sync.paths import app_paths
from tests.test_cli_setup import REPO, cli_env, run_cli, write_settings

EXPECTED_KEYS = {"status", "dry_run", "run_id", "started", "finished", "error", "counts"}


@pytest.fixture
def configured(tmp_path, halo_sandbox):
    """A settings file for the demo company + sandbox, and the sandbox secret stored via `secret set`."""
    from resources.demo.build_demo_company import ensure_demo_company

    company = ensure_demo_company(tmp_path / "company.sqlite3")
    write_settings(
        tmp_path,
        {
            "halo": {"resource_server": halo_sandbox.url, "client_id": halo_sandbox.client_id},
            "source": {"kind": "demo", "connection_string": str(company)},
            "app": {"allow_plaintext_secrets": True},
        },
    )
    env = cli_env(tmp_path)
    stored = run_cli(env, "secret", "set", "halo.client_secret", stdin=halo_sandbox.client_secret + "\n")
    assert stored.returncode == 0, stored.stderr
    return env


def _posts(sandbox) -> int:
    return sum(
        n for (method, path), n in sandbox.counts().items() if method == "POST" and path.startswith("/api")
    )


def test_dry_run_writes_nothing_then_a_real_run_lands_once(configured, halo_sandbox):
    listed = run_cli(configured, "sync", "--dry-run", "--entities", "tax_rates", "customers")
    assert listed.returncode == 0, listed.stdout + listed.stderr
    would = [line for line in listed.stdout.splitlines() if line.startswith("customers ") and "would" in line]
    assert len(would) > 0 and "tax_rates T1: would create" in listed.stdout

    dry = run_cli(configured, "sync", "--dry-run", "--json")
    assert dry.returncode == 0, dry.stdout + dry.stderr
    document = json.loads(dry.stdout)  # ONLY one JSON document on stdout
    assert set(document) == EXPECTED_KEYS
    assert document["dry_run"] is True and document["status"] == "ok"
    assert _posts(halo_sandbox) == 0 and halo_sandbox.records("Client") == []
    would_create = document["counts"]["customers"]["created"]
    assert would_create > 0

    real = run_cli(configured, "sync", "--json")
    assert real.returncode == 0, real.stdout + real.stderr
    document = json.loads(real.stdout)
    assert set(document) == EXPECTED_KEYS
    assert document["status"] == "ok" and document["dry_run"] is False and document["error"] == ""
    assert isinstance(document["run_id"], int) and document["started"] <= document["finished"]
    assert document["counts"]["customers"]["created"] == would_create == len(halo_sandbox.records("Client"))
    assert set(document["counts"]) >= {"tax_rates", "customers", "items", "invoices"}
    assert halo_sandbox.client_secret not in real.stdout + real.stderr

    posts = _posts(halo_sandbox)
    again = run_cli(configured, "sync")
    assert again.returncode == 0, again.stdout + again.stderr
    assert _posts(halo_sandbox) == posts
    lines = again.stdout.splitlines()
    header = next(line for line in lines if line.startswith("Entity"))
    assert header.split() == ["Entity", "Created", "Updated", "Unchanged", "Deactivated", "Failed", "Skipped"]
    table = lines[lines.index(header) :]
    customers = next(line for line in table if line.startswith("customers ")).split()
    assert customers[1:3] == ["0", "0"] and customers[5] == "0"  # incremental: few or none re-read
    assert any(line.startswith("Sync ") and "finished" in line for line in lines)


def test_failed_records_exit_1_and_are_printed_with_what_to_do(configured, halo_sandbox):
    result = run_cli(configured, "sync", "--entities", "invoices")  # their customers were never synced
    assert result.returncode == 1, result.stdout + result.stderr
    failures = [line for line in result.stdout.splitlines() if line.startswith("FAILED invoices ")]
    assert failures and all("What to do:" in line for line in failures)
    assert halo_sandbox.records("Invoice") == []


def test_a_rejected_secret_exits_2_without_showing_any_secret(configured, halo_sandbox):
    wrong = "wrong-secret-value-123"
    stored = run_cli(configured, "secret", "set", "halo.client_secret", stdin=wrong + "\n")
    assert stored.returncode == 0
    result = run_cli(configured, "sync", "--json")
    assert result.returncode == 2
    document = json.loads(result.stdout)
    assert document["status"] == "failed" and "rejected" in document["error"]
    assert wrong not in result.stdout + result.stderr
    assert halo_sandbox.client_secret not in result.stdout + result.stderr


def test_sync_demo_runs_prints_the_sandbox_and_keeps_its_data(tmp_path):
    env = cli_env(tmp_path)
    first = run_cli(env, "sync", "--demo")
    assert first.returncode == 0, first.stdout + first.stderr
    assert "In the demo Halo sandbox now:" in first.stdout
    client_line = next(line for line in first.stdout.splitlines() if line.strip().startswith("Client "))
    assert int(client_line.split()[1]) > 0
    assert (tmp_path / "home" / "data" / "demo" / "halo-sandbox.sqlite3").exists()

    second = run_cli(env, "sync", "--demo", "--json")
    assert second.returncode == 0, second.stdout + second.stderr
    document = json.loads(second.stdout)
    assert document["status"] == "ok" and document["sandbox"]["Client"] == int(client_line.split()[1])
    assert sum(c["created"] for c in document["counts"].values()) == 0


def test_ctrl_c_stops_after_a_batch_keeps_what_landed_and_the_rerun_completes(
    tmp_path, configured, halo_sandbox
):
    settings_file = tmp_path / "home" / "config" / "settings.toml"
    data = tomllib.loads(settings_file.read_text(encoding="utf-8"))
    data["halo"]["batch_size"] = 4  # several batches per entity, so the stop lands between two of them
    write_settings(tmp_path, data)
    halo_sandbox.faults.latency = 0.15
    process = subprocess.Popen(
        [sys.executable, str(REPO / "main.py"), "sync"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=configured,
        cwd=REPO,
    )
    try:
        seen = []
        for line in process.stdout:
            seen.append(line)
            if line.startswith("customers: reading"):
                process.send_signal(signal.SIGINT)
                break
        rest, errors = process.communicate(timeout=120)
    finally:
        if process.poll() is None:
            process.kill()
    output = "".join(seen) + rest
    assert process.returncode == 2, output + errors
    assert "Stopping after the current batch" in output
    assert "was cancelled" in output
    landed = len(halo_sandbox.records("Client"))
    assert landed < 39  # stopped part-way: not every customer was sent

    halo_sandbox.faults.latency = 0.0
    again = run_cli(configured, "sync", "--json")
    assert again.returncode == 0, again.stdout + again.stderr
    document = json.loads(again.stdout)
    clients = halo_sandbox.records("Client")
    assert document["counts"]["customers"]["created"] == len(clients) - landed
    assert len({c["accountsid"] for c in clients}) == len(clients)  # never twice


def test_a_second_sync_while_one_runs_exits_2_and_says_so(configured, tmp_path):
    lock = SyncLock(app_paths(tmp_path / "home").ensure().lock_file)
    assert lock.acquire(0)
    try:
        result = run_cli(configured, "sync", "--json")
    finally:
        lock.release()
    assert result.returncode == 2
    assert "Another sync is running" in json.loads(result.stdout)["error"]


def test_the_log_of_a_sync_holds_no_secret(configured, tmp_path, halo_sandbox):
    result = run_cli(configured, "sync", "--entities", "tax_rates")
    assert result.returncode == 0, result.stdout + result.stderr
    logs = list((tmp_path / "home" / "logs").glob("ledgerbridge.log*"))
    assert logs
    text = "".join(path.read_text(encoding="utf-8") for path in logs)
    assert "Headless sync started" in text
    assert halo_sandbox.client_secret not in text

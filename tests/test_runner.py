"""run_sync from settings: the lock, the runs table, and expected failures as summaries with advice."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import threading

from sync.events import RunFinished, RunStarted
from sync.lock import SyncLock
from sync.runner import check_halo, check_source, open_state, run_sync
from sync.secrets import HALO_CLIENT_SECRET


def _run_from_settings(company, **options):
    """Through the real builders: connectors.registry + HaloClient from settings and the keyring."""
    events = []
    summary = run_sync(
        company.settings, company.secrets, paths=company.paths, listener=events.append, **options
    )
    return summary, events


def test_run_from_settings_builds_connector_and_client_and_records_the_run(sage_company):
    summary, events = _run_from_settings(sage_company)
    assert summary.status == "partial" and summary.error == ""  # partial: the stand-in's unreadable rows
    assert isinstance(events[0], RunStarted) and isinstance(events[-1], RunFinished)
    assert events[0].run_id == summary.run_id > 0
    assert len(sage_company.sandbox.records("Client")) == 8
    with open_state(sage_company.paths) as state:
        run = state.runs()[0]
    assert run.id == summary.run_id and run.status == "partial" and run.finished is not None
    assert run.counts["customers"]["created"] == 8 and run.entities == (
        "tax_rates",
        "customers",
        "items",
        "invoices",
    )


def test_entities_limit_the_run(sage_company):
    summary, _ = _run_from_settings(sage_company, entities=["tax_rates", "items"])
    assert set(summary.counts) == {"tax_rates", "items"}
    assert not sage_company.sandbox.records("Client")


def test_missing_secret_fails_with_what_to_do(sage_company):
    sage_company.secrets.delete(HALO_CLIENT_SECRET)
    summary, events = _run_from_settings(sage_company)
    assert summary.status == "failed" and summary.exit_code == 2 and summary.error_kind == "config"
    assert "client secret is not stored" in summary.error and "Settings > Halo" in summary.error
    assert isinstance(events[-1], RunFinished)
    with open_state(sage_company.paths) as state:
        assert state.runs()[0].status == "failed"


def test_rejected_secret_fails_without_leaking_it(sage_company):
    wrong = "wrong-secret-value-123456"
    sage_company.secrets.set(HALO_CLIENT_SECRET, wrong)
    summary, _ = _run_from_settings(sage_company)
    assert summary.status == "failed" and summary.error_kind == "auth"
    assert "rejected" in summary.error and wrong not in summary.error


def test_unreachable_halo_fails_clearly(sage_company):
    sage_company.settings.halo.resource_server = "http://127.0.0.1:9"  # nothing listens on the discard port
    sage_company.settings.halo.timeout_seconds = 3.0
    summary, _ = _run_from_settings(sage_company)
    assert summary.status == "failed" and "127.0.0.1" in summary.error
    assert summary.error_kind in ("config", "transient")


def test_wrong_company_path_fails_clearly(sage_company, tmp_path):
    sage_company.settings.source.connection_string = (
        f"Driver=SQLite3;Database={tmp_path / 'nope.sqlite'};NoCreat=1"
    )
    summary, _ = _run_from_settings(sage_company)
    assert summary.status == "failed" and summary.error
    assert not sage_company.posts()


def test_invalid_settings_fail_before_anything_is_read(sage_company):
    sage_company.settings.halo.client_id = ""
    summary, _ = _run_from_settings(sage_company)
    assert summary.status == "failed" and "client ID is not set" in summary.error


def test_another_run_holding_the_lock_is_declined_then_waited_for(sage_company):
    holder = SyncLock(sage_company.paths.lock_file)
    assert holder.acquire()
    try:
        summary, events = _run_from_settings(sage_company)
        assert summary.status == "failed" and summary.error.startswith("Another sync is running")
        assert summary.error_kind == "busy"
        assert f"pid {os.getpid()}" in summary.error
        assert [type(e) for e in events] == [RunStarted, RunFinished]
        assert not sage_company.posts()
        threading.Timer(0.5, holder.release).start()
        waited, _ = _run_from_settings(sage_company, wait_for_lock=20)
        assert waited.status == "partial"
    finally:
        holder.release()


def test_lock_held_by_another_process_is_respected(sage_company):
    root, path = os.getcwd(), str(sage_company.paths.lock_file)
    script = (
        f"import sys; sys.path.insert(0, {root!r}); from sync.lock import SyncLock; "
        f"lock = SyncLock({path!r}); assert lock.acquire(5); print('held', flush=True); sys.stdin.readline()"
    )
    child = subprocess.Popen(
        [sys.executable, "-c", script], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    try:
        assert child.stdout.readline().strip() == "held"
        summary, _ = _run_from_settings(sage_company)
        assert summary.status == "failed" and f"pid {child.pid}" in summary.error
    finally:
        child.stdin.close()
        child.wait(10)
        child.stdout.close()
    summary, _ = _run_from_settings(sage_company)
    assert summary.status == "partial"


def test_check_halo_and_source(sage_company):
    ok = check_halo(sage_company.settings, sage_company.secrets)
    assert ok.ok and sage_company.sandbox.url in ok.message
    source = check_source(sage_company.settings, sage_company.secrets)
    assert source.ok, source.message
    sage_company.secrets.set(HALO_CLIENT_SECRET, "nope")
    bad = check_halo(sage_company.settings, sage_company.secrets)
    assert not bad.ok and bad.action and "nope" not in bad.message + bad.action


def test_an_unexpected_bug_ends_the_run_cleanly(sage_company, monkeypatch):
    from sync.engine import SyncEngine

    def broken(self, entities):
        raise ZeroDivisionError("simulated bug")

    monkeypatch.setattr(SyncEngine, "run", broken)
    summary, events = _run_from_settings(sage_company)
    assert summary.status == "failed" and "unexpected error (ZeroDivisionError)" in summary.error
    assert summary.error_kind == "bug"
    assert isinstance(events[-1], RunFinished)
    lock = SyncLock(sage_company.paths.lock_file)
    assert lock.acquire()  # the run released it
    lock.release()


def test_each_run_leaves_a_readable_line_in_the_log(sage_company, caplog):
    caplog.set_level(logging.INFO, logger="ledgerbridge")
    summary, _ = _run_from_settings(sage_company)
    lines = [r.getMessage() for r in caplog.records if r.name == "ledgerbridge.sync"]
    assert any(line.startswith(f"Sync {summary.run_id} {summary.status} in ") for line in lines), lines
    assert any("customers" in line and "created" in line for line in lines)

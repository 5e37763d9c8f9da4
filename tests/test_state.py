"""The state store: links, cursors, mappings, runs, problems, migration and reopening a real file."""

from __future__ import annotations

import sqlite3
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from core.errors import ConfigError
from sync.events import RunSummary
from sync.state import SCHEMA_VERSION, StateStore


def test_links_survive_reopen_and_keep_directions_apart(tmp_path):
    path = tmp_path / "state.sqlite3"
    with StateStore(path) as store:
        assert store.schema_version == SCHEMA_VERSION
        store.save_link("customers", "ACME01", 7, "h1")
        store.save_link("customers", "ACME01", 99, "hx", direction="to_books")
        store.save_link("customers", "ACME01", 8, "h2")  # update in place
    with StateStore(path) as store:
        link = store.link("customers", "ACME01")
        assert link is not None and (link.halo_id, link.content_hash) == (8, "h2")
        assert link.synced_at.tzinfo is not None
        assert store.link("customers", "ACME01", "to_books").halo_id == 99
        assert set(store.links("customers")) == {"ACME01"}
        store.drop_link("customers", "ACME01")
        assert store.link("customers", "ACME01") is None
        assert store.link("customers", "ACME01", "to_books") is not None
        assert store.link("items", "nothing") is None


def test_save_link_is_committed_at_once(tmp_path):
    path = tmp_path / "state.sqlite3"
    store = StateStore(path)
    store.save_link("items", "SKU-1", 3, "abc")
    other = sqlite3.connect(path)  # a second reader sees it without any close/commit call
    assert other.execute("SELECT halo_id FROM links WHERE source_key='SKU-1'").fetchone() == (3,)
    other.close()
    store.close()


def test_cursor_round_trip_keeps_timezone():
    store = StateStore(":memory:")
    assert store.cursor("customers") is None
    moment = datetime(2024, 3, 1, 10, 15, tzinfo=UTC)
    store.save_cursor("customers", moment)
    assert store.cursor("customers") == moment
    store.save_cursor("customers", None)
    assert store.cursor("customers") is None
    with pytest.raises(ValueError):
        store.save_cursor("customers", datetime(2024, 1, 1))


def test_mappings_set_replace_remove():
    store = StateStore(":memory:")
    store.set_mapping("customer", "ACME01", 12)
    store.set_mapping("customer", "ACME01", 13)
    store.set_mapping("tax", "T1", 4)
    assert store.mapping("customer", "ACME01") == 13
    assert store.mappings("tax") == {"T1": 4}
    store.set_mapping("customer", "ACME01", None)
    assert store.mapping("customer", "ACME01") is None
    with pytest.raises(ValueError):
        store.mapping("supplier", "X")


def test_runs_newest_first_with_counts():
    store = StateStore(":memory:")
    first = store.start_run(dry_run=False, entities=["customers"])
    second = store.start_run(dry_run=True, entities=["items", "invoices"])
    summary = RunSummary(
        run_id=first, started=datetime.now(UTC), finished=datetime.now(UTC), status="partial"
    )
    summary.add("customers", "created", 3)
    summary.add("customers", "failed")
    store.finish_run(first, summary)
    runs = store.runs()
    assert [r.id for r in runs] == [second, first]
    assert runs[0].dry_run and runs[0].status == "running" and runs[0].finished is None
    assert runs[1].status == "partial" and runs[1].counts["customers"]["created"] == 3
    assert runs[1].entities == ("customers",)
    assert len(store.runs(limit=1)) == 1


def test_problems_count_occurrences_and_clear():
    store = StateStore(":memory:")
    when = datetime(2024, 5, 1, tzinfo=UTC)
    store.record_problem("customers", "ACME01", "Tax code T7 is not mapped", "Map it", when)
    store.record_problem("customers", "ACME01", "Tax code T7 is still not mapped", "Map it")
    store.record_problem("items", "SKU", "bad", "fix")
    problems = store.problems("customers")
    assert len(problems) == 1
    problem = problems[0]
    assert problem.occurrences == 2 and problem.message.endswith("still not mapped")
    assert problem.source_modified == when and problem.first_seen <= problem.last_seen
    assert len(store.problems()) == 2
    store.clear_problem("customers", "ACME01")
    assert store.problems("customers") == []


def test_rewind_for_problems_moves_cursor_before_oldest_problem():
    store = StateStore(":memory:")
    now = datetime(2024, 6, 1, tzinfo=UTC)
    store.save_cursor("customers", now)
    store.save_cursor("invoices", now)
    store.save_cursor("items", now)
    store.record_problem("customers", "A", "m", "a", now - timedelta(days=3))
    store.record_problem("customers", "B", "m", "a", now - timedelta(days=5))
    store.record_problem("payments", "P1", "m", "a", None)  # read through invoices, no date -> full read
    store.rewind_for_problems(["customers"])
    assert store.cursor("customers") == now - timedelta(days=5, seconds=1)
    assert store.cursor("invoices") == now  # not asked for
    store.rewind_for_problems()
    assert store.cursor("invoices") is None
    assert store.cursor("items") == now  # no problems there


def test_newer_schema_is_refused_with_advice(tmp_path):
    path = tmp_path / "state.sqlite3"
    StateStore(path).close()
    raw = sqlite3.connect(path)
    raw.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    raw.close()
    with pytest.raises(ConfigError, match="newer LedgerBridge"):
        StateStore(path)


def test_not_a_database_is_a_config_error(tmp_path):
    path = tmp_path / "state.sqlite3"
    path.write_bytes(b"this is not sqlite at all" * 100)
    with pytest.raises(ConfigError, match=r"is damaged.*relinks everything by key on the next run"):
        StateStore(path)


def test_threads_share_one_store(tmp_path):
    store = StateStore(tmp_path / "s.sqlite3")

    def write(prefix: str) -> None:
        for n in range(200):
            store.save_link("items", f"{prefix}{n}", n + 1, "h")

    threads = [threading.Thread(target=write, args=(p,)) for p in "abcd"]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(store.links("items")) == 800
    store.close()


def test_two_processes_opening_a_new_state_file_together_both_succeed(tmp_path):
    """The app and a scheduled `sync` may create the state file at the same moment (real processes)."""
    import subprocess
    import sys

    script = (
        "import sys; from sync.state import StateStore; "
        "s = StateStore(sys.argv[1]); print(s.schema_version); s.close()"
    )
    for attempt in range(5):
        path = tmp_path / f"state-{attempt}.sqlite3"
        processes = [
            subprocess.Popen(
                [sys.executable, "-c", script, str(path)],
                cwd=Path(__file__).resolve().parent.parent,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
            )
            for _ in range(4)
        ]
        answers = [(process, *process.communicate(timeout=60)) for process in processes]  # all ended
        for process, out, err in answers:
            assert process.returncode == 0, err.decode()
            assert out.decode().strip() == str(SCHEMA_VERSION)


def test_opening_waits_while_another_connection_writes_to_a_new_file(tmp_path):
    """The deterministic form of the race above: a new file another process is writing to (its first
    migration) cannot be switched to WAL until it commits, and SQLite says so at once, without waiting its
    busy timeout. The store waits its turn instead of failing."""
    path = tmp_path / "state.sqlite3"
    writer = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    writer.execute("CREATE TABLE started (x)")
    writer.execute("BEGIN IMMEDIATE")
    writer.execute("INSERT INTO started VALUES (1)")
    with pytest.raises(sqlite3.OperationalError, match="locked"):  # what SQLite does on its own
        sqlite3.connect(path, isolation_level=None, timeout=30).execute("PRAGMA journal_mode=WAL")
    done = threading.Timer(0.3, lambda: writer.execute("COMMIT"))
    done.start()
    store = StateStore(path)
    done.join()
    assert store.schema_version == SCHEMA_VERSION
    store.close()
    writer.close()

"""The state store's additions for people: names with links, skipped records, the Records view, resync.

Real SQLite files; the runner test is a real sync of the stand-in Sage 50 UK company into the sandbox.
"""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta

import sync.state
from sync.runner import open_state, run_sync
from sync.state import SCHEMA_VERSION, LinkWrite, StateStore, _migrate_1


def test_a_schema_1_file_is_migrated_additively_and_its_links_kept(tmp_path):
    path = tmp_path / "state.sqlite3"
    raw = sqlite3.connect(path, isolation_level=None)
    _migrate_1(raw)
    raw.execute("PRAGMA user_version = 1")
    raw.execute(
        "INSERT INTO links VALUES ('customers', 'to_halo', 'ACME01', 12, 'hash', ?)",
        (datetime.now(UTC).isoformat(),),
    )
    raw.close()
    with StateStore(path) as store:
        assert store.schema_version == SCHEMA_VERSION
        link = store.link("customers", "ACME01")
        assert link is not None and link.halo_id == 12 and link.content_hash == "hash"
        (overview,) = store.record_overviews()
        assert (overview.key, overview.name, overview.halo_id, overview.result) == (
            "ACME01",
            "",
            12,
            "Synced",
        )


def test_record_overviews_name_links_sites_after_their_customer_and_list_unlinked_problems(tmp_path):
    with StateStore(tmp_path / "s.sqlite3") as store:
        store.save_link("customers", "ACME01", 12, "h1", name="Acme Ltd")
        store.save_link("sites", "ACME01", 30, "h2", name="Main")
        store.save_link("items", "WIDGET", 7, "h3", name="Widget")
        store.save_link("items", "WIDGET", 7, "h4")  # a later write that does not know the name keeps it
        store.record_problem("items", "WIDGET", "Halo refused it.", "Fix it.")
        store.record_problem("customers", "NEW01", "Tax code T7 is not mapped.", "Map it.")
        rows = {(row.entity, row.key): row for row in store.record_overviews()}
    assert rows[("sites", "ACME01")].name == "Acme Ltd"
    assert rows[("items", "WIDGET")].name == "Widget" and rows[("items", "WIDGET")].result == "Problem"
    assert rows[("customers", "NEW01")].halo_id is None and rows[("customers", "NEW01")].synced_at is None
    assert rows[("customers", "ACME01")].result == "Synced"


def test_resync_record_forgets_the_hash_and_rewinds_only_to_that_record(tmp_path):
    modified = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
    with StateStore(tmp_path / "s.sqlite3") as store:
        store.save_link("customers", "ACME01", 12, "h1", name="Acme", source_modified=modified)
        store.save_link("sites", "ACME01", 30, "h2")
        store.save_link("customers", "OTHER", 13, "h3")
        store.save_cursor("customers", modified + timedelta(days=30))
        assert store.resync_record("customers", "ACME01") == "customers"
        assert store.cursor("customers") == modified - timedelta(seconds=1)
        assert store.link("customers", "ACME01").content_hash == ""
        assert store.link("sites", "ACME01").content_hash == ""
        assert store.link("customers", "OTHER").content_hash == "h3"
        # A record whose time in the books is unknown: the whole stream is read again.
        store.save_cursor("items", modified)
        store.save_link("items", "OLD", 5, "h")
        assert store.resync_record("items", "OLD") == "items"
        assert store.cursor("items") is None


def test_a_real_sync_keeps_skipped_records_with_their_reason_but_a_dry_run_writes_none(sage_company):
    preview = run_sync(sage_company.settings, sage_company.secrets, paths=sage_company.paths, dry_run=True)
    assert preview.total("skipped") > 0
    with open_state(sage_company.paths) as state:
        assert state.skipped() == []  # a preview writes nothing, not even skips
    summary = run_sync(sage_company.settings, sage_company.secrets, paths=sage_company.paths)
    with open_state(sage_company.paths) as state:
        skipped = state.skipped()
        names = {r.key: r.name for r in state.record_overviews() if r.entity == "customers" and r.halo_id}
    assert len(skipped) == summary.total("skipped") > 0
    assert all(row.reason for row in skipped)
    assert names and all(names.values())  # links carry the customer's name from the books


def test_links_of_an_older_file_are_found_by_their_key_as_matched_and_by_halo_id(tmp_path):
    """Schema 4 fills the key as matched (trimmed, any case) for links saved before it."""
    path = tmp_path / "state.sqlite3"
    raw = sqlite3.connect(path, isolation_level=None)
    _migrate_1(raw)
    raw.execute("PRAGMA user_version = 1")
    raw.execute(
        "INSERT INTO links VALUES ('customers', 'to_halo', 'Acme01 ', 12, 'hash', ?)",
        (datetime.now(UTC).isoformat(),),
    )
    raw.close()
    with StateStore(path) as store:
        assert store.key_linked_above("customers", "acme01", 11)
        assert not store.key_linked_above("customers", "acme01", 12)  # not created above that id
        assert store.is_linked_id("customers", 12) and not store.is_linked_id("customers", 13)
        assert not store.is_linked_id("sites", 12)


def test_a_link_saved_after_the_clock_was_set_back_still_counts_as_saved_since_the_stamp(
    tmp_path, monkeypatch
):
    with StateStore(tmp_path / "state.sqlite3") as store:
        since = store.stamp()
        monkeypatch.setattr(sync.state, "_now", lambda: since - timedelta(hours=1))
        store.save_links([LinkWrite("customers", "ACME01", 7, "h")])
        assert store.linked_since("customers", 7, since)
        assert not store.linked_since("customers", 8, since)
        later = store.stamp()
        assert later > since and not store.linked_since("customers", 7, later)

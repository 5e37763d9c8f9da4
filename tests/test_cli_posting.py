"""`main.py sync --dry-run` and `main.py sync` with posting on, as real subprocesses: the dry run lists what
would be posted (number, client, date, amounts, action, totals) and writes nothing anywhere; the real run
posts them into the QuickBooks stand-in and History records the posting counts."""

from __future__ import annotations

import json
import random
import sqlite3

from bench.posting_crash_test import books_markers, configure, run_main, seed_invoices


def test_dry_run_lists_and_writes_nothing_then_the_real_run_posts(tmp_path, halo_sandbox, qodbc_rules):
    setup = configure(tmp_path / "lb", halo_sandbox, qodbc_rules, batch_size=5)
    first = run_main(setup.env, "sync", "--config", str(setup.config))
    assert first.returncode in (0, 1), first.stdout + first.stderr  # the stand-in's own broken rows: 1
    seeded = seed_invoices(halo_sandbox, setup, 4, random.Random(5))
    setup.settings["posting"]["enabled"] = True
    setup.write_settings()
    halo_sandbox.reset_counts()

    dry = run_main(setup.env, "sync", "--config", str(setup.config), "--dry-run")

    assert dry.returncode in (0, 1), dry.stdout + dry.stderr
    table = dry.stdout[dry.stdout.index("Halo -> books (dry run: nothing is written):") :]
    for number in ("HC-00001", "HC-00002", "HC-00003", "HC-00004"):
        assert number in table
    assert "Total to post: 4" in table and "4 to post, 0 already in the books, 0 with problems" in table
    assert books_markers(setup.company) == {}
    assert not [k for k in halo_sandbox.counts() if k[0] == "POST" and k[1].startswith("/api/")]
    with sqlite3.connect(setup.state_file) as db:
        assert db.execute("SELECT COUNT(*) FROM postings").fetchone() == (0,)

    real = run_main(setup.env, "sync", "--config", str(setup.config), "--json")
    document = json.loads(real.stdout)
    assert document["counts"]["posting"]["created"] == 4 and document["counts"]["posting"]["failed"] == 0
    assert set(books_markers(setup.company)) == set(seeded.values())
    with sqlite3.connect(setup.state_file) as db:
        entities, counts = db.execute("SELECT entities, counts FROM runs ORDER BY id DESC LIMIT 1").fetchone()
    assert "posting" in json.loads(entities) and json.loads(counts)["posting"]["created"] == 4

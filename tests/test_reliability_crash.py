"""Crash test, suite size: `main.py sync` SIGKILLed 8+ times mid-run, then one clean run; Halo holds every
source record exactly once and every state-store link agrees with Halo (bench/crash_test.py at full size).
"""

from __future__ import annotations

from bench.crash_test import crash_test


def test_sigkill_at_random_moments_leaves_no_duplicate_and_nothing_missing(tmp_path):
    figures = crash_test(
        tmp_path,
        customers=300,
        items=300,
        invoices=300,
        lines_per_inv=2,
        kills=8,
        batch_size=10,
        latency=0.02,
        max_posts=5,
        seed=3,
    )
    assert figures.kills >= 8, figures
    assert figures.kills_by_mode["post"] >= 1
    assert figures.writes_landed_after_kill >= 1, "no kill caught Halo writing an unconfirmed batch"
    assert figures.final_exit == 0, figures.final_output
    verdict = figures.verdict
    assert verdict.duplicates and verdict.duplicate_total == 0, verdict.duplicates
    assert verdict.missing_total == 0, verdict.missing
    assert verdict.bad_links == []
    assert verdict.halo_records["Client"] == 300 and verdict.halo_records["Invoice"] == 300
    assert verdict.links >= 300 * 3  # customers, their sites, items, invoices (+ payments)
    assert figures.rerun_exit == 0 and figures.rerun_posts == 0  # recovered links: nothing left to send
    # Rows skipped as known unchanged agree with converting them (sync/known_rows.py).
    assert figures.full_read_posts == 0 and figures.converting_read_posts == 0

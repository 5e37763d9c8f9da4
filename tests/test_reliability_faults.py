"""Fault soak, suite size (bench/fault_soak.py at full size): a sync through 5xx, 429 bursts, slow answers,
dropped connections and tokens expiring mid-run completes, doubles nothing, and sends no request storm.
"""

from __future__ import annotations

import math

from bench.fault_soak import TOKEN_EXPIRIES, fault_soak, one_run
from halo.client import RetryPolicy
from halo.sandbox.server import HaloSandbox
from tests.standins.sage50uk import make_large

# Real sleeps, shorter than the app's so the suite stays quick; Retry-After (1-2 s here) is honoured in full.
QUICK_RETRY = RetryPolicy(max_attempts=6, base_delay=0.02, max_delay=0.2, max_retry_after=5.0)
RECOVERY_PER_RECONCILE = 3
OTHER_CLIENTS = 200


def test_a_sync_under_mixed_faults_completes_once_within_the_request_budget(tmp_path):
    customers, items, invoices = 150, 60, 150
    figures = fault_soak(
        tmp_path,
        customers=customers,
        items=items,
        invoices=invoices,
        batch_size=10,
        faults={
            "error_rate": 0.10,
            "rate_limit": (25, 1.0),  # Halo's 700 / 5 min scaled so a small company meets it
            "latency": 0.005,
            "drop_rate": 0.03,
            "token_lifetime": 30,
        },
        retry=QUICK_RETRY,
        max_runs=3,
        seed=21,
    )
    assert figures.complete, [(r.status, r.error) for r in figures.runs]
    assert figures.duplicates == 0
    assert figures.tokens_expired == TOKEN_EXPIRIES
    retries = sum((run.retries for run in figures.runs), start=type(figures.runs[0].retries)())
    assert retries["429"] > 0 and retries["5xx"] > 0 and retries["401"] > 0, retries
    # The brief's budget: 1.2 x a clean run + the retries the client reports (its own, token renewals, and
    # the engine's reconcile look-ups and resends, which it records in the client's stats).
    assert retries["reconcile look-up"] <= RECOVERY_PER_RECONCILE * figures.reconciles  # not Halo's size
    extra_runs = (len(figures.runs) - 1) * figures.clean_requests
    assert figures.requests <= figures.allowed + extra_runs, figures.extra_by_endpoint()
    assert figures.server_requests >= figures.requests  # the sandbox saw every attempt the client counted


def test_a_reconcile_costs_requests_in_proportion_to_the_batch_not_to_halo(tmp_path):
    """Found by the soak: a reconcile used to re-read the whole index (118 GETs here); fixed in 25a0f04."""
    company = make_large(tmp_path / "ACCDATA.sqlite", 100, 1, 1, 1)
    with HaloSandbox(seed=4) as sandbox:
        for number in range(OTHER_CLIENTS):  # customers Halo already has (not from these books)
            sandbox.seed("Client", {"name": f"Halo-only customer {number}"})
        sandbox.faults.error_after_write_rate = 0.3  # creates land, then 500 (updates are resent)
        run = one_run(sandbox, company, tmp_path / "home", 10, QUICK_RETRY, page_size=10)
    creates = run.by_endpoint[("POST", "/api/Client")]
    index_reads = run.by_endpoint[("GET", "/api/Client")]
    assert run.status == "ok" and run.reconciles >= 2 and creates >= 10, (run.status, run.error)
    first_index = math.ceil((OTHER_CLIENTS + 100) / 10) + 1  # the index read before planning, page size 10
    assert index_reads <= first_index + 2 * run.reconciles, (
        f"{index_reads} GET /api/Client for {creates} batches"
    )

"""Dry run, cancel, the deactivate option, and what inactive records do."""

from __future__ import annotations

import threading
from collections import Counter
from datetime import timedelta

from sync.events import EntityStarted, Progress, RecordOutcome, RunFinished, RunStarted
from tests.standins.sage50uk import BASE, touch


def test_dry_run_plans_and_writes_nothing(sage_company):
    summary = sage_company.run(dry_run=True)
    assert not sage_company.posts()  # not one POST
    assert summary.dry_run and summary.counts["customers"]["created"] == 8
    with sage_company.state() as state:
        assert state.links("customers") == {} and state.cursor("customers") is None
        assert state.problems() == []  # a dry run reports, it does not record
        assert state.runs()[0].dry_run
    would = sage_company.outcomes("created", "invoices")
    assert would and all(e.message.startswith("would create") for e in would)
    # Invoices of customers that would be created are planned too (not "waiting").
    assert not [e for e in sage_company.outcomes("failed", "invoices") if "Waiting" in e.message]


def test_dry_run_after_a_change_says_would_update(sage_company):
    sage_company.run()
    before = sage_company.posts()
    touch(sage_company.path, "STOCK", "STOCK_CODE", "WIDGET", BASE + timedelta(days=9), SALES_PRICE=21.5)
    summary = sage_company.run(dry_run=True)
    assert sage_company.posts() == before
    updates = sage_company.outcomes("updated", "items")
    assert [e.key for e in updates] == ["WIDGET"] and updates[0].message.startswith("would update")
    assert summary.counts["items"]["updated"] == 1


def test_cancel_keeps_what_was_confirmed_and_the_next_run_completes(sage_company):
    cancel = threading.Event()
    created = []

    def listener(event):
        sage_company.events.append(event)
        if isinstance(event, RecordOutcome) and event.outcome == "created" and event.entity == "customers":
            created.append(event)
            cancel.set()  # asked mid-batch: the engine stops before the next batch

    summary = sage_company.run(listener=listener, cancel=cancel)
    assert summary.status == "cancelled" and summary.exit_code == 2
    assert isinstance(sage_company.events[-1], RunFinished)
    with sage_company.state() as state:
        links = state.links("customers")
        assert state.runs()[0].status == "cancelled"
    in_halo = {c["accountsid"] for c in sage_company.sandbox.records("Client")}
    assert set(links) == in_halo and 0 < len(links) <= 3  # one batch of 3 at most
    assert not sage_company.sandbox.records("Invoice")
    final = sage_company.run()
    assert final.status == "partial"  # the stand-in's unreadable rows stay problems
    clients = Counter(c["accountsid"] for c in sage_company.sandbox.records("Client"))
    assert all(n == 1 for n in clients.values()) and len(clients) == 8


def test_deactivate_option_makes_client_and_site_inactive(sage_company):
    sage_company.run()
    touch(
        sage_company.path, "SALES_LEDGER", "ACCOUNT_REF", "ACME02", BASE + timedelta(days=3), INACTIVE_FLAG=1
    )
    touch(sage_company.path, "STOCK", "STOCK_CODE", "WIDGET", BASE + timedelta(days=3), INACTIVE_FLAG=1)

    off = sage_company.run()  # option off (the default): left alone in Halo
    skipped = {e.key: e.message for e in sage_company.outcomes("skipped")}
    assert "Make inactive in Halo" in skipped["ACME02"]
    assert "Halo's Item has no inactive field" in skipped["WIDGET"]
    assert off.counts["customers"]["deactivated"] == 0

    sage_company.settings.sync.deactivate_deleted = True
    on = sage_company.run()
    assert on.counts["customers"]["deactivated"] == 1
    assert [e.key for e in sage_company.outcomes("deactivated")] == ["ACME02"]
    client = next(c for c in sage_company.sandbox.records("Client") if c.get("accountsid") == "ACME02")
    site = next(s for s in sage_company.sandbox.records("Site") if s.get("accountsid") == "ACME02")
    assert client["inactive"] is True and site["inactive"] is True
    active = next(c for c in sage_company.sandbox.records("Client") if c.get("accountsid") == "ACME01")
    assert not active.get("inactive")
    before = sage_company.posts()
    sage_company.run()
    assert sage_company.posts() == before  # deactivated once, not every run


def test_events_arrive_in_order_with_throttled_progress(sage_company):
    sage_company.run()
    kinds = [type(e) for e in sage_company.events]
    assert kinds[0] is RunStarted and kinds[-1] is RunFinished
    started = [e.entity for e in sage_company.events if isinstance(e, EntityStarted)]
    assert started == ["tax_rates", "customers", "items", "invoices"]
    progress = [e for e in sage_company.events if isinstance(e, Progress)]
    finals = [e for e in progress if e.total is not None]
    assert [e.entity for e in finals] == started and all(e.done == e.total for e in finals)
    assert len(progress) < 40  # throttled: a small company reads in well under a second per entity

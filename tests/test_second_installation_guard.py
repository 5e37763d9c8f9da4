"""The second-installation guard in one process: other writers to Halo are told apart from a double.

A record Halo gets from someone else mid-run (seeded into the sandbox while the engine works) either is
harmless (another key: the run goes on) or is a record this sync is about to create (the run stops before
sending it, and nothing is in Halo twice).
"""

from __future__ import annotations

from collections import Counter

from sync import guard
from sync.events import RecordOutcome


def _seed_on_first_customer(company, record: dict):
    seeded: list[dict] = []

    def listener(event) -> None:
        company.events.append(event)
        if isinstance(event, RecordOutcome) and event.entity == "customers" and not seeded:
            seeded.append(company.sandbox.seed("Client", record))

    return listener, seeded


def test_someone_else_adding_an_unrelated_customer_mid_run_does_not_stop_the_sync(sage_company):
    listener, seeded = _seed_on_first_customer(
        sage_company, {"name": "Walk-in customer", "accountsid": "WALKIN"}
    )
    summary = sage_company.run(listener=listener)
    assert seeded and summary.error == "", summary.error
    assert summary.status in ("ok", "partial")
    keys = Counter(c.get("accountsid") for c in sage_company.sandbox.records("Client"))
    assert max(keys.values()) == 1


def test_another_program_creating_a_customer_this_sync_is_about_to_create_stops_it_before_a_double(
    sage_company,
):
    source = sage_company.source()
    last = max(c.key for c in source["customers"] if c.active and not c.deleted)  # created in the last batch
    listener, seeded = _seed_on_first_customer(
        sage_company, {"name": "Made on another PC", "accountsid": last}
    )
    summary = sage_company.run(listener=listener)
    assert seeded and summary.status == "failed" and summary.error_kind == "config"
    assert "Another LedgerBridge (or another program) is syncing into this Halo" in summary.error
    assert last in summary.error and "stop LedgerBridge" in summary.error
    keys = Counter(c.get("accountsid") for c in sage_company.sandbox.records("Client"))
    assert keys[last] == 1 and max(keys.values()) == 1

    sage_company.settings.sync.entities = ["tax_rates", "customers"]
    again = sage_company.run()  # the other program is done: this one links the record by key
    assert again.error == "" and again.status in ("ok", "partial")
    keys = Counter(c.get("accountsid") for c in sage_company.sandbox.records("Client"))
    assert keys[last] == 1 and max(keys.values()) == 1


def test_a_copy_of_a_customer_created_batches_ago_is_still_caught(sage_company):
    """The guard looks again only at keys with new copies, not at every key sent so far: a copy of the first
    customer, made by another program after two batches, still stops the run at the next create."""
    source = sage_company.source()
    first = min(c.key for c in source["customers"] if c.active and not c.deleted)  # in the first batch
    seeded: list[dict] = []
    created: list[str] = []

    def listener(event) -> None:
        sage_company.events.append(event)
        if isinstance(event, RecordOutcome) and event.entity == "customers" and event.outcome == "created":
            created.append(event.key)
            if len(created) == 6 and not seeded:  # two batches of 3 in: one more to create
                seeded.append(sage_company.sandbox.seed("Client", {"name": "Twin", "accountsid": first}))

    summary = sage_company.run(listener=listener)
    assert seeded and first in created[:3]
    assert summary.status == "failed" and "Another LedgerBridge" in summary.error and first in summary.error
    keys = Counter(c.get("accountsid") for c in sage_company.sandbox.records("Client"))
    assert keys[first] == 2  # ours and the other program's: reported, ours is the older copy and stays


def test_a_copy_of_a_customer_created_beyond_the_guards_window_is_still_caught(sage_company, monkeypatch):
    """With only two keys and ids held, the first customer's key is answered by its link (to an id above
    the watermark): another program's copy of it still stops the run."""
    monkeypatch.setattr(guard, "RECENT", 2)
    monkeypatch.setattr(guard.Recent, "fit", lambda self, count: None)  # two, whatever the batch
    source = sage_company.source()
    first = min(c.key for c in source["customers"] if c.active and not c.deleted)
    seeded: list[dict] = []
    created: list[str] = []

    def listener(event) -> None:
        sage_company.events.append(event)
        if isinstance(event, RecordOutcome) and event.entity == "customers" and event.outcome == "created":
            created.append(event.key)
            if len(created) == 6 and not seeded:  # two batches of 3 in: past the window of 2
                seeded.append(sage_company.sandbox.seed("Client", {"name": "Twin", "accountsid": first}))

    summary = sage_company.run(listener=listener)
    assert seeded and first in created[:3]
    assert summary.status == "failed" and "Another LedgerBridge" in summary.error and first in summary.error
    keys = Counter(c.get("accountsid") for c in sage_company.sandbox.records("Client"))
    assert keys[first] == 2 and max(keys.values()) == 2


def test_our_own_creates_read_again_beyond_the_guards_window_are_not_taken_for_another_installations(
    sage_company, monkeypatch
):
    """Answers that stop showing the records mid-run make the engine read Halo's newer clients: every one
    this run created is read again, long after the guard's window of two let go of it. Each is ours by its
    link, so the run goes on: no stop, no removal, every customer once."""
    monkeypatch.setattr(guard, "RECENT", 2)
    monkeypatch.setattr(guard.Recent, "fit", lambda self, count: None)  # two, whatever the batch
    created: list[str] = []

    def listener(event) -> None:
        sage_company.events.append(event)
        if isinstance(event, RecordOutcome) and event.entity == "customers" and event.outcome == "created":
            created.append(event.key)
            if len(created) == 3:
                sage_company.sandbox.faults.post_answer = "first"  # the rest of each batch: looked up

    summary = sage_company.run(listener=listener)
    assert len(created) > 6 and summary.error == "", summary.error
    assert summary.status in ("ok", "partial")
    removed = sum(n for (method, _path), n in sage_company.sandbox.counts().items() if method == "DELETE")
    assert removed == 0  # nothing of ours was removed as a double
    keys = Counter(c.get("accountsid") for c in sage_company.sandbox.records("Client"))
    assert max(keys.values()) == 1 and set(created) <= set(keys)


def test_the_guards_window_holds_at_least_two_batches():
    """A batch's ids are checked (a gap read) before the engine links them: the window never drops them."""
    recent = guard.Recent[int](2)
    recent.fit(3)
    recent.update(range(6))
    assert all(value in recent for value in range(6)) and len(recent) == 6
    recent.add(6)
    assert 0 not in recent and 6 in recent

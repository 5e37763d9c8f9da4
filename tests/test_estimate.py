"""The time-left estimate of a paced first sync (sync/estimate.py): requests left from rows left, writes per
record and the batch size; seconds from the client's own request budget; none when pacing is off."""

from __future__ import annotations

import pyodbc

from connectors.generic import GenericODBCConnector
from connectors.sage50uk import Sage50UKConnector
from halo.pacing import RequestBudget
from sync.estimate import RequestEstimate, count_rows, requests_for
from sync.events import Progress
from tests.standins.sage50uk import odbc_connection_string


def test_requests_are_batches_of_what_is_queued_and_what_is_left():
    assert requests_for([], 0, 100) == 0
    assert requests_for([1, 0, 100, 101], 0, 100) == 1 + 0 + 1 + 2
    assert requests_for([], 250.0, 100) == 3
    assert requests_for([5], 1.0, 0) == 6  # a batch size of 0 counts as 1


def test_rows_left_become_writes_at_the_streams_own_rate():
    estimate = RequestEstimate(rows={"customers": 2000, "invoices": 10000}, order=("customers", "invoices"))
    estimate.start("customers")
    estimate.read = 10  # too few planned to trust their rate: one write per record
    estimate.writes = 30
    assert estimate.requests_left([], 100) == requests_for([], 1990 + 10000, 100) == 120
    estimate.read, estimate.writes = 1000, 2000  # each customer: its client and its main site
    assert estimate.requests_left([40, 0], 100) == 1 + requests_for([], 1000 * 2 + 10000, 100) == 121
    estimate.start("invoices")
    estimate.read, estimate.writes = 9000, 12000  # invoices and their payments
    assert estimate.requests_left([], 100) == 14
    estimate.read = 10000
    assert estimate.requests_left([], 100) == 0
    assert RequestEstimate().requests_left([5], 100) is None  # nothing counted: no estimate


def test_seconds_come_from_the_budget_sized_by_the_setting():
    budget = RequestBudget(600)  # the default halo.requests_per_5_minutes: 2 a second, a burst of 50
    assert budget.seconds_for(770) == (770 - 50) / 2 == 360.0  # "about 6 minutes"
    assert RequestBudget(0).seconds_for(770) == 0.0  # pacing off


def test_rows_are_counted_from_the_streams_main_table(sage50uk_company):
    connection_string = odbc_connection_string(sage50uk_company.path)
    with Sage50UKConnector(lambda: pyodbc.connect(connection_string)) as connector:
        customers = count_rows(connector, "customers")
        invoices = count_rows(connector, "invoices")
        read = sum(1 for _ in connector.read("customers"))
    assert customers is not None and customers >= read > 0
    assert invoices is not None and invoices > 0
    generic = GenericODBCConnector(
        lambda: pyodbc.connect(connection_string),
        queries={"customers": "SELECT ACCOUNT_REF, NAME FROM SALES_LEDGER"},
        columns={"customers": {"key": "ACCOUNT_REF", "name": "NAME"}},
    )
    assert count_rows(generic, "customers") is None  # a user query: nothing to count


def test_a_paced_first_sync_says_how_many_requests_are_left(sage_company):
    sage_company.settings.halo.requests_per_5_minutes = 60_000  # paced, but not slow enough to wait here
    events: list[object] = []
    summary = sage_company.run(listener=events.append)
    assert summary.status in ("ok", "partial"), summary.error
    progress = [e for e in events if isinstance(e, Progress)]
    lefts = [e.requests_left for e in progress]
    assert all(left is not None for left in lefts)
    assert lefts[0] > 5 and lefts[-1] == 0
    posts = sum(sage_company.posts().values())
    assert lefts[0] <= posts * 2  # an estimate, of the right size
    budget = RequestBudget(60_000)
    first = progress[0]
    assert first.seconds_left is not None and 0 <= first.seconds_left <= budget.seconds_for(
        first.requests_left
    )

    # Cursors saved: only a stream read in full every time (tax codes have no modified date) is counted.
    again = sage_company.run(listener=(resync := []).append)
    assert again.status in ("ok", "partial")
    assert max((e.requests_left or 0) for e in resync if isinstance(e, Progress)) <= 2


def test_no_estimate_when_pacing_is_off(sage_company):
    sage_company.settings.halo.requests_per_5_minutes = 0
    events: list[object] = []
    sage_company.run(listener=events.append)
    progress = [e for e in events if isinstance(e, Progress)]
    assert progress and all(e.requests_left is None and e.seconds_left is None for e in progress)

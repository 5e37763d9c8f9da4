"""The client-side request budget: smooth pace, never over budget in any window, slows on 429."""

from __future__ import annotations

import threading
from bisect import bisect_left
from itertools import pairwise

import pytest

from halo.pacing import RequestBudget


class FakeTime:
    """A clock that only moves when someone sleeps (no real waiting in tests)."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.lock = threading.Lock()

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        with self.lock:
            self.now += seconds


def _send_times(budget: RequestBudget, fake: FakeTime, count: int) -> list[float]:
    times = []
    for _ in range(count):
        budget.acquire()
        times.append(fake.now)
    return times


def _most_in_any_window(times: list[float], window: float) -> int:
    return max(bisect_left(times, start + window) - i for i, start in enumerate(times))


def test_a_burst_then_a_steady_pace():
    fake = FakeTime()
    budget = RequestBudget(600, 300.0, clock=fake.clock, sleep=fake.sleep)
    times = _send_times(budget, fake, 200)
    assert times[49] == pytest.approx(1000.0)  # the bucket's 50 leave at once
    gaps = [b - a for a, b in pairwise(times[50:])]
    assert all(gap == pytest.approx(0.5) for gap in gaps)  # then 600 per 300 s: one every 0.5 s


def test_never_more_than_burst_plus_budget_in_any_window():
    fake = FakeTime()
    budget = RequestBudget(600, 300.0, clock=fake.clock, sleep=fake.sleep)
    times = _send_times(budget, fake, 3000)
    assert _most_in_any_window(times, 300.0) <= 650 < 700  # under the 700 per 5 minutes Halo is said to allow
    elapsed = times[-1] - times[0]
    assert elapsed == pytest.approx((3000 - 50) / 2.0, rel=0.01)  # and no slower than the budget


def test_a_429_holds_until_retry_after_and_slows_the_pace_then_it_recovers():
    fake = FakeTime()
    budget = RequestBudget(600, 300.0, clock=fake.clock, sleep=fake.sleep)
    _send_times(budget, fake, 60)
    budget.rate_limited(20.0)
    before = fake.now
    assert budget.acquire() >= 20.0
    assert fake.now - before >= 20.0
    assert budget.figures().requests_per_window == pytest.approx(420.0)
    assert budget.figures().slowdowns == 1
    fake.sleep(301.0)  # a quiet window
    budget.acquire()
    assert budget.figures().requests_per_window == pytest.approx(462.0)
    fake.sleep(3000.0)
    budget.acquire()
    assert budget.figures().requests_per_window == pytest.approx(600.0)  # never above the configured budget


def test_retry_after_without_a_number_still_slows_down():
    fake = FakeTime()
    budget = RequestBudget(100, 60.0, clock=fake.clock, sleep=fake.sleep)
    budget.rate_limited(None)
    assert budget.rate == pytest.approx(70 / 60)


def test_off_when_the_budget_is_zero():
    fake = FakeTime()
    budget = RequestBudget(0, 300.0, clock=fake.clock, sleep=fake.sleep)
    assert _send_times(budget, fake, 1000)[-1] == 1000.0
    budget.rate_limited(30.0)
    assert budget.acquire() == 0.0
    assert budget.seconds_for(5000) == 0.0


def test_time_left_estimate():
    fake = FakeTime()
    budget = RequestBudget(600, 300.0, clock=fake.clock, sleep=fake.sleep)
    assert budget.seconds_for(50) == 0.0  # the bucket covers them
    assert budget.seconds_for(770) == pytest.approx(360.0)  # "about 6 minutes at Halo's rate limit"
    budget.rate_limited(30.0)
    assert budget.seconds_for(1) >= 30.0


def test_concurrent_callers_each_get_their_own_slot():
    fake = FakeTime()
    waits: list[float] = []
    budget = RequestBudget(60, 60.0, clock=fake.clock, sleep=lambda seconds: waits.append(seconds))

    def worker() -> None:
        for _ in range(25):
            budget.acquire()

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    # The clock never moved, so the 95 requests past the bucket of 5 queue one second apart: 1 + 2 + ... + 95.
    assert sorted(waits) == pytest.approx([float(n) for n in range(1, 96)])


def test_a_window_must_be_positive():
    with pytest.raises(ValueError):
        RequestBudget(10, 0.0)


def test_a_paced_client_stays_under_a_real_rate_limit(halo_sandbox, make_halo_client):
    """Against the sandbox's rolling-window limit: unpaced, the burst is refused; paced, nothing is."""
    halo_sandbox.faults.update({"rate_limit": [24, 1.0]})
    unpaced = make_halo_client(halo_sandbox, requests_per_window=0)
    for _ in range(30):
        unpaced.get_record("Client", 1)
    assert unpaced.stats.retries["429"] > 0

    halo_sandbox.faults.update({"rate_limit": [24, 1.0]})  # a fresh window
    paced = make_halo_client(halo_sandbox, requests_per_window=20, window_seconds=1.0)
    for _ in range(30):
        paced.get_record("Client", 1)
    assert paced.stats.retries["429"] == 0
    assert paced.stats.paced_seconds > 0


def test_the_setting_reaches_the_client():
    from sync.halo_connection import halo_connection
    from sync.settings import Settings

    settings = Settings()
    settings.halo.requests_per_5_minutes = 120
    connection = halo_connection(settings.halo)
    assert (connection.requests_per_window, connection.window_seconds) == (120, 300.0)

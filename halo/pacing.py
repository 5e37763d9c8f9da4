"""A client-side request budget, so a large first sync runs at Halo's rate limit without tripping it.

Why: Halo answers 429 once an application exceeds its rate over a rolling window (a public client notes
700 requests per 5 minutes; Halo documents no number, see docs/halo.md). Reacting only to 429s means every
long sync hits the wall, waits out a Retry-After and hits it again. A token bucket that refills at the
budget's rate keeps the pace smooth: each wait is at most one request's share of the window (so a cancel is
never held up for minutes), and over ANY window of the budget's length at most ``burst + max_requests``
requests leave, which the default keeps under Halo's figure. A 429 still happens (another application on
the same Halo spends the same allowance): then the budget slows down and only creeps back up after a
quiet window.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

DEFAULT_REQUESTS_PER_WINDOW = 600  # below the 700 per 5 minutes a public Halo client reports
DEFAULT_WINDOW_SECONDS = 300.0
BURST_SHARE = 1 / 12  # bucket size as a share of the budget: 600 -> 50, so any window sees <= 650
SLOW_DOWN = 0.7  # the rate kept after a 429
SPEED_UP = 1.1  # the rate gained after each quiet window, up to the configured budget


@dataclass(frozen=True)
class PacingFigures:
    """What the budget is doing, for the run summary and the app's time estimate."""

    requests_per_window: float
    window_seconds: float
    waited_seconds: float
    slowdowns: int


class RequestBudget:
    """Admits requests at ``max_requests`` per ``window_seconds``; ``acquire()`` waits for room.

    ``max_requests <= 0`` turns pacing off (every request is admitted at once). ``clock`` and ``sleep`` are
    injectable so tests run without real waits. Thread-safe: a slot is reserved under the lock and the wait
    happens outside it, so concurrent callers queue in order.
    """

    def __init__(
        self,
        max_requests: int = DEFAULT_REQUESTS_PER_WINDOW,
        window_seconds: float = DEFAULT_WINDOW_SECONDS,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if window_seconds <= 0:
            raise ValueError("window_seconds must be positive")
        self.enabled = max_requests > 0
        self.window = float(window_seconds)
        self._ceiling = float(max(max_requests, 1))  # the configured budget: never exceeded
        self._per_window = self._ceiling
        self._capacity = max(1.0, self._ceiling * BURST_SHARE)
        self._tokens = self._capacity
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        self._updated = clock()
        self._quiet_since = self._updated
        self._blocked_until = 0.0
        self._waited = 0.0
        self._slowdowns = 0

    @property
    def rate(self) -> float:
        """Requests per second at the current pace."""
        return self._per_window / self.window

    def acquire(self) -> float:
        """Wait until one more request fits the budget; returns the seconds waited."""
        if not self.enabled:
            return 0.0
        with self._lock:
            now = self._clock()
            self._refill(now)
            self._tokens -= 1.0  # reserve the slot now; a deficit is the wait
            wait = max(0.0, -self._tokens / self.rate, self._blocked_until - now)
            self._waited += wait
        if wait > 0:
            self._sleep(wait)
        return wait

    def rate_limited(self, retry_after: float | None) -> None:
        """Halo answered 429: hold every request until Retry-After has passed, and slow the pace."""
        if not self.enabled:
            return
        with self._lock:
            now = self._clock()
            self._refill(now)
            self._per_window = max(1.0, self._per_window * SLOW_DOWN)
            self._capacity = max(1.0, self._per_window * BURST_SHARE)
            self._tokens = min(self._tokens, 0.0)
            self._blocked_until = max(self._blocked_until, now + max(0.0, retry_after or 0.0))
            self._quiet_since = now
            self._slowdowns += 1

    def seconds_for(self, requests: int) -> float:
        """How long ``requests`` more requests take at the current pace (the app's time-left estimate)."""
        if not self.enabled or requests <= 0:
            return 0.0
        with self._lock:
            now = self._clock()
            self._refill(now)
            pending = max(0.0, requests - max(self._tokens, 0.0))
            return max(0.0, self._blocked_until - now) + pending / self.rate

    def figures(self) -> PacingFigures:
        with self._lock:
            return PacingFigures(self._per_window, self.window, self._waited, self._slowdowns)

    def _refill(self, now: float) -> None:
        elapsed = max(0.0, now - self._updated)
        self._updated = now
        while self._per_window < self._ceiling and now - self._quiet_since >= self.window:
            self._quiet_since += self.window  # a whole window without a 429: speed up one step
            self._per_window = min(self._ceiling, self._per_window * SPEED_UP)
            self._capacity = max(1.0, self._per_window * BURST_SHARE)
        self._tokens = min(self._capacity, self._tokens + elapsed * self.rate)

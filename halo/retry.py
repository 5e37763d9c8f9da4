"""Retry policy for Halo requests: exponential back-off with full jitter, and Retry-After parsing.

Why our own small loop instead of urllib3's ``Retry``: urllib3 cannot tell a create (a POST holding a record
without ``id``, never to be resent once it may have reached Halo) from an update or a read, cannot renew the
token on a 401 before resending, and cannot report *why* it retried. The loop lives in ``halo.client``; this
module holds the arithmetic so it can be read and tested on its own.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime


@dataclass(frozen=True)
class RetryPolicy:
    """How hard to try before handing a TransientError to the engine.

    ``max_attempts`` counts every send of one request (the first included). ``max_retry_after`` is the longest
    wait a 429's Retry-After may impose inside one call; a longer one is handed to the caller as
    ``TransientError.retry_after`` so the engine (not a blocked thread) does the waiting.
    """

    max_attempts: int = 6
    base_delay: float = 0.5
    max_delay: float = 30.0
    max_retry_after: float = 300.0

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        if self.base_delay < 0 or self.max_delay < 0 or self.max_retry_after < 0:
            raise ValueError("delays must not be negative")

    def backoff(self, retry_number: int, rng: random.Random | None = None) -> float:
        """Full jitter: a uniform wait between 0 and min(max_delay, base_delay * 2**retry_number).

        Full jitter spreads the retries of many clients hit by the same outage instead of having them all come
        back at the same instant.
        """
        ceiling = min(self.max_delay, self.base_delay * (2 ** max(retry_number, 0)))
        return (rng or random).uniform(0.0, ceiling)


def parse_retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or HTTP-date); None when absent/unreadable."""
    if value is None:
        return None
    text = value.strip()
    if not text:
        return None
    try:
        seconds = float(text)
    except ValueError:
        pass
    else:
        return max(seconds, 0.0) if seconds == seconds else None  # NaN guard
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    current = now or datetime.now(UTC)
    return max((when - current).total_seconds(), 0.0)

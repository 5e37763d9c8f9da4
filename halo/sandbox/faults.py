"""Switchable misbehaviour, so the client's retry and never-twice logic is tested against real failures.

Every switch is off by default. Decisions come from one seeded RNG so a failing test can be replayed, and
all state sits behind a lock because the server answers requests on many threads.
"""

from __future__ import annotations

import math
import random
import threading
import time
from collections import deque
from dataclasses import dataclass, field, fields
from typing import Any

RATE_FIELDS = ("error_rate", "error_after_write_rate", "drop_rate", "html_error_rate")


@dataclass
class SandboxFaults:
    """What goes wrong, and how often. Change the fields at any time, from any thread."""

    rate_limit: tuple[int, float] | None = None  # (max requests, rolling window seconds) -> 429 + Retry-After
    error_rate: float = 0.0  # share of /api requests answered 500/502/503 before processing
    error_after_write_rate: float = 0.0  # share of POSTs committed and THEN answered 500
    drop_rate: float = 0.0  # share of requests whose connection is closed without an answer
    latency: float = 0.0  # seconds added to every /api and /auth request
    token_lifetime: int = 3600  # expires_in given to new tokens
    html_error_rate: float = 0.0  # share answered 502 with an HTML body, like a proxy in front of Halo
    seed: int = 0
    _rng: random.Random = field(init=False, repr=False, compare=False)
    _lock: threading.Lock = field(init=False, repr=False, compare=False, default_factory=threading.Lock)
    _admitted: deque[float] = field(init=False, repr=False, compare=False, default_factory=deque)

    def __post_init__(self) -> None:
        self._rng = random.Random(self.seed)

    def chance(self, rate: float) -> bool:
        """True with probability ``rate``; draws from the RNG only when the switch is on (replayable)."""
        if rate <= 0:
            return False
        with self._lock:
            return self._rng.random() < rate

    def pick(self, options: tuple[Any, ...]) -> Any:
        with self._lock:
            return self._rng.choice(options)

    def retry_after(self, now: float | None = None) -> int | None:
        """None when the request is admitted; else the whole seconds to wait before the window has room."""
        limit = self.rate_limit
        if limit is None:
            return None
        max_requests, window = int(limit[0]), float(limit[1])
        now = time.monotonic() if now is None else now
        with self._lock:
            while self._admitted and self._admitted[0] <= now - window:
                self._admitted.popleft()
            if len(self._admitted) < max_requests:
                self._admitted.append(now)
                return None
            wait = self._admitted[0] + window - now
        return max(1, math.ceil(wait))

    def update(self, changes: dict[str, Any]) -> None:
        """Apply a JSON object of changes (POST /sandbox/faults), refusing unknown names and bad values."""
        known = {item.name for item in fields(self) if not item.name.startswith("_")}
        unknown = sorted(set(changes) - known)
        if unknown:
            raise ValueError(
                f"Unknown fault setting(s): {', '.join(unknown)}. Known: {', '.join(sorted(known))}."
            )
        checked: dict[str, Any] = {}
        for name, value in changes.items():
            checked[name] = _checked_value(name, value)
        for name, value in checked.items():
            if name == "seed":
                with self._lock:
                    self._rng = random.Random(value)
            setattr(self, name, value)
        if "rate_limit" in checked:
            with self._lock:
                self._admitted.clear()

    def as_dict(self) -> dict[str, Any]:
        return {item.name: getattr(self, item.name) for item in fields(self) if not item.name.startswith("_")}


def _checked_value(name: str, value: Any) -> Any:
    if name == "rate_limit":
        if value is None:
            return None
        if (
            isinstance(value, (list, tuple))
            and len(value) == 2
            and isinstance(value[0], int)
            and not isinstance(value[0], bool)
            and value[0] >= 1
            and isinstance(value[1], (int, float))
            and value[1] > 0
        ):
            return (int(value[0]), float(value[1]))
        raise ValueError("rate_limit must be null or [max_requests >= 1, window_seconds > 0].")
    if name in RATE_FIELDS:
        if isinstance(value, (int, float)) and not isinstance(value, bool) and 0 <= value <= 1:
            return float(value)
        raise ValueError(f"{name} must be a number from 0 to 1.")
    if name == "latency":
        if isinstance(value, (int, float)) and not isinstance(value, bool) and 0 <= value <= 60:
            return float(value)
        raise ValueError("latency must be a number of seconds from 0 to 60.")
    if name in ("token_lifetime", "seed"):
        if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
            return value
        raise ValueError(f"{name} must be a whole number >= 0.")
    raise ValueError(f"Unknown fault setting {name}.")

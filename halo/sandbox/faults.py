"""Switchable misbehaviour, so the client's retry and never-twice logic is tested against real failures.

Besides failures, the switches cover the ways a real Halo may differ from what the engine expects (see
docs/halo.md): how a save is answered, lean list rows, ignored list parameters, numbers as text, admin-only
endpoints and an agent that cannot see every client. Every switch is off by default. Decisions come from
one seeded RNG so a failing test can be replayed, and all state sits behind a lock because the server
answers requests on many threads.
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
# How a successful POST is answered: Halo documents no response body (docs/halo.md).
POST_ANSWERS = (
    "array",  # every saved record, in the order sent (the default)
    "object",  # one record as a bare object: the first one (what a one-record POST gets from some builds)
    "first",  # an array holding only the first saved record
    "reversed",  # every record, last first
    "shuffled",  # every record, in a seeded random order
    "truncated",  # every record but the last
    "empty",  # 200 with an empty body
    "true",  # the JSON value true
)
FLAG_FIELDS = (
    "lean_rows",
    "ignore_order",
    "ignore_includeinactive",
    "numbers_as_text",
    "ignore_invoice_filters",
)


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
    post_answer: str = "array"  # one of POST_ANSWERS
    lean_rows: bool = False  # list rows without the matching fields (accountsid, third_party_id, ...)
    ignore_order: bool = False  # `order`/`orderdesc` ignored: lists always in id order
    ignore_includeinactive: bool = False  # inactive clients/sites left out of lists whatever is asked
    numbers_as_text: bool = False  # answers carry numbers as text; numbers sent as text are accepted
    # GET /Invoice's notpostedonly, postedonly, includecredits, includeinvoices, invoicedatestart/end and
    # toplevel_id ignored (the OpenAPI even types the dates as bools): every invoice is listed.
    ignore_invoice_filters: bool = False
    admin_only: tuple[str, ...] = ()  # resources answered 403 (an API application without admin rights)
    hidden_clients: tuple[int, ...] = ()  # client ids the API agent cannot see (lists, GET by id, updates)
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

    def shuffled(self, items: list[Any]) -> list[Any]:
        """A copy of ``items`` in an order drawn from the seeded RNG, never the order given (2+ items)."""
        copy = list(items)
        if len(copy) < 2:
            return copy
        with self._lock:
            while copy == items:
                self._rng.shuffle(copy)
        return copy

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
    if name == "post_answer":
        if value in POST_ANSWERS:
            return value
        raise ValueError(f"post_answer must be one of {', '.join(POST_ANSWERS)}.")
    if name in FLAG_FIELDS:
        if isinstance(value, bool):
            return value
        raise ValueError(f"{name} must be true or false.")
    if name == "admin_only":
        if isinstance(value, (list, tuple)) and all(isinstance(item, str) and item for item in value):
            return tuple(value)
        raise ValueError('admin_only must be a list of resource names, such as ["Tax"].')
    if name == "hidden_clients":
        if isinstance(value, (list, tuple)) and all(
            isinstance(item, int) and not isinstance(item, bool) and item > 0 for item in value
        ):
            return tuple(value)
        raise ValueError("hidden_clients must be a list of client ids (whole numbers > 0).")
    raise ValueError(f"Unknown fault setting {name}.")

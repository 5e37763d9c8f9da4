"""How many Halo requests a run still needs: the app's "about 6 minutes at Halo's rate limit".

Why: a first sync of a large company is paced (halo/pacing.py), so it lasts about as long as its requests
take at Halo's rate limit, not as long as reading the books. Rows left are what the books hold (counted once,
before the run, for each stream read in full: the doctor's COUNT(*) of its main table) less what the run has
read; each becomes as many writes as the stream's records planned so far did (a customer: its client and its
main site; an invoice: itself and its payments); writes go out ``batch_size`` to a request. A stream read
from a cursor (an ordinary resync) is not counted: its rows left are not known, and it is short.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from connectors.base import Connector
from core.errors import LedgerBridgeError

MIN_OBSERVED = 20  # records planned before a stream's own writes-per-record replaces the guess of one


def count_rows(connector: Connector, entity: str) -> int | None:
    """The rows of ``entity``'s main table (None: a user query, or the books cannot count it)."""
    stream = next((spec for spec in connector.streams() if spec.name == entity), None)
    table = stream.table if stream is not None else ""
    if not table or table.startswith("("):  # the generic connector's "(user query)"
        return None
    try:
        value = connector.scalar(f"SELECT COUNT(*) FROM {connector.identifier(table)}", f"counting {table}")
    except LedgerBridgeError:
        return None
    if isinstance(value, bool) or value is None:
        return None
    try:
        rows = int(str(value).strip())  # drivers answer COUNT(*) as a number or as its text
    except ValueError:
        return None
    return rows if rows >= 0 else None


def requests_for(queued: Iterable[int], writes: float, batch_size: int) -> int:
    """Requests for writes already queued (one count per batch queue) and ``writes`` more to plan."""
    size = max(1, batch_size)
    return sum(math.ceil(n / size) for n in queued) + math.ceil(max(0.0, writes) / size)


@dataclass
class RequestEstimate:
    """The run's rows per stream read in full, and what the stream being read has planned so far."""

    rows: dict[str, int] = field(default_factory=dict)
    order: Sequence[str] = ()  # the streams of the run, in the order they are read
    entity: str = ""
    read: int = 0  # records of ``entity`` read so far
    writes: int = 0  # writes queued since ``entity`` started (its follow-ups included)

    def start(self, entity: str) -> None:
        self.entity, self.read, self.writes = entity, 0, 0

    def read_to_the_end(self) -> None:
        """The stream is read: nothing is left of it (its rows counted may include ones it never yields)."""
        if self.entity in self.rows:
            self.rows[self.entity] = self.read

    def writes_per_record(self) -> float:
        return self.writes / self.read if self.read >= MIN_OBSERVED else 1.0

    def requests_left(self, queued: Iterable[int], batch_size: int) -> int | None:
        """Requests still to send (None: nothing is known about what is left to read)."""
        if not self.rows:
            return None
        left_here = max(0, self.rows.get(self.entity, 0) - self.read)
        later = self.order[self.order.index(self.entity) + 1 :] if self.entity in self.order else ()
        writes = left_here * self.writes_per_record() + sum(self.rows.get(e, 0) for e in later)
        return requests_for(queued, writes, batch_size)

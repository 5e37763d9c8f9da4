"""Keeps the records a sync skipped on purpose, with their reason, until they sync.

Why: a skipped record (a customer inactive in the books, an item Halo cannot hold as inactive) is read once;
the cursor then moves past it, so without a note it would only ever be seen in that run's log. This listener
sits between the engine and whoever listens (the app, the ``sync`` command) and writes each skip to the state
store, and forgets it once that record is written to Halo or fails for a real reason (then it is a problem).
"""

from __future__ import annotations

from sync.events import Event, Listener, RecordOutcome
from sync.state import StateStore


class SkipRecorder:
    """A listener that records skipped records in ``state`` and passes every event on to ``listener``."""

    def __init__(self, state: StateStore, listener: Listener | None = None) -> None:
        self._state = state
        self._listener = listener
        # Known skips, so the records that sync normally (nearly all) cost no write here.
        self._skipped = {(row.entity, row.key) for row in state.skipped()}

    def __call__(self, event: Event) -> None:
        if isinstance(event, RecordOutcome):
            record = (event.entity, event.key)
            if event.outcome == "skipped":
                self._state.record_skip(event.entity, event.key, event.message)
                self._skipped.add(record)
            elif record in self._skipped:
                self._state.clear_skip(event.entity, event.key)
                self._skipped.discard(record)
        if self._listener is not None:
            self._listener(event)

"""What the engine tells whoever listens (Qt signals in the app, lines on stdout for ``sync``).

Why: the engine never touches a widget; it calls ``listener(event)`` from its own thread and the GUI turns
events into queued signals. Events are small immutable values, safe to pass between threads.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

from sync.posting_preview import PostingPreview

Outcome = Literal["created", "updated", "unchanged", "deactivated", "failed", "skipped"]
OUTCOMES: tuple[Outcome, ...] = ("created", "updated", "unchanged", "deactivated", "failed", "skipped")
RunStatus = Literal["ok", "partial", "failed", "cancelled"]
# Why a run could not run, by what happens next: "config"/"auth" wait for the user; "transient" and "busy"
# heal by themselves; "bug" is for support.
ErrorKind = Literal["", "config", "auth", "transient", "busy", "bug"]


@dataclass(frozen=True, slots=True)
class RunStarted:
    run_id: int
    entities: tuple[str, ...]
    dry_run: bool
    started: datetime


@dataclass(frozen=True, slots=True)
class EntityStarted:
    entity: str


@dataclass(frozen=True, slots=True)
class Progress:
    entity: str
    done: int  # records planned/applied so far for this entity
    total: int | None  # None while the source is still being read
    requests_left: int | None = None  # Halo requests the run still needs (sync/estimate.py); None: unknown
    seconds_left: float | None = None  # those at the client's request budget; None: pacing off or unknown


@dataclass(frozen=True, slots=True)
class RecordOutcome:
    entity: str
    key: str
    outcome: Outcome
    message: str = ""  # why it failed / what a dry run would do
    action: str = ""  # what the user can do about a failure
    halo_id: int | None = None


@dataclass
class RunSummary:
    run_id: int
    started: datetime
    finished: datetime | None = None
    dry_run: bool = False
    status: RunStatus = "ok"
    error: str = ""  # why the run could not run (status 'failed')
    error_kind: ErrorKind = ""
    counts: dict[str, dict[str, int]] = field(default_factory=dict)  # entity -> outcome -> n

    def add(self, entity: str, outcome: Outcome, n: int = 1) -> None:
        per_entity = self.counts.get(entity)
        if per_entity is None:  # not setdefault: its default, a new dict, would be built for every record
            per_entity = self.counts[entity] = dict.fromkeys(OUTCOMES, 0)
        per_entity[outcome] += n

    def total(self, outcome: Outcome) -> int:
        return sum(c.get(outcome, 0) for c in self.counts.values())

    @property
    def exit_code(self) -> int:
        """0 all good, 1 some records failed, 2 could not run (or was cancelled: it did not finish)."""
        if self.status in ("failed", "cancelled"):
            return 2
        return 1 if self.total("failed") else 0


@dataclass(frozen=True, slots=True)
class RunFinished:
    summary: RunSummary


@dataclass(frozen=True, slots=True)
class LogMessage:
    level: Literal["info", "warning", "error"]
    text: str


@dataclass(frozen=True, slots=True)
class PostingPreviewed:
    """A dry run's list of what posting would write into the books (sync/posting.py), with its totals."""

    preview: PostingPreview


Event = RunStarted | EntityStarted | Progress | RecordOutcome | RunFinished | LogMessage | PostingPreviewed
Listener = Callable[[Event], None]

"""What an entity's planner and the engine share: the planned write (plain data) and the run's services.

Why: a record used to travel between batches inside closures (``match``, ``on_confirmed``, ``replan``)
that a reader could not see into. Now a planned write is a ``Pending`` holding the record it came from and
every value confirming or replanning it needs, and the entity's hooks (``EntityPlanner``) are named
methods the engine calls: ``plan`` a record, ``match`` it to Halo, act once it has ``settled``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

from connectors.base import Connector
from core.errors import AuthError
from core.records import Record
from core.specs import EntitySpec, MatchRules
from halo import payloads
from halo.resources import resource
from sync.events import Event, Outcome
from sync.known_rows import InStep
from sync.settings import Settings
from sync.state import Link, StateStore

if TYPE_CHECKING:  # the index module reads the specs, which read this module
    from sync.halo_index import HaloIndexes

# What to do when several Halo records share an unlinked record's name ({key}: the books' key).
KEY_OR_RENAME = "Give one of them the accounts ID {key} in Halo, or rename the duplicates, then sync again."
# The usual rules: the Halo record carrying the books' key, else the one record of the same company name.
KEY_THEN_NAME = MatchRules(by_key=True, name_folding="company", ambiguous_action=KEY_OR_RENAME)


class PlanProblem(Exception):
    """A record that cannot be planned (unmapped tax, waiting for its customer, ambiguous name)."""

    def __init__(self, message: str, action: str) -> None:
        super().__init__(message)
        self.message = message
        self.action = action


@dataclass
class Pending:
    """One planned write waiting in a batch: everything confirming (or replanning) it needs, as data."""

    entity: str  # link entity: tax_rates, customers, sites, suppliers, items, invoices, payments
    key: str
    record: Any  # the canonical record planned (its entity's hooks read it once the write settles)
    payload: dict[str, Any]  # what is sent: with the Halo id for an update, the create extras for a create
    planned: dict[str, Any]  # the payload as planned, before either: a replan starts from it
    content_hash: str
    halo_id: int | None  # None: a create
    outcome: Outcome
    stream: str  # whose cursor this record holds back when it fails
    modified: datetime | None
    message: str = ""
    create_extra: dict[str, Any] | None = None
    linked: bool = False  # it updates a linked record (gone from Halo: relinked by key and planned again)
    step: str = ""  # the entity's own word for what follows its confirmation ("carry": customers.py)
    rows: InStep | None = None  # keeps its rows' digest once it and its riders are confirmed (known_rows)
    rider_of: InStep | None = None  # the record it rides with, whose digest waits for it

    @classmethod
    def update(
        cls,
        entity: str,
        record: Any,
        payload: dict[str, Any],
        halo_id: int,
        *,
        outcome: Outcome,
        stream: str,
        modified: datetime | None,
        message: str = "",
        step: str = "",
        inputs: str = "",
    ) -> Pending:
        """A write to a Halo record whose id is known already (a main site, a follow-up deactivation).

        ``inputs``: the fingerprint of what the payload was built from, kept with its content hash."""
        body = {"id": halo_id, **payload}
        content_hash = payloads.stored_hash(payloads.content_hash(payload), inputs)
        return cls(
            entity,
            record.key,
            record,
            body,
            payload,
            content_hash,
            halo_id,
            outcome,
            stream,
            modified,
            message,
            step=step,
        )


class HaloReader(Protocol):
    """The one Halo read an entity's planner makes itself (a customer's main site)."""

    def get_record(
        self, resource: str, record_id: int, params: dict[str, str] | None = None
    ) -> dict[str, Any] | None: ...


class Run(Protocol):
    """The engine as an entity's planner sees it: the run's settings, store and shared planning steps."""

    settings: Settings
    state: StateStore
    connector: Connector
    dry_run: bool
    wanted: frozenset[str]
    problems: dict[tuple[str, str], str]
    skip_reasons: dict[tuple[str, str], str]
    halo: HaloIndexes

    @property
    def reader(self) -> HaloReader: ...

    def planner(self, entity: str) -> EntityPlanner: ...

    def link(self, entity: str, key: str) -> Link | None: ...

    def halo_id_of(self, entity: str, key: str) -> int | None: ...

    def plan(
        self,
        spec: Spec,
        record: Record,
        payload: dict[str, Any],
        *,
        stream: str,
        modified: datetime | None,
        create_extra: dict[str, Any] | None = None,
        outcome: Outcome = "updated",
        step: str = "",
        use_link: bool = True,
        known: int | None = None,
        inputs: str = "",
        keep_rows: bool = False,
    ) -> None: ...

    def unchanged_inputs(
        self,
        spec: Spec,
        record: Record,
        inputs: str,
        planned: dict[str, Any],
        *,
        stream: str,
        modified: datetime | None,
        keep_rows: bool = False,
    ) -> bool: ...

    def unchanged_riders(self, entity: str, count: int) -> None: ...

    def keep_no_rows(self) -> None: ...

    def keep_fingerprint(self, entity: str, key: str, read: str, kept: str) -> None: ...

    def queue(self, pending: Pending) -> None: ...

    def flush(self, resources: Sequence[str] | None = None) -> None: ...

    def lookup(self, spec: Spec, key: str, name: str = "") -> dict[str, Any] | None: ...

    def plan_guarded(self, entity: str, record: Record) -> None: ...

    def plan_records(self, entity: str, records: Sequence[Record]) -> None: ...

    def skipped(
        self, entity: str, key: str, message: str, stream: str, modified: datetime | None
    ) -> None: ...

    def kept(self, entity: str, key: str, stream: str, modified: datetime | None) -> None: ...

    def fail(
        self, entity: str, key: str, message: str, action: str, modified: datetime | None, stream: str
    ) -> None: ...

    def solved(self, entity: str, key: str) -> None: ...

    def waiting_for(self, entity: str, key: str, noun: str) -> PlanProblem: ...

    def emit(self, event: Event) -> None: ...


class EntityPlanner:
    """Plans one entity's records during one run; the entity's per-run memory lives on the subclass.

    The defaults suit a plain entity: matched by the spec's rules, nothing follows its confirmation.
    """

    # True where ``plan`` passes ``keep_rows`` to ``unchanged_inputs``: the engine may then have the
    # connector skip the rows it knows unchanged (sync/known_rows.py), and ``unchanged_row`` settles them.
    keeps_rows: ClassVar[bool] = False

    def __init__(self, run: Run, spec: Spec) -> None:
        self.run = run
        self.spec = spec

    def skip_inactive(self, record: Any, *, not_created: str, left_alone: str) -> bool:
        """Skip a record inactive or deleted in the books (True), unless it is linked and will be made
        inactive in Halo: only where Halo's schema has an `inactive` flag and 'Make inactive in Halo' is on.
        ``not_created`` says why an unlinked one is not created, ``left_alone`` why a linked one is left.
        """
        if getattr(record, "active", True) and not getattr(record, "deleted", False):
            return False
        linked = self.run.halo_id_of(self.spec.name, record.key) is not None
        can_deactivate = (
            resource(self.spec.resource).has_inactive and self.run.settings.sync.deactivate_deleted
        )
        if linked and can_deactivate:
            return False
        message = left_alone if linked else not_created
        self.run.skipped(
            self.spec.name, record.key, message, self.spec.name, getattr(record, "modified", None)
        )
        return True

    def plan(self, record: Any) -> None:
        """Decide what to do with one record read from the books (raise PlanProblem to say why not)."""
        raise NotImplementedError(f"{self.spec.name} records are carried by {self.spec.rides_with}")

    def linked_keys(self, records: Sequence[Any]) -> dict[str, list[str]]:
        """The links planning ``records`` reads, by entity: the engine reads them in one query per entity
        for a page of records. A link left out is still read, on its own, when planning asks for it."""
        return {self.spec.name: [record.key for record in records]}

    def match(self, record: Any) -> int | None:
        """The Halo id of the unlinked ``record``'s twin, by the spec's match rules (None: create it)."""
        found = self.run.lookup(self.spec, record.key, getattr(record, "name", ""))
        return int(found["id"]) if found is not None else None

    def settled(self, pending: Pending, halo_id: int, answer: dict[str, Any]) -> None:
        """The write was confirmed (or the link found it unchanged: ``answer`` is then empty)."""

    def rides_alone(self, record: Any) -> bool:
        """Whether nothing rides with ``record`` once confirmed (no payments, no site): its link is then
        saved with its rows' digest at once, rather than updated once its riders are confirmed too."""
        return False

    def unchanged_row(self, key: str, riders: int) -> None:
        """A row known unchanged was not converted: what ``settled`` does for an unchanged record, without
        the record (``riders``: how many records riding with it were in step when it was kept)."""

    def prepare(self) -> None:
        """Before a stream that depends on this entity is read (no read nested inside another)."""

    def finish_reading(self) -> None:
        """The stream was read to its end; plan whatever waited for the rest of it."""

    def forbidden(self, exc: AuthError, batch: Sequence[Pending]) -> bool:
        """Halo refused the batch's resource (403): True when this entity goes on without it."""
        return False


Spec = EntitySpec[Run, EntityPlanner]

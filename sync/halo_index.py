"""The Halo side's index of each resource: read lazily, completed where list rows are partial, checked.

Why its own module: matching an unlinked record needs what Halo holds (by key and by name), and reading
it is where Halo's quirks bite: partial list rows (re-read by id), an API agent that cannot see what was
linked before (the visibility check, which stops the run before anything is created), lists that ignore
``includeinactive`` or ``order``. The engine asks only ``index``, ``add_newer``, ``match_by_key`` and
``free``; Halo's facts per resource (key and name fields, index parameters, orderable) come from
halo/resources.py.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any, Protocol

from core.errors import ConfigError
from halo.client import RequestStats
from halo.resources import resource as halo_resource
from sync.answers import halo_id as answer_id
from sync.entities import BY_RESOURCE
from sync.matching import HaloIndex
from sync.state import Link, StateStore

log = logging.getLogger("ledgerbridge.sync")

# Lists Halo can order (its OpenAPI gives `order`/`orderdesc` on these): a reconcile reads them newest first.
NEWEST_FIRST: dict[str, str] = {"order": "id", "orderdesc": "true"}
DETAILS = {
    "includedetails": "true"
}  # GET /{resource}/{id}: the full record (Halo's OpenAPI offers it on each)
VISIBILITY_SAMPLE = 8  # linked ids looked for in a freshly read list


class HaloWriter(Protocol):
    """What the engine needs from halo.client.HaloClient (kept narrow so the engine reads clearly)."""

    @property
    def stats(self) -> RequestStats: ...

    def iter_records(
        self, resource: str, params: Mapping[str, Any] | None = None, *, page_size: int | None = None
    ) -> Iterator[dict[str, Any]]: ...

    def get_record(
        self, resource: str, record_id: int, params: Mapping[str, Any] | None = None
    ) -> dict[str, Any] | None: ...

    def save(self, resource: str, records: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]: ...


def newer_records(
    client: HaloWriter, resource: str, above: int, *, page_size: int | None = None
) -> Iterator[dict[str, Any]]:
    """Halo's records of ``resource`` with an id above ``above``: what appeared since that id was the newest.

    Newest first where Halo can order the list: the reading stops at the first record at or below ``above``
    once the server is seen to honour the order (known from the first two records). A server that ignores
    the order, or a list Halo cannot order, is read to the end, so no newer record is ever missed.
    """
    row = halo_resource(resource)
    params = {**row.index_params, **(NEWEST_FIRST if row.orderable else {})}
    honoured: bool | None = None
    previous: int | None = None
    for record in client.iter_records(resource, params, page_size=page_size):
        record_id = answer_id(record) or 0
        if row.orderable and honoured is None and previous is not None:
            honoured = record_id < previous
        previous = record_id
        if record_id > above:
            yield record
        elif honoured:
            return


class HaloIndexes:
    """What Halo holds per resource, for matching: read once per run when needed, grown after creates."""

    def __init__(self, client: HaloWriter, state: StateStore, *, on_blind: Callable[[], None]) -> None:
        self.client = client
        self.state = state
        self._on_blind = on_blind  # Halo cannot show what was linked: the engine marks the run unfinished
        self._indexes: dict[str, HaloIndex] = {}
        # Halo ids matched in this run whose write is not confirmed yet (or was refused), per resource; a
        # confirmed one is answered by its link, saved with its batch (``claimed``): no run-long set.
        self._unconfirmed: dict[str, set[int]] = {}
        self._since = state.stamp()  # links saved from here on were saved by this run
        self._details: dict[
            tuple[str, int], dict[str, Any] | None
        ] = {}  # partial rows read in full (None: gone)
        self._halo_keys: dict[str, dict[int, str]] = {}  # Halo id -> linked source key, per resource

    def has(self, resource: str) -> bool:
        return resource in self._indexes

    def get(self, resource: str) -> HaloIndex | None:
        """The index read so far, without reading it."""
        return self._indexes.get(resource)

    def put(self, resource: str, index: HaloIndex) -> None:
        """Stand an index in for one Halo refused to show (taxes without admin rights: an empty one)."""
        self._indexes[resource] = index

    def claim(self, resource: str, halo_id: int) -> None:
        """A Halo record matched in this run, its write not confirmed yet: no other record may match it."""
        self._unconfirmed.setdefault(resource, set()).add(halo_id)

    def confirmed(self, resource: str, halo_id: int) -> None:
        """A write to ``halo_id`` was confirmed and its link saved: the link now says it is claimed."""
        unconfirmed = self._unconfirmed.get(resource)
        if unconfirmed is not None:
            unconfirmed.discard(halo_id)

    def claimed(self, resource: str, halo_id: int) -> bool:
        """Whether a record of the books was linked (or matched) to ``halo_id`` in this run.

        Why from the state store: the links of a confirmed batch are saved before anything follows from
        it, stamped this run, so they answer for every confirmed write; a set holding them all grew with
        every record of a first sync. Only matches still waiting for (or refused) their write stay here.
        """
        if halo_id in self._unconfirmed.get(resource, ()):
            return True
        spec = BY_RESOURCE.get(resource)
        return spec is not None and self.state.linked_since(spec.name, halo_id, self._since)

    def _load_index(self, resource: str) -> HaloIndex:
        row = halo_resource(resource)
        index = HaloIndex(name_field=row.name_field, key_field=row.key_field)
        for found in self.client.iter_records(resource, dict(row.index_params)):
            record = self._complete(resource, found)
            if record is not None:  # None: a partial row of a record gone before it could be read in full
                index.add(record)
        self._check_visibility(resource, index)
        self._indexes[resource] = index
        return index

    def _complete(self, resource: str, row: dict[str, Any]) -> dict[str, Any] | None:
        """A list row with the fields matching needs; a partial row is re-read by id (counted, cached).

        Why: Halo's list rows are partial objects (public clients re-read each record by id for the full
        one) and which fields they keep is not documented. A row that lacks the key field entirely, rather
        than carrying it empty, cannot be matched or ruled out, so it is read in full once, unless it is a
        record LedgerBridge links already: its key is then the link's (links win over matching anyway).
        """
        key_field = halo_resource(resource).key_field
        needed = (key_field, halo_resource(resource).name_field)
        row_id = answer_id(row)
        if row_id is None or all(name in row for name in needed):
            return row
        linked_key = self._linked_keys(resource).get(row_id)
        if linked_key is not None and key_field not in row and needed[1] in row:
            return {**row, key_field: linked_key}
        if (resource, row_id) not in self._details:
            full = self.client.get_record(resource, row_id, DETAILS)
            self.client.stats.add_lookup(f"{resource} list row without {needed[0]}")
            self._details[(resource, row_id)] = {**row, **full} if full is not None else None
        return self._details[(resource, row_id)]

    def _linked_keys(self, resource: str) -> dict[int, str]:
        """Halo id -> source key of this resource's links (read once per run)."""
        known = self._halo_keys.get(resource)
        if known is None:
            known = self._halo_keys[resource] = {
                link.halo_id: key for key, link in self._links_of(resource).items()
            }
        return known

    def _links_of(self, resource: str) -> dict[str, Link]:
        spec = BY_RESOURCE.get(resource)
        return self.state.links(spec.name) if spec is not None else {}

    def _check_visibility(self, resource: str, index: HaloIndex) -> None:
        """Stop before creating anything if Halo cannot show us what we linked before.

        Why: an API agent that cannot see a team's records gets empty or thinned lists, which would read as
        "not in Halo yet" and create every record again. A sample of linked ids is looked for in the list;
        those missing are read by id. An empty list while links exist, or a quarter of the sample missing,
        stops the run with what to check. Linked records the list leaves out only because they are inactive
        (a Halo that ignores ``includeinactive``) are added to the index instead, so they still match.
        """
        links = self._links_of(resource)
        if not links:
            return
        linked_ids = sorted({link.halo_id for link in links.values()})
        step = max(1, len(linked_ids) // VISIBILITY_SAMPLE)
        sample = linked_ids[::step][:VISIBILITY_SAMPLE]
        listed = {answer_id(record) for record in index.records()}
        missing = [halo_id for halo_id in sample if halo_id not in listed]
        if not missing and len(index):
            return
        readable: list[dict[str, Any]] = []
        for halo_id in missing:
            record = self.client.get_record(resource, halo_id)
            self.client.stats.add_lookup("visibility check")
            if record is not None:
                readable.append(record)
        if readable and all(record.get("inactive") for record in readable) and len(index):
            log.warning(
                "Halo's %s list leaves out inactive records even when asked for them (includeinactive "
                "ignored): linked ones are still updated by id, but an unlinked record whose Halo twin is "
                "inactive cannot be found by its key",
                resource,
            )
            for record in readable:
                index.add(record)  # read by id: a full record
            return
        if len(index) and not readable and len(missing) <= max(1, len(sample) // 4):
            return  # a few linked records deleted in Halo: each becomes its own problem when next sent
        self._on_blind()
        noun = halo_resource(resource).plural
        shown = "no" if not len(index) else f"only {len(index)}"
        raise ConfigError(
            f"Halo shows {shown} {noun} to LedgerBridge, but {len(links)} are linked from earlier syncs "
            f"({len(missing)} of {len(sample)} sampled links are missing from Halo's list). Nothing was "
            f"created, so nothing is doubled.",
            action=(
                "In Halo, check that the API application's agent can see them: its teams and departments, "
                "the 'All Standard' permissions on the application's Permissions tab, and the application's "
                "Login Type (Agent, with the right agent chosen). Then sync again."
            ),
            detail=f"{resource}: sampled linked ids {sample}, missing from the list {missing}, "
            f"readable by id {[answer_id(r) for r in readable]}",
        )

    def add_newer(self, resource: str) -> HaloIndex:
        """Add to the index what Halo holds beyond it: only those records can be creates that landed.

        Why: re-reading a whole resource after every create that may have landed costs a page per
        ``page_size`` records of Halo (500 GETs for 50,000 invoices) per failed batch; ``newer_records``
        reads newest first and stops at the first record the index already covers.
        """
        index = self._indexes.get(resource)
        if index is None or not halo_resource(resource).orderable:
            return self._load_index(resource)
        known = max((answer_id(record) or 0 for record in index.records()), default=0)
        for record in newer_records(self.client, resource, known):
            completed = self._complete(resource, record)
            if completed is not None:
                index.add(completed)
        return index

    def index(self, resource: str) -> HaloIndex:
        index = self._indexes.get(resource)
        return index if index is not None else self._load_index(resource)

    def free(self, resource: str, records: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
        return [r for r in records if r.get("id") and not self.claimed(resource, int(r["id"]))]

    def match_by_key(self, resource: str, key: str) -> dict[str, Any] | None:
        found = self.index(resource).by_key(key)
        if found is not None and found.get("id") and not self.claimed(resource, int(found["id"])):
            return found
        return None

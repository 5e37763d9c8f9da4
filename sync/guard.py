"""Another LedgerBridge syncing the same books into the same Halo: notice it and stop instead of doubling.

Why: the sync lock only covers one PC. Two installations (two PCs, or an old one left running) each match
by key against the Halo index they read at the start, and both create what neither saw: everything twice.
Halo offers no lock and no unique key (halo-api.md), but it numbers the records of a resource as it
creates them, so whatever appeared after our index read holds an id above the highest one we saw. This
guard sits between the engine and the Halo client and costs no request while nobody else writes:

- a create batch whose new ids follow on directly from the newest id we know means nobody created
  anything in that resource meanwhile: nothing to check;
- a gap means someone did: the records above what we know are read (newest first) and, if another program
  created a record with a key of this batch or of one we created, our later copies (higher ids) are removed
  again and the run stops with a message naming the other installation's last activity; the copy Halo made
  first stays, so each record is in Halo once whichever side noticed;
- a batch with a key another program is already known to have created is stopped before it is sent.

A create that may have landed (a timeout), or that Halo accepted without showing it in its answer, is the
engine's to reconcile: its one copy is adopted, not counted as another installation's.

Memory stays flat: which ids are ours and which keys we created are not held for the whole run. The last
``RECENT`` of each are; older ones are answered by the state store's links (saved per confirmed batch): an
id linked by the engine is ours unless this guard saw it first as someone else's (``foreign``), and a key
linked to an id above the watermark is one this run created (ids grow).
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Generic, TypeVar

from core.errors import ConfigError, LedgerBridgeError, TransientError
from halo.client import HaloClient, RequestStats
from halo.resources import RESOURCES
from sync.answers import halo_id
from sync.entities import BY_RESOURCE
from sync.halo_index import newer_records
from sync.matching import normalise_key
from sync.state import StateStore

log = logging.getLogger("ledgerbridge.sync")

TIMESTAMP_FIELDS = ("alastupdate", "lastmodified", "last_modified", "datecreated", "date")
WHOLE_LIST_PARAMS = frozenset({"includeinactive", "order", "orderdesc"})  # params that filter nothing out
CHECK_PAGE_SIZE = 50
RECENT = 256  # our newest ids and sent keys held per resource (at least two batches); older: from the links


T = TypeVar("T")


class Recent(Generic[T]):
    """The last ``size`` values added, as a set: what fell out of it is the state store's to answer."""

    def __init__(self, size: int | None = None) -> None:
        self.size = RECENT if size is None else size
        self._values: dict[T, None] = {}

    def add(self, value: T) -> None:
        self.update((value,))

    def fit(self, count: int) -> None:
        """Hold at least two batches of ``count``: a batch's ids are checked before the engine links them."""
        self.size = max(self.size, 2 * count)

    def update(self, values: Iterable[T]) -> None:
        """As adding each in turn: the oldest beyond ``size`` go once all are in (the same ones go)."""
        held = self._values
        for value in values:
            held.pop(value, None)
            held[value] = None
        if len(held) > self.size:
            for old in list(itertools.islice(held, len(held) - self.size)):
                del held[old]

    def __contains__(self, value: object) -> bool:
        return value in self._values

    def __len__(self) -> int:
        return len(self._values)


@dataclass
class _Seen:
    """What one resource holds above the watermark, by key, and which of those ids are ours."""

    watermark: int | None = None  # the highest id of the first full read (the engine's index)
    newest: int = 0  # the highest id read so far
    by_key: dict[str, dict[int, dict[str, Any]]] = field(default_factory=dict[str, Any])
    ours: Recent[int] = field(default_factory=Recent[int])  # our newest creates (and adopted copies)
    foreign: set[int] = field(default_factory=set)  # ids read above the watermark that were not ours then
    sent_keys: Recent[str] = field(default_factory=Recent[str])  # keys we created (or may have), newest
    maybe_ours: set[str] = field(default_factory=set)  # keys of a create that may have landed unconfirmed
    noted: set[str] = field(default_factory=set)  # keys whose copies (by_key) grew since the last check
    foreign_seen: bool = False  # another program created something in this resource during the run


class SecondInstallationGuard:
    """A HaloWriter wrapper: the engine's reads and saves pass through, create batches are checked."""

    def __init__(self, client: HaloClient, state: StateStore) -> None:
        self._client = client
        self._state = state  # the engine's links: which older ids are ours, which older keys we created
        self._seen: dict[str, _Seen] = {}

    @property
    def stats(self) -> RequestStats:
        return self._client.stats

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)  # close, ...: the client's own

    # --- what the engine calls ------------------------------------------------------------------------------

    def iter_records(
        self, resource: str, params: Mapping[str, Any] | None = None, *, page_size: int | None = None
    ) -> Iterator[dict[str, Any]]:
        """The client's records; the first full read of a resource (the engine's index) is the watermark."""
        seen = self._seen.setdefault(resource, _Seen())
        first = seen.watermark is None
        whole_list = set(params or {}) <= WHOLE_LIST_PARAMS  # no filter: every record is in this read
        newest_first = whole_list and bool(params and params.get("orderdesc") == "true")
        highest, lowest, finished = 0, None, False
        try:
            for record in self._client.iter_records(resource, params, page_size=page_size):
                record_id = _id(record)
                highest = max(highest, record_id)
                lowest = record_id if lowest is None else min(lowest, record_id)
                if not first:
                    self._note(resource, seen, record)  # e.g. the engine's reconcile: learn from it
                yield record
            finished = True
        finally:
            if first and finished:
                seen.watermark = seen.newest = highest  # everything above it appeared after this read
            elif not first and whole_list and (finished or (newest_first and (lowest or 0) <= seen.newest)):
                seen.newest = max(seen.newest, highest)  # the read covered everything above what we knew

    def get_record(
        self, resource: str, record_id: int, params: Mapping[str, Any] | None = None
    ) -> dict[str, Any] | None:
        return self._client.get_record(resource, record_id, params)

    def save(self, resource: str, records: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
        key_field = _key_field(resource)
        creates = [r for r in records if not r.get("id")]
        seen = self._seen.setdefault(resource, _Seen())
        if key_field is None or not creates or seen.watermark is None:
            return self._client.save(resource, records)  # no index read: the engine matched nothing here
        keys = {k for k in (normalise_key(r.get(key_field)) for r in creates) if k}
        self._check(resource, seen, keys)  # free: what we already know another program created
        seen.ours.fit(len(creates))
        seen.sent_keys.fit(len(creates))
        seen.sent_keys.update(sorted(keys))
        try:
            saved = self._client.save(resource, records)
        except TransientError as exc:
            if exc.maybe_written:
                seen.maybe_ours |= keys
            raise
        updated = {_id(r) for r in records if r.get("id")}
        answered = [(_id(r), r) for r in saved]
        new = [r for record_id, r in answered if record_id and record_id not in updated]
        new_ids = sorted(record_id for record_id, _ in answered if record_id and record_id not in updated)
        seen.ours.update(new_ids)
        # Halo may answer a save with the first record only, one object or nothing (docs/halo.md): a key the
        # answer does not show was created by us all the same, so one copy of it found later is ours.
        seen.maybe_ours |= keys - {normalise_key(r.get(key_field)) for r in new}
        whole = len(new_ids) == len(creates)
        if whole and new_ids == list(range(seen.newest + 1, seen.newest + 1 + len(new_ids))):
            seen.newest = new_ids[-1]  # straight after what we knew: nobody else created anything
            return saved
        try:
            self._read_newer(resource, seen)
        except TransientError as exc:
            exc.maybe_written = True  # the batch landed; the engine looks it up before sending it again
            raise
        self._check(resource, seen, keys)
        return saved

    def finish(self) -> None:
        """A last look where another program was seen creating: a double it left behind is reported."""
        for resource, seen in self._seen.items():
            if seen.foreign_seen:
                self._read_newer(resource, seen)
                self._check(resource, seen, set())

    # --- the check ------------------------------------------------------------------------------------------

    def _check(self, resource: str, seen: _Seen, keys: set[str]) -> None:
        """Stop if another program created one of ``keys`` or of the keys we created before.

        A key we created that was found clean stays clean until another copy of it is read (``ours`` only
        grows), so besides ``keys`` only the sent keys with copies noted since the last check are looked at:
        the same verdict as looking at every sent key, at the cost of the batch, not of the run so far.
        """
        conflicts: list[tuple[str, list[dict[str, Any]]]] = []
        checked = keys | {k for k in seen.noted if self._sent(resource, seen, k)}
        # A key no copy of which was read above the watermark has nothing to say: not even sorted.
        for key in sorted(k for k in checked if seen.by_key.get(k)):
            copies = seen.by_key[key]
            foreign = [r for i, r in copies.items() if not self._ours(resource, seen, i)]
            if key in seen.maybe_ours and len(foreign) == 1 and len(foreign) == len(copies):
                # our own create that landed unconfirmed: the engine links it
                seen.foreign.discard(_id(foreign[0]))
                seen.ours.add(_id(foreign[0]))
                continue
            if foreign:
                conflicts.append((key, sorted(copies.values(), key=_id)))
        if conflicts:
            raise self._stop(resource, seen, conflicts)
        seen.noted.clear()

    def _ours(self, resource: str, seen: _Seen, record_id: int) -> bool:
        """Whether we created ``record_id`` (or adopted it as our create that landed unconfirmed).

        Our newest creates are held; an older one is ours when the engine linked it, unless this guard read
        it before it was linked and it was not ours then (a copy the engine's reconcile linked is not
        thereby ours: the same verdict as holding every id of the run).
        """
        if record_id in seen.ours:
            return True
        if record_id in seen.foreign:
            return False
        entity = _entity(resource)
        return entity is not None and self._state.is_linked_id(entity, record_id)

    def _sent(self, resource: str, seen: _Seen, key: str) -> bool:
        """Whether this run created ``key`` (or may have): held while recent, else its link to a new id."""
        if key in seen.sent_keys or key in seen.maybe_ours:
            return True
        entity = _entity(resource)
        above = seen.watermark
        return entity is not None and above is not None and self._state.key_linked_above(entity, key, above)

    def _note(self, resource: str, seen: _Seen, record: dict[str, Any]) -> None:
        record_id = _id(record)
        if record_id <= (seen.watermark or 0):
            return
        key = normalise_key(record.get(_key_field(resource) or ""))
        if key:
            seen.by_key.setdefault(key, {})[record_id] = record
            seen.noted.add(key)
        if not self._ours(resource, seen, record_id):
            seen.foreign.add(record_id)
            seen.foreign_seen = True

    def _read_newer(self, resource: str, seen: _Seen) -> None:
        """Add what Halo holds above ``seen.newest``: newest first when Halo sorts, else the whole list."""
        newest = seen.newest
        for record in newer_records(self._client, resource, seen.newest, page_size=CHECK_PAGE_SIZE):
            self._note(resource, seen, record)
            newest = max(newest, _id(record))
        seen.newest = newest

    def _stop(
        self, resource: str, seen: _Seen, conflicts: list[tuple[str, list[dict[str, Any]]]]
    ) -> LedgerBridgeError:
        """Remove our later copies of a key both sides just created, and say what the other side did."""
        row = RESOURCES.get(resource)
        word = row.singular.removeprefix("the ") if row is not None and row.singular else resource
        removed: list[int] = []
        left: list[str] = []
        for key, copies in conflicts:
            keep = copies[0]  # the first copy Halo made stays; every side removes its own later ones
            for copy in copies[1:]:
                if self._ours(resource, seen, _id(copy)) and self._remove(resource, _id(copy)):
                    removed.append(_id(copy))
                    seen.by_key[key].pop(_id(copy), None)
                else:
                    left.append(f"{_shown(key, copies, resource)} (Halo ids {_id(keep)} and {_id(copy)})")
        foreign = [r for _, copies in conflicts for r in copies if not self._ours(resource, seen, _id(r))]
        latest = max(foreign, key=_id) if foreign else conflicts[0][1][-1]
        when = _activity(latest)
        example = ", ".join(_shown(key, copies, resource) for key, copies in conflicts[:3])
        example += " ..." if len(conflicts) > 3 else ""
        message = (
            f"Another LedgerBridge (or another program) is syncing into this Halo at the same time: it "
            f"created {word} {example} while this sync was running (its last activity: Halo {word} "
            f"{_id(latest)}, {when}). This sync stopped so nothing is created twice."
        )
        if removed:
            message += f" The copies this sync had just made were removed again (Halo ids {_ids(removed)})."
        action = (
            "Let only one PC sync these books into this Halo: stop LedgerBridge (its tray app and any "
            "scheduled task) on the other PC, then sync again; records are matched by key, nothing is lost."
        )
        if left:
            action += f" If Halo still holds one of these twice, delete the later copy: {'; '.join(left)}."
        log.warning("Second installation detected on %s: %s", resource, message)
        return ConfigError(message, action=action, detail=f"{resource}: {len(conflicts)} key(s) in conflict")

    def _remove(self, resource: str, record_id: int) -> bool:
        try:
            self._client.delete_record(resource, record_id)
        except LedgerBridgeError as exc:
            log.warning("Could not remove the double %s %s: %s", resource, record_id, exc)
            return False
        return True


def _key_field(resource: str) -> str | None:
    """Where Halo keeps the books' key on ``resource`` (halo/resources.py), None for one we do not write."""
    row = RESOURCES.get(resource)
    return row.key_field if row is not None else None


def _entity(resource: str) -> str | None:
    """The link entity of ``resource`` (its links say which ids are ours), None for one we do not sync."""
    spec = BY_RESOURCE.get(resource)
    return spec.name if spec is not None else None


def _id(record: Mapping[str, Any]) -> int:
    """The record's Halo id (Halo may answer ids as text), 0 when it has none."""
    if type(record) is dict:  # as answers are: no check against the Mapping ABC
        return halo_id(record) or 0
    return (halo_id(record) or 0) if isinstance(record, Mapping) else 0


def _shown(key: str, copies: list[dict[str, Any]], resource: str) -> str:
    """The key as Halo holds it (the comparison is case-insensitive, the message should not be)."""
    for copy in copies:
        value = copy.get(_key_field(resource) or "")
        if isinstance(value, str) and value.strip():
            return value.strip()
    return key


def _ids(values: Iterable[int]) -> str:
    return ", ".join(str(v) for v in sorted(values))


def _activity(record: dict[str, Any]) -> str:
    for name in TIMESTAMP_FIELDS:
        value = record.get(name)
        if isinstance(value, str) and value.strip():
            return f"saved {value.strip()}"
    return f"seen {datetime.now(UTC):%Y-%m-%d %H:%M} UTC"

"""The links of the records being planned: read for a page of records at once, saved a batch at once.

Why: the engine used to ask the state store once per record for its link (and once more for its site, its
customer, each line's item, each payment): a SQLite round trip each, about a tenth of a no-change sync.
Now the engine reads a page of records from the books, asks the entity's planner which links planning them
will read (``EntityPlanner.linked_keys``), and reads those with one query per entity; a link not read that
way (a record confirmed on a later page, a carried customer) is read on its own, as before. The links a
batch's confirmation makes are saved in one transaction (``StateStore.save_links``) and remembered here, so
what the engine reads back is what it saved.

Memory stays flat: only the links of the last few pages are held (those named longest ago forgotten
first), at most ``KEEP`` once a page's are read (more only for the links a page's own writes save, or a
page that names more on its own), never a whole entity's.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime

from sync.state import TO_HALO, Link, LinkWrite, StateStore

KEEP = 5000  # links held at most; the older pages' are forgotten when the next page's would pass it


class PageLinks:
    """A bounded read-through, write-through view of the state store's links of one direction."""

    def __init__(self, state: StateStore, direction: str = TO_HALO, *, keep: int = KEEP) -> None:
        self.state = state
        self.direction = direction
        self.keep = keep
        # None: read, and there is no link; _Saved: saved by this run, made a Link once asked for
        # (most links a first sync saves are never read back, and a Link is dear to make).
        self._known: dict[tuple[str, str], Link | _Saved | None] = {}

    def read_page(self, wanted: Mapping[str, Iterable[str]]) -> None:
        """Read the links of a page of records (entity -> keys) at once; what is not found has none.

        When this page's links would take the view past ``keep`` (not once it already holds more), the links
        named longest ago are forgotten first, never this page's: a page of a larger company names more
        distinct records (its lines' items), and a view allowed ``keep`` plus a page grew with it. Links a
        page names again (its customers, its lines' items) move to the back, so a run of invoice pages
        forgets the invoices and payments of older pages before the customers and items they share.
        """
        known = self._known
        unread: dict[str, list[str]] = {}
        named = 0  # of this page's links the view holds already (moved to its back)
        for entity, keys in wanted.items():
            missing = unread[entity] = []
            for key in dict.fromkeys(keys):
                name = (entity, key)
                if name in known:
                    known[name] = known.pop(name)
                    named += 1
                else:
                    missing.append(key)
        new = sum(len(keys) for keys in unread.values())
        excess = len(known) + new - self.keep
        if new and excess > 0:
            for name in list(itertools.islice(known, min(excess, len(known) - named))):
                del known[name]
        for entity, keys in unread.items():
            if not keys:
                continue
            found = self.state.links_for(entity, keys, self.direction)
            for key in keys:
                known[(entity, key)] = found.get(key)

    def get(self, entity: str, key: str) -> Link | None:
        """The link of one record: from the page read, else from the state store (then remembered)."""
        try:
            known = self._known[(entity, key)]
        except KeyError:
            link = self.state.link(entity, key, self.direction)
            self._known[(entity, key)] = link
            return link
        if isinstance(known, _Saved):
            write, when = known.write, known.when
            link = Link(
                write.entity, write.source_key, int(write.halo_id), write.content_hash, when, self.direction
            )
            self._known[(entity, key)] = link
            return link
        return known

    def save(self, writes: Sequence[LinkWrite]) -> None:
        """Save confirmed writes in one transaction, then remember them (only once they are committed)."""
        self.state.save_links(writes, self.direction)
        now = datetime.now(UTC)
        known = self._known
        for write in writes:
            known[(write.entity, write.source_key)] = _Saved(write, now)

    def drop(self, entity: str, key: str) -> None:
        """Forget a link (its Halo record is gone) in the state store and here."""
        self.state.drop_link(entity, key, self.direction)
        self._known[(entity, key)] = None


class _Saved:
    """A write this run saved, kept as it is until planning reads it back as a Link."""

    __slots__ = ("when", "write")

    def __init__(self, write: LinkWrite, when: datetime) -> None:
        self.write = write
        self.when = when

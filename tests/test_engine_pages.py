"""The engine per page, not per record: links read for a page of records in one query per entity, the links
of a confirmed batch saved in one transaction (sync/links.py, StateStore.links_for / save_links)."""

from __future__ import annotations

from collections import Counter

import pytest

from core.errors import LedgerBridgeError
from sync.links import PageLinks
from sync.state import LINKS_PER_QUERY, LinkWrite, StateStore

STREAMS = ("tax_rates", "customers", "items", "invoices")


def test_links_for_reads_more_keys_than_one_query_takes(tmp_path):
    with StateStore(tmp_path / "state.sqlite3") as store:
        count = LINKS_PER_QUERY * 2 + 7
        store.save_links([LinkWrite("invoices", f"INV{n}", n + 1, f"h{n}") for n in range(count)])
        store.save_link("invoices", "INV3", 99, "other", direction="to_books")
        wanted = [f"INV{n}" for n in range(0, count, 2)] + ["NOPE", "INV4"]
        found = store.links_for("invoices", wanted)
        assert set(found) == {f"INV{n}" for n in range(0, count, 2)}
        assert found["INV4"].halo_id == 5 and found["INV4"].content_hash == "h4"
        assert store.links_for("invoices", ["INV3"], "to_books")["INV3"].halo_id == 99
        assert store.links_for("customers", wanted) == {}
        assert store.links_for("invoices", []) == {}


def test_a_batch_of_links_is_saved_whole_or_not_at_all(tmp_path):
    with StateStore(tmp_path / "state.sqlite3") as store:
        store.save_link("items", "KEEP", 1, "old", name="Kept")
        broken = [
            LinkWrite("items", "KEEP", 2, "new"),
            LinkWrite("items", "A", 3, "h"),
            LinkWrite("items", "B", 4, None),  # type: ignore[arg-type]  # NOT NULL: the statement fails
        ]
        with pytest.raises(LedgerBridgeError):
            store.save_links(broken)
        assert store.link("items", "A") is None
        kept = store.link("items", "KEEP")
        assert kept is not None and (kept.halo_id, kept.content_hash) == (1, "old")
        store.save_links([LinkWrite("items", "KEEP", 2, "new"), LinkWrite("items", "A", 3, "h")])
        assert store.links_for("items", ["KEEP", "A"])["KEEP"].halo_id == 2
        names = {row.key: row.name for row in store.record_overviews()}
        assert names["KEEP"] == "Kept"  # a write that does not know the name keeps the stored one


def test_page_links_stay_bounded_and_see_what_was_saved(tmp_path):
    with StateStore(tmp_path / "state.sqlite3") as store:
        store.save_links([LinkWrite("customers", f"C{n}", n + 1, "h") for n in range(300)])
        links = PageLinks(store, keep=100)
        for start in range(0, 300, 50):
            links.read_page({"customers": [f"C{n}" for n in range(start, start + 50)], "sites": ["C0"]})
            assert len(links._known) <= 100  # the older pages' go before a page's would pass keep
        assert links.get("customers", "C299") is not None and links.get("customers", "C0") is not None
        assert links.get("sites", "C0") is None
        links.save([LinkWrite("sites", "C0", 7, "s")])
        site = links.get("sites", "C0")
        assert site is not None and site.halo_id == 7
        assert store.link("sites", "C0") is not None  # saved in the store, not only remembered
        links.drop("sites", "C0")
        assert links.get("sites", "C0") is None and store.link("sites", "C0") is None


def test_a_saved_link_read_back_is_the_link_the_store_holds(tmp_path):
    """Saved links are made Link objects only when asked for: then with the saved fields, once, alike for
    every write of the batch (one moment of saving), and a later save of the same record wins."""
    with StateStore(tmp_path / "state.sqlite3") as store:
        links = PageLinks(store)
        links.save([LinkWrite("items", "A", 3, "h1", "Apple"), LinkWrite("payments", "P", 9, "h2")])
        item, payment = links.get("items", "A"), links.get("payments", "P")
        assert item is not None and payment is not None
        stored = store.link("items", "A")
        assert stored is not None
        assert (item.entity, item.source_key, item.halo_id, item.content_hash, item.direction) == (
            stored.entity,
            stored.source_key,
            stored.halo_id,
            stored.content_hash,
            stored.direction,
        )
        assert item.synced_at == payment.synced_at and item.synced_at.tzinfo is not None
        assert links.get("items", "A") is item
        links.save([LinkWrite("items", "A", 4, "h3")])
        again = links.get("items", "A")
        assert again is not None and (again.halo_id, again.content_hash) == (4, "h3")


def test_page_links_keep_what_the_next_page_names_when_it_fits(tmp_path):
    """A page whose links fit beside those held keeps them (no query for a record read again); one that
    would pass ``keep`` forgets the links named longest ago, never its own, so the view never holds
    ``keep`` plus a page."""
    with StateStore(tmp_path / "state.sqlite3") as store:
        store.save_links([LinkWrite("items", f"I{n}", n + 1, "h") for n in range(200)])
        links = PageLinks(store, keep=100)
        links.read_page({"items": [f"I{n}" for n in range(60)]})
        queried: list[int] = []
        real_links_for = store.links_for

        def links_for(entity, keys, direction="to_halo"):
            queried.append(len(keys))
            return real_links_for(entity, keys, direction)

        store.links_for = links_for  # type: ignore[method-assign]
        links.read_page({"items": [f"I{n}" for n in range(30, 70)]})  # 10 new: 70 held
        assert queried == [10] and len(links._known) == 70
        links.read_page({"items": [f"I{n}" for n in range(60, 100)]})  # 30 new would make 100: fits
        assert queried == [10, 30] and len(links._known) == 100
        links.read_page({"items": ["I0", *(f"I{n}" for n in range(95, 101))]})  # 1 new would pass 100
        assert queried == [10, 30, 1] and len(links._known) == 100  # one forgotten: the one named longest ago
        assert ("items", "I0") in links._known and ("items", "I1") not in links._known  # I0 named again
        links.read_page({"items": [f"I{n}" for n in range(101, 201)]})  # a page as large as the view
        assert queried == [10, 30, 1, 100] and set(links._known) == {
            ("items", f"I{n}") for n in range(101, 201)
        }
        assert links.get("items", "I100") is not None and links.get("items", "I200") is None


def test_a_full_reread_reads_links_a_page_at_a_time(sage_company, monkeypatch):
    """No round trip per record: a no-change re-read of the whole company asks for its links in one query
    per entity and page (the stand-in is one page), none one by one."""
    first = sage_company.run()
    assert first.status in ("ok", "partial"), first.error
    with sage_company.state() as state:
        for stream in STREAMS:
            state.save_cursor(stream, None)
    calls: Counter[str] = Counter()
    real_link, real_links_for = StateStore.link, StateStore.links_for

    def link(self, entity, key, direction="to_halo"):
        calls["link"] += 1
        return real_link(self, entity, key, direction)

    def links_for(self, entity, keys, direction="to_halo"):
        calls["links_for"] += 1
        return real_links_for(self, entity, keys, direction)

    monkeypatch.setattr(StateStore, "link", link)
    monkeypatch.setattr(StateStore, "links_for", links_for)
    again = sage_company.run()
    assert again.total("unchanged") > 20 and again.total("created") == again.total("updated") == 0
    assert calls["link"] == 0  # tax codes, asked by the other streams, were read with their own page
    # tax rates 1, customers 2 (with sites), items 1, invoices 4 (customers, items, payments)
    assert calls["links_for"] <= 8

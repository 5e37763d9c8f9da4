"""Reading the books a page ahead (sync/read_ahead.py): the same pages, failures where they happened,
a reader that stops when the engine does, and one thread at a time on the connection."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sync.read_ahead import LockedConnector, read_ahead


def _plain_pages(items: list[int], size: int) -> list[list[int]]:
    return [items[start : start + size] for start in range(0, len(items), size)]


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(), max_size=60), st.integers(min_value=1, max_value=7))
def test_the_pages_are_the_records_in_order(items: list[int], size: int) -> None:
    pages = list(read_ahead(iter(items), size, lock=threading.RLock()))
    assert pages == _plain_pages(items, size)


def test_a_failed_read_comes_after_every_record_before_it() -> None:
    def records() -> Iterator[int]:
        yield from range(7)
        raise OSError("the ODBC link went down")

    seen: list[int] = []
    with pytest.raises(OSError, match="link went down"):
        for page in read_ahead(records(), 3, lock=threading.RLock()):
            seen.extend(page)
    # The page the failure interrupted (6) is lost with it, as it was when records were read in turns:
    # list(islice(...)) of a failing generator gives nothing of that page.
    assert seen == [0, 1, 2, 3, 4, 5]


def test_the_reader_stays_at_most_depth_pages_ahead() -> None:
    produced: list[int] = []

    def records() -> Iterator[int]:
        for number in range(100):
            produced.append(number)
            yield number

    pages = read_ahead(records(), 5, lock=threading.RLock(), depth=2)
    first = next(pages)
    time.sleep(0.3)  # plenty of time for an unbounded reader to read everything
    # The page handed out, two queued, and the one the reader holds while waiting for room.
    assert first == [0, 1, 2, 3, 4]
    assert len(produced) <= 5 * 4
    pages.close()


def test_leaving_early_stops_the_reader_and_closes_the_read_in_its_own_thread() -> None:
    closed_in: list[str] = []

    def records() -> Iterator[int]:
        try:
            yield from range(1_000_000)
        finally:
            closed_in.append(threading.current_thread().name)

    pages = read_ahead(records(), 10, lock=threading.RLock(), name="reading customers")
    assert next(pages) == list(range(10))
    pages.close()
    assert closed_in == ["reading customers"]
    assert not [t for t in threading.enumerate() if t.name == "reading customers"]


def test_an_error_in_the_engine_stops_the_reader() -> None:
    def records() -> Iterator[int]:
        yield from range(1_000_000)

    with pytest.raises(RuntimeError):
        pages = read_ahead(records(), 10, lock=threading.RLock(), name="reading items")
        try:
            for _page in pages:
                raise RuntimeError("a bug while planning")
        finally:
            pages.close()
    assert not [t for t in threading.enumerate() if t.name == "reading items"]


class _OneAtATime:
    """A stand-in connector that notes whether two threads are ever inside it at once."""

    def __init__(self) -> None:
        self.inside = 0
        self.most_inside = 0
        self._count = threading.Lock()

    def _enter(self) -> None:
        with self._count:
            self.inside += 1
            self.most_inside = max(self.most_inside, self.inside)
        time.sleep(0.0005)  # long enough for another thread to come in, if it could
        with self._count:
            self.inside -= 1

    def read(self, stream: str) -> Iterator[str]:
        for number in range(200):
            self._enter()
            yield f"{stream}-{number}"

    def streams(self) -> tuple[str, ...]:
        self._enter()
        return ("customers", "invoices")

    display_name = "Stand-in"


def test_a_read_through_the_locked_connector_never_meets_the_reader_inside_the_connector() -> None:
    books = _OneAtATime()
    lock = threading.RLock()
    locked = LockedConnector(books, lock)
    read: list[str] = []
    for page in read_ahead(books.read("invoices"), 20, lock=lock):
        read.extend(page)
        read.extend(list(locked.read("customers"))[:1])  # a planner reading the books mid-stream
        assert locked.streams() == ("customers", "invoices")
    assert books.most_inside == 1
    assert [r for r in read if r.startswith("invoices")] == [f"invoices-{n}" for n in range(200)]
    assert locked.display_name == "Stand-in"


def _halo_content(sandbox) -> dict[str, list[tuple[object, ...]]]:
    """What Halo holds, ids aside: the same books give the same Halo however they were read."""
    fields = {
        "Tax": ("third_party_id", "value"),
        "Client": ("accountsid", "name"),
        "Item": ("accountsid", "baseprice"),
        "Invoice": ("accountsid", "total", "amountpaid"),
        "InvoicePayment": ("thirdpartyid", "amount"),
    }
    return {
        resource: sorted(tuple(str(row.get(name)) for name in names) for row in sandbox.records(resource))
        for resource, names in fields.items()
    }


def test_a_sync_reads_the_same_books_into_the_same_halo_with_and_without_read_ahead(sage_company, tmp_path):
    """Through real unixODBC and the SQLite3 ODBC driver: a first sync and a full re-read, both ways."""
    from halo.sandbox.server import HaloSandbox
    from sync.paths import app_paths
    from sync.secrets import HALO_CLIENT_SECRET

    results = {}
    for read_ahead_on in (True, False):
        with HaloSandbox() as sandbox:
            sage_company.sandbox = sandbox
            sage_company.settings.halo.resource_server = sandbox.url
            sage_company.settings.halo.client_id = sandbox.client_id
            sage_company.secrets.set(HALO_CLIENT_SECRET, sandbox.client_secret)
            sage_company.paths = app_paths(tmp_path / f"home-{read_ahead_on}").ensure()
            sage_company.settings.source.read_ahead = read_ahead_on
            first = sage_company.run()
            with sage_company.state() as state:
                for entity in ("tax_rates", "customers", "items", "invoices"):
                    state.save_cursor(entity, None)
            again = sage_company.run()
            results[read_ahead_on] = (
                first.status,
                dict(first.counts),
                again.status,
                dict(again.counts),
                _halo_content(sandbox),
            )
    assert results[True][0] in ("ok", "partial")  # the stand-in company holds rows with problems on purpose
    assert results[True] == results[False]
    written = {n for per in results[True][3].values() for o, n in per.items() if o in ("created", "updated")}
    assert written <= {0}  # the full re-read found every record unchanged


def test_the_connection_is_opened_and_closed_on_the_engines_thread(sage_company):
    """Microsoft's desktop ODBC drivers ask for connect and disconnect on one thread (docs/connectors.md)."""
    connector = sage_company.connector()
    opened_on: list[str] = []
    closed_on: list[str] = []
    real_connection, real_close = connector.connection, connector.close

    def connection():  # type: ignore[no-untyped-def]
        if connector._connection is None:
            opened_on.append(threading.current_thread().name)
        return real_connection()

    def close() -> None:
        closed_on.append(threading.current_thread().name)
        real_close()

    connector.connection, connector.close = connection, close
    summary = sage_company.run(connector=connector)
    assert summary.status in ("ok", "partial")
    assert opened_on == [threading.current_thread().name]
    assert closed_on and set(closed_on) == {threading.current_thread().name}

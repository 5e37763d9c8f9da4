"""A batch's POST goes out from the save thread while the engine plans on, and never at once with another.

Why a file of its own: the overlap is only worth having if it keeps what a run without it guarantees: one
request at a time in the order a plain run sends them, every confirmed write linked before anything follows
from it, and a run that stops (a cancel, an error in the books) with a batch on the wire still keeps that
batch's links, so nothing lands in Halo that no link knows.
Real parts: the local Halo sandbox over HTTP on 127.0.0.1 and a real HaloClient; only the books are an
in-memory stand-in (tests/test_engine_suppliers.py), and the client is wrapped to watch which thread asks.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import pytest

from core.errors import CancelledError, TransientError
from core.records import Record, SourceProblem
from halo.client import HaloClient, RequestStats
from sync.engine import AnsweredFirst, SyncEngine
from sync.events import RunSummary
from sync.settings import Settings
from sync.state import StateStore
from tests.test_engine_suppliers import SupplierBooks, supplier

SAVE_SECONDS = 0.05  # long enough that planning shows progress while Halo "thinks"


@pytest.fixture(autouse=True)
def one_record_a_page(monkeypatch):
    """The engine reads the books a page at a time; pages of one show its progress record by record."""
    monkeypatch.setattr("sync.engine.PLAN_PAGE", 1)


class WatchedClient:
    """A real HaloClient, with each call's thread and overlap noted and each save slowed down."""

    def __init__(self, client: HaloClient, books: CountingBooks) -> None:
        self.client = client
        self.books = books
        self.active = 0
        self.most_at_once = 0
        self.save_threads: set[str] = set()
        self.read_during_saves: list[int] = []  # records the books gave out while each save was on the wire
        self.calls: list[str] = []
        self.on_save: list[Any] = []  # callables run inside the n-th save (index = save number)
        self._lock = threading.Lock()

    @property
    def stats(self) -> RequestStats:
        return self.client.stats

    def _enter(self, what: str) -> None:
        with self._lock:
            self.active += 1
            self.most_at_once = max(self.most_at_once, self.active)
            self.calls.append(what)

    def _leave(self) -> None:
        with self._lock:
            self.active -= 1

    def iter_records(
        self, resource: str, params: Mapping[str, Any] | None = None, *, page_size: int | None = None
    ) -> Iterator[dict[str, Any]]:
        self._enter(f"list {resource}")
        try:
            records = list(self.client.iter_records(resource, params, page_size=page_size))
        finally:
            self._leave()
        yield from records

    def get_record(
        self, resource: str, record_id: int, params: Mapping[str, Any] | None = None
    ) -> dict[str, Any] | None:
        self._enter(f"get {resource}")
        try:
            return self.client.get_record(resource, record_id, params)
        finally:
            self._leave()

    def save(self, resource: str, records: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
        self._enter(f"save {resource} x{len(records)}")
        try:
            self.save_threads.add(threading.current_thread().name)
            number = sum(call.startswith("save") for call in self.calls) - 1
            if number < len(self.on_save) and self.on_save[number] is not None:
                self.on_save[number]()
            read_before = self.books.given
            answer = self.client.save(resource, records)
            time.sleep(SAVE_SECONDS)
            self.read_during_saves.append(self.books.given - read_before)
            return answer
        finally:
            self._leave()


class CountingBooks(SupplierBooks):
    """Suppliers given out one by one, counted; ``fail_after`` raises in the middle of the read."""

    def __init__(self, count: int, fail_after: int | None = None, error: Exception | None = None) -> None:
        super().__init__([supplier(f"SUP{n:03d}", f"Supplier {n:03d}") for n in range(count)])
        self.given = 0
        self.fail_after = fail_after
        self.error = error or RuntimeError("the books' driver crashed")

    def read(self, stream: str, since: datetime | None = None) -> Iterator[Record | SourceProblem]:
        for record in super().read(stream, since):
            if stream == "suppliers" and self.fail_after is not None and self.given >= self.fail_after:
                raise self.error
            if stream == "suppliers":
                self.given += 1
            yield record


def run_engine(
    state: StateStore, books: CountingBooks, client: WatchedClient, cancel: threading.Event | None = None
) -> RunSummary:
    settings = Settings()
    settings.halo.batch_size = 5
    summary = RunSummary(run_id=0, started=datetime.now(UTC))
    engine = SyncEngine(settings, state, books, client, summary=summary, cancel=cancel)  # type: ignore[arg-type]
    engine.run(["suppliers"])
    return summary


def halo_keys(sandbox: Any) -> list[str]:
    return sorted(str(r.get("accountsid") or r.get("accounts_id") or "") for r in sandbox.records("Supplier"))


def test_planning_goes_on_while_halo_answers_and_no_two_requests_overlap(
    tmp_path, halo_sandbox, make_halo_client
):
    books = CountingBooks(40)
    client = WatchedClient(make_halo_client(halo_sandbox), books)
    with StateStore(tmp_path / "state.sqlite") as state:
        summary = run_engine(state, books, client)
        linked = state.links("suppliers")
    assert summary.total("created") == 40
    assert len(linked) == 40 and len({link.halo_id for link in linked.values()}) == 40
    assert len(halo_sandbox.records("Supplier")) == 40  # each once
    assert client.most_at_once == 1  # never two requests at once
    assert client.save_threads == {"ledgerbridge-halo-save_0"}
    # The overlap is real: while a save was on the wire, the engine read and planned more of the books.
    assert sum(client.read_during_saves) > 0


@pytest.mark.parametrize(
    "error",
    [RuntimeError("the books' driver crashed"), TransientError("The books stopped answering.")],
    ids=["a-bug", "books-unavailable"],
)
def test_a_run_that_stops_with_a_batch_on_the_wire_keeps_its_links(
    tmp_path, halo_sandbox, make_halo_client, error
):
    # Batches of 5: the fifth supplier sends the first batch, and the read fails two records later, while
    # that batch is still on the wire (its save is slowed).
    books = CountingBooks(12, fail_after=7, error=error)
    client = WatchedClient(make_halo_client(halo_sandbox), books)
    with StateStore(tmp_path / "state.sqlite") as state:
        with pytest.raises(type(error)):
            run_engine(state, books, client)
        linked_after_the_stop = set(state.links("suppliers"))
        assert len(halo_sandbox.records("Supplier")) == 5
        assert linked_after_the_stop == {f"SUP{n:03d}" for n in range(5)}  # what Halo holds is linked
        assert state.cursor("suppliers") is None  # the stream did not finish: read again next time

        healthy = CountingBooks(12)
        summary = run_engine(state, healthy, WatchedClient(make_halo_client(halo_sandbox), healthy))
        assert summary.total("created") == 7
        assert len(state.links("suppliers")) == 12
    assert len(halo_sandbox.records("Supplier")) == 12  # nothing twice


def test_a_cancel_while_a_batch_is_on_the_wire_keeps_what_halo_confirmed(
    tmp_path, halo_sandbox, make_halo_client
):
    books = CountingBooks(30)
    client = WatchedClient(make_halo_client(halo_sandbox), books)
    cancel = threading.Event()
    client.on_save = [None, cancel.set]  # Ctrl-C / Cancel while the second batch is on the wire
    with StateStore(tmp_path / "state.sqlite") as state:
        with pytest.raises(CancelledError):
            run_engine(state, books, client, cancel)
        linked = set(state.links("suppliers"))
    in_halo = len(halo_sandbox.records("Supplier"))
    assert in_halo == 10  # the two batches sent; nothing after the cancel
    assert len(linked) == in_halo  # and both are linked


def test_every_request_but_the_save_on_the_wire_waits_for_its_answer():
    """The engine's own requests (index reads page by page, look-ups by id) read the answer on the wire
    first; only the save thread's own save goes straight to the client."""
    happened: list[str] = []

    class Client:
        stats = RequestStats()

        def iter_records(self, resource, params=None, *, page_size=None):
            for number in range(2):
                happened.append(f"row {number}")
                yield {"id": number + 1}

        def get_record(self, resource, record_id, params=None):
            happened.append("get")
            return {"id": record_id}

        def save(self, resource, records):
            happened.append("save")
            return list(records)

    client = AnsweredFirst(Client(), lambda: happened.append("answered"))  # type: ignore[arg-type]
    assert [r["id"] for r in client.iter_records("Client")] == [1, 2]
    assert client.get_record("Client", 7) == {"id": 7}
    assert client.save("Client", [{"id": 3}]) == [{"id": 3}]
    assert happened == [
        "answered",
        "answered",
        "row 0",
        "answered",
        "row 1",
        "answered",
        "answered",
        "get",
        "answered",
        "save",
    ]

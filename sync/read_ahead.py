"""Read the books one page ahead, in a thread of its own, while the engine plans and sends the page before.

Why: a stream's records were read and planned in turns, so the time inside the ODBC driver (which runs
without Python's lock) and the wait for Halo's answers were spent one after the other. With the next page
read while the current one is planned, a full re-read or a first sync costs little more than the longer of
the two (bench/sync_bench.py).

What it keeps as it was: the records come in the connector's order, a page at a time; a failure of the
read (a dead ODBC link, a row the connector cannot turn into a record) reaches the engine where the record
after the last good one would have come, so everything before it is planned first; memory holds at most
``depth`` pages besides the one being planned. The connection is used by one thread at a time: the reader
holds ``lock`` while it is inside the connector, and everything else that reads the books during a stream
(``LockedConnector``) takes the same lock.
"""

from __future__ import annotations

import itertools
import queue
import threading
from collections.abc import Callable, Generator, Iterable, Iterator
from contextlib import AbstractContextManager
from typing import Any, TypeVar

T = TypeVar("T")
# One lock per engine, re-entrant: a read inside the connector that itself reads through the lock must not
# wait for itself.
BooksLock = AbstractContextManager[Any]

_END = object()
# How long the reader waits for room in the queue before looking again whether the engine has stopped.
_POLL_SECONDS = 0.05


class _Failed:
    """What the read raised, carried across to the engine's thread."""

    def __init__(self, error: BaseException) -> None:
        self.error = error


def read_ahead(
    records: Iterable[T], size: int, *, lock: BooksLock, depth: int = 2, name: str = "books reader"
) -> Generator[list[T], None, None]:
    """``records`` in lists of ``size`` (the last one shorter), read by another thread ``depth`` pages ahead.

    Closing the returned iterator (or leaving the loop over it) stops the reader and closes ``records``
    in the reader's own thread, so the connector's cursors are released where they were opened.
    """
    pages: queue.Queue[object] = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def offer(item: object) -> bool:
        while not stop.is_set():
            try:
                pages.put(item, timeout=_POLL_SECONDS)
                return True
            except queue.Full:
                continue
        return False

    def read() -> None:
        iterator = iter(records)
        try:
            while not stop.is_set():
                with lock:
                    page = list(itertools.islice(iterator, size))
                if not page:
                    break
                if not offer(page):
                    return
            offer(_END)
        except BaseException as error:  # handed to the engine, which raises it in its own thread
            offer(_Failed(error))
        finally:
            close = getattr(iterator, "close", None)
            if close is not None:
                with lock:
                    close()

    reader = threading.Thread(target=read, name=name, daemon=True)
    reader.start()
    try:
        while True:
            item = pages.get()
            if item is _END:
                return
            if isinstance(item, _Failed):
                raise item.error
            page: list[T] = item  # type: ignore[assignment]  # only pages, _END and _Failed are queued
            yield page
    finally:
        stop.set()
        reader.join()


class LockedConnector:
    """A connector whose every call, and every record its reads give, waits for ``lock``.

    Why: a stream's reader thread (``read_ahead``) holds the connection while it reads; a read the
    engine makes meanwhile (a planner reading customers it has not seen) must not use the connection at
    the same moment.
    """

    def __init__(self, connector: Any, lock: BooksLock) -> None:
        self._connector = connector
        self._lock = lock

    def read(self, *args: Any, **kwargs: Any) -> Iterator[Any]:
        with self._lock:
            records = iter(self._connector.read(*args, **kwargs))
        try:
            while True:
                with self._lock:
                    try:
                        record = next(records)
                    except StopIteration:
                        return
                yield record
        finally:
            close = getattr(records, "close", None)
            if close is not None:
                with self._lock:
                    close()

    def __getattr__(self, name: str) -> Any:
        found = getattr(self._connector, name)
        if not callable(found):
            return found
        return _locked(found, self._lock)


def _locked(function: Callable[..., Any], lock: BooksLock) -> Callable[..., Any]:
    def call(*args: Any, **kwargs: Any) -> Any:
        with lock:
            return function(*args, **kwargs)

    return call


def in_turns(records: Iterable[T], size: int) -> Generator[list[T], None, None]:
    """``records`` in lists of ``size``, read in this thread between pages (``[source] read_ahead = false``).

    For a driver that misbehaves when used from two threads: one page in memory at a time, as before.
    """
    iterator = iter(records)
    while page := list(itertools.islice(iterator, size)):
        yield page

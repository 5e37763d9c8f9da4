"""The cross-process sync lock, with a real second process."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest

from sync.lock import SyncLock

HOLD_SCRIPT = """
import sys, time
sys.path.insert(0, {root!r})
from sync.lock import SyncLock
lock = SyncLock({path!r})
assert lock.acquire(5)
print("held", flush=True)
sys.stdin.readline()
"""


def test_second_holder_in_same_process_is_refused(tmp_path):
    first = SyncLock(tmp_path / "sync.lock")
    second = SyncLock(tmp_path / "sync.lock")
    assert first.acquire()
    assert f"pid {os.getpid()}" in second.holder()
    started = time.monotonic()
    assert not second.acquire(timeout=0.3)
    assert time.monotonic() - started >= 0.25
    first.release()
    assert first.holder() == ""
    assert second.acquire()
    second.release()


def test_other_process_holds_then_crashes_and_lock_is_free(tmp_path):
    path = tmp_path / "sync.lock"
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    child = subprocess.Popen(
        [sys.executable, "-c", HOLD_SCRIPT.format(root=root, path=str(path))],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert child.stdout.readline().strip() == "held"
        lock = SyncLock(path)
        assert not lock.acquire(timeout=0.2)
        assert f"pid {child.pid}" in lock.holder()
        child.kill()  # a crash: the OS drops the lock with the process
        child.wait(10)
        assert lock.acquire(timeout=5)
        lock.release()
    finally:
        if child.poll() is None:
            child.kill()
            child.wait(10)
        child.stdout.close()
        child.stdin.close()


def test_context_manager_and_wait_for_release(tmp_path):
    import threading

    path = tmp_path / "sync.lock"
    with SyncLock(path) as held:
        assert held.held
        other = SyncLock(path)
        with pytest.raises(TimeoutError, match="held by pid"):
            other.__enter__()
        threading.Timer(0.2, held.release).start()
        assert other.acquire(timeout=5)
        other.release()

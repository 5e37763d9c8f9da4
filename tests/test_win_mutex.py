"""The installer's app mutex: off Windows a no-op; on Windows only kernel32 is faked (it cannot run here)."""

from __future__ import annotations

import logging
import sys

import pytest

from gui import win_mutex


class FakeKernel32:
    """Stands in for ctypes.WinDLL("kernel32"): records CreateMutexW calls, returns a handle or NULL."""

    def __init__(self, handle: int) -> None:
        self.handle = handle
        self.calls: list[tuple[object, bool, str]] = []

    def CreateMutexW(self, security_attributes, initial_owner, name):
        self.calls.append((security_attributes, initial_owner, name))
        return self.handle


@pytest.fixture
def on_windows(monkeypatch):
    """Pretend to be Windows with a fresh module state; yields a function installing a fake kernel32."""
    monkeypatch.setattr(sys, "platform", "win32")
    monkeypatch.setattr(win_mutex, "_held_handle", None)

    def install(kernel32: FakeKernel32, last_error: int = 0) -> FakeKernel32:
        monkeypatch.setattr(win_mutex, "_load_kernel32", lambda: kernel32)
        monkeypatch.setattr(win_mutex, "_last_error", lambda: last_error)
        return kernel32

    return install


def test_off_windows_there_is_no_mutex():
    assert sys.platform != "win32"
    assert win_mutex.create_app_mutex() is None


def test_creates_the_named_mutex_once_and_keeps_it(on_windows):
    kernel32 = on_windows(FakeKernel32(handle=0x1A4))
    handle = win_mutex.create_app_mutex()
    assert handle == 0x1A4
    # Not owned (initial owner False): Inno only checks that the name exists.
    assert kernel32.calls == [(None, False, win_mutex.APP_MUTEX_NAME)]
    assert win_mutex.create_app_mutex() == 0x1A4
    assert len(kernel32.calls) == 1, "a second call must reuse the held handle"


def test_existing_mutex_still_returns_a_handle(on_windows):
    on_windows(FakeKernel32(handle=0x2B8), last_error=win_mutex.ERROR_ALREADY_EXISTS)
    assert win_mutex.create_app_mutex() == 0x2B8


def test_failure_is_logged_with_advice_and_the_app_carries_on(on_windows, caplog):
    on_windows(FakeKernel32(handle=0), last_error=5)
    with caplog.at_level(logging.WARNING, logger="gui.win_mutex"):
        assert win_mutex.create_app_mutex() is None
    assert "Windows error 5" in caplog.text
    assert "close it yourself before upgrading" in caplog.text


def test_mutex_name_is_stable_and_valid():
    name = win_mutex.APP_MUTEX_NAME
    assert name.startswith("LedgerBridge-")
    assert "\\" not in name, "a backslash would make Windows read it as a namespace prefix"
    assert len(name) < 260

"""A named Windows mutex held for the life of the app, so the installer knows LedgerBridge is running.

Inno Setup's ``AppMutex`` (installer/ledgerbridge.iss) looks for this exact name before upgrading or
uninstalling and asks the user to close LedgerBridge first, so files in use are never half-replaced. The
single-instance check itself is the GUI's QLocalServer; this mutex is only the installer's signal.
Off Windows there is nothing to do.
"""

from __future__ import annotations

import logging
import sys
from typing import Any

# Stable forever: installer/ledgerbridge.iss has AppMutex set to the same string (a test checks they match).
APP_MUTEX_NAME = "LedgerBridge-3F6C2A1E-8B4D-4E7A-9C52-6D1F0B7E4A93"

ERROR_ALREADY_EXISTS = 183

_log = logging.getLogger(__name__)
_held_handle: int | None = None  # module-level so the handle is never closed while the process lives


def create_app_mutex() -> object | None:
    """Create (or open) the app mutex and keep it until the process exits; None off Windows or on failure.

    Calling it twice returns the same handle. A failure is logged, not raised: without the mutex the app
    works; only the installer cannot tell that it is running.
    """
    global _held_handle
    if sys.platform != "win32":
        return None
    if _held_handle is not None:
        return _held_handle
    kernel32 = _load_kernel32()
    handle = kernel32.CreateMutexW(None, False, APP_MUTEX_NAME)
    if not handle:
        _log.warning(
            "Could not create the LedgerBridge mutex (Windows error %s); the installer will not be able to "
            "tell that LedgerBridge is running, so close it yourself before upgrading or uninstalling.",
            _last_error(),
        )
        return None
    if _last_error() == ERROR_ALREADY_EXISTS:
        _log.debug("The LedgerBridge mutex already existed (another instance is starting or running).")
    _held_handle = int(handle)
    return _held_handle


def _load_kernel32() -> Any:
    """kernel32 with CreateMutexW typed (a function so tests on Linux can hand in a stand-in)."""
    import ctypes
    from ctypes import wintypes

    kernel32 = ctypes.WinDLL("kernel32", use_last_error=True)  # type: ignore[attr-defined]
    kernel32.CreateMutexW.argtypes = [ctypes.c_void_p, wintypes.BOOL, wintypes.LPCWSTR]
    kernel32.CreateMutexW.restype = wintypes.HANDLE
    return kernel32


def _last_error() -> int:
    """The calling thread's last Windows error, as saved by ctypes right after the call."""
    import ctypes

    return int(ctypes.get_last_error())  # type: ignore[attr-defined]

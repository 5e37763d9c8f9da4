"""The real COM binding: ``win32com.client.Dispatch(progid)`` under pywin32, Windows only.

Why a module of its own: everything else in the helper runs (and is tested) without pywin32; only this file
needs it, and it turns pywin32's errors into ones a person can act on.
"""

from __future__ import annotations

from typing import Any

from .protocol import HelperError
from .sdo import NOT_REGISTERED

# HRESULTs Windows answers for a ProgID it cannot start (winerror.h).
CO_E_CLASSSTRING = -2147221005  # "Invalid class string": the ProgID is not registered at all
REGDB_E_CLASSNOTREG = -2147221164  # "Class not registered": registered, but not for this bitness


def dispatch(progid: str) -> Any:
    """The SDOEngine for ``progid``; HelperError("config") saying what to install when it cannot start."""
    try:
        import pythoncom
        import win32com.client
    except ImportError:
        raise HelperError(
            "config",
            "The Sage helper's Python has no pywin32, which it needs to talk to Sage Data Objects.",
            action="Reinstall LedgerBridge, or run `python -m pip install pywin32` with the 32-bit Python "
            "set in Settings > Accounting package > SDO helper Python.",
            detail="ImportError: win32com",
        ) from None
    pythoncom.CoInitialize()
    try:
        return win32com.client.Dispatch(progid)
    except pythoncom.com_error as exc:
        code = exc.args[0] if exc.args else 0
        if code == CO_E_CLASSSTRING:
            raise HelperError(
                "config",
                f"{progid} is not registered on this PC: Sage Data Objects of that version is not installed.",
                action="Set the SDO version matching your Sage 50 Accounts in Settings (blank = find it).",
                detail=f"{NOT_REGISTERED} {progid}",
            ) from None
        if code == REGDB_E_CLASSNOTREG:
            raise HelperError(
                "config",
                f"{progid} is installed but cannot be loaded by this Python: SDO is a 32-bit component.",
                action="Point Settings > Accounting package > SDO helper Python at a 32-bit Python "
                "(LedgerBridge ships one in its sdo folder).",
                detail=f"registered for the other bitness: {progid}",
            ) from None
        raise HelperError("config", f"Windows could not start {progid}: {exc}", detail=repr(exc)) from None

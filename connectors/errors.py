"""One function that turns a driver failure (pyodbc / sqlite3 / any DB-API error) into ``core.errors``.

Why: ODBC drivers speak SQLSTATE and vendor text ("Username is already in use"); an office manager needs to
know what to do. The mapping is by SQLSTATE first, then by the well-known vendor messages, and every result
carries an action. The original text is kept in ``detail`` for the log (it never contains the password:
drivers do not echo PWD, and we never put the connection string into a message).
"""

from __future__ import annotations

import re
import sys
from typing import Any

from core.errors import AuthError, ConfigError, LedgerBridgeError, RecordError, TransientError

_SQLSTATE = re.compile(r"[0-9A-Z]{5}")
_SQLSTATE_IN_TEXT = re.compile(r"SQLSTATE[ =:]*\[?([0-9A-Z]{5})")

_PACKAGE_NAMES = {
    "sage50uk": "Sage 50 UK",
    "sage50ca": "Sage 50 Canada",
    "quickbooks": "QuickBooks Desktop",
    "odbc": "the ODBC data source",
    "demo": "the demo company",
}

_BITNESS_HINT = (
    " On Windows this usually means the driver or DSN was set up for the other bitness: LedgerBridge is "
    f"{'64' if sys.maxsize > 2**32 else '32'}-bit, so use the matching ODBC Data Sources tool (and a System "
    "DSN), or install the LedgerBridge build of the other bitness."
)


def sqlstate_of(exc: BaseException) -> str:
    """The SQLSTATE of a pyodbc error ('' when the driver gave none).

    pyodbc puts it first in ``args``; other drivers may only mention it in the text as ``SQLSTATE xxxxx``.
    """
    args: tuple[Any, ...] = getattr(exc, "args", ())
    if args and isinstance(args[0], str) and _SQLSTATE.fullmatch(args[0]):
        return args[0]
    match = _SQLSTATE_IN_TEXT.search(str(exc))
    return match.group(1) if match else ""


def _text_of(exc: BaseException) -> str:
    args: tuple[Any, ...] = getattr(exc, "args", ())
    if len(args) >= 2 and isinstance(args[1], str):
        return args[1]
    return str(exc)


def error_from_odbc(exc: BaseException, *, package: str = "odbc", during: str = "") -> LedgerBridgeError:
    """Map a driver exception to the error group that says what the caller does next."""
    if isinstance(exc, LedgerBridgeError):
        return exc
    name = _PACKAGE_NAMES.get(package, package)
    state = sqlstate_of(exc)
    text = _text_of(exc)
    lower = text.lower()
    detail = f"SQLSTATE {state}: {text}" if state else text
    where = f" while {during}" if during else ""

    # Vendor messages first: they are more precise than the generic SQLSTATE they come with.
    if "already in use" in lower or "logon cannot proceed" in lower or "exclusive mode" in lower:
        return ConfigError(
            f"{name} refused the login{where}: that user is already logged in (or a backup is running).",
            action="Create a dedicated user for LedgerBridge in the package (Sage 50: Settings > Access "
            "Rights) and enter it in Settings > Accounting package.",
            detail=detail,
        )
    if "could not start quickbooks" in lower or ("company file" in lower and "open" in lower):
        return TransientError(
            f"{name} is not running with the company file open{where}.",
            action="Open the company file in QuickBooks (and allow LedgerBridge access when asked), then "
            "sync again.",
            detail=detail,
        )
    if "data version" in lower or "accdata" in lower:
        return ConfigError(
            f"The path to the {name} company data looks wrong{where}.",
            action="Enter the company's ACCDATA folder (Help > About > Data Directory in Sage) in Settings > "
            "Accounting package.",
            detail=detail,
        )
    if state in ("IM002", "IM003") or "data source name not found" in lower or "can't open lib" in lower:
        return ConfigError(
            f"The ODBC driver or data source for {name} was not found{where}.",
            action="Check the driver / DSN name in Settings > Accounting package." + _BITNESS_HINT,
            detail=detail,
        )
    if state == "28000" or "access denied" in lower or ("password" in lower and "invalid" in lower):
        return AuthError(
            f"{name} rejected the user name or password{where}.",
            action="Re-enter them in Settings > Accounting package.",
            detail=detail,
        )
    if state in ("42000", "42501") and ("denied" in lower or "permission" in lower):
        return AuthError(
            f"The {name} user may not read this data{where}.",
            action="Give the user read rights (Sage 50 Canada: third-party 'Read data' right), then retry.",
            detail=detail,
        )
    if "permission denied" in lower or "unable to open database" in lower or "readonly" in lower:
        return ConfigError(
            f"The {name} data could not be opened{where} (permission denied or wrong path).",
            action="Check the path in Settings > Accounting package and that this Windows user can read it.",
            detail=detail,
        )
    if (
        state in ("42S02", "42S22")
        or "no such table" in lower
        or "no such column" in lower
        or ("doesn't exist" in lower or "unknown column" in lower)
    ):
        return ConfigError(
            f"{name} does not have the table or column LedgerBridge expected{where}.",
            action="Check that the path points at the right company and package version; for a generic ODBC "
            "source check the SELECT and column mapping in Settings.",
            detail=detail,
        )
    if "can't connect" in lower or "(2002)" in text or "(2003)" in text or "connection refused" in lower:
        return TransientError(
            f"{name} could not be reached{where}: its database server is not running.",
            action="Open the company in the accounting package (Sage 50 Canada runs its database only while "
            "a company is open) and check the server/port in Settings > Accounting package.",
            detail=detail,
        )
    if (
        state.startswith("08")
        or state in ("HYT00", "HYT01", "40001", "HY008")
        or ("locked" in lower or "busy" in lower or "timeout" in lower or "gone away" in lower)
    ):
        return TransientError(
            f"The connection to {name} failed or timed out{where}.",
            action="Make sure the package (and its company file) is open and reachable; "
            "LedgerBridge will try again on the next sync.",
            detail=detail,
        )
    if state.startswith("22"):
        return RecordError(
            f"{name} returned a value that could not be read{where}.",
            action="Check the record in the accounting package.",
            detail=detail,
        )
    return TransientError(
        f"{name} reported an error{where}.",
        action="If this keeps happening, open the log (Log > Open log folder) and send it to your "
        "IT support.",
        detail=detail,
    )

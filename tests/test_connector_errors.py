"""Driver failures become errors grouped by what the caller does, with an action for the user.

The errors are real pyodbc exceptions: the first ones come from the real unixODBC driver manager, the vendor
texts (Sage's "Username is already in use", QuickBooks not running) cannot be produced on Linux, so those
are built as pyodbc.Error instances with the vendor's text, as the driver raises them.
"""

from __future__ import annotations

import pyodbc
import pytest

from connectors.errors import error_from_odbc, sqlstate_of
from core.errors import AuthError, ConfigError, RecordError, TransientError


def test_missing_driver_from_the_real_driver_manager_mentions_bitness():
    with pytest.raises(pyodbc.Error) as info:
        pyodbc.connect("Driver={Sage Line 50 v30};DIR=C:\\nowhere", timeout=2)
    error = error_from_odbc(info.value, package="sage50uk")
    assert isinstance(error, ConfigError)
    assert "Sage 50 UK" in error.message
    assert "bit" in error.action


def test_missing_table_through_real_sqlite_odbc(tmp_path):
    connection = pyodbc.connect(f"Driver=SQLite3;Database={tmp_path / 'x.db'}")
    with pytest.raises(pyodbc.Error) as info:
        connection.cursor().execute('SELECT * FROM "SALES_LEDGER"')
    error = error_from_odbc(info.value, package="sage50uk", during="reading customers")
    assert isinstance(error, ConfigError)
    assert "while reading customers" in error.message
    connection.close()


@pytest.mark.parametrize(
    ("state", "text", "kind", "words"),
    [
        ("HY000", "[Sage][ODBC] Username is already in use", ConfigError, "dedicated user"),
        ("HY000", "Program is in exclusive mode. Logon cannot proceed", ConfigError, "dedicated user"),
        ("08001", "Could not start QuickBooks.", TransientError, "Open the company file"),
        ("28000", "Access denied for user 'lb'@'localhost'", AuthError, "Re-enter"),
        ("42000", "SELECT command denied to user 'lb'", AuthError, "Read data"),
        ("08S01", "Communication link failure", TransientError, "try again"),
        ("HY000", "Can't connect to server on '127.0.0.1' (111) (2002)", TransientError, "Open the company"),
        ("22007", "Invalid datetime format", RecordError, "Check the record"),
        ("HY000", "Incorrect data version", ConfigError, "ACCDATA"),
    ],
)
def test_vendor_texts(state, text, kind, words):
    error = error_from_odbc(pyodbc.Error(state, text), package="sage50uk")
    assert isinstance(error, kind)
    assert words in error.action
    assert state in error.detail


def test_sqlstate_found_in_text_of_other_drivers():
    assert sqlstate_of(RuntimeError("failed: SQLSTATE=40001 deadlock")) == "40001"
    assert sqlstate_of(RuntimeError("no state here")) == ""

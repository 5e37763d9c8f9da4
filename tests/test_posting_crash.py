"""bench/posting_crash_test.py in CI size: real `main.py sync` processes SIGKILLed while they post Halo
invoices into the QuickBooks stand-in (real unixODBC, QODBC's write rules), then a clean run: every
document in the books exactly once, marked posted in Halo, none read back, and a further run writes nothing.
"""

from __future__ import annotations

import shutil

import pyodbc
import pytest

from bench.posting_crash_test import posting_crash_test


def test_killed_posting_runs_leave_every_invoice_in_the_books_exactly_once(tmp_path):
    if "SQLite3" not in pyodbc.drivers():
        pytest.skip("ODBC driver 'SQLite3' is not installed (apt install libsqliteodbc)")
    if shutil.which("gcc") is None and shutil.which("cc") is None:
        pytest.skip("no C compiler to build the QuickBooks stand-in's write rules")
    figures = posting_crash_test(tmp_path, invoices=48, kills=6, batch_size=5, seed=3)
    assert figures.kills >= 4 and figures.kills_by_mode["books"] >= 1, figures
    assert figures.doubles == 0 and figures.missing == 0, figures
    assert figures.not_marked_in_halo == 0 and figures.wrong_number_in_halo == 0, figures
    assert figures.read_back_into_halo == 0 and figures.postings_not_marked == 0, figures
    assert figures.final_posting.get("failed") == 0, figures.final_output
    assert figures.rerun_books_inserts == 0 and figures.rerun_posts == 0, figures
    assert figures.ok(), figures

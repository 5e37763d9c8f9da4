"""Sage 50 Canadian Edition, Halo -> books: no route LedgerBridge can honestly offer yet, and words saying so.

Why there is no writer (docs/writing-sage.md, "Sage 50 Canadian Edition"): Sage's own ways in are its SDK,
a .NET library that needs Sage running with the company open, a user with third-party access and an app
authorised by Sage (accounting-packages.md 2.3), which nobody on the project can run or test; and the
File > Import/Export > Import Transactions text format (.IMP), whose sales-invoice field lists Sage publishes
only as pictures and which a person imports by hand, so LedgerBridge could never know that the books took a
document (core.books: ``post`` returns only once the books confirmed). Writing to the company's MySQL
directly corrupts it (ids from counters, no referential integrity: accounting-packages.md 2.1). The
ODBC/MySQL connection stays read-only, as LedgerBridge uses it.

connectors/registry.py has no writer for ``sage50ca`` and gives these words as the reason: the app shows them
beside the greyed-out *Halo to the books*, and a run with posting on stops with them (a ConfigError), so the
user reads this instead of a run that silently posts nothing.
"""

from __future__ import annotations

MESSAGE = (
    "LedgerBridge cannot post Halo invoices into Sage 50 Canadian Edition: Sage's only ways in are its .NET "
    "SDK, which needs an app authorised by Sage, and a hand-run text import that LedgerBridge could not "
    "confirm; writing to the company database directly would damage it."
)
# What an office does instead (shown beside the greyed-out choice in the app, and when a run stops).
WHAT_TO_DO_INSTEAD = (
    "Enter Halo's invoices in Sage (Sales Invoices), or import them with Sage's File > Import/Export > "
    "Import Transactions, then mark them posted in Halo."
)

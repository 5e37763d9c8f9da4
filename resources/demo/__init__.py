"""The demo company: a small UK MSP's Sage 50 books in SQLite, for ``--demo`` and the first-run tour."""

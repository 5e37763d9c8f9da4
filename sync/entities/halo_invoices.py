"""Halo's invoices and credit notes -> the books: the one entity that flows the other way (issue 14).

Why a spec and not a module of its own kind: the entity is declared once, on the same seam as the books ->
Halo ones (core/specs.py), with ``direction="to_books"``; its links are kept apart by the links table's
``direction`` column, so a books invoice that started in Halo is never sent back (sync/entities/invoices.py
reads them) and an invoice that came from the books is never posted (sync/posting.py). The engine does not
iterate it: the posting run (sync/posting.py) reads Halo, maps each document to the books' terms and writes
it through the package's BooksWriter exactly once; ``payload`` is what then marks it posted in Halo.
"""

from __future__ import annotations

from core.books import BooksDocument
from core.specs import TO_BOOKS, EntitySpec
from halo import payloads
from sync.entities.base import Spec

HALO_INVOICES: Spec = EntitySpec(
    name="invoices",
    record_type=BooksDocument,
    resource="Invoice",
    payload=payloads.posted_payload,
    depends_on=("customers", "items", "tax_rates"),  # their links map Halo's ids to the books' keys
    direction=TO_BOOKS,
)

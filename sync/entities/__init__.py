"""Every entity LedgerBridge syncs, declared once each (one module per entity), in dependency order.

Adding an entity is one module here (its spec and planner), one payload in halo/payloads.py, one row in
halo/resources.py and one read per connector; the engine iterates ``SPECS`` and needs no edit.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from sync.entities import customers, halo_invoices, invoices, items, suppliers, tax_rates
from sync.entities.base import Spec

# Dependency order (core.records.ENTITY_ORDER, with the entities that ride with another after it).
SPECS: tuple[Spec, ...] = (
    tax_rates.SPEC,
    customers.SPEC,
    customers.SITES,
    suppliers.SPEC,
    items.SPEC,
    invoices.SPEC,
    invoices.PAYMENTS,
)
BY_NAME: Mapping[str, Spec] = MappingProxyType({spec.name: spec for spec in SPECS})
BY_RESOURCE: Mapping[str, Spec] = MappingProxyType({spec.resource: spec for spec in SPECS})
# What a connector is asked to read; payments ride with invoices, sites with customers.
STREAMS: tuple[str, ...] = tuple(spec.name for spec in SPECS if spec.is_stream)
# Halo -> books: not iterated by the engine (sync/posting.py runs them), declared on the same seam.
TO_BOOKS_SPECS: tuple[Spec, ...] = (halo_invoices.HALO_INVOICES,)

"""Customer and tax-code mappings: what the user sees and decides before (and between) syncs.

Why: the engine links a record to an existing Halo record only on a sure match (link, accounts key, the
user's mapping, one exact normalised name). Everything else is for a person: this module shows each source
customer and tax code with what it would match, offers near matches with their score, and stores the
user's choices in the state store. Nothing fuzzy is ever saved without the user asking.

It does I/O (the books and Halo): call it from a worker thread, never the GUI thread.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Literal

from core.records import Customer, TaxRate
from sync.matching import HaloIndex, tax_matches
from sync.secrets import SecretStore
from sync.settings import Settings
from sync.state import StateStore

if TYPE_CHECKING:
    from connectors.base import Connector
    from halo.client import HaloClient

log = logging.getLogger("ledgerbridge.mappings")

CustomerState = Literal["linked", "mapped", "accountsid", "exact", "suggested", "unmatched"]
TaxState = Literal["linked", "mapped", "auto", "unmapped"]


@dataclass(frozen=True)
class Suggestion:
    halo_id: int
    name: str
    score: float  # 0..100; 100 for one of several records with the very same normalised name


@dataclass(frozen=True)
class CustomerMappingRow:
    source_key: str
    source_name: str
    halo_id: int | None  # the Halo client the next sync would use; None: it would create a new one
    halo_name: str
    state: CustomerState
    suggestions: tuple[Suggestion, ...] = ()


@dataclass(frozen=True)
class TaxMappingRow:
    source_key: str
    code: str
    name: str
    rate: Decimal
    halo_id: int | None
    halo_name: str
    state: TaxState


@dataclass(frozen=True)
class MappingSnapshot:
    customers: tuple[CustomerMappingRow, ...]
    taxes: tuple[TaxMappingRow, ...]
    halo_clients: tuple[tuple[int, str], ...]  # (id, name) sorted by name: the choices for a mapping
    halo_taxes: tuple[tuple[int, str], ...]  # (id, "name (code, rate%)")
    halo_tax_rates: tuple[tuple[int, Decimal], ...] = ()  # (id, rate %) of the Halo taxes that have one

    @property
    def matched(self) -> int:
        """Customers that would land on an existing Halo client."""
        return sum(1 for row in self.customers if row.halo_id is not None)

    @property
    def unmatched(self) -> int:
        """Customers that would be created as new Halo clients unless the user maps them."""
        return sum(1 for row in self.customers if row.halo_id is None)


def _halo_id(record: dict[str, Any]) -> int | None:
    value = record.get("id")
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else None


def percent(rate: Decimal) -> str:
    """A rate as people write it: 20%, 17.5%, 0% (never 20.0000)."""
    return f"{rate.normalize():f}%"


def _tax_rate(tax: dict[str, Any]) -> Decimal | None:
    value = tax.get("value")
    if value is None or isinstance(value, bool):
        return None
    try:
        return Decimal(repr(value) if isinstance(value, float) else str(value))
    except ArithmeticError:
        return None


def _tax_label(tax: dict[str, Any]) -> str:
    name = str(tax.get("name") or "").strip() or f"Tax {tax.get('id')}"
    code = str(tax.get("code") or "").strip()
    rate = _tax_rate(tax)
    if rate is None:
        return f"{name} ({code})" if code else name
    return f"{name} ({code}, {percent(rate)})" if code else f"{name} ({percent(rate)})"


def customer_rows(
    customers: Iterable[Customer],
    clients: HaloIndex,
    state: StateStore,
    *,
    suggestion_limit: int = 3,
    min_score: float = 80.0,
) -> list[CustomerMappingRow]:
    """Each source customer with what the engine would match it to, in the engine's own order.

    Order (as sync.engine): link -> Halo client carrying the key as accountsid -> the user's mapping -> one
    exact normalised name that carries no other key -> otherwise a new client (with suggestions). A Halo
    client already taken by another customer's link, key or mapping is never offered again.
    """
    links = state.links("customers")
    mapped = state.mappings("customer")
    by_id = {_halo_id(r): r for r in clients.records() if _halo_id(r) is not None}

    def name_of(halo_id: int) -> str:
        record = by_id.get(halo_id)
        return str(record.get("name") or "") if record else f"(Halo client {halo_id}, not found in Halo)"

    # Pass 1: the sure matches, which claim their Halo client; the rest wait for name matching.
    decided: dict[int, CustomerMappingRow] = {}
    pending: list[tuple[int, Customer, list[int]]] = []
    ordered = list(customers)
    for position, customer in enumerate(ordered):
        key, name = customer.key, customer.name
        link = links.get(key)
        carrier = clients.by_key(key)
        if link is not None:
            decided[position] = CustomerMappingRow(key, name, link.halo_id, name_of(link.halo_id), "linked")
        elif carrier is not None and (carrier_id := _halo_id(carrier)) is not None:
            decided[position] = CustomerMappingRow(key, name, carrier_id, name_of(carrier_id), "accountsid")
        elif key in mapped:
            decided[position] = CustomerMappingRow(key, name, mapped[key], name_of(mapped[key]), "mapped")
        else:
            exact = [i for r in clients.by_name(name, source_key=key) if (i := _halo_id(r)) is not None]
            pending.append((position, customer, exact))
    claimed = {row.halo_id for row in decided.values() if row.halo_id is not None}

    # Pass 2: an exact name counts only when it is the one free candidate AND no other customer wants it
    # (two "Acme Ltd" accounts in the books must not both land on one Halo client); else the user chooses.
    wanted_by: dict[int, int] = {}
    for _position, _customer, exact in pending:
        free = [i for i in exact if i not in claimed]
        if len(free) == 1:
            wanted_by[free[0]] = wanted_by.get(free[0], 0) + 1
    for position, customer, exact in pending:
        key, name = customer.key, customer.name
        free = [i for i in exact if i not in claimed]
        if len(free) == 1 and wanted_by[free[0]] == 1:
            decided[position] = CustomerMappingRow(key, name, free[0], name_of(free[0]), "exact")
            continue
        suggestions = [Suggestion(i, name_of(i), 100.0) for i in free]
        seen = set(free) | claimed
        for record, score in clients.suggestions(
            name, limit=suggestion_limit + len(seen), min_score=min_score, source_key=key
        ):
            halo_id = _halo_id(record)
            if halo_id is None or halo_id in seen:
                continue
            seen.add(halo_id)
            suggestions.append(Suggestion(halo_id, str(record.get("name") or ""), score))
        suggestions = suggestions[: max(suggestion_limit, len(free))]
        row_state: CustomerState = "suggested" if suggestions else "unmatched"
        decided[position] = CustomerMappingRow(key, name, None, "", row_state, tuple(suggestions))
    return [decided[position] for position in range(len(ordered))]


def tax_rows(
    tax_rates: Iterable[TaxRate], halo_taxes: list[dict[str, Any]], state: StateStore
) -> list[TaxMappingRow]:
    """Each source tax code with the Halo tax the next sync would use, in the engine's own order."""
    links = state.links("tax_rates")
    mapped = state.mappings("tax")
    index = HaloIndex(halo_taxes, key_field="third_party_id")
    by_id = {_halo_id(t): t for t in halo_taxes if _halo_id(t) is not None}
    rows: list[TaxMappingRow] = []

    def label(halo_id: int) -> str:
        tax = by_id.get(halo_id)
        return _tax_label(tax) if tax else f"(Halo tax {halo_id}, not found in Halo)"

    for rate in tax_rates:
        row = (rate.key, rate.code, rate.name, rate.rate)
        link = links.get(rate.key)
        if link is not None:
            rows.append(TaxMappingRow(*row, link.halo_id, label(link.halo_id), "linked"))
            continue
        if rate.key in mapped:
            rows.append(TaxMappingRow(*row, mapped[rate.key], label(mapped[rate.key]), "mapped"))
            continue
        carrier = index.by_key(rate.key)
        candidates = [carrier] if carrier is not None else tax_matches(rate.code, rate.rate, halo_taxes)
        ids = [_halo_id(t) for t in candidates if _halo_id(t) is not None]
        if len(ids) == 1 and ids[0] is not None:
            rows.append(TaxMappingRow(*row, ids[0], label(ids[0]), "auto"))
        else:
            rows.append(TaxMappingRow(*row, None, "", "unmapped"))
    return rows


class MappingService:
    """Loads both sides, shows what would match, and stores the user's mapping choices."""

    def __init__(
        self,
        settings: Settings,
        secrets: SecretStore,
        state: StateStore,
        *,
        connector: Connector | None = None,
        client: HaloClient | None = None,
    ) -> None:
        self.settings = settings
        self.secrets = secrets
        self.state = state
        self._connector = connector
        self._client = client

    # --- building the two sides (only when not injected) --------------------------------------------------

    def _open_connector(self) -> tuple[Connector, bool]:
        if self._connector is not None:
            return self._connector, False
        from sync.runner import build_connector

        return build_connector(self.settings, self.secrets), True

    def _open_client(self) -> tuple[HaloClient, bool]:
        if self._client is not None:
            return self._client, False
        from sync.halo_connection import build_client  # imported when needed: the GUI starts without it

        return build_client(self.settings, self.secrets), True

    # --- the API ------------------------------------------------------------------------------------------

    def load(self) -> MappingSnapshot:
        """Read the source's customers and tax codes and Halo's clients and taxes; nothing is written."""
        client, own_client = self._open_client()  # first: a missing secret is told before the books are read
        try:
            connector, own_connector = self._open_connector()
            try:
                customers = [
                    r for r in connector.read("customers") if isinstance(r, Customer) and not r.deleted
                ]
                tax_rates = [r for r in connector.read("tax_rates") if isinstance(r, TaxRate)]
            finally:
                if own_connector:
                    connector.close()
            clients = HaloIndex(client.iter_records("Client", {"includeinactive": "true"}))
            halo_taxes = list(client.iter_records("Tax"))
        finally:
            if own_client:
                client.close()
        customers.sort(key=lambda c: (c.name.casefold(), c.key))
        tax_rates.sort(key=lambda t: (t.code.casefold(), t.key))
        snapshot = MappingSnapshot(
            customers=tuple(customer_rows(customers, clients, self.state)),
            taxes=tuple(tax_rows(tax_rates, halo_taxes, self.state)),
            halo_clients=tuple(
                sorted(
                    (
                        (halo_id, str(r.get("name") or ""))
                        for r in clients.records()
                        if (halo_id := _halo_id(r))
                    ),
                    key=lambda pair: (pair[1].casefold(), pair[0]),
                )
            ),
            halo_taxes=tuple(
                sorted(
                    ((halo_id, _tax_label(t)) for t in halo_taxes if (halo_id := _halo_id(t))),
                    key=lambda pair: (pair[1].casefold(), pair[0]),
                )
            ),
            halo_tax_rates=tuple(
                (halo_id, rate)
                for t in halo_taxes
                if (halo_id := _halo_id(t)) is not None and (rate := _tax_rate(t)) is not None
            ),
        )
        log.info(
            "Mappings loaded: %d customers (%d matched, %d unmatched), %d tax codes; %d Halo clients.",
            len(snapshot.customers),
            snapshot.matched,
            snapshot.unmatched,
            len(snapshot.taxes),
            len(snapshot.halo_clients),
        )
        return snapshot

    def generate_customer_mappings(self, snapshot: MappingSnapshot) -> int:
        """Save every exact-name match as the user's mapping (like Halo's own "generate"); returns how many.

        Suggestions (near matches) are never saved here: the user confirms each one.
        """
        saved = 0
        for row in snapshot.customers:
            if row.state == "exact" and row.halo_id is not None:
                self.state.set_mapping("customer", row.source_key, row.halo_id)
                saved += 1
        log.info("Generated %d customer mappings from exact name matches.", saved)
        return saved

    def set_customer_mapping(self, source_key: str, halo_id: int | None) -> None:
        """Map a source customer to a Halo client (None removes the mapping: the next sync re-matches)."""
        self.state.set_mapping("customer", _checked_key(source_key), _checked_id(halo_id))

    def set_tax_mapping(self, source_key: str, halo_id: int | None) -> None:
        """Map a source tax code to a Halo tax (None removes the mapping)."""
        self.state.set_mapping("tax", _checked_key(source_key), _checked_id(halo_id))

    def save_changes(self, customers: Mapping[str, int | None], taxes: Mapping[str, int | None]) -> int:
        """Store the user's pending choices (the editor's *Save*); all are checked before any is written."""
        checked_customers = {_checked_key(k): _checked_id(v) for k, v in customers.items()}
        checked_taxes = {_checked_key(k): _checked_id(v) for k, v in taxes.items()}
        for key, halo_id in checked_customers.items():
            self.state.set_mapping("customer", key, halo_id)
        for key, halo_id in checked_taxes.items():
            self.state.set_mapping("tax", key, halo_id)
        log.info(
            "Saved the user's mappings: %d customer(s), %d tax code(s).",
            len(checked_customers),
            len(checked_taxes),
        )
        return len(checked_customers) + len(checked_taxes)


_KEPT_BECAUSE = {  # why the engine keeps a customer on its Halo client whatever the (absent) mapping says
    "linked": "an earlier sync linked them, which comes before any mapping",
    "accountsid": "that client carries its account reference in Halo, which comes before any mapping",
    "exact": "it is the one Halo client with the same name (pick another client to send it elsewhere)",
}


def changes_to_confirm(
    snapshot: MappingSnapshot, customers: Mapping[str, int | None], taxes: Mapping[str, int | None]
) -> list[str]:
    """The pending changes worth a second look, one sentence each; empty when none is.

    Why: before the first sync a mapping is what the engine uses. A tax code mapped to a Halo tax of another
    rate puts the wrong tax on every invoice; a customer taken off its Halo client may become a duplicate.
    """
    sentences: list[str] = []
    rates = dict(snapshot.halo_tax_rates)
    tax_labels = dict(snapshot.halo_taxes)
    for row in snapshot.taxes:
        if row.source_key not in taxes:
            continue
        halo_id = taxes[row.source_key]
        new_rate = rates.get(halo_id) if halo_id is not None else None
        if halo_id is not None and new_rate is not None and new_rate != row.rate:
            sentences.append(
                f"Tax code {row.code} ({row.name}, {percent(row.rate)} in the books) would be sent as "
                f"{tax_labels.get(halo_id, f'Halo tax {halo_id}')}: its invoices would carry "
                f"{percent(new_rate)} tax in Halo."
            )
    for customer in snapshot.customers:
        if customer.source_key not in customers:
            continue
        if customer.halo_id is None or customers[customer.source_key] is not None:
            continue
        client = customer.halo_name or f"#{customer.halo_id}"
        why = _KEPT_BECAUSE.get(customer.state)
        if why is None:  # the user's own mapping: taking it away really changes where it goes
            sentences.append(
                f"{customer.source_key} ({customer.source_name}) would no longer go to the Halo client "
                f"{client}: the next sync matches it again by name, or creates a new Halo client for it."
            )
        else:  # say what the engine will do rather than promise a new client
            sentences.append(
                f"{customer.source_key} ({customer.source_name}) stays with the Halo client {client}: {why}."
            )
    return sentences


def _checked_key(source_key: str) -> str:
    if not isinstance(source_key, str) or not source_key.strip():
        raise ValueError("A mapping needs the source record's key.")
    return source_key


def _checked_id(halo_id: int | None) -> int | None:
    if halo_id is None:
        return None
    if isinstance(halo_id, bool) or not isinstance(halo_id, int) or halo_id <= 0:
        raise ValueError(f"Not a Halo record id: {halo_id!r}.")
    return halo_id

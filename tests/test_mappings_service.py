"""MappingService against the real sandbox (HTTP) and the demo company read by the Sage 50 UK connector."""

from __future__ import annotations

from decimal import Decimal

import pytest

from core.records import Customer, TaxRate
from sync.mappings import MappingService
from sync.matching import normalise_name
from sync.secrets import HALO_CLIENT_SECRET, MemorySecretStore
from sync.settings import Settings
from sync.state import StateStore


@pytest.fixture
def demo_company(tmp_path):
    from resources.demo.build_demo_company import ensure_demo_company

    return ensure_demo_company(tmp_path / "demo-company.sqlite3")


@pytest.fixture
def settings(halo_sandbox, demo_company):
    settings = Settings()
    settings.halo.resource_server = halo_sandbox.url
    settings.halo.client_id = halo_sandbox.client_id
    settings.source.kind = "demo"
    settings.source.connection_string = str(demo_company)
    return settings


@pytest.fixture
def state(tmp_path):
    store = StateStore(tmp_path / "state.sqlite3")
    yield store
    store.close()


def _source(settings: Settings) -> tuple[list[Customer], list[TaxRate]]:
    from connectors.registry import create_connector
    from sync.runner import source_config

    with create_connector(source_config(settings.source), None) as connector:
        customers = [r for r in connector.read("customers") if isinstance(r, Customer) and not r.deleted]
        taxes = [r for r in connector.read("tax_rates") if isinstance(r, TaxRate)]
    return customers, taxes


def _distinct(customers: list[Customer], n: int) -> list[Customer]:
    """n customers whose normalised names are unique in the company (so an exact match is unambiguous)."""
    counts: dict[str, int] = {}
    for c in customers:
        counts[normalise_name(c.name)] = counts.get(normalise_name(c.name), 0) + 1
    chosen = [c for c in customers if counts[normalise_name(c.name)] == 1 and len(normalise_name(c.name)) > 6]
    assert len(chosen) >= n, "the demo company needs more distinct customer names"
    return chosen[:n]


def test_load_classifies_demo_customers_against_seeded_halo_clients(settings, state, halo_sandbox):
    customers, taxes = _source(settings)
    exact, by_key, near, mapped, linked = _distinct(customers, 5)
    seeded_exact = halo_sandbox.seed("Client", {"name": exact.name.upper() + " LIMITED"})
    seeded_key = halo_sandbox.seed("Client", {"name": "Renamed In Halo", "accountsid": by_key.key.lower()})
    seeded_near = halo_sandbox.seed("Client", {"name": near.name[1:]})
    seeded_mapped = halo_sandbox.seed("Client", {"name": "Chosen By Hand"})
    seeded_linked = halo_sandbox.seed("Client", {"name": "Synced Before"})
    halo_sandbox.seed("Client", {"name": "Zzz Unrelated Halo Only Client"})
    state.set_mapping("customer", mapped.key, seeded_mapped["id"])
    state.save_link("customers", linked.key, seeded_linked["id"], "hash")
    standard = next((t for t in taxes if t.rate > 0), None)
    assert standard is not None
    seeded_tax = halo_sandbox.seed(
        "Tax", {"name": "Standard", "code": standard.code, "value": float(standard.rate)}
    )

    service = MappingService(
        settings, MemorySecretStore({HALO_CLIENT_SECRET: halo_sandbox.client_secret}), state
    )
    snapshot = service.load()

    rows = {row.source_key: row for row in snapshot.customers}
    assert len(rows) == len(customers)
    assert (rows[exact.key].state, rows[exact.key].halo_id) == ("exact", seeded_exact["id"])
    assert (rows[by_key.key].state, rows[by_key.key].halo_id) == ("accountsid", seeded_key["id"])
    assert (rows[mapped.key].state, rows[mapped.key].halo_id) == ("mapped", seeded_mapped["id"])
    assert (rows[linked.key].state, rows[linked.key].halo_id) == ("linked", seeded_linked["id"])
    near_row = rows[near.key]
    assert near_row.state == "suggested" and near_row.halo_id is None
    assert near_row.suggestions[0].halo_id == seeded_near["id"] and near_row.suggestions[0].score >= 80
    assert snapshot.matched == 4 and snapshot.unmatched == len(customers) - 4
    assert len(snapshot.halo_clients) == 6 + 0 and (
        "Zzz Unrelated Halo Only Client" in dict(snapshot.halo_clients).values()
    )

    tax_rows = {row.source_key: row for row in snapshot.taxes}
    assert len(tax_rows) == len(taxes)
    assert (tax_rows[standard.key].state, tax_rows[standard.key].halo_id) == ("auto", seeded_tax["id"])
    assert all(
        r.state == "unmapped" for k, r in tax_rows.items() if k != standard.key and r.rate != standard.rate
    )
    assert all(isinstance(r.rate, Decimal) for r in snapshot.taxes)

    # "Generate mappings" saves only the exact row; the suggestion is never applied.
    writes_before = _api_posts(halo_sandbox)
    assert service.generate_customer_mappings(snapshot) == 1
    assert state.mapping("customer", exact.key) == seeded_exact["id"]
    assert state.mapping("customer", near.key) is None
    assert _api_posts(halo_sandbox) == writes_before

    service.set_customer_mapping(near.key, seeded_near["id"])
    again = {row.source_key: row for row in service.load().customers}
    assert (again[near.key].state, again[near.key].halo_id) == ("mapped", seeded_near["id"])
    assert (again[exact.key].state, again[exact.key].halo_id) == ("mapped", seeded_exact["id"])


def test_load_without_the_halo_secret_says_what_to_do(settings, state):
    from core.errors import ConfigError

    service = MappingService(settings, MemorySecretStore(), state)
    with pytest.raises(ConfigError) as caught:
        service.load()
    assert "secret" in caught.value.message and "Settings > Halo" in caught.value.action


def test_load_with_a_wrong_secret_is_an_auth_error(settings, state):
    from core.errors import AuthError

    service = MappingService(settings, MemorySecretStore({HALO_CLIENT_SECRET: "not-the-secret"}), state)
    with pytest.raises(AuthError):
        service.load()


def _api_posts(sandbox) -> int:
    """Writes to Halo's API (the token request is a POST too, but writes nothing)."""
    return sum(
        n for (method, path), n in sandbox.counts().items() if method == "POST" and path.startswith("/api")
    )


def test_stand_in_company_through_odbc_with_awkward_names(sage_company):
    """The Sage 50 UK stand-in read through unixODBC + the SQLite3 driver: accents, apostrophes, twins."""
    sandbox = sage_company.sandbox
    obrien = sandbox.seed("Client", {"name": "O'BRIEN AND SONS (CAFE MULLER) LIMITED"})
    acme = sandbox.seed("Client", {"name": "Acme Ltd"})
    zed = sandbox.seed("Client", {"name": "Zeds Last Customers"})
    standard = sandbox.seed("Tax", {"name": "VAT 20%", "code": "t1", "value": 20})
    state = sage_company.state()
    try:
        connector = sage_company.connector()
        client = sage_company.client()
        try:
            service = MappingService(
                sage_company.settings, sage_company.secrets, state, connector=connector, client=client
            )
            snapshot = service.load()
        finally:
            connector.close()
            client.close()
        rows = {row.source_key: row for row in snapshot.customers}
        assert "GONE" not in rows and "NONAME" not in rows  # deleted; unreadable (a source problem)
        assert (rows["OBRIEN"].state, rows["OBRIEN"].halo_id) == ("exact", obrien["id"])
        # "Acme Ltd" and "ACME Limited" are two accounts in the books: neither takes the Halo client alone.
        for key in ("ACME01", "ACME02"):
            assert rows[key].state == "suggested" and rows[key].suggestions[0].halo_id == acme["id"]
        assert rows["ZED"].state == "suggested" and rows["ZED"].suggestions[0].halo_id == zed["id"]
        assert rows["MAXLEN08"].source_name.startswith("Łó")
        taxes = {row.source_key: row for row in snapshot.taxes}
        assert (taxes["T1"].state, taxes["T1"].halo_id) == ("auto", standard["id"])
        assert taxes["T0"].state == "unmapped"
        assert service.generate_customer_mappings(snapshot) == 1
        assert state.mappings("customer") == {"OBRIEN": obrien["id"]}
    finally:
        state.close()

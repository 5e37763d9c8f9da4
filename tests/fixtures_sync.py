"""Fixtures: fixtures_sync — a stand-in Sage 50 UK company wired to a real local Halo sandbox.

``sage_company`` gives a SQLite Sage 50 UK stand-in (read through unixODBC + the SQLite3 driver), a running
HaloSandbox, Settings pointing at both, the client secret in the test's real file keyring, and ``run()`` to
sync through ``sync.runner.run_sync`` with a fast-retrying real HaloClient, collecting the events.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pyodbc
import pytest

from connectors.sage50uk import Sage50UKConnector
from core.records import Customer, Invoice, Item, TaxRate
from halo.client import HaloClient, RetryPolicy
from halo.sandbox.server import HaloSandbox
from sync.events import Event, RecordOutcome, RunSummary
from sync.halo_connection import halo_connection
from sync.paths import AppPaths, app_paths
from sync.runner import open_state, run_sync
from sync.secrets import HALO_CLIENT_SECRET, KeyringSecretStore
from sync.settings import Settings
from sync.state import StateStore
from tests.standins.sage50uk import build_company, odbc_connection_string

LONDON = ZoneInfo("Europe/London")
FAST_RETRY = RetryPolicy(max_attempts=8, base_delay=0.01, max_delay=0.05, max_retry_after=2.0)


@dataclass
class SageCompany:
    """One stand-in company + sandbox + settings; ``run()`` is one real sync."""

    path: Path
    sandbox: HaloSandbox
    settings: Settings
    secrets: KeyringSecretStore
    paths: AppPaths
    events: list[Event] = field(default_factory=list)

    def connector(self) -> Sage50UKConnector:
        connection_string = odbc_connection_string(self.path)
        return Sage50UKConnector(lambda: pyodbc.connect(connection_string), local_zone=LONDON)

    def client(self) -> HaloClient:
        secret = self.secrets.get(HALO_CLIENT_SECRET)
        assert secret
        return HaloClient(halo_connection(self.settings.halo), secret, retry=FAST_RETRY)

    def run(self, **options: Any) -> RunSummary:
        """A sync via run_sync with a real connector and a real (fast-retrying) client; events kept."""
        self.events.clear()
        connector = options.pop("connector", None) or self.connector()
        client = options.pop("client", None) or self.client()
        try:
            return run_sync(
                self.settings,
                self.secrets,
                paths=self.paths,
                listener=options.pop("listener", self.events.append),
                connector=connector,
                client=client,
                **options,
            )
        finally:
            connector.close()
            client.close()

    def state(self) -> StateStore:
        return open_state(self.paths)

    def outcomes(self, outcome: str | None = None, entity: str | None = None) -> list[RecordOutcome]:
        return [
            e
            for e in self.events
            if isinstance(e, RecordOutcome)
            and (outcome is None or e.outcome == outcome)
            and (entity is None or e.entity == entity)
        ]

    def posts(self) -> dict[str, int]:
        """POST requests per resource path so far."""
        return {
            path: n
            for (method, path), n in self.sandbox.counts().items()
            if method == "POST" and "/api/" in path
        }

    def source(self) -> dict[str, list[Any]]:
        """What the books hold, read through the real connector: the expectations of a sync."""
        with self.connector() as connector:
            return {
                "tax_rates": [r for r in connector.read("tax_rates") if isinstance(r, TaxRate)],
                "customers": [r for r in connector.read("customers") if isinstance(r, Customer)],
                "items": [r for r in connector.read("items") if isinstance(r, Item)],
                "invoices": [r for r in connector.read("invoices") if isinstance(r, Invoice)],
            }


@pytest.fixture
def sage_company(tmp_path, halo_sandbox) -> Iterator[SageCompany]:
    """The stand-in Sage 50 UK company (tests/standins/sage50uk.build_company) and a sandbox Halo."""
    path = build_company(tmp_path / "ACCDATA.sqlite")
    settings = Settings()
    settings.halo.resource_server = halo_sandbox.url
    settings.halo.client_id = halo_sandbox.client_id
    settings.halo.batch_size = 3  # small batches so several batches (and their edges) run on a small company
    settings.halo.requests_per_5_minutes = 0  # not about pacing (tests/test_halo_pacing.py is)
    settings.source.kind = "sage50uk"
    settings.source.connection_string = odbc_connection_string(path)
    settings.source.timezone = "Europe/London"
    secrets = KeyringSecretStore(allow_plaintext=True)  # the test keyring is keyrings.alt's file backend
    secrets.set(HALO_CLIENT_SECRET, halo_sandbox.client_secret)
    paths = app_paths().ensure()
    yield SageCompany(path, halo_sandbox, settings, secrets, paths)

"""Fixtures: fixtures_halo.

Sandbox section first (owned by the sandbox engineer); the Halo-client engineer appends below it.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from halo.sandbox.server import HaloSandbox

# ---------------------------------------------------------------------------------------- sandbox section


@pytest.fixture
def halo_sandbox() -> Iterator[HaloSandbox]:
    """A fresh local Halo (in memory, random client secret, no tenant) on a free 127.0.0.1 port.

    Started before the test and stopped after it; change ``halo_sandbox.faults`` inside the test as needed.
    """
    sandbox = HaloSandbox().start()
    try:
        yield sandbox
    finally:
        sandbox.stop()


# ------------------------------------------------------------------------------ end of sandbox section

# --------------------------------------------------------------------------- Halo client section (appended)


@pytest.fixture
def make_halo_client():
    """Build HaloClients for a sandbox; every client made is closed at teardown.

    ``make(sandbox, secret=None, **overrides)``: overrides are HaloConnection fields (resource_server,
    auth_server, tenant, client_id, scope, page_size, batch_size, timeout, ...) or HaloClient options (retry,
    sleep, clock, session). ``secret`` defaults to the sandbox's real client secret.
    """
    from halo.client import HaloClient, HaloConnection

    made: list[HaloClient] = []

    def make(sandbox: HaloSandbox, *, secret: str | None = None, **overrides: object) -> HaloClient:
        options = {
            key: overrides.pop(key) for key in ("retry", "sleep", "clock", "session") if key in overrides
        }
        overrides.setdefault("requests_per_window", 0)  # not about pacing unless the test says so
        connection = HaloConnection(
            resource_server=str(overrides.pop("resource_server", sandbox.url)),
            client_id=str(overrides.pop("client_id", sandbox.client_id)),
            **overrides,
        )
        client = HaloClient(connection, sandbox.client_secret if secret is None else secret, **options)
        made.append(client)
        return client

    yield make
    for client in made:
        client.close()


@pytest.fixture
def unused_tcp_port() -> int:
    """A 127.0.0.1 port nothing listens on (bound once by the OS, then released)."""
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]

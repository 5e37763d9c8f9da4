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

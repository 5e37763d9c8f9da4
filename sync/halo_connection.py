"""Settings > Halo as the Halo client's own connection values, and the client every sync-side caller opens.

Why here: halo/ takes plain values of its own (HaloConnection) and never imports sync, so the one place that
knows both the settings file's names and the client's is on the sync side.
"""

from __future__ import annotations

from core.errors import ConfigError
from halo.client import HaloClient, HaloConnection
from sync.secrets import HALO_CLIENT_SECRET, SecretStore
from sync.settings import HaloSettings, Settings


def halo_connection(settings: HaloSettings) -> HaloConnection:
    """The client's connection for ``settings``: everything but the secret, which the keyring holds."""
    return HaloConnection(
        resource_server=settings.resource_server,
        auth_server=settings.auth_server,
        tenant=settings.tenant,
        client_id=settings.client_id,
        scope=settings.scope,
        proxy=settings.proxy,
        ca_bundle=settings.ca_bundle,
        timeout=settings.timeout_seconds,
        page_size=settings.page_size,
        batch_size=settings.batch_size,
        requests_per_window=settings.requests_per_5_minutes,
    )


def build_client(settings: Settings, secrets: SecretStore) -> HaloClient:
    """A client for ``settings`` signed in with the keyring's secret (ConfigError when none is stored)."""
    secret = secrets.get(HALO_CLIENT_SECRET)
    if not secret:
        raise ConfigError(
            "The Halo client secret is not stored on this computer.",
            action="Enter it in Settings > Halo (or run: ledgerbridge secret set halo.client_secret).",
        )
    return HaloClient(halo_connection(settings.halo), secret)

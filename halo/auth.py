"""Halo sign-in pieces: where the API and the token service live, and when a token must be renewed.

Why separate from the client: URL rules (the optional "/api" suffix, plain http only on this PC) and the
renewal margin are decisions a reader should find in one short place. The HTTP calls themselves go through
the client's request loop so they share its retries, timeouts, TLS and error mapping.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from core.errors import ConfigError

LOCAL_HOSTS = frozenset({"localhost", "127.0.0.1", "::1"})
MIN_RENEWAL_MARGIN = 60.0  # seconds
RENEWAL_SHARE = 0.10  # renew when less than max(60 s, 10% of the lifetime) remains
DEFAULT_LIFETIME = 3600.0


def normalise_server_url(url: str, *, setting: str, strip_suffix: str = "") -> str:
    """The server URL without trailing slashes (and without ``strip_suffix``, e.g. "/api"), checked.

    Refuses plain http:// except to this PC: a client secret must never cross a network unencrypted.
    """
    text = (url or "").strip()
    if not text:
        raise ConfigError(f"The Halo {setting} is not set.", action="Enter it in Settings > Halo.")
    if "://" not in text:
        text = "https://" + text
    parts = urlsplit(text)
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(
            f"The Halo {setting} {url!r} is not a web address.",
            action="Enter it as shown in Halo, e.g. https://yourcompany.halopsa.com.",
        )
    if scheme == "http" and parts.hostname.lower() not in LOCAL_HOSTS:
        raise ConfigError(
            f"The Halo {setting} {url!r} uses plain http://, which would send the client secret unencrypted.",
            action="Use the https:// address shown in Halo under Configuration > Integrations > Halo API.",
        )
    path = parts.path.rstrip("/")
    if strip_suffix and path.lower().endswith(strip_suffix.lower()):
        path = path[: -len(strip_suffix)].rstrip("/")
    return f"{scheme}://{parts.netloc}{path}"


def token_url(auth_server: str, tenant: str) -> tuple[str, dict[str, str]]:
    """The token endpoint and its query parameters (``tenant`` only for hosted instances)."""
    base = auth_server.rstrip("/")
    if base.lower().endswith("/token"):
        base = base[: -len("/token")]
    return f"{base}/token", ({"tenant": tenant} if tenant else {})


@dataclass
class AccessToken:
    """A bearer token and when to renew it. ``repr`` never shows the token itself."""

    value: str = field(repr=False)
    lifetime: float
    obtained_at: float

    @property
    def renew_at(self) -> float:
        """Renew when less than max(60 s, 10% of the lifetime) remains, but never in the token's first half.

        The "first half" floor only matters for very short lifetimes (under two minutes), where the 60-second
        margin would otherwise force a new token before every request.
        """
        margin = min(max(MIN_RENEWAL_MARGIN, RENEWAL_SHARE * self.lifetime), self.lifetime / 2)
        return self.obtained_at + self.lifetime - margin

    def needs_renewal(self, now: float | None = None) -> bool:
        return (time.monotonic() if now is None else now) >= self.renew_at


def token_from_json(body: Any, *, now: float) -> AccessToken | None:
    """An AccessToken from the token service's JSON, or None when the answer is not a token."""
    if not isinstance(body, dict):
        return None
    value = body.get("access_token")
    if not isinstance(value, str) or not value:
        return None
    token_type = body.get("token_type", "Bearer")
    if isinstance(token_type, str) and token_type and token_type.lower() != "bearer":
        return None
    raw_lifetime = body.get("expires_in", DEFAULT_LIFETIME)
    try:
        lifetime = float(raw_lifetime)
    except (TypeError, ValueError):
        lifetime = DEFAULT_LIFETIME
    if not lifetime > 0:
        lifetime = DEFAULT_LIFETIME
    return AccessToken(value=value, lifetime=lifetime, obtained_at=now)

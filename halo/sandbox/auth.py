"""Halo's client-credentials sign-in: checks id, secret, tenant, grant and scope; issues expiring tokens.

Answers use the OAuth error vocabulary (``invalid_client``, ``invalid_request``...) because that is what a
real Halo auth server sends and what the client must turn into a message a user can act on.
"""

from __future__ import annotations

import hmac
import secrets
import threading
import time
from typing import Any

SCOPE_AREAS = (
    "customers",
    "items",
    "invoices",
    "suppliers",
    "pos",
    "sos",
    "contracts",
    "sales",
    "quotes",
    "tickets",
    "assets",
    "reporting",
)
VALID_SCOPES = frozenset(
    {"all", "all:standard", "admin"}
    | {f"{access}:{area}" for access in ("read", "edit") for area in SCOPE_AREAS}
)


class TokenIssuer:
    """Issues random bearer tokens and remembers when each expires."""

    def __init__(self, client_id: str, client_secret: str, tenant: str) -> None:
        self.client_id = client_id
        self._client_secret = client_secret
        self.tenant = tenant
        self._lock = threading.Lock()
        self._tokens: dict[str, float] = {}

    def __repr__(self) -> str:
        return f"TokenIssuer(client_id={self.client_id!r}, tenant={self.tenant!r})"

    def issue(self, form: dict[str, str], tenant: str | None, lifetime: int) -> tuple[int, dict[str, Any]]:
        """(HTTP status, JSON body) for one POST /auth/token."""
        if self.tenant and tenant != self.tenant:
            shown = "no tenant" if not tenant else f"tenant {tenant!r}"
            return 400, _oauth_error(
                "invalid_request",
                f"Unknown tenant: {shown} was given. Use the tenant shown under Configuration > "
                "Integrations > Halo API > API Details.",
            )
        grant = form.get("grant_type", "")
        if grant != "client_credentials":
            return 400, _oauth_error(
                "unsupported_grant_type",
                f"grant_type {grant!r} is not supported here; use client_credentials.",
            )
        client_id = form.get("client_id", "")
        given_secret = form.get("client_secret", "")
        id_ok = hmac.compare_digest(client_id.encode(), self.client_id.encode())
        secret_ok = hmac.compare_digest(given_secret.encode(), self._client_secret.encode())
        if not (id_ok and secret_ok):
            return 401, _oauth_error(
                "invalid_client",
                "The client ID or client secret is wrong. "
                "Check the API application in Halo and enter them again.",
            )
        scopes = form.get("scope", "all").split()
        unknown = [scope for scope in scopes if scope not in VALID_SCOPES]
        if unknown or not scopes:
            return 400, _oauth_error(
                "invalid_scope",
                f"Unknown scope {' '.join(unknown) or '(empty)'!r}; "
                "use e.g. 'all' or 'read:customers edit:invoices'.",
            )
        token = secrets.token_urlsafe(32)
        with self._lock:
            self._tokens[token] = time.monotonic() + lifetime
        return 200, {
            "access_token": token,
            "token_type": "Bearer",
            "expires_in": lifetime,
            "scope": " ".join(scopes),
        }

    def is_valid(self, token: str) -> bool:
        with self._lock:
            expires = self._tokens.get(token)
            if expires is None:
                return False
            if expires <= time.monotonic():
                del self._tokens[token]
                return False
            return True

    def expire_all(self) -> None:
        with self._lock:
            self._tokens.clear()


def _oauth_error(code: str, description: str) -> dict[str, str]:
    return {"error": code, "error_description": description}

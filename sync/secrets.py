"""Secrets in the OS keyring (service ``LedgerBridge``), never in a file this program writes.

Names: ``halo.client_secret`` and ``source.password``. Every value read from or written to a store is
registered with the scrubber (``core.scrub``): whoever handles it, it never reaches a log line. When the
machine has no usable keyring backend (a bare Linux box) the caller gets a ConfigError that says how to fix
it; a plain-text backend is used only when the user explicitly allowed it: in Settings > Advanced, or by
naming that backend themselves (``PYTHON_KEYRING_BACKEND``, or ``default-keyring`` in keyring's
keyringrc.cfg), which is honoured with a warning in the log. One found by keyring's own auto-detection is
refused, naming the backend found.
"""

from __future__ import annotations

import configparser
import contextlib
import logging
import os
from typing import Final, Protocol

import keyring
import keyring.backend
import keyring.errors
import keyring.util.platform_

from core.errors import ConfigError
from core.scrub import register_secret

SERVICE = "LedgerBridge"
# The keyring entry names (not secrets themselves).
HALO_CLIENT_SECRET: Final = "halo.client_secret"
SOURCE_PASSWORD: Final = "source.password"
SECRET_NAMES = (HALO_CLIENT_SECRET, SOURCE_PASSWORD)
BACKEND_ENV = "PYTHON_KEYRING_BACKEND"

log = logging.getLogger("ledgerbridge.secrets")
# Warned about already: (backend named, the log handlers then). Once per log destination, not per secret read:
# the CLI reads its secrets before its log file is set up, and the warning must reach that file too.
_warned: set[tuple[str, tuple[int, ...]]] = set()

NO_KEYRING_ACTION = (
    "Install and unlock a keyring: on Windows this is built in (Credential Manager); on Linux install "
    "gnome-keyring or KWallet and log in to a desktop session. Or, knowing the risk, allow plain-text "
    "secrets in Settings > Advanced (or name that backend yourself in PYTHON_KEYRING_BACKEND)."
)


class SecretStore(Protocol):
    def get(self, name: str) -> str | None: ...

    def set(self, name: str, value: str) -> None: ...

    def delete(self, name: str) -> None: ...


def _is_plaintext(backend: keyring.backend.KeyringBackend) -> bool:
    """keyrings.alt's file backends (and subclasses of them) other than the encrypted one."""
    return any(
        cls.__module__.startswith("keyrings.alt") and "Encrypted" not in cls.__name__
        for cls in type(backend).__mro__
    )


def backend_choice() -> tuple[str, str]:
    """(backend the user named, where) from PYTHON_KEYRING_BACKEND or keyringrc.cfg; ("", "") when none."""
    named = os.environ.get(BACKEND_ENV, "").strip()
    if named:
        return named, f"the environment variable {BACKEND_ENV}"
    path = keyring.util.platform_.config_root() / "keyringrc.cfg"
    config = configparser.RawConfigParser()
    try:
        config.read(path, encoding="utf-8")
        named = config.get("backend", "default-keyring", fallback="").strip()
    except (OSError, configparser.Error, UnicodeDecodeError):
        return "", ""
    return (named, str(path)) if named else ("", "")


def _is_named(backend: keyring.backend.KeyringBackend, named: str) -> bool:
    """Whether ``backend`` is (a subclass of) the class named, e.g. keyrings.alt.file.PlaintextKeyring."""
    return any(
        named in (f"{cls.__module__}.{cls.__qualname__}", cls.__qualname__) for cls in type(backend).__mro__
    )


def _is_unusable(backend: keyring.backend.KeyringBackend) -> bool:
    module = type(backend).__module__
    return module in ("keyring.backends.fail", "keyring.backends.null")


class KeyringSecretStore:
    """The OS keyring. ``allow_plaintext`` must come from the user's explicit choice."""

    def __init__(self, service: str = SERVICE, *, allow_plaintext: bool = False) -> None:
        self.service = service
        self.allow_plaintext = allow_plaintext

    def backend_name(self) -> str:
        backend = keyring.get_keyring()
        return f"{type(backend).__module__}.{type(backend).__name__}"

    def check(self) -> None:
        """Raise ConfigError when secrets cannot be kept safely on this machine."""
        backend = keyring.get_keyring()
        if _is_unusable(backend):
            raise ConfigError("No keyring is available to keep secrets safe.", action=NO_KEYRING_ACTION)
        if _is_plaintext(backend) and not self.allow_plaintext:
            named, where = backend_choice()
            if named and _is_named(backend, named):
                seen = (named, tuple(id(handler) for handler in logging.getLogger().handlers))
                if seen not in _warned:
                    _warned.add(seen)
                    log.warning(
                        "Secrets are kept in plain text by %s, the keyring backend chosen in %s; anyone who "
                        "can read that file can read them.",
                        self.backend_name(),
                        where,
                    )
                return
            raise ConfigError(
                f"The only keyring on this machine ({self.backend_name()}) stores secrets in plain text.",
                action=NO_KEYRING_ACTION,
            )

    def get(self, name: str) -> str | None:
        self.check()
        try:
            value = keyring.get_password(self.service, name)
        except keyring.errors.KeyringError as exc:
            raise ConfigError(
                f"The keyring could not be read ({type(exc).__name__}).", action=NO_KEYRING_ACTION
            ) from exc
        register_secret(value)
        return value

    def set(self, name: str, value: str) -> None:
        register_secret(value)
        self.check()
        try:
            keyring.set_password(self.service, name, value)
        except keyring.errors.KeyringError as exc:
            raise ConfigError(
                f"The keyring refused the secret ({type(exc).__name__}).", action=NO_KEYRING_ACTION
            ) from exc

    def delete(self, name: str) -> None:
        self.check()
        with contextlib.suppress(keyring.errors.PasswordDeleteError):
            keyring.delete_password(self.service, name)


class MemorySecretStore:
    """Secrets held only in this process (the demo's generated sandbox credentials)."""

    def __init__(self, values: dict[str, str] | None = None) -> None:
        self._values = dict(values or {})
        for value in self._values.values():
            register_secret(value)

    def get(self, name: str) -> str | None:
        return self._values.get(name)

    def set(self, name: str, value: str) -> None:
        register_secret(value)
        self._values[name] = value

    def delete(self, name: str) -> None:
        self._values.pop(name, None)

    def __repr__(self) -> str:
        return f"MemorySecretStore(names={sorted(self._values)})"

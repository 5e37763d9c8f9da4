"""Settings: one TOML file, no secrets in it (those live in the keyring, see ``sync.secrets``).

The file has three sections a person may edit by hand: ``[halo]``, ``[source]``, ``[sync]``, and ``[app]`` for
desktop preferences. Unknown keys are kept out; a wrong type is a ConfigError that names the key.
"""

from __future__ import annotations

import contextlib
import os
import tomllib
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import tomli_w

from core.errors import ConfigError
from sync.paths import ensure_private_dir, make_private, storage_error

SOURCE_KINDS = ("sage50uk", "sage50ca", "quickbooks", "odbc", "demo")
ALL_ENTITIES = ("tax_rates", "customers", "items", "invoices")


@dataclass
class HaloSettings:
    resource_server: str = ""  # e.g. https://acme.halopsa.com (the /api suffix is optional)
    auth_server: str = ""  # blank: discovered from {resource_server}/api/authinfo
    tenant: str = ""  # hosted instances only
    client_id: str = ""
    scope: str = "all"
    proxy: str = ""  # blank: the system / environment proxy settings
    ca_bundle: str = ""  # extra CA file for an inspecting proxy; the OS store is always used
    page_size: int = 100
    batch_size: int = 100
    timeout_seconds: float = 60.0
    requests_per_5_minutes: int = 600  # client-side pace below Halo's rate limit; 0 = no pacing


@dataclass
class SourceSettings:
    kind: str = ""  # one of SOURCE_KINDS
    connection_string: str = ""  # ODBC, without the password (PWD comes from the keyring)
    username: str = ""
    timezone: str = ""  # IANA zone of the package's naive timestamps; blank = this PC's zone
    # Generic ODBC only: one SELECT per entity and a column map {canonical field: source column}.
    queries: dict[str, str] = field(default_factory=dict)
    columns: dict[str, dict[str, str]] = field(default_factory=dict)


@dataclass
class SyncSettings:
    entities: list[str] = field(default_factory=lambda: list(ALL_ENTITIES))
    interval_minutes: int = 60
    toplevel_id: int = 0  # Halo top level for new customers; 0 = Halo's default
    deactivate_deleted: bool = False  # make inactive in Halo what was deleted/inactive in the books
    lookback_minutes: int = 10  # re-read a little before the cursor to absorb clock skew
    sync_payments: bool = True


@dataclass
class AppSettings:
    start_at_login: bool = False
    start_minimised: bool = True
    allow_plaintext_secrets: bool = False  # only ever set by the user's explicit choice


@dataclass
class Settings:
    halo: HaloSettings = field(default_factory=HaloSettings)
    source: SourceSettings = field(default_factory=SourceSettings)
    sync: SyncSettings = field(default_factory=SyncSettings)
    app: AppSettings = field(default_factory=AppSettings)

    def is_configured(self) -> bool:
        return bool(self.halo.resource_server and self.halo.client_id and self.source.kind)

    def validate(self) -> None:
        """Raise ConfigError naming the first setting that cannot work."""
        if not self.halo.resource_server:
            raise ConfigError("The Halo resource server is not set.", action="Enter it in Settings > Halo.")
        if not self.halo.client_id:
            raise ConfigError("The Halo client ID is not set.", action="Enter it in Settings > Halo.")
        if self.source.kind not in SOURCE_KINDS:
            raise ConfigError(
                f"Unknown accounting package {self.source.kind!r}.",
                action="Choose one in Settings > Accounting package.",
            )
        unknown = [e for e in self.sync.entities if e not in ALL_ENTITIES]
        if unknown:
            raise ConfigError(
                f"Unknown entities to sync: {', '.join(unknown)}.",
                action=f"Use only: {', '.join(ALL_ENTITIES)}.",
            )
        if self.halo.requests_per_5_minutes < 0:
            raise ConfigError(
                "The Halo request budget cannot be negative.",
                action="Set halo.requests_per_5_minutes to 0 (no pacing) or more in the settings file.",
            )
        if self.sync.interval_minutes < 1:
            raise ConfigError(
                "The sync interval must be at least 1 minute.", action="Fix it in Settings > Sync."
            )
        _check_url(self.halo.resource_server, "resource server")
        if self.halo.auth_server.strip():
            _check_url(self.halo.auth_server, "authorisation server")

    # --- file I/O -----------------------------------------------------------------------------------------

    @classmethod
    def load(cls, path: Path) -> Settings:
        """Read ``path``; a missing file gives defaults (not configured)."""
        if path.is_dir():
            raise ConfigError(
                f"The settings file {path} is a folder, not a file.",
                action="Give the path of the settings file itself (settings.toml), e.g. with --config.",
            )
        if not path.exists():
            return cls()
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise ConfigError(
                f"The settings file {path} is not valid TOML ({exc}).",
                action="Fix or delete it, then run the setup again.",
            ) from exc
        except OSError as exc:
            raise ConfigError(
                f"The settings file {path} cannot be read ({exc.strerror or exc}).",
                action="Check that this Windows/Linux user may read it, then try again.",
            ) from exc
        return cls.from_dict(data, origin=str(path))

    @classmethod
    def from_dict(cls, data: dict[str, Any], origin: str = "settings") -> Settings:
        settings = cls()
        for section in fields(cls):
            raw = data.get(section.name, {})
            if not isinstance(raw, dict):
                raise ConfigError(f"[{section.name}] in {origin} must be a table.", action="Fix the file.")
            target = getattr(settings, section.name)
            for item in fields(target):
                if item.name not in raw:
                    continue
                value = raw[item.name]
                default = getattr(target, item.name)
                if not _same_kind(value, default):
                    raise ConfigError(
                        f"{section.name}.{item.name} in {origin} should be {type(default).__name__}, "
                        f"not {type(value).__name__}.",
                        action="Fix the file or set it again in Settings.",
                    )
                inner = _inner_problem(value, item.name)
                if inner:
                    raise ConfigError(
                        f"{section.name}.{item.name} in {origin}: {inner}.",
                        action="Fix the file or set it again in Settings.",
                    )
                setattr(target, item.name, float(value) if isinstance(default, float) else value)
        return settings

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def save(self, path: Path) -> None:
        """Write atomically (temp file + rename) so a crash never leaves half a settings file.

        The file is private (0600 in a 0700 folder on POSIX): it names the Halo instance, the client ID and
        the books' connection; on Windows the per-user profile folder already keeps other users out.
        """
        ensure_private_dir(path.parent)
        tmp = path.with_name(path.name + ".tmp")
        text = tomli_w.dumps(self.to_dict()).encode("utf-8")
        try:
            descriptor = os.open(
                tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_BINARY", 0), 0o600
            )
            with os.fdopen(descriptor, "wb") as handle:
                handle.write(text)
                handle.flush()
                os.fsync(handle.fileno())
            make_private(tmp)
            tmp.replace(path)
        except OSError as exc:
            with contextlib.suppress(OSError):
                tmp.unlink()
            raise storage_error(exc, path, "the settings") from exc


def _same_kind(value: object, default: object) -> bool:
    if isinstance(default, bool):
        return isinstance(value, bool)
    if isinstance(default, float):
        return isinstance(value, int | float) and not isinstance(value, bool)
    if isinstance(default, int):
        return isinstance(value, int) and not isinstance(value, bool)
    return isinstance(value, type(default))


def _inner_problem(value: object, name: str) -> str:
    """What is wrong inside a list or table setting (``entities = ["customers", 5]``), or ''."""
    if isinstance(value, list):
        wrong = [item for item in value if not isinstance(item, str)]
        if wrong:
            return f"every entry must be text in quotes, not {wrong[0]!r}"
    if isinstance(value, dict):
        for key, inner in value.items():
            if name == "columns":
                if not isinstance(inner, dict) or not all(isinstance(v, str) for v in inner.values()):
                    return f"[{key}] must map each field to a column name in quotes"
            elif not isinstance(inner, str):
                return f"{key} must be text in quotes, not {inner!r}"
    return ""


def _check_url(url: str, setting: str) -> None:
    """A web address that can work (a malformed one is a clear message here, not a crash later)."""
    text = (url or "").strip()
    if not text:
        return  # "not set" is reported by the caller
    candidate = text if "://" in text else "https://" + text
    problem = ""
    try:
        parts = urlsplit(candidate)
        port = parts.port  # raises ValueError for a port that is not a number
    except ValueError as exc:
        problem = str(exc)
    else:
        host = parts.hostname or ""
        if parts.scheme.lower() not in ("http", "https"):
            problem = f"it starts with {parts.scheme}:// (use https://)"
        elif not host or any(ch.isspace() for ch in text) or port == 0:
            problem = "it has no usable server name"
    if problem:
        raise ConfigError(
            f"The Halo {setting} {text!r} is not a web address ({problem}).",
            action="Enter it as shown in Halo, e.g. https://yourcompany.halopsa.com, in Settings > Halo.",
        )

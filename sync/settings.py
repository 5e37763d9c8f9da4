"""Settings: one TOML file, no secrets in it (those live in the keyring, see ``sync.secrets``).

The file has three sections a person may edit by hand: ``[halo]``, ``[source]``, ``[sync]``, and ``[app]`` for
desktop preferences. Unknown keys are kept out; a wrong type is a ConfigError that names the key.
"""

from __future__ import annotations

import tomllib
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

import tomli_w

from sync.errors import ConfigError

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

    # --- file I/O -----------------------------------------------------------------------------------------

    @classmethod
    def load(cls, path: Path) -> Settings:
        """Read ``path``; a missing file gives defaults (not configured)."""
        if not path.exists():
            return cls()
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise ConfigError(
                f"The settings file {path} is not valid TOML ({exc}).",
                action="Fix or delete it, then run the setup again.",
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
                setattr(target, item.name, float(value) if isinstance(default, float) else value)
        return settings

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def save(self, path: Path) -> None:
        """Write atomically (temp file + rename) so a crash never leaves half a settings file."""
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(tomli_w.dumps(self.to_dict()), encoding="utf-8")
        tmp.replace(path)


def _same_kind(value: object, default: object) -> bool:
    if isinstance(default, bool):
        return isinstance(value, bool)
    if isinstance(default, float):
        return isinstance(value, int | float) and not isinstance(value, bool)
    if isinstance(default, int):
        return isinstance(value, int) and not isinstance(value, bool)
    return isinstance(value, type(default))

"""Settings: one TOML file, no secrets in it (those live in the keyring, see ``sync.secrets``).

The file has three sections a person may edit by hand: ``[halo]``, ``[source]``, ``[sync]``, and ``[app]`` for
desktop preferences. Each table is a msgspec Struct, so the whole file, nested tables included, is checked
against the declared types in one pass: a wrong type or an unknown key (a typo such as
``intervall_minutes``) is a ConfigError that names the key and its line in the file.
"""

from __future__ import annotations

import contextlib
import os
import re
import tomllib
import typing
from datetime import date
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlsplit

import msgspec
import tomli_w

from core.errors import ConfigError
from sync.paths import ensure_private_dir, make_private, storage_error

SOURCE_KINDS = ("sage50uk", "sage50ca", "quickbooks", "odbc", "demo")
ALL_ENTITIES = ("tax_rates", "customers", "suppliers", "items", "invoices")
DEFAULT_ENTITIES = ("tax_rates", "customers", "items", "invoices")  # suppliers only when the user asks


class _Section(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """A settings table: every key declared with its type, an unknown key (a typo) an error."""


class HaloSettings(_Section):
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
    # Client-side pace below Halo's rate limit; 0 = no pacing.
    requests_per_5_minutes: Annotated[int, msgspec.Meta(ge=0)] = 600


class SourceSettings(_Section):
    kind: str = ""  # one of SOURCE_KINDS
    connection_string: str = ""  # ODBC, without the password (PWD comes from the keyring)
    username: str = ""
    timezone: str = ""  # IANA zone of the package's naive timestamps; blank = this PC's zone
    # Generic ODBC only: one SELECT per entity and a column map {canonical field: source column}.
    queries: dict[str, str] = msgspec.field(default_factory=dict)
    columns: dict[str, dict[str, str]] = msgspec.field(default_factory=dict)
    # Sage 50 UK posting (connectors/sage50uk_sdo.py, docs/writing-sage.md): the SDO ProgID, e.g.
    # "SDOEngine.32" (blank: the DSN's version, else the newest registered), and the 32-bit python.exe that
    # runs the SDO helper (blank: the one the installer put in LedgerBridge's sdo folder).
    sdo_progid: str = ""
    sdo_python: str = ""


class SyncSettings(_Section):
    entities: list[str] = msgspec.field(default_factory=lambda: list(DEFAULT_ENTITIES))
    interval_minutes: int = 60
    toplevel_id: int = 0  # Halo top level for new customers; 0 = Halo's default
    deactivate_deleted: bool = False  # make inactive in Halo what was deleted/inactive in the books
    lookback_minutes: int = 10  # re-read a little before the cursor to absorb clock skew
    sync_payments: bool = True


class PostingSettings(_Section):
    """Halo -> books: which Halo invoices are posted into the books, and how (sync/posting.py)."""

    enabled: bool = False  # post Halo's invoices into the books (off: the books -> Halo direction only)
    credit_notes: bool = True  # credit notes too, as credit memos / credit notes in the books
    start_date: str = ""  # ISO date (YYYY-MM-DD); Halo invoices dated before it are never posted
    toplevel_ids: list[int] = msgspec.field(default_factory=list)  # only these Halo top levels; [] = all
    only_approved: bool = True  # leave alone an invoice that requires approval and is not approved yet
    missing_customers: str = "report"  # "create" in the books, or "report" as a problem
    missing_items: str = "report"  # "create" in the books, or "report" as a problem
    number_from: str = "halo"  # "halo": Halo's invoice number; "books": the books' next number
    mark_posted_in_halo: bool = True  # set posted, dateposted and thirdpartyinvoicenumber in Halo
    # The books' income account for an item created there (missing_items = "create"): a QuickBooks account's
    # full name or a Sage nominal code; blank = a created item needs its Halo nominal code to be one.
    income_account: str = ""

    def check(self) -> date:
        """The start date, or a ConfigError naming the setting: posting never runs without one, so turning
        it on cannot flood the ledger with years of Halo's history; the word settings are checked too."""
        place = "Settings > Sync > Halo to the books"
        if not self.start_date.strip():
            raise ConfigError(
                "Posting Halo invoices into the books needs a start date, and none is set.",
                action=f"Set the first invoice date to post in {place} (posting.start_date = "
                '"YYYY-MM-DD" in the settings file); Halo invoices dated before it are never posted.',
            )
        try:
            start = date.fromisoformat(self.start_date.strip())
        except ValueError:
            raise ConfigError(
                f"The posting start date {self.start_date!r} is not a date.",
                action=f'Write it as YYYY-MM-DD (e.g. "2026-01-01") in {place} (posting.start_date).',
            ) from None
        for name, value, allowed in (
            ("missing_customers", self.missing_customers, ("create", "report")),
            ("missing_items", self.missing_items, ("create", "report")),
            ("number_from", self.number_from, ("halo", "books")),
        ):
            if value not in allowed:
                raise ConfigError(
                    f"posting.{name} is {value!r}.",
                    action=f"Use {' or '.join(repr(a) for a in allowed)} in {place}.",
                )
        return start


class AppSettings(_Section):
    start_at_login: bool = False
    start_minimised: bool = True
    allow_plaintext_secrets: bool = False  # only ever set by the user's explicit choice


class Settings(_Section):
    halo: HaloSettings = msgspec.field(default_factory=HaloSettings)
    source: SourceSettings = msgspec.field(default_factory=SourceSettings)
    sync: SyncSettings = msgspec.field(default_factory=SyncSettings)
    posting: PostingSettings = msgspec.field(default_factory=PostingSettings)
    app: AppSettings = msgspec.field(default_factory=AppSettings)

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
        if self.posting.enabled:
            self.posting.check()

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
            raw = path.read_text(encoding="utf-8")
            data = tomllib.loads(raw)
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
        return cls.from_dict(data, origin=str(path), text=raw)

    @classmethod
    def from_dict(cls, data: dict[str, Any], origin: str = "settings", text: str = "") -> Settings:
        """The settings in ``data`` (parsed TOML), every table and key checked against its declared type.

        The first problem is a ConfigError naming the key and, when the file's ``text`` is given, its line.
        """
        try:
            return msgspec.convert(data, cls, strict=True)
        except msgspec.ValidationError as exc:
            raise _problem(str(exc), data, cls, origin, text) from None

    def to_dict(self) -> dict[str, Any]:
        result: dict[str, Any] = msgspec.to_builtins(self)
        return result

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


_AT = re.compile(r"^(?P<what>.*?)(?: - at `\$(?P<path>[^`]*)`)?$", re.DOTALL)
_UNKNOWN = re.compile(r"^Object contains unknown field `(?P<key>[^`]+)`$")
_EXPECTED = re.compile(r"^Expected `(?P<wanted>[^`]+)`(?P<bound>[^,]*)(?:, got `(?P<got>[^`]+)`)?$")
_WORDS = {"str": "text in quotes", "int": "a whole number", "float": "a number", "bool": "true or false"}
_WORDS |= {"object": "a table", "array": "a list"}


def _problem(message: str, data: object, cls: type, origin: str, text: str) -> ConfigError:
    """msgspec's "Expected `int`, got `str` - at `$.sync.interval_minutes`" as a sentence that names the
    key (``sync.interval_minutes``) and its line in the file."""
    match = _AT.match(message)
    what, path = (match["what"], match["path"] or "") if match else (message, "")
    parts = _keys(path, data, cls)
    unknown = _UNKNOWN.match(what)
    if unknown:
        parts.append(unknown["key"])
        reason = "is not a setting LedgerBridge knows (a typo?)"
    else:
        expected = _EXPECTED.match(what)
        if expected is None:
            reason = what[:1].lower() + what[1:]
        else:
            reason = f"should be {_WORDS.get(expected['wanted'], expected['wanted'])}{expected['bound']}"
            if expected["got"]:
                reason += f", not {_WORDS.get(expected['got'], expected['got'])}"
    key = ".".join(parts) or "the file"
    line = _line_of(text, parts)
    where = f"{origin}, line {line}" if line else origin
    return ConfigError(f"{key} in {where} {reason}.", action="Fix the file or set it again in Settings.")


def _keys(path: str, data: object, declared: object) -> list[str]:
    """The keys of a msgspec error path (``.source.columns[...][...]``): msgspec does not name the key of a
    free-form table (``[...]``), so the first entry of that table that does not fit its type is found."""
    keys: list[str] = []
    for token in re.findall(r"\.[^.\[]+|\[[^\]]*\]", path):
        if token.startswith("."):
            keys.append(token[1:])
            hints = typing.get_type_hints(declared) if isinstance(declared, type) else {}
            declared = hints.get(token[1:])
            data = data.get(token[1:]) if isinstance(data, dict) else None
        elif token == "[...]" and isinstance(data, dict):
            value_type = typing.get_args(declared)[-1] if typing.get_args(declared) else object
            for key, value in data.items():
                try:
                    msgspec.convert(value, value_type, strict=True)
                except msgspec.ValidationError:
                    keys.append(str(key))
                    data, declared = value, value_type
                    break
            else:
                return keys
        else:  # a list index: the list's own key names it well enough
            data, declared = None, None
    return keys


def _line_of(text: str, parts: list[str]) -> int:
    """The 1-based line of the key ``parts`` (``["sync", "interval_minutes"]``) in TOML ``text``; 0 when
    it cannot be told (no text, or a layout this simple reader does not follow)."""
    if not text or not parts:
        return 0
    table: list[str] = []
    best = 0
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        header = re.match(r"^\[\s*([^\[\]]+?)\s*\]", line)
        if header:
            table = [_bare(name) for name in header.group(1).split(".")]
            if table == parts:
                best = number
            continue
        key = re.match(r"^([^=#]+?)\s*=", line)
        if key:
            full = table + [_bare(name) for name in key.group(1).split(".")]
            if full == parts:
                return number
            if full == parts[: len(full)] and len(full) > len(table):
                best = number  # an inline table or list that holds the key
    return best


def _bare(name: str) -> str:
    return name.strip().strip('"').strip("'")


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

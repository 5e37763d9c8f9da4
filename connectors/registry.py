"""Which connector reads which accounting package, and how its connection is opened from the settings.

Why: this is the one place that turns a package kind, a connection string and a password from the keyring
into an open-on-demand connector. It takes plain values of its own (``SourceConfig``): connectors know the
kernel only, and ``sync`` converts its settings to these values (``sync.runner.source_config``). The
password is added to the ODBC string here and nowhere else, and it never appears in an error message or
traceback.
Connector modules are imported on first use, so a package module that fails to import only breaks that
package.
"""

from __future__ import annotations

import importlib
import sqlite3
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from connectors import sage50ca_writer
from connectors.base import DEFAULT_PAGE_SIZE, ConnectionFactory, Connector
from connectors.errors import error_from_odbc
from core.books import BooksWriter
from core.errors import ConfigError
from core.scrub import scrub_error


@dataclass(frozen=True, slots=True)
class SourceConfig:
    """What a connector needs to open the books: the package, its ODBC string (no password), the zone of its
    naive timestamps, and for a generic ODBC source the user's queries and column maps."""

    kind: str = ""
    connection_string: str = ""
    username: str = ""
    timezone: str = ""  # IANA zone; blank: this PC's zone
    queries: Mapping[str, str] = field(default_factory=dict)
    columns: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    # Halo -> books only: Sage 50 UK's SDO ProgID and 32-bit python.exe (connectors/sage50uk_sdo.py).
    sdo_progid: str = ""
    sdo_python: str = ""
    # The books' income account (QuickBooks account full name, Sage nominal code) for an item created there.
    income_account: str = ""


# kind -> (module, class). "demo" is Sage 50 UK over the bundled demo company (stdlib sqlite3).
_CONNECTOR_CLASSES: dict[str, tuple[str, str]] = {
    "sage50uk": ("connectors.sage50uk", "Sage50UKConnector"),
    "sage50ca": ("connectors.sage50ca", "Sage50CAConnector"),
    "quickbooks": ("connectors.quickbooks", "QuickBooksConnector"),
    "odbc": ("connectors.generic", "GenericODBCConnector"),
    "demo": ("connectors.sage50uk", "Sage50UKConnector"),
}

DISPLAY_NAMES: dict[str, str] = {
    "sage50uk": "Sage 50 UK",
    "sage50ca": "Sage 50 Canada",
    "quickbooks": "QuickBooks Desktop",
    "odbc": "Other (ODBC data source)",
    "demo": "Demo company (Sage 50 UK sample data)",
}


class _LazyConnectors(Mapping[str, type[Connector]]):
    """kind -> connector class, importing each module only when its class is asked for."""

    def __getitem__(self, kind: str) -> type[Connector]:
        module_name, class_name = _CONNECTOR_CLASSES[kind]
        module = importlib.import_module(module_name)
        cls: type[Connector] = getattr(module, class_name)
        return cls

    def __iter__(self) -> Iterator[str]:
        return iter(_CONNECTOR_CLASSES)

    def __len__(self) -> int:
        return len(_CONNECTOR_CLASSES)


CONNECTORS: Mapping[str, type[Connector]] = _LazyConnectors()


def connector_class(kind: str) -> type[Connector]:
    """The class for ``kind``; an unknown kind or a module that cannot load is a ConfigError."""
    if kind not in _CONNECTOR_CLASSES:
        raise ConfigError(
            f"Unknown accounting package {kind!r}.",
            action="Choose one in Settings > Accounting package.",
        )
    try:
        return CONNECTORS[kind]
    except ImportError as exc:
        raise ConfigError(
            f"LedgerBridge cannot load its {DISPLAY_NAMES.get(kind, kind)} connector.",
            action="Reinstall LedgerBridge; if that does not help, send the log to your IT support.",
            detail=str(exc),
        ) from exc


class WriterFactory(Protocol):
    """A package's BooksWriter class: it opens the same company the package's reader of ``source`` reads."""

    def from_source(self, source: SourceConfig, password: str | None) -> BooksWriter: ...


# kind -> (module, class) of the package's BooksWriter (core.books), for the Halo -> books direction.
# Imported on first use like the connectors. A kind not listed cannot take invoices (writer_class says why).
_WRITER_CLASSES: dict[str, tuple[str, str]] = {
    "quickbooks": ("connectors.quickbooks_writer", "QuickBooksWriter"),
    "sage50uk": ("connectors.sage50uk_sdo", "Sage50UKSDOWriter"),
}
# What to tell a user whose package has no writer here: why not, and what to do meanwhile (the app shows it
# beside the greyed-out choice; a run with posting on stops with it).
_NO_WRITER: dict[str, str] = {
    "sage50ca": f"{sage50ca_writer.MESSAGE} {sage50ca_writer.WHAT_TO_DO_INSTEAD}",
    "odbc": "A generic ODBC source is read only: LedgerBridge cannot know how your package takes invoices.",
    "demo": "The demo company is read only: posting Halo's invoices needs QuickBooks Desktop or Sage 50 UK.",
}


def no_writer_reason(kind: str) -> str:
    """'' when Halo's invoices can be posted into ``kind``; otherwise why not, for a person."""
    if kind in _WRITER_CLASSES:
        return ""
    if not kind:
        return "Choose the accounting package first."
    return _NO_WRITER.get(kind, f"{DISPLAY_NAMES.get(kind, kind)} has no way in for invoices.")


def writer_class(kind: str) -> WriterFactory:
    """The BooksWriter class for ``kind``; a package that cannot take invoices is a ConfigError saying so
    and what to do (turn posting off, or post by hand)."""
    if kind not in _WRITER_CLASSES:
        name = DISPLAY_NAMES.get(kind, kind or "this accounting package")
        raise ConfigError(
            f"{name} cannot take invoices from Halo through LedgerBridge. {no_writer_reason(kind)}",
            action="Untick Post Halo's invoices in Settings > Sync (posting.enabled = false); the books -> "
            "Halo sync is not affected. See docs/posting.md for what each package "
            "supports.",
        )
    module_name, class_name = _WRITER_CLASSES[kind]
    try:
        module = importlib.import_module(module_name)
        cls: WriterFactory = getattr(module, class_name)
    except (ImportError, AttributeError) as exc:
        raise ConfigError(
            f"LedgerBridge cannot load its {DISPLAY_NAMES.get(kind, kind)} writer.",
            action="Reinstall LedgerBridge; if that does not help, send the log to your IT support.",
            detail=str(exc),
        ) from exc
    return cls


def create_writer(source: SourceConfig, password: str | None) -> BooksWriter:
    """The package's writer over the same connection settings as its connector (opened on first use)."""
    return writer_class(source.kind).from_source(source, password)


def _braced(value: str) -> str:
    """An ODBC attribute value in braces, so ';', '=' and '}' in a password cannot break the string."""
    return "{" + value.replace("}", "}}") + "}"


def odbc_connection_string(source: SourceConfig, password: str | None) -> str:
    """The settings' connection string plus UID and PWD (braced) when given."""
    parts = [source.connection_string.strip().rstrip(";")]
    if source.username:
        parts.append(f"UID={_braced(source.username)}")
    if password:
        parts.append(f"PWD={_braced(password)}")
    return ";".join(part for part in parts if part)


def _local_zone(source: SourceConfig) -> ZoneInfo | None:
    if not source.timezone:
        return None
    try:
        return ZoneInfo(source.timezone)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ConfigError(
            f"Unknown time zone {source.timezone!r} for the accounting package.",
            action="Enter an IANA zone such as Europe/London in Settings > Accounting package, or leave it "
            "blank to use this PC's zone.",
        ) from exc


def configure_odbc_connection(connection: Any) -> Any:
    """Apply what LedgerBridge knows about particular drivers to a fresh pyodbc connection.

    The SQLite ODBC driver (sqliteodbc) mangles characters above U+FFFFF when it converts its UTF-8 text to
    UTF-16, so its text is fetched as the UTF-8 it stores. Other drivers keep pyodbc's defaults.
    """
    import pyodbc

    try:
        driver = str(connection.getinfo(pyodbc.SQL_DRIVER_NAME)).lower()
    except pyodbc.Error:
        return connection
    if "sqlite" in driver:
        connection.setdecoding(pyodbc.SQL_CHAR, encoding="utf-8")
        connection.setdecoding(pyodbc.SQL_WCHAR, encoding="utf-8")
    return connection


def _pyodbc_factory(connection_string: str, package: str, password: str | None) -> ConnectionFactory:
    def connect() -> Any:
        import pyodbc

        try:
            # autocommit: never hold a read transaction (and its locks) open between pages or runs.
            return configure_odbc_connection(pyodbc.connect(connection_string, autocommit=True, timeout=30))
        except pyodbc.Error as exc:
            mapped = scrub_error(
                error_from_odbc(exc, package=package, during="connecting"),
                (password or "", connection_string),
            )
        # Raised outside the except block: the driver's own exception (and its text) is not chained.
        raise mapped

    return connect


def connection_factory(source: SourceConfig, password: str | None) -> ConnectionFactory:
    """The open-on-demand pyodbc connection a connector of ``source`` uses (autocommit, driver fixes, errors
    mapped and scrubbed): a books writer opens the books the same way the reader does."""
    if not source.connection_string.strip():
        raise ConfigError(
            f"No ODBC connection is set for {DISPLAY_NAMES.get(source.kind, source.kind)}.",
            action="Choose the DSN or driver and data path in Settings > Accounting package.",
        )
    return _pyodbc_factory(odbc_connection_string(source, password), source.kind, password)


def _demo_factory(path: Path) -> Any:
    def connect() -> sqlite3.Connection:
        if not path.is_file():
            raise ConfigError(
                f"The demo company file {path} is missing.",
                action="Start the demo again (ledgerbridge --demo) to rebuild it.",
            )
        # Read-only like Sage's ODBC driver; usable from the sync worker thread.
        return sqlite3.connect(f"{path.as_uri()}?mode=ro", uri=True, check_same_thread=False)

    return connect


def create_connector(
    source: SourceConfig, password: str | None, *, page_size: int = DEFAULT_PAGE_SIZE
) -> Connector:
    """A connector for the configured package; the connection opens on first use."""
    kind = source.kind
    cls = connector_class(kind)
    zone = _local_zone(source)
    if kind == "demo":
        if not source.connection_string.strip():
            raise ConfigError(
                "No demo company file is set.", action="Start the demo again (ledgerbridge --demo)."
            )
        return cls(
            _demo_factory(Path(source.connection_string.strip())), local_zone=zone, page_size=page_size
        )
    if not source.connection_string.strip():
        raise ConfigError(
            f"No ODBC connection is set for {DISPLAY_NAMES.get(kind, kind)}.",
            action="Choose the DSN or driver and data path in Settings > Accounting package.",
        )
    factory = _pyodbc_factory(odbc_connection_string(source, password), kind, password)
    if kind == "odbc":
        from connectors.generic import GenericODBCConnector

        return GenericODBCConnector(
            factory, queries=source.queries, columns=source.columns, local_zone=zone, page_size=page_size
        )
    return cls(factory, local_zone=zone, page_size=page_size)


def odbc_drivers() -> list[str]:
    """The ODBC drivers installed for this process's bitness (empty when ODBC itself is unavailable)."""
    try:
        import pyodbc

        return sorted(pyodbc.drivers())
    except Exception:  # no unixODBC / broken odbcinst.ini: the GUI shows an empty list and a hint
        return []


def odbc_data_sources() -> dict[str, str]:
    """DSN name -> driver, for this process's bitness (empty when ODBC itself is unavailable)."""
    try:
        import pyodbc

        return dict(pyodbc.dataSources())
    except Exception:  # as above
        return {}

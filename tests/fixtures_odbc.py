"""Fixtures: fixtures_odbc."""

from __future__ import annotations

import os as _os
import shutil as _shutil
import socket as _socket
import subprocess as _subprocess
import time as _time
from dataclasses import dataclass as _dataclass
from pathlib import Path as _Path

import pytest as _pytest

# --- SQLite through the real SQLite3 ODBC driver (Sage 50 UK stand-in, generic ODBC) ----------------------

SQLITE_ODBC_DRIVER = "SQLite3"


def sqlite_odbc_connection_string(path: _Path, *, create: bool = False) -> str:
    """``Driver=SQLite3;Database=<path>`` for pyodbc.

    StepAPI=1: fetch row by row like a real driver (by default sqliteodbc loads a whole result set into
    memory first, which would hide whether a connector's memory stays flat). Without ``create`` a missing
    file fails (NoCreat=1) as a wrong Sage DIR does, instead of creating an empty database.
    """
    return f"Driver={SQLITE_ODBC_DRIVER};Database={path};StepAPI=1" + ("" if create else ";NoCreat=1")


def build_sqlite_odbc(path: _Path, script: str = "") -> str:
    """Create the SQLite file ``path`` from an SQL script and return its pyodbc connection string."""
    import sqlite3

    path.parent.mkdir(parents=True, exist_ok=True)
    connection = sqlite3.connect(path)
    try:
        connection.executescript(script)
        connection.commit()
    finally:
        connection.close()
    return sqlite_odbc_connection_string(path)


def _require_sqlite_odbc() -> None:
    import pyodbc

    if SQLITE_ODBC_DRIVER not in pyodbc.drivers():
        _pytest.skip(f"ODBC driver {SQLITE_ODBC_DRIVER!r} is not installed (apt install libsqliteodbc)")


@_dataclass(frozen=True)
class Sage50UKCompany:
    """A stand-in Sage 50 UK company file (tests/standins/sage50uk.py) and how to reach it over ODBC."""

    path: _Path
    connection_string: str


@_pytest.fixture
def sage50uk_company(tmp_path) -> Sage50UKCompany:
    """A fresh realistic-and-nasty Sage 50 UK stand-in per test, read through the SQLite3 ODBC driver."""
    from tests.standins.sage50uk import build_company

    _require_sqlite_odbc()
    folder = tmp_path / "sage50uk"
    folder.mkdir()
    path = build_company(folder / "ACCDATA.sqlite")
    return Sage50UKCompany(path=path, connection_string=sqlite_odbc_connection_string(path))


@_pytest.fixture
def sage50uk_connector(sage50uk_company):
    """A Sage50UKConnector from the registry on the stand-in, naive times in Europe/London; closed after."""
    from connectors.registry import SourceConfig, create_connector

    settings = SourceConfig(
        kind="sage50uk", connection_string=sage50uk_company.connection_string, timezone="Europe/London"
    )
    connector = create_connector(settings, None, page_size=4)  # small pages: tests cross page boundaries
    yield connector
    connector.close()


# --- QODBC's write rules for the QuickBooks stand-in (tests/standins/qodbc_writes.py) ---------------------


@_pytest.fixture(scope="session")
def qodbc_rules(tmp_path_factory) -> _Path:
    """The compiled SQLite extension giving every connection to the QuickBooks stand-in QODBC's write rules
    (pass it to ``qodbc_writes.writable_connection_string``); skips where it cannot be built."""
    from tests.standins import qodbc_writes

    _require_sqlite_odbc()
    library = qodbc_writes.build_extension(tmp_path_factory.mktemp("qodbc"))
    if library is None:
        _pytest.skip(
            "no C compiler / SQLite headers to build the stand-in's QODBC rules "
            "(apt install gcc libsqlite3-dev)"
        )
    return library


# --- MariaDB server for the Sage 50 Canada stand-in (Sage 50 CA keeps its company in MySQL) -----------------


MARIADB_DRIVER = "MariaDB Unicode"


@_dataclass(frozen=True)
class MariaDBServer:
    """A running throw-away MariaDB server: where it listens and the users the tests log in as."""

    host: str
    port: int
    socket: str
    database: str
    admin_user: str  # full rights on `database`: builds the stand-in tables
    admin_password: str
    reader_user: str  # SELECT only, like Sage's third-party "Read data" right
    reader_password: str
    norights_user: str  # may log in but not read the company tables
    norights_password: str

    def connection_string(self, user: str, password: str, *, port: int | None = None) -> str:
        return (
            f"Driver={{{MARIADB_DRIVER}}};Server={self.host};Port={port or self.port};"
            f"Database={self.database};UID={user};PWD={password}"
        )

    def admin_connection_string(self) -> str:
        return self.connection_string(self.admin_user, self.admin_password)

    def reader_connection_string(self) -> str:
        return self.connection_string(self.reader_user, self.reader_password)


def _free_port() -> int:
    with _socket.socket(_socket.AF_INET, _socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _mariadb_client(socket_path: str, sql: str) -> None:
    client = _shutil.which("mariadb") or _shutil.which("mysql")
    assert client, "the mariadb client is needed to set the test server up"
    _subprocess.run(
        [client, "--no-defaults", "-uroot", f"--socket={socket_path}", "-e", sql],
        check=True,
        capture_output=True,
        timeout=60,
    )


@_pytest.fixture(scope="session")
def mariadb_server(tmp_path_factory):
    """Start mariadbd as a child process in a temporary datadir; stop it at the end of the session.

    Run like Sage 50 Canada's own MySQL: lower_case_table_names=1, database ``simply``, 127.0.0.1 only.
    """
    server_binary = _shutil.which("mariadbd") or _shutil.which("mysqld")
    if server_binary is None:
        for candidate in ("/usr/sbin/mariadbd", "/usr/sbin/mysqld"):
            if _Path(candidate).exists():
                server_binary = candidate
                break
    install_db = _shutil.which("mariadb-install-db") or _shutil.which("mysql_install_db")
    if server_binary is None or install_db is None:
        _pytest.skip("MariaDB server is not installed (apt install mariadb-server); CI installs it")
    try:
        import pyodbc

        if MARIADB_DRIVER not in pyodbc.drivers():
            _pytest.skip(f"ODBC driver {MARIADB_DRIVER!r} is not installed (apt install odbc-mariadb)")
    except ImportError:
        _pytest.skip("pyodbc is not installed")

    base = tmp_path_factory.mktemp("mariadb")
    datadir = base / "data"
    socket_path = str(base / "mariadb.sock")
    run_as_root = ["--user=root"] if _os.geteuid() == 0 else []
    _subprocess.run(
        [
            install_db,
            "--no-defaults",
            "--auth-root-authentication-method=normal",
            f"--datadir={datadir}",
            "--skip-test-db",
            *run_as_root,
        ],
        check=True,
        capture_output=True,
        timeout=120,
    )
    port = _free_port()
    log_path = base / "server.log"
    with open(log_path, "wb") as log:
        process = _subprocess.Popen(
            [
                server_binary,
                "--no-defaults",
                f"--datadir={datadir}",
                f"--port={port}",
                "--bind-address=127.0.0.1",
                f"--socket={socket_path}",
                f"--pid-file={base / 'mariadb.pid'}",
                "--lower-case-table-names=1",
                "--skip-log-bin",
                "--innodb-buffer-pool-size=16M",
                "--character-set-server=utf8mb4",
                "--collation-server=utf8mb4_unicode_ci",
                *run_as_root,
            ],
            stdout=log,
            stderr=_subprocess.STDOUT,
        )
    try:
        deadline = _time.monotonic() + 60
        while True:
            if process.poll() is not None:
                raise RuntimeError(
                    f"mariadbd exited at start-up: {log_path.read_text(errors='replace')[-2000:]}"
                )
            try:
                with _socket.create_connection(("127.0.0.1", port), timeout=1):
                    pass
                _mariadb_client(socket_path, "SELECT 1")
                break
            except (OSError, _subprocess.CalledProcessError):
                if _time.monotonic() > deadline:
                    raise RuntimeError("mariadbd did not become ready within 60 s") from None
                _time.sleep(0.2)
        server = MariaDBServer(
            host="127.0.0.1",
            port=port,
            socket=socket_path,
            database="simply",
            admin_user="builder",
            admin_password="builder-Pw1",
            reader_user="lbreader",
            reader_password="Read-0nly'pw",
            norights_user="lbnorights",
            norights_password="N0-rights",
        )
        _mariadb_client(
            socket_path,
            "CREATE DATABASE simply CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;"
            "CREATE TABLE simply.tnxtpids (lId INT PRIMARY KEY, lNextId INT);"
            f"CREATE USER '{server.admin_user}'@'%' IDENTIFIED BY '{server.admin_password}';"
            f"GRANT ALL ON simply.* TO '{server.admin_user}'@'%';"
            "CREATE USER 'lbreader'@'%' IDENTIFIED BY 'Read-0nly''pw';"
            "GRANT SELECT ON simply.* TO 'lbreader'@'%';"
            f"CREATE USER '{server.norights_user}'@'%' IDENTIFIED BY '{server.norights_password}';"
            # Just enough to log in to `simply` (Sage's users without "Read data" can still connect).
            f"GRANT SELECT ON simply.tnxtpids TO '{server.norights_user}'@'%';"
            "FLUSH PRIVILEGES;",
        )
        yield server
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except _subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)

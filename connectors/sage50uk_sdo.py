"""Sage 50 UK's way in (Halo -> books): a BooksWriter over Sage Data Objects, through the 32-bit helper.

Why a helper process: SDO is a 32-bit in-process COM server and LedgerBridge is 64-bit, so the app starts
``connectors/sdo_helper`` under a 32-bit Python and talks to it in JSON lines (docs/writing-sage.md, "The
64/32-bit design"). This module owns that process: it starts it (and starts it again after it died),
sends one request at a time with a deadline, and turns the helper's answers into core.errors. The
exactly-once rules of core.books hold here as follows: the marker goes into the invoice's NOTES_1,
``find_posted`` walks the invoice records for it, and ``post`` returns only after SDO's ``Update()`` said
True; a post whose fate is unknown (helper died, deadline passed, COM failed inside Update) is a
TransientError with ``maybe_written=True``.

The password travels only inside the pipe's first request (never on a command line, in a log or an error).
"""

from __future__ import annotations

import collections
import contextlib
import os
import queue
import re
import subprocess
import sys
import threading
import uuid
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import IO, Any

import msgspec

from connectors.registry import SourceConfig
from connectors.sdo_helper.protocol import WRITES, decode, encode
from core.books import BooksDocument, BooksKind, PostedDocument
from core.errors import (
    AuthError,
    ConfigError,
    LedgerBridgeError,
    RecordError,
    TransientError,
)
from core.records import Customer, Item
from core.scrub import register_secret, scrub

HELPER_PACKAGE = "sdo_helper"
# Where the installer puts the helper and its Python, beside LedgerBridge.exe (installer/README.md).
INSTALLED_FOLDER = "sdo"
INSTALLED_PYTHON = ("python", "python.exe")  # <app>\sdo\python\python.exe: the 32-bit embeddable Python
# Runs the helper as the top-level package ``sdo_helper`` from the folder given as the first argument: works
# the same under an embeddable Python (whose ._pth ignores PYTHONPATH and the current folder) and a full one.
BOOT = (
    "import sys, runpy; sys.path.insert(0, sys.argv[1]); sys.argv = ['sdo_helper'] + sys.argv[2:]; "
    "runpy.run_module('sdo_helper', run_name='__main__', alter_sys=True)"
)
STDERR_LINES_KEPT = 40


@dataclass(frozen=True, slots=True)
class SdoConfig:
    """What the posting side knows: the company, the Sage user, the SDO version and where the helper is."""

    data_path: str  # the company's ACCDATA folder (or its UNC path)
    username: str
    password: str = field(default="", repr=False)  # from the keyring; never logged
    progid: str = ""  # "SDOEngine.32"; "" = the newest registered one
    python: str = ""  # the 32-bit python.exe; "" = the one the installer put in <app>\sdo\python
    helper_folder: str = ""  # the folder holding sdo_helper/; "" = beside the app, or this source tree
    timeout_seconds: float = 120.0  # per request: a post of a long invoice, a scan of many invoice records
    factory: str = ""  # the helper's COM binding "module:function"; "" = the real one (tests pass a fake)
    factory_path: str = ""  # a folder the helper adds to sys.path to find ``factory``


# The ODBC side names Sage's major version: DSN "SageLine50v29", driver "{Sage Line 50 v29}" [S2, S5];
# SDO's ProgID carries the same major ("SDOEngine.32" with Sage 50 v32 [S8]).
_ODBC_VERSION = re.compile(r"(?:SageLine50v|Sage Line 50 v)(\d+)", re.IGNORECASE)


def sdo_config(
    connection_string: str,
    username: str,
    password: str,
    *,
    progid: str = "",
    python: str = "",
    timeout_seconds: float = 120.0,
) -> SdoConfig:
    """The helper's config from what Settings > Accounting package already holds for Sage 50 UK: the data
    path is the ODBC string's DIR=, and an unset ProgID follows the DSN's or driver's version."""
    pairs = odbc_pairs(connection_string)
    data_path = pairs.get("DIR", "")
    if not data_path:
        raise ConfigError(
            "Posting into Sage 50 UK needs the company's data path, and the connection has no DIR=.",
            action="Enter the company's ACCDATA folder (Help > About > Data Directory in Sage) as DIR= in "
            "Settings > Accounting package.",
        )
    if not progid:
        version = _ODBC_VERSION.search(pairs.get("DSN", "") + " " + pairs.get("DRIVER", ""))
        progid = f"SDOEngine.{version.group(1)}" if version else ""
    return SdoConfig(
        data_path=data_path,
        username=username or pairs.get("UID", ""),
        password=password,
        progid=progid,
        python=python,
        timeout_seconds=timeout_seconds,
    )


def odbc_pairs(connection_string: str) -> dict[str, str]:
    """KEY=value pairs of an ODBC connection string, keys upper case; {braced} values may hold ';'."""
    pairs: dict[str, str] = {}
    for match in re.finditer(r"\s*([^=;]+?)\s*=\s*(\{(?:[^}]|\}\})*\}|[^;]*)\s*(?:;|$)", connection_string):
        key, value = match.group(1).upper(), match.group(2).strip()
        if value.startswith("{") and value.endswith("}"):
            value = value[1:-1].replace("}}", "}")
        pairs[key] = value
    return pairs


def default_python() -> Path:
    """The installer's 32-bit Python beside the app; from source, this interpreter (right only on Linux tests
    or under a 32-bit Python: a 64-bit one fails with a ConfigError that says so)."""
    if getattr(sys, "frozen", False):
        return Path(sys.executable).resolve().parent.joinpath(INSTALLED_FOLDER, *INSTALLED_PYTHON)
    return Path(sys.executable)


def default_helper_folder() -> Path:
    if getattr(sys, "frozen", False):
        return Path(sys.executable).resolve().parent / INSTALLED_FOLDER
    return Path(__file__).resolve().parent


class Sage50UKSDOWriter:
    """core.books.BooksWriter for Sage 50 UK over SDO. One helper process per writer; ``close()`` ends it."""

    @classmethod
    def from_source(cls, source: SourceConfig, password: str | None) -> Sage50UKSDOWriter:
        """A writer on the company the Sage 50 UK reader of ``source`` reads (its DIR= and version)."""
        config = sdo_config(
            source.connection_string,
            source.username,
            password or "",
            progid=source.sdo_progid,
            python=source.sdo_python,
        )
        return cls(config, default_nominal_code=source.income_account)

    def __init__(self, config: SdoConfig, *, default_nominal_code: str = "") -> None:
        self._default_nominal_code = default_nominal_code.strip()
        self._config = config
        register_secret(config.password)
        self._process: subprocess.Popen[bytes] | None = None
        self._replies: queue.Queue[bytes | None] = queue.Queue()
        self._stderr: collections.deque[str] = collections.deque(maxlen=STDERR_LINES_KEPT)
        self._next_id = 0
        self.progid = ""  # the ProgID the helper connected with

    # BooksWriter

    def supports(self) -> frozenset[BooksKind]:
        return frozenset({"invoices", "credit_notes", "customers", "items"})

    def find_posted(self, references: Sequence[str]) -> dict[str, PostedDocument]:
        if not references:
            return {}
        found = self._call("find_posted", {"references": list(references)})
        return {reference: PostedDocument(**values) for reference, values in dict(found).items()}

    def post(self, document: BooksDocument) -> PostedDocument:
        return PostedDocument(**self._call("post", {"document": _document_args(document)}))

    def has_customer(self, customer_key: str) -> bool:
        return bool(self._call("has_customer", {"key": customer_key}))

    def create_customer(self, customer: Customer) -> str:
        return str(self._call("create_customer", {"customer": _plain(customer)}))

    def has_item(self, item_key: str) -> bool:
        return bool(self._call("has_item", {"key": item_key}))

    def create_item(self, item: Item) -> str:
        """Create the stock record; an item without a nominal code of its own sells to the default one."""
        if not item.nominal_code.strip() and self._default_nominal_code:
            item = msgspec.structs.replace(item, nominal_code=self._default_nominal_code)
        return str(self._call("create_item", {"item": _plain(item)}))

    def close(self) -> None:
        process = self._process
        if process is None:
            return
        try:
            if process.poll() is None:
                self._send(process, "close", {})
                self._receive(process, "close", 10.0)
        except LedgerBridgeError:
            pass
        finally:
            self._stop()

    # the helper process

    def _call(self, op: str, args: dict[str, Any]) -> Any:
        process = self._process if self._process is not None and self._process.poll() is None else None
        if process is None:
            process = self._start()
        self._send(process, op, args)
        return self._receive(process, op, self._config.timeout_seconds)

    def _start(self) -> subprocess.Popen[bytes]:
        self._stop()
        config = self._config
        python = Path(config.python) if config.python else default_python()
        folder = Path(config.helper_folder) if config.helper_folder else default_helper_folder()
        if not python.is_file():
            raise ConfigError(
                f"The 32-bit Python that talks to Sage Data Objects was not found at {python}.",
                action="Reinstall LedgerBridge, or set Settings > Accounting package > SDO helper Python.",
            )
        if not (folder / HELPER_PACKAGE / "__main__.py").is_file():
            raise ConfigError(
                f"The Sage helper is missing from {folder}.",
                action="Reinstall LedgerBridge (its sdo folder is incomplete).",
            )
        command = [str(python), "-X", "utf8", "-c", BOOT, str(folder)]
        if config.factory:
            command += ["--factory", config.factory]
        if config.factory_path:
            command += ["--path", config.factory_path]
        try:
            process = subprocess.Popen(
                command,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                creationflags=getattr(subprocess, "CREATE_NO_WINDOW", 0),
            )
        except OSError as exc:
            raise ConfigError(
                f"The Sage helper could not be started with {python}: {exc.strerror or exc}.",
                action="Check Settings > Accounting package > SDO helper Python.",
            ) from None
        self._process, self._replies = process, queue.Queue()
        self._stderr.clear()
        assert process.stdout is not None and process.stderr is not None
        threading.Thread(target=_pump_lines, args=(process.stdout, self._replies), daemon=True).start()
        threading.Thread(target=_keep_lines, args=(process.stderr, self._stderr), daemon=True).start()
        opened = self._open(process)
        self.progid = str(opened.get("progid", ""))
        return process

    def _open(self, process: subprocess.Popen[bytes]) -> dict[str, Any]:
        config = self._config
        args = {
            "data_path": config.data_path,
            "username": config.username,
            "password": config.password,
            "progid": config.progid,
            # SDO's Connect takes a name unique to this connection (public code passes a fresh one each time).
            "unique_name": f"LedgerBridge-{os.getpid()}-{uuid.uuid4().hex[:8]}",
        }
        try:
            self._send(process, "open", args)
            opened = self._receive(process, "open", self._config.timeout_seconds)
        except LedgerBridgeError:
            self._stop()
            raise
        return dict(opened or {})

    def _send(self, process: subprocess.Popen[bytes], op: str, args: dict[str, Any]) -> None:
        self._next_id += 1
        assert process.stdin is not None
        try:
            process.stdin.write(encode({"id": self._next_id, "op": op, "args": args}))
            process.stdin.flush()
        except OSError:
            self._stop()
            raise self._dead(op, before_sending=True) from None

    def _receive(self, process: subprocess.Popen[bytes], op: str, timeout: float) -> Any:
        while True:
            try:
                line = self._replies.get(timeout=timeout)
            except queue.Empty:
                self._stop()
                raise TransientError(
                    f"Sage did not answer within {timeout:.0f} s (request {op}).",
                    action="LedgerBridge stopped the Sage helper and tries again on the next run"
                    + (", after looking the document up in Sage." if op in WRITES else "."),
                    detail=self._stderr_text(),
                    maybe_written=op in WRITES,
                ) from None
            if line is None:  # the helper's stdout closed: it ended
                self._stop()
                raise self._dead(op)
            try:
                reply = decode(line)
            except ValueError:
                continue  # not one of ours (half a line from a dying process)
            if reply.get("id") not in (self._next_id, None):
                continue  # an answer to a request given up on
            if reply.get("ok"):
                return reply.get("result")
            raise self._error(dict(reply.get("error") or {}))

    def _dead(self, op: str, *, before_sending: bool = False) -> TransientError:
        return TransientError(
            "The Sage helper stopped"
            + (" before it got the request." if before_sending else f" during {op}."),
            action="LedgerBridge starts it again on the next run"
            + (", after looking the document up in Sage." if op in WRITES and not before_sending else "."),
            detail=self._stderr_text(),
            maybe_written=op in WRITES and not before_sending,
        )

    def _error(self, error: dict[str, Any]) -> LedgerBridgeError:
        kind = str(error.get("kind", "bug"))
        message = scrub(str(error.get("message", "")), (self._config.password,))
        action = scrub(str(error.get("action", "")), (self._config.password,))
        detail = scrub(str(error.get("detail", "")), (self._config.password,))
        if kind == "record":
            return RecordError(message, action=action, detail=detail, field=str(error.get("field", "")))
        if kind == "transient":
            return TransientError(
                message, action=action, detail=detail, maybe_written=bool(error.get("maybe_written"))
            )
        if kind == "config":
            return ConfigError(message, action=action, detail=detail)
        if kind == "auth":
            return AuthError(message, action=action, detail=detail)
        # A bug in the helper: stop the run, keep what the helper said for the log.
        return ConfigError(
            message or "The Sage helper failed.",
            action="Send a support bundle (Settings > Support bundle).",
            detail=(detail + "\n" + self._stderr_text()).strip(),
        )

    def _stderr_text(self) -> str:
        return scrub("\n".join(self._stderr), (self._config.password,))

    def _stop(self) -> None:
        process, self._process = self._process, None
        if process is None:
            return
        if process.poll() is None:
            process.kill()
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=10)
        for stream in (process.stdin, process.stdout, process.stderr):
            if stream is not None:
                with contextlib.suppress(OSError):
                    stream.close()

    def __enter__(self) -> Sage50UKSDOWriter:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def _pump_lines(stream: IO[bytes], replies: queue.Queue[bytes | None]) -> None:
    """The helper's stdout, line by line, then None when it closed."""
    try:
        for line in stream:
            replies.put(line)
    except (OSError, ValueError):
        pass
    replies.put(None)


def _keep_lines(stream: IO[bytes], kept: collections.deque[str]) -> None:
    try:
        for line in stream:
            kept.append(line.decode("utf-8", "replace").rstrip())
    except (OSError, ValueError):
        pass


def _plain(value: Any) -> Any:
    """A record, or a dataclass's asdict(), as JSON values: fields by name, Decimal and dates as text, tuples
    as lists."""
    if isinstance(value, msgspec.Struct):
        return {name: _plain(getattr(value, name)) for name in value.__struct_fields__}
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(item) for item in value]
    if value is None or isinstance(value, bool | int | str):
        return value
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return str(value)  # Decimal


def _document_args(document: BooksDocument) -> dict[str, Any]:
    args: dict[str, Any] = _plain(asdict(document))
    return args

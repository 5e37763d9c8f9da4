"""HaloSandbox: a local Halo over real HTTP, answering like the real API (sign-in, lists, POST arrays).

Tests, benchmarks and ``--demo`` talk to it exactly as they would to Halo, so the client's paging, retries and
never-twice rules meet real sockets, real status codes and switchable faults (see faults.py).

    with HaloSandbox() as sandbox:
        sandbox.url, sandbox.client_id, sandbox.client_secret
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import logging
import re
import secrets
import socket
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Any
from urllib.parse import parse_qs, urlsplit

from halo.resources import RESOURCES
from halo.sandbox.auth import TokenIssuer
from halo.sandbox.faults import SandboxFaults
from halo.sandbox.page import render_page
from halo.sandbox.schemas import RecordProblem, coerce_numeric_text
from halo.sandbox.store import ListQuery, SandboxStore
from halo.sandbox.wire import decode_body, encode_answer

__all__ = ["HaloSandbox", "SandboxFaults"]

log = logging.getLogger("ledgerbridge.sandbox")

DEFAULT_CLIENT_ID = "ledgerbridge-sandbox"
DEFAULT_PAGE_SIZE = 50
MAX_BODY_BYTES = 64 * 2**20
_RESOURCE_BY_LOWER = {name.lower(): name for name in RESOURCES}
_API_PATH = re.compile(r"^/api/([A-Za-z]+)(?:/([^/]+))?/?$")
_LOOPBACK = frozenset({"127.0.0.1", "::1", "::ffff:127.0.0.1"})
_PROXY_502_PAGE = (
    b"<html><head><title>502 Bad Gateway</title></head><body><center><h1>502 Bad Gateway</h1></center>"
    b"<hr><center>nginx</center></body></html>"
)


@dataclass
class _Reply:
    """What to send back; ``drop`` closes the connection instead of answering."""

    status: int = 200
    body: bytes = b""
    content_type: str = "application/json; charset=utf-8"
    headers: dict[str, str] = field(default_factory=dict)
    drop: bool = False


def _json_reply(
    status: int, payload: Any, headers: dict[str, str] | None = None, *, plain: bool = False
) -> _Reply:
    """A JSON answer; ``plain``: the payload is plain JSON (wire.is_plain), so msgspec may write it."""
    return _Reply(status, encode_answer(payload, plain), headers=headers or {})


def _error_reply(status: int, message: str, **extra: Any) -> _Reply:
    return _json_reply(status, {"error": message, **extra})


# What a lean list row leaves out (lean_rows): the fields the engine matches on. Halo's list rows are partial
# objects and which fields they keep is not documented (docs/halo.md).
LEAN_DROPPED: dict[str, frozenset[str]] = {
    "Client": frozenset({"accountsid", "main_site_id", "main_site_name"}),
    "Site": frozenset({"accountsid"}),
    "Item": frozenset({"accountsid", "internalreference"}),
    "Tax": frozenset({"third_party_id"}),
    "Invoice": frozenset({"accountsid", "thirdpartyinvoicenumber", "lines"}),
    "InvoicePayment": frozenset({"thirdpartyid", "sage50_reference"}),
    "Supplier": frozenset({"accounts_id"}),
}

_DROP = _Reply(drop=True)
_DROP_AFTER_WRITE = _Reply(drop=True)  # a POST to commit first, then drop: told apart from _DROP by identity


class _BadRequest(Exception):
    """A query parameter or body the sandbox cannot read: answered 400 with this message."""


class HaloSandbox:
    """A local Halo: ``start()`` serves it on a real port in a daemon thread, ``stop()`` ends it."""

    def __init__(
        self,
        db_path: Path | str | None = None,
        client_id: str = DEFAULT_CLIENT_ID,
        client_secret: str | None = None,
        tenant: str = "",
        host: str = "127.0.0.1",
        port: int = 0,
        seed: int = 0,
    ) -> None:
        self.client_id = client_id
        self.client_secret = client_secret if client_secret is not None else secrets.token_urlsafe(24)
        self.tenant = tenant
        self.host = host
        self.port = port
        self.faults = SandboxFaults(seed=seed)
        self.db_path = Path(db_path) if db_path is not None else None
        self._store = SandboxStore(self.db_path)
        self._tokens = TokenIssuer(client_id, self.client_secret, tenant)
        self._counts: Counter[tuple[str, str]] = Counter()
        self._counts_lock = threading.Lock()
        self._server: _SandboxHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._url: str | None = None

    def __repr__(self) -> str:
        where = self.url if self._server is not None else "not started"
        return f"HaloSandbox({where}, client_id={self.client_id!r}, tenant={self.tenant!r})"

    # ----------------------------------------------------------------- life cycle

    def start(self) -> HaloSandbox:
        if self._server is not None:
            return self
        try:
            server = _SandboxHTTPServer((self.host, self.port), _Handler, self)
        except OSError as error:
            raise RuntimeError(
                f"The Halo sandbox cannot listen on {self.host}:{self.port}: {error.strerror or error}. "
                "Choose another port (or 0 for any free one)."
            ) from error
        self._server = server
        self.port = server.server_address[1]
        host = f"[{self.host}]" if ":" in self.host else self.host
        self._url = f"http://{host}:{self.port}"
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.05}, name="halo-sandbox", daemon=True
        )
        self._thread.start()
        log.info("Halo sandbox listening on %s", self.url)
        return self

    def stop(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            server.shutdown()
            server.close_open_connections()
            server.server_close()
            if self._thread is not None:
                self._thread.join(timeout=10)
            self._thread = None
        self._store.close()

    def __enter__(self) -> HaloSandbox:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    @property
    def url(self) -> str:
        """The resource server's base URL (API at /api, auth at /auth); stays readable after stop()."""
        if self._url is None:
            raise RuntimeError("The Halo sandbox has not been started; call start() first.")
        return self._url

    # ----------------------------------------------------------------- test helpers

    def counts(self) -> dict[tuple[str, str], int]:
        with self._counts_lock:
            return dict(self._counts)

    def reset_counts(self) -> None:
        with self._counts_lock:
            self._counts.clear()

    def records(self, resource: str, include_inactive: bool = True) -> list[dict[str, Any]]:
        return self._store.all_records(_known_resource(resource), include_inactive)

    def seed(self, resource: str, record: dict[str, Any]) -> dict[str, Any]:
        """Store a record as if it already existed in Halo (no HTTP, not counted); returns it with its id."""
        try:
            return self._store.save_batch(_known_resource(resource), [record], allow_explicit_ids=True)[0]
        except RecordProblem as problem:
            raise ValueError(f"Cannot seed {resource}: {problem}") from problem

    def expire_tokens(self) -> None:
        self._tokens.expire_all()

    def delete(self, resource: str, record_id: int) -> bool:
        """Delete a record as a person would in Halo's web app (no HTTP, not counted); False if absent."""
        return self._store.delete(_known_resource(resource), record_id)

    # ----------------------------------------------------------------- request handling

    def _count(self, method: str, template: str) -> None:
        with self._counts_lock:
            self._counts[(method, template)] += 1

    def handle(self, method: str, target: str, headers: dict[str, str], body: bytes, peer: str) -> _Reply:
        """Route one request; faults apply to /api and /auth only, never to the page or /sandbox/*."""
        parts = urlsplit(target)
        path = parts.path
        query = {key: values[-1] for key, values in parse_qs(parts.query, keep_blank_values=True).items()}
        if path in ("/", "/index.html") and method == "GET":
            return _Reply(200, render_page(self._store, self.url).encode("utf-8"), "text/html; charset=utf-8")
        if path == "/sandbox/stats" and method == "GET":
            return _json_reply(200, self._stats())
        if path == "/sandbox/faults" and method == "POST":
            return self._set_faults(body, peer)
        if path.startswith("/sandbox/seed/") and method == "POST":
            return self._seed_over_http(path.removeprefix("/sandbox/seed/").strip("/"), body, peer)
        if path.lower() in ("/auth/token", "/auth/token/"):
            self._count(method, "/auth/token")
            if method != "POST":
                return _error_reply(405, "Use POST for /auth/token.")
            self._delay()
            return self._token(headers, body, query)
        if path.lower() in ("/api/authinfo", "/api/authinfo/"):
            self._count(method, "/api/authinfo")
            before = self._faults_before(posting=False)
            if before is not None:
                return before
            return _json_reply(200, {"auth_url": f"{self.url}/auth", "tenant_id": self.tenant})
        match = _API_PATH.match(path)
        if match is None or match.group(1).lower() not in _RESOURCE_BY_LOWER:
            self._count(method, path)
            return _error_reply(404, f"There is no endpoint {path} in this sandbox.")
        resource = _RESOURCE_BY_LOWER[match.group(1).lower()]
        record_id = match.group(2)
        template = f"/api/{resource}" + ("/{id}" if record_id is not None else "")
        self._count(method, template)
        posting = method == "POST" and record_id is None
        drop_after_write = False
        if self.faults.latency > 0 or self.faults.rate_limit is not None or _any_rates(self.faults):
            before = self._faults_before(posting)
            if before is _DROP_AFTER_WRITE:
                drop_after_write = True
            elif before is not None:
                return before
        unauthorised = self._check_token(headers)
        if unauthorised is not None:
            return unauthorised
        if resource in self.faults.admin_only:
            return _error_reply(
                403,
                f"The API application lacks the permission to use /api/{resource} "
                "(admin rights are needed; sandbox mode admin_only).",
            )
        try:
            if method == "GET" and record_id is None:
                return self._list(resource, query)
            if method == "GET":
                return self._get_one(resource, record_id)
            if posting:
                reply = self._post(resource, body)
                if reply.status in (200, 201):
                    if drop_after_write:
                        return _DROP
                    if self.faults.chance(self.faults.error_after_write_rate):
                        return _error_reply(500, "An internal error occurred (sandbox fault after write).")
                return reply
            if method == "DELETE" and record_id is not None:
                return self._delete(resource, record_id)
        except _BadRequest as problem:
            return _error_reply(400, str(problem))
        return _error_reply(405, f"{method} is not supported on {template} in this sandbox.")

    def _delay(self) -> None:
        if self.faults.latency > 0:
            time.sleep(self.faults.latency)

    def _faults_before(self, posting: bool) -> _Reply | None:
        """A fault answer (or drop) decided before any processing, or None to go on."""
        faults = self.faults
        self._delay()
        wait = faults.retry_after()
        if wait is not None:
            return _json_reply(
                429,
                {
                    "error": "Too many requests: the API rate limit was reached; "
                    "retry after Retry-After seconds."
                },
                {"Retry-After": str(wait)},
            )
        if faults.chance(faults.error_rate):
            status = faults.pick((500, 502, 503))
            return _error_reply(status, f"The server could not answer (sandbox fault {status}).")
        if faults.chance(faults.html_error_rate):
            return _Reply(502, _PROXY_502_PAGE, "text/html")
        if faults.chance(faults.drop_rate):
            if posting and faults.chance(0.5):
                return _DROP_AFTER_WRITE
            return _DROP
        return None

    def _check_token(self, headers: dict[str, str]) -> _Reply | None:
        value = headers.get("authorization", "")
        scheme, _, token = value.partition(" ")
        auth_header = {"WWW-Authenticate": 'Bearer error="invalid_token"'}
        if scheme.lower() != "bearer" or not token.strip():
            return _json_reply(
                401, {"error": "No bearer token was sent; sign in at /auth/token first."}, auth_header
            )
        if not self._tokens.is_valid(token.strip()):
            return _json_reply(
                401, {"error": "The access token is invalid or has expired; sign in again."}, auth_header
            )
        return None

    def _token(self, headers: dict[str, str], body: bytes, query: dict[str, str]) -> _Reply:
        content_type = headers.get("content-type", "")
        if "application/x-www-form-urlencoded" not in content_type:
            return _json_reply(
                400,
                {
                    "error": "invalid_request",
                    "error_description": "Send the token request as application/x-www-form-urlencoded.",
                },
            )
        form = {key: values[-1] for key, values in parse_qs(body.decode("utf-8", "replace")).items()}
        status, payload = self._tokens.issue(form, query.get("tenant"), self.faults.token_lifetime)
        return _json_reply(status, payload, {"Cache-Control": "no-store"})

    def _list(self, resource: str, query: dict[str, str]) -> _Reply:
        modes = self.faults
        filters = ListQuery(
            search=query.get("search", ""),
            include_inactive=_flag(query, "includeinactive") and not modes.ignore_includeinactive,
            client_id=_optional_int(query, "client_id"),
            invoice_id=_optional_int(query, "invoice_id"),
            toplevel_id=_optional_int(query, "toplevel_id"),
            include_lines=_flag(query, "includelines"),
            order="" if modes.ignore_order else query.get("order", ""),
            descending=_flag(query, "orderdesc") and not modes.ignore_order,
            hidden_clients=frozenset(modes.hidden_clients) if resource == "Client" else frozenset(),
        )
        if resource == "Invoice":
            filters = _invoice_filters(filters, query, ignored=modes.ignore_invoice_filters)
        if _flag(query, "pageinate"):
            page_size = _optional_int(query, "page_size") or DEFAULT_PAGE_SIZE
            page_no = _optional_int(query, "page_no") or 1
            if page_size < 1 or page_no < 1:
                raise _BadRequest("page_size and page_no must be 1 or more.")
            total, page = self._store.select(
                resource, filters, (page_no - 1) * page_size, page_size, copy=False
            )
        else:
            count = _optional_int(query, "count")
            if count is not None and count < 0:
                raise _BadRequest("count must be 0 or more.")
            total, page = self._store.select(resource, filters, 0, count, copy=False)
        rows = [self._shown(resource, row, listed=True) for row in page]
        answer = {"record_count": total, RESOURCES[resource].list_key: rows}
        return _json_reply(200, answer, plain=self._store.plain)

    def _shown(self, resource: str, record: dict[str, Any], *, listed: bool) -> dict[str, Any]:
        """A record as this sandbox's modes present it: lean in lists, numbers as text."""
        if listed and self.faults.lean_rows:
            dropped = LEAN_DROPPED.get(resource, frozenset())
            record = {key: value for key, value in record.items() if key not in dropped}
        if self.faults.numbers_as_text:
            record = _numbers_as_text(record)
        return record

    def _get_one(self, resource: str, raw_id: str) -> _Reply:
        try:
            record_id = int(raw_id)
        except ValueError:
            return _error_reply(404, f"{resource} id {raw_id!r} is not a number.")
        record = self._store.get(resource, record_id, copy=False)
        if record is None or self._hidden(resource, record_id):
            return _error_reply(404, f"There is no {resource} with id {record_id}.")
        return _json_reply(200, self._shown(resource, record, listed=False), plain=self._store.plain)

    def _hidden(self, resource: str, record_id: object) -> bool:
        return resource == "Client" and record_id in self.faults.hidden_clients

    def _delete(self, resource: str, raw_id: str) -> _Reply:
        """DELETE /api/{resource}/{id} (Halo's OpenAPI has it for every resource used here)."""
        if not raw_id.isdigit() or not self._store.delete(resource, int(raw_id)):
            return _error_reply(404, f"There is no {resource} with id {raw_id}.")
        return _json_reply(200, {})

    def _post(self, resource: str, body: bytes) -> _Reply:
        try:
            payload, plain = decode_body(body)
        except (UnicodeDecodeError, json.JSONDecodeError) as error:
            return _error_reply(
                400, f"The request body is not valid JSON ({error}).", record_index=None, field=None
            )
        if not isinstance(payload, list):
            return _error_reply(
                400,
                f"POST /api/{resource} takes a JSON array of records, even for one record: wrap it in [ ].",
                record_index=None,
                field=None,
            )
        if self.faults.numbers_as_text:
            payload = [coerce_numeric_text(resource, item) for item in payload]
            plain = False  # "1" * 400 is a float too large to be finite: the store looks for itself
        if resource == "Client" and self.faults.hidden_clients:  # else no record can be hidden (_hidden)
            for index, item in enumerate(payload):
                if isinstance(item, dict) and self._hidden(resource, item.get("id")):
                    message = f"Record {index}: there is no {resource} with id {item['id']} to update."
                    return _error_reply(400, message, record_index=index, field="id")
        try:
            saved = self._store.save_batch(resource, payload, copy=False, known_plain=plain)
        except RecordProblem as problem:
            return _error_reply(400, problem.message, record_index=problem.record_index, field=problem.field)
        created = any(not isinstance(item, dict) or not item.get("id") for item in payload)
        return self._post_answer(
            201 if created else 200, [self._shown(resource, r, listed=False) for r in saved]
        )

    def _post_answer(self, status: int, saved: list[dict[str, Any]]) -> _Reply:
        """The saved records in the answer shape ``post_answer`` asks for (Halo documents none)."""
        shape = self.faults.post_answer
        plain = self._store.plain  # read after the save: it covers the saved records
        if shape == "object":
            return _json_reply(status, saved[0] if saved else {}, plain=plain)
        if shape == "first":
            return _json_reply(status, saved[:1], plain=plain)
        if shape == "reversed":
            return _json_reply(status, saved[::-1], plain=plain)
        if shape == "shuffled":
            return _json_reply(status, self.faults.shuffled(saved), plain=plain)
        if shape == "truncated":
            return _json_reply(status, saved[:-1], plain=plain)
        if shape == "empty":
            return _Reply(status, b"")
        if shape == "true":
            return _json_reply(status, True)
        return _json_reply(status, saved, plain=plain)

    def _stats(self) -> dict[str, Any]:
        requests = {f"{method} {template}": n for (method, template), n in sorted(self.counts().items())}
        records = {name: self._store.count(name) for name in RESOURCES}
        return {"requests": requests, "records": records, "faults": self.faults.as_dict()}

    def _seed_over_http(self, name: str, body: bytes, peer: str) -> _Reply:
        """POST /sandbox/seed/{resource} [records]: records that "already exist" in Halo (a Halo-origin
        invoice for posting, say), stored as they are, ids allowed; from this machine only."""
        if peer not in _LOOPBACK:
            return _error_reply(403, "Records can only be seeded from this machine (127.0.0.1).")
        resource = _RESOURCE_BY_LOWER.get(name.lower())
        if resource is None:
            return _error_reply(
                404, f"There is no resource {name!r} to seed; use one of {', '.join(RESOURCES)}."
            )
        try:
            records, plain = decode_body(body or b"[]")
        except (UnicodeDecodeError, json.JSONDecodeError) as error:
            return _error_reply(400, f"The request body is not valid JSON ({error}).")
        if not isinstance(records, list) or not all(isinstance(item, dict) for item in records):
            return _error_reply(400, "Send a JSON array of records.")
        try:
            saved = self._store.save_batch(
                resource, records, allow_explicit_ids=True, copy=False, known_plain=plain
            )
        except RecordProblem as problem:
            return _error_reply(400, problem.message, record_index=problem.record_index, field=problem.field)
        return _json_reply(201, saved, plain=self._store.plain)

    def _set_faults(self, body: bytes, peer: str) -> _Reply:
        if peer not in _LOOPBACK:
            return _error_reply(403, "Faults can only be changed from this machine (127.0.0.1).")
        try:
            changes = json.loads(body.decode("utf-8") or "{}")
            if not isinstance(changes, dict):
                raise ValueError('Send a JSON object such as {"error_rate": 0.1}.')
            self.faults.update(changes)
        except (UnicodeDecodeError, ValueError) as error:
            return _error_reply(400, str(error))
        return _json_reply(200, {"faults": self.faults.as_dict()})


def _invoice_filters(filters: ListQuery, query: dict[str, str], *, ignored: bool) -> ListQuery:
    """GET /Invoice's own parameters on top of the common ones; with ``ignored`` (sandbox mode
    ignore_invoice_filters) none of them, toplevel_id included, narrows the list."""
    if ignored:
        return dataclasses.replace(filters, toplevel_id=None)
    return dataclasses.replace(
        filters,
        not_posted_only=_flag(query, "notpostedonly"),
        posted_only=_flag(query, "postedonly"),
        include_credits=query.get("includecredits", "true").strip().lower() not in ("false", "0", "no"),
        include_invoices=query.get("includeinvoices", "true").strip().lower() not in ("false", "0", "no"),
        invoice_date_start=query.get("invoicedatestart", "").strip(),
        invoice_date_end=query.get("invoicedateend", "").strip(),
    )


def _numbers_as_text(value: Any) -> Any:
    """Every number in ``value`` as text ("12.5"), as some .NET serialisers write decimals and ids."""
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, list):
        return [_numbers_as_text(item) for item in value]
    if isinstance(value, dict):
        return {key: _numbers_as_text(item) for key, item in value.items()}
    return value


def _any_rates(faults: SandboxFaults) -> bool:
    return faults.error_rate > 0 or faults.html_error_rate > 0 or faults.drop_rate > 0


def _known_resource(resource: str) -> str:
    if resource not in RESOURCES:
        raise ValueError(f"Unknown sandbox resource {resource!r}; use one of {', '.join(RESOURCES)}.")
    return resource


def _flag(query: dict[str, str], name: str) -> bool:
    return query.get(name, "").strip().lower() in ("true", "1", "yes")


def _optional_int(query: dict[str, str], name: str) -> int | None:
    raw = query.get(name)
    if raw is None or raw == "":
        return None
    try:
        return int(raw)
    except ValueError:
        raise _BadRequest(f"Query parameter {name} must be a whole number, not {raw!r}.") from None


class _SandboxHTTPServer(ThreadingHTTPServer):
    """Threaded server that remembers open connections, so stop() does not leave keep-alive threads behind."""

    daemon_threads = True
    request_queue_size = 128

    def __init__(self, address: tuple[str, int], handler: type[BaseHTTPRequestHandler], sandbox: HaloSandbox):
        self.address_family = socket.AF_INET6 if ":" in address[0] else socket.AF_INET
        self.sandbox = sandbox
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()
        super().__init__(address, handler)

    def track(self, connection: socket.socket, open_: bool) -> None:
        with self._connections_lock:
            if open_:
                self._connections.add(connection)
            else:
                self._connections.discard(connection)

    def handle_error(self, request: Any, client_address: Any) -> None:
        # Only socket trouble gets here (a client that went away); request errors are answered in _serve.
        log.debug("Halo sandbox connection from %s ended abruptly", client_address, exc_info=True)

    def close_open_connections(self) -> None:
        with self._connections_lock:
            connections = list(self._connections)
        for connection in connections:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "HaloSandbox/1.0"
    timeout = 120  # an idle keep-alive connection is closed after this many seconds
    server: _SandboxHTTPServer

    def setup(self) -> None:
        super().setup()
        # Headers and body go out as two writes; without NODELAY, Nagle + delayed ACKs add ~40 ms each.
        with contextlib.suppress(OSError):
            self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.server.track(self.connection, True)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self.server.track(self.connection, False)

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("%s " + format, self.client_address[0], *args)

    def do_GET(self) -> None:
        self._serve("GET")

    def do_POST(self) -> None:
        self._serve("POST")

    def do_PUT(self) -> None:
        self._serve("PUT")

    def do_DELETE(self) -> None:
        self._serve("DELETE")

    def do_PATCH(self) -> None:
        self._serve("PATCH")

    def _serve(self, method: str) -> None:
        length_text = self.headers.get("Content-Length", "0") or "0"
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked" or not length_text.isdigit():
            self._send(_error_reply(411, "Send the request body with a Content-Length header."))
            self.close_connection = True
            return
        if int(length_text) > MAX_BODY_BYTES:
            self._send(
                _error_reply(
                    413, f"The request body is over {MAX_BODY_BYTES // 2**20} MiB; send smaller batches."
                )
            )
            self.close_connection = True
            return
        body = self.rfile.read(int(length_text)) if int(length_text) > 0 else b""
        headers = {key.lower(): value for key, value in self.headers.items()}
        try:
            reply = self.server.sandbox.handle(method, self.path, headers, body, self.client_address[0])
        except Exception:
            log.exception("Halo sandbox failed on %s %s", method, urlsplit(self.path).path)
            reply = _error_reply(500, "The sandbox hit an internal error; see its log.")
        if reply.drop:
            self.close_connection = True
            with contextlib.suppress(OSError):
                self.connection.shutdown(socket.SHUT_RDWR)
            return
        self._send(reply)

    def _send(self, reply: _Reply) -> None:
        self.send_response(reply.status)
        self.send_header("Content-Type", reply.content_type)
        self.send_header("Content-Length", str(len(reply.body)))
        for name, value in reply.headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(reply.body)

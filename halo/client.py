"""The Halo REST client the engine uses: sign-in, paging, batched saves, retries and error mapping.

Why it looks like this: the engine must never create a record twice, so every request goes through one loop
(``_send``) that knows whether resending is provably safe (reads, updates, a 429, a 401, or a failure before
anything was sent) and otherwise hands back TransientError(maybe_written=True) so the engine reconciles first.
TLS is verified against the operating system's certificate store (truststore), never switched off.
"""

from __future__ import annotations

import contextlib
import heapq
import itertools
import json
import logging
import os
import random
import socket
import ssl
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any
from urllib.parse import quote, urlsplit

import msgspec
import requests
import truststore
from requests.adapters import HTTPAdapter
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

from core.errors import ConfigError, LedgerBridgeError, TransientError
from core.scrub import SecretScrubber, scrub_error
from halo.auth import AccessToken, normalise_server_url, token_from_json, token_url
from halo.errors import (
    FAILURE_CONNECT,
    FAILURE_DNS,
    FAILURE_PROXY,
    URL_ACTION,
    classify_failure,
    error_from_failure,
    error_from_response,
    shape_error,
)
from halo.pacing import DEFAULT_REQUESTS_PER_WINDOW, DEFAULT_WINDOW_SECONDS, RequestBudget
from halo.resources import RESOURCES, HaloResource
from halo.retry import RetryPolicy

__all__ = ["HaloClient", "HaloConnection", "RequestStats", "RetryPolicy"]

log = logging.getLogger("ledgerbridge.halo")

CONNECT_TIMEOUT_CAP = 15.0
USER_AGENT = "LedgerBridge/0.1 (+Halo accounts sync)"


@dataclass(frozen=True)
class HaloConnection:
    """Where and how to reach one Halo instance (everything but the secret)."""

    resource_server: str
    auth_server: str = ""
    tenant: str = ""
    client_id: str = ""
    scope: str = "all"
    proxy: str = ""
    ca_bundle: str = ""
    timeout: float = 60.0
    page_size: int = 100
    batch_size: int = 100
    requests_per_window: int = DEFAULT_REQUESTS_PER_WINDOW  # client-side pacing; 0 = off (halo/pacing.py)
    window_seconds: float = DEFAULT_WINDOW_SECONDS

    @property
    def base_url(self) -> str:
        """The resource server without a trailing "/api" (raises ConfigError when unusable)."""
        return normalise_server_url(self.resource_server, setting="resource server", strip_suffix="/api")


@dataclass
class RequestStats:
    """What the client sent: requests per (method, path template) and retries per reason."""

    requests: Counter[tuple[str, str]] = field(default_factory=Counter)
    retries: Counter[str] = field(default_factory=Counter)
    paced_seconds: float = 0.0  # waited for the client-side request budget (not a fault)
    # Requests the engine made only because Halo's rows or answers lacked a key (a record re-read by id, a
    # save answer checked by id), per reason: what partial list rows and odd answers cost.
    lookups: Counter[str] = field(default_factory=Counter)
    # POST answers that were not an array of one record per record sent, per shape.
    answer_shapes: Counter[str] = field(default_factory=Counter)

    def total(self) -> int:
        return sum(self.requests.values())

    def add_retries(self, reason: str, n: int = 1) -> None:
        """Extra requests a fault caused outside the client's own loop (e.g. the engine's reconcile)."""
        if n > 0:
            self.retries[reason] += n

    def add_lookup(self, reason: str, n: int = 1) -> None:
        """Requests made because a key was missing from a list row or a save answer."""
        if n > 0:
            self.lookups[reason] += n


# --- the overall deadline per request --------------------------------------------------------------------
#
# Why: requests' timeouts apply to each socket operation, so a server (or proxy) that sends one byte every few
# seconds holds a request for ever (142 s for timeout 5, measured). Each request gets a deadline of
# ``timeout`` seconds for connect + headers + the whole body; at the deadline a watchdog shuts the
# connection's socket, which ends the blocked read at once. The pools register the connection a thread is
# using, so the watchdog knows which socket to shut.

_IN_FLIGHT: dict[int, Any] = {}  # thread ident -> the urllib3 connection that thread is sending on
_IN_FLIGHT_LOCK = threading.Lock()


class _WatchedPoolMixin:
    """Records the connection each request goes out on, so an expired deadline can shut its socket."""

    def _make_request(self, conn: Any, *args: Any, **kwargs: Any) -> Any:
        with _IN_FLIGHT_LOCK:
            _IN_FLIGHT[threading.get_ident()] = conn
        return super()._make_request(conn, *args, **kwargs)  # type: ignore[misc]


class _WatchedHTTPPool(_WatchedPoolMixin, HTTPConnectionPool):
    pass


class _WatchedHTTPSPool(_WatchedPoolMixin, HTTPSConnectionPool):
    pass


WATCHED_POOLS = {"http": _WatchedHTTPPool, "https": _WatchedHTTPSPool}


class _Watchdog:
    """One thread per client that shuts the socket of a request whose deadline has passed."""

    def __init__(self) -> None:
        self._lock = threading.Condition()
        self._heap: list[tuple[float, int, int]] = []  # (deadline, token, thread ident)
        self._armed: set[int] = set()
        self._expired: set[int] = set()
        self._tokens = itertools.count(1)
        self._thread: threading.Thread | None = None
        self._closed = False

    def arm(self, seconds: float) -> int:
        token = next(self._tokens)
        with self._lock:
            heapq.heappush(self._heap, (time.monotonic() + seconds, token, threading.get_ident()))
            self._armed.add(token)
            if self._thread is None or not self._thread.is_alive():
                self._closed = False
                self._thread = threading.Thread(target=self._watch, name="halo-deadline", daemon=True)
                self._thread.start()
            self._lock.notify()
        return token

    def disarm(self, token: int) -> bool:
        """Stop watching; True when the deadline had already passed (the request was cut)."""
        with self._lock:
            self._armed.discard(token)
            expired = token in self._expired
            self._expired.discard(token)
        with _IN_FLIGHT_LOCK:
            _IN_FLIGHT.pop(threading.get_ident(), None)
        return expired

    def close(self) -> None:
        with self._lock:
            self._closed = True
            self._lock.notify()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(5)
        self._thread = None

    def _watch(self) -> None:
        with self._lock:
            while not self._closed:
                while self._heap and self._heap[0][1] not in self._armed:
                    heapq.heappop(self._heap)  # finished in time
                if not self._heap:
                    self._lock.wait()
                    continue
                deadline, token, ident = self._heap[0]
                wait = deadline - time.monotonic()
                if wait > 0:
                    self._lock.wait(wait)
                    continue
                if _shut(ident):
                    heapq.heappop(self._heap)
                    self._expired.add(token)
                else:  # still connecting (no socket yet): look again shortly
                    self._lock.wait(0.05)


def _shut(ident: int) -> bool:
    with _IN_FLIGHT_LOCK:
        conn = _IN_FLIGHT.get(ident)
    sock = getattr(conn, "sock", None)
    if sock is None:
        return False
    with contextlib.suppress(OSError):  # already closed: the request is ending anyway
        sock.shutdown(socket.SHUT_RDWR)
    return True


class _WatchedAdapter(HTTPAdapter):
    """Plain HTTP (the local sandbox) with the watched pools and no urllib3 retries."""

    def __init__(self) -> None:
        super().__init__(max_retries=0)  # retries are ours: see HaloClient._send

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = WATCHED_POOLS

    def proxy_manager_for(self, proxy: str, **proxy_kwargs: Any) -> Any:
        manager = super().proxy_manager_for(proxy, **proxy_kwargs)
        manager.pool_classes_by_scheme = WATCHED_POOLS
        return manager


class _TruststoreAdapter(_WatchedAdapter):
    """HTTPS through the OS certificate store (plus an optional extra CA file); verification always on.

    requests would otherwise load certifi's bundle into the context (cert_verify) or honour verify=False;
    both are overridden so only the OS store and the configured CA bundle decide.
    """

    def __init__(self, ssl_context: ssl.SSLContext) -> None:
        self._ssl_context = ssl_context
        super().__init__()

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        kwargs["ssl_context"] = self._ssl_context
        super().init_poolmanager(*args, **kwargs)

    def proxy_manager_for(self, proxy: str, **proxy_kwargs: Any) -> Any:
        proxy_kwargs["ssl_context"] = self._ssl_context
        return super().proxy_manager_for(proxy, **proxy_kwargs)

    def build_connection_pool_key_attributes(
        self, request: requests.PreparedRequest, verify: Any, cert: Any = None
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        host_params, pool_kwargs = super().build_connection_pool_key_attributes(request, True, cert)
        pool_kwargs.pop("ca_certs", None)
        pool_kwargs.pop("ca_cert_dir", None)
        pool_kwargs["cert_reqs"] = "CERT_REQUIRED"
        return host_params, pool_kwargs

    def cert_verify(self, conn: Any, url: str, verify: Any, cert: Any) -> None:
        conn.cert_reqs = "CERT_REQUIRED"
        conn.ca_certs = None
        conn.ca_cert_dir = None


def _tls_context(ca_bundle: str) -> ssl.SSLContext:
    context = truststore.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    if ca_bundle:
        path = os.path.expandvars(os.path.expanduser(ca_bundle))
        try:
            context.load_verify_locations(cafile=path)
        except (OSError, ssl.SSLError) as exc:
            raise ConfigError(
                f"The CA bundle {ca_bundle!r} could not be read ({exc.__class__.__name__}).",
                action="Point Settings > Halo > CA bundle at a PEM certificate file, or leave it blank.",
            ) from exc
    return context


if not any(isinstance(f, SecretScrubber) for f in log.filters):
    log.addFilter(SecretScrubber())  # last line of defence, even where the app's log set-up never ran


class HaloClient:
    """One signed-in conversation with Halo. Not shared between threads without external locking.

    A ``session`` passed in gets this client's adapters mounted (TLS through the OS store, no urllib3
    retries) so verification cannot be weakened through it; it is left open by ``close()``. ``sleep`` and
    ``clock`` are injectable so tests can record back-off waits and reach a token's renewal point.
    """

    def __init__(
        self,
        conn: HaloConnection,
        client_secret: str,
        retry: RetryPolicy | None = None,
        session: requests.Session | None = None,
        sleep: Callable[[float], None] = time.sleep,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.conn = conn
        self.retry = retry or RetryPolicy()
        self.stats = RequestStats()
        self._secret = client_secret or ""
        self._sleep = sleep
        self._clock = clock
        self._rng = random.Random()
        self._base = conn.base_url  # validates the URL (ConfigError) before anything is sent
        self._api = f"{self._base}/api"
        self._explicit_auth = (
            normalise_server_url(conn.auth_server, setting="authorisation server") if conn.auth_server else ""
        )
        if conn.page_size < 1 or conn.batch_size < 1:
            raise ConfigError(
                "The Halo page size and batch size must be at least 1.", action="Fix them in Settings > Halo."
            )
        self._timeout = (min(CONNECT_TIMEOUT_CAP, conn.timeout), conn.timeout)
        self.budget = RequestBudget(conn.requests_per_window, conn.window_seconds, clock=clock, sleep=sleep)
        self._owns_session = session is None
        self._session = session or requests.Session()
        adapter = _TruststoreAdapter(_tls_context(conn.ca_bundle))
        self._session.mount("https://", adapter)
        self._session.mount("http://", _WatchedAdapter())
        self._watchdog = _Watchdog()
        self._session.headers.update({"Accept": "application/json", "User-Agent": USER_AGENT})
        # The configured proxy is passed with every request: requests lets environment proxies override a
        # session's own, and the user's explicit setting must win. Blank: environment / Windows settings.
        self._proxies = _checked_proxy(conn.proxy)
        # requests would read the environment on every request (proxy variables, the Windows proxy settings,
        # ~/.netrc: half a millisecond each) and a .netrc entry for the Halo host replaces the bearer token
        # with Basic auth (documented in requests' "Authentication" page). A client lasts one run, so the
        # environment's proxies are read once per server it talks to, and never the .netrc.
        self._session.trust_env = False
        self._proxies_by_origin: dict[tuple[str, str], dict[str, str]] = {}
        self._token: AccessToken | None = None
        self._signed_in_before = False  # every token after the first is a renewal, reported as a retry
        self._token_lock = threading.Lock()
        self._token_endpoint: tuple[str, dict[str, str]] | None = None
        self._reached_server = False
        self._auth_guessed = False  # True when /api/authinfo was missing and {base}/auth is a guess

    def __repr__(self) -> str:
        return f"HaloClient(resource_server={self._base!r}, client_id={self.conn.client_id!r})"

    # --- public API --------------------------------------------------------------------------------------

    def sign_in(self) -> None:
        """Get a fresh token now (discovering the auth server if needed); raises AuthError/ConfigError/..."""
        self._require_credentials()
        with self._token_lock:
            self._token = None
            self._fetch_token()

    def test_connection(self) -> str:
        """Sign in for real and read one customer page; a one-line summary for the setup wizard."""
        self.sign_in()
        body = self._send_json(
            "GET",
            f"{self._api}/Client",
            params={"pageinate": "true", "page_size": "1", "page_no": "1"},
            operation="reading customers",
            path_template="/api/Client",
        )
        count = self._record_count(body, "Client", "reading customers")
        summary = f"Signed in to {self._base}; {count} customers visible."
        if count == 0:
            summary += " (If Halo has customers, give the API application's agent visibility of them.)"
        return summary

    def iter_records(
        self, resource: str, params: Mapping[str, Any] | None = None, *, page_size: int | None = None
    ) -> Iterator[dict[str, Any]]:
        """Every record of ``resource`` matching ``params``, fetched a page at a time (a generator)."""
        size = page_size or self.conn.page_size
        operation = f"reading {_resource(resource).words}"
        seen = 0
        page_no = 1
        previous_first_id: object = None
        while True:
            query = {
                **_stringify(params or {}),
                "pageinate": "true",
                "page_size": str(size),
                "page_no": str(page_no),
            }
            body = self._send_json(
                "GET",
                f"{self._api}/{resource}",
                params=query,
                operation=operation,
                path_template=f"/api/{resource}",
            )
            if isinstance(body, list):
                # A bare array: no record_count to go by. Continue while pages come back full, and stop if the
                # server ignored paging (the same first record again) so nothing is yielded twice.
                page = _records_in(body, operation)
                first_id = page[0].get("id") if page else None
                if page and page_no > 1 and first_id is not None and first_id == previous_first_id:
                    return
                yield from page
                if len(page) < size:
                    return
                previous_first_id = first_id
            else:
                total = self._record_count(body, resource, operation)
                page = _records_in(self._list_of(body, resource, operation), operation)
                first_id = page[0].get("id") if page else None
                if page_no > 1 and first_id is not None and first_id == previous_first_id:
                    # The same page again: going on would yield duplicates, stopping would hide records.
                    raise shape_error(
                        operation, f"page {page_no} repeated page {page_no - 1} (paging ignored)"
                    )
                previous_first_id = first_id
                yield from page
                seen += len(page)
                if not page or seen >= total:
                    return
            page_no += 1

    def get_record(
        self, resource: str, record_id: int, params: Mapping[str, Any] | None = None
    ) -> dict[str, Any] | None:
        """One record by Halo id, or None when Halo has no such record (404)."""
        operation = f"reading {_resource(resource).words}"
        response = self._send(
            "GET",
            f"{self._api}/{resource}/{quote(str(int(record_id)))}",
            params=_stringify(params or {}),
            operation=operation,
            path_template=f"/api/{resource}/{{id}}",
            accept_statuses=(404,),
        )
        if response.status_code == 404:
            return None
        body = self._json_of(response, operation)
        if isinstance(body, list) and len(body) == 1 and isinstance(body[0], dict):
            return body[0]  # one record wrapped in an array: the same record
        if not isinstance(body, dict):
            raise shape_error(operation, f"expected one record, got {type(body).__name__}")
        return body

    def delete_record(self, resource: str, record_id: int) -> bool:
        """Delete one record by Halo id (DELETE /api/{resource}/{id}); False when Halo had no such record.

        Only ever used for a copy this run has just created twice (sync.guard); deleting twice is harmless,
        so a failed attempt may be resent.
        """
        words = _resource(resource).words
        response = self._send(
            "DELETE",
            f"{self._api}/{resource}/{quote(str(int(record_id)))}",
            operation=f"removing a double of the {words}",
            path_template=f"/api/{resource}/{{id}}",
            resend_after_sending=True,
            accept_statuses=(404,),
        )
        return response.status_code != 404

    def save(self, resource: str, records: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
        """POST one batch (creates and/or updates); return the records Halo's answer holds, as given.

        Halo's OpenAPI documents no POST response body: real answers are an array in the order sent, one
        object (a one-record POST, or only the first record of a batch), or nothing usable at all (an empty
        body, ``true``). Every shape is accepted here and never raises; the caller matches what came back to
        what it sent by key, never by position (docs/halo.md). A batch whose records all carry an id
        (updates) is resent on failure; one holding any create is resent only when Halo provably did not
        process it; otherwise TransientError(maybe_written=True).
        """
        words = _resource(resource).words
        if len(records) > self.conn.batch_size:
            raise ValueError(f"{len(records)} records exceed the batch size {self.conn.batch_size}")
        if not records:
            return []
        updates_only = all(_has_id(record) for record in records)
        operation = f"saving {words}"
        response = self._send(
            "POST",
            f"{self._api}/{resource}",
            data=_json_bytes([dict(record) for record in records]),
            content_type="application/json",
            operation=operation,
            path_template=f"/api/{resource}",
            resend_after_sending=updates_only,
        )
        body = _json_or_none(response)
        saved = _answer_records(body, resource)
        if not isinstance(body, list) or len(saved) != len(records):
            self.stats.answer_shapes[_shape_name(body, saved)] += 1
            log.info(
                "Halo answered %s %d records with %s; matching them by key",
                operation,
                len(records),
                _shape_name(body, saved),
            )
        return saved

    def _proxies_for(self, url: str) -> dict[str, str]:
        """The proxies for ``url``'s server: the Halo proxy setting, then the environment's (proxy variables,
        and on Windows the system's settings, which also say which hosts go direct), as requests merges
        them when it reads the environment itself."""
        parts = urlsplit(url)
        origin = (parts.scheme, parts.netloc)
        found = self._proxies_by_origin.get(origin)
        if found is None:
            found = dict(self._proxies or {})
            environment = requests.utils.get_environ_proxies(url, no_proxy=found.get("no_proxy"))
            for scheme, address in environment.items():
                found.setdefault(scheme, address)
            self._proxies_by_origin[origin] = found
        return found

    def close(self) -> None:
        self._watchdog.close()
        if self._owns_session:
            self._session.close()

    def __enter__(self) -> HaloClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # --- sign-in -----------------------------------------------------------------------------------------

    def _bearer(self) -> str:
        with self._token_lock:
            if self._token is None or self._token.needs_renewal(self._clock()):
                self._fetch_token()
            assert self._token is not None
            return self._token.value

    def _renew_after_401(self, rejected: str) -> None:
        with self._token_lock:
            if self._token is None or self._token.value == rejected:
                self._token = None
                self._fetch_token()

    def _fetch_token(self) -> None:
        """POST client credentials to the token service (caller holds the token lock)."""
        self._require_credentials()
        url, query = self._token_endpoint or self._discover_token_endpoint()
        response = self._send(
            "POST",
            url,
            params=query,
            data={
                "grant_type": "client_credentials",
                "client_id": self.conn.client_id,
                "client_secret": self._secret,
                "scope": self.conn.scope or "all",
            },
            operation="signing in",
            path_template="/auth/token",
            authenticated=False,
            accept_statuses=(404,) if self._auth_guessed else (),
        )
        if self._auth_guessed and (response.status_code == 404 or _json_or_none(response) is None):
            # Neither /api/authinfo nor the default /auth answered like Halo: the URL points elsewhere.
            raise ConfigError(
                f"No Halo API at {self._base}.",
                action=URL_ACTION,
                detail=f"/api/authinfo and {url} both missing (HTTP {response.status_code})",
            )
        body = self._json_of(response, "signing in")
        token = token_from_json(body, now=self._clock())
        if token is None:
            raise shape_error("signing in", "the token service's answer held no bearer access_token")
        self._token = token
        if self._signed_in_before:
            self.stats.add_retries("token renewal")
        self._signed_in_before = True
        log.info("Signed in to %s (token valid %.0f s)", self._base, token.lifetime)

    def _require_credentials(self) -> None:
        """Raise ConfigError when the client ID or secret is missing (nothing to sign in with)."""
        if not self.conn.client_id:
            raise ConfigError("The Halo client ID is not set.", action="Enter it in Settings > Halo.")
        if not self._secret:
            raise ConfigError(
                "The Halo client secret is not stored on this PC.",
                action="Enter it in Settings > Halo (Halo shows it only once: create a new one if needed).",
            )

    def _discover_token_endpoint(self) -> tuple[str, dict[str, str]]:
        """The token URL: the configured auth server, else /api/authinfo's auth_url, else {base}/auth."""
        tenant = self.conn.tenant.strip()
        if self._explicit_auth:
            endpoint = token_url(self._explicit_auth, tenant)
        else:
            auth_server = f"{self._base}/auth"
            response = self._send(
                "GET",
                f"{self._api}/authinfo",
                operation="looking up the sign-in service",
                path_template="/api/authinfo",
                authenticated=False,
                accept_statuses=(404,),
            )
            body = _json_or_none(response) if response.status_code != 404 else None
            if response.status_code != 404 and body is None:
                raise self._scrubbed(
                    error_from_response(response, operation="looking up the sign-in service")
                )
            self._auth_guessed = False
            if isinstance(body, dict) and isinstance(body.get("auth_url"), str) and body["auth_url"].strip():
                auth_server = normalise_server_url(
                    body["auth_url"], setting="authorisation server (from Halo)"
                )
                if not tenant and isinstance(body.get("tenant_id"), str):
                    tenant = body["tenant_id"].strip()
            else:
                self._auth_guessed = True
                log.info("No usable /api/authinfo at %s; trying %s", self._base, auth_server)
            endpoint = token_url(auth_server, tenant)
        self._token_endpoint = endpoint
        return endpoint

    # --- the request loop --------------------------------------------------------------------------------

    def _send_json(self, method: str, url: str, *, operation: str, path_template: str, **kwargs: Any) -> Any:
        response = self._send(method, url, operation=operation, path_template=path_template, **kwargs)
        return self._json_of(response, operation)

    def _send(
        self,
        method: str,
        url: str,
        *,
        operation: str,
        path_template: str,
        params: Mapping[str, str] | None = None,
        data: Mapping[str, str] | bytes | None = None,
        content_type: str = "",
        authenticated: bool = True,
        resend_after_sending: bool | None = None,
        accept_statuses: tuple[int, ...] = (),
    ) -> requests.Response:
        """Send with retries; return a 2xx (or an accepted status) response or raise a LedgerBridgeError.

        ``resend_after_sending`` says whether the request may be sent again after it may have reached the
        server; by default True for GETs and the token POST (neither changes data), False for API POSTs.
        """
        if resend_after_sending is None:
            resend_after_sending = method == "GET" or not authenticated
        renewed = False
        retry_number = 0
        while True:
            headers = {"Authorization": f"Bearer {self._bearer()}"} if authenticated else {}
            if content_type:
                headers["Content-Type"] = content_type
            sent_token = headers.get("Authorization", "")[len("Bearer ") :]
            if authenticated:
                self.stats.paced_seconds += self.budget.acquire()
            self.stats.requests[(method, path_template)] += 1
            started = time.monotonic()
            try:
                response = self._request_within_deadline(method, url, params, data, headers)
            except requests.RequestException as exc:
                kind = classify_failure(exc)
                nothing_sent = kind in (FAILURE_CONNECT, FAILURE_DNS, FAILURE_PROXY)
                error = error_from_failure(
                    exc,
                    url=url,
                    operation=operation,
                    timeout=self._timeout[1],
                    maybe_written=not nothing_sent and not resend_after_sending,
                    server_seen=self._reached_server,
                )
                log.warning("%s %s failed: %s (%s)", method, path_template, kind, error.detail)
                if isinstance(error, ConfigError):  # TLS, bad URL, or a name that never resolved
                    raise self._scrubbed(error) from exc
                if not (nothing_sent or resend_after_sending):
                    raise self._scrubbed(error) from exc
                retry_number = self._wait_or_raise(error, retry_number, reason=kind, cause=exc)
                continue
            self._reached_server = True
            elapsed_ms = (time.monotonic() - started) * 1000
            log.debug("%s %s -> %s in %.0f ms", method, path_template, response.status_code, elapsed_ms)
            status = response.status_code
            if 200 <= status < 300 or status in accept_statuses:
                return response
            if status == 401 and authenticated and not renewed:
                renewed = True  # a 401 was not processed: renew the token once and send again
                self.stats.retries["401"] += 1
                log.info("Halo answered 401 to %s %s; renewing the token once", method, path_template)
                self._renew_after_401(sent_token)
                continue
            error = self._scrubbed(error_from_response(response, operation=operation))
            if status == 429:
                retry_after = error.retry_after if isinstance(error, TransientError) else None
                self.budget.rate_limited(retry_after)  # slow the pace for every later request too
                if retry_after is not None and retry_after > self.retry.max_retry_after:
                    raise error  # a long wait belongs to the engine's scheduler, not a blocked thread
                retry_number = self._wait_or_raise(error, retry_number, reason="429", wait=retry_after)
                continue
            if isinstance(error, TransientError):
                if not resend_after_sending:
                    raise TransientError(
                        error.message + " Halo may have saved the records before the failure.",
                        action="LedgerBridge will look them up in Halo before sending them again.",
                        detail=error.detail,
                        retry_after=error.retry_after,
                        maybe_written=True,
                    )
                reason = "408" if status == 408 else f"{status // 100}xx"
                retry_number = self._wait_or_raise(error, retry_number, reason=reason)
                continue
            raise error

    def _request_within_deadline(
        self,
        method: str,
        url: str,
        params: Mapping[str, str] | None,
        data: Mapping[str, str] | bytes | None,
        headers: dict[str, str],
    ) -> requests.Response:
        """One HTTP exchange, connect + headers + whole body, cut off after ``timeout`` seconds in all."""
        token = self._watchdog.arm(self._timeout[1])
        try:
            response = self._session.request(
                method,
                url,
                params=params,
                data=data,
                headers=headers,
                timeout=self._timeout,
                allow_redirects=False,
                verify=True,
                proxies=self._proxies_for(url),
            )
        except requests.RequestException as exc:
            if self._watchdog.disarm(token):
                raise requests.exceptions.ReadTimeout(
                    f"no complete answer within the overall deadline of {self._timeout[1]:g} s"
                ) from exc
            raise
        except BaseException:
            self._watchdog.disarm(token)
            raise
        self._watchdog.disarm(token)
        return response

    def _wait_or_raise(
        self,
        error: LedgerBridgeError,
        retry_number: int,
        *,
        reason: str,
        wait: float | None = None,
        cause: BaseException | None = None,
    ) -> int:
        """Sleep before the next attempt, or raise ``error`` when the attempts are used up."""
        if retry_number + 1 >= self.retry.max_attempts:
            raise self._scrubbed(error) from cause
        delay = wait if wait is not None else self.retry.backoff(retry_number, self._rng)
        delay = min(delay, self.retry.max_retry_after)
        self.stats.retries[reason] += 1
        log.info("Retrying in %.1f s after %s (%s)", delay, reason, error.message)
        self._sleep(delay)
        return retry_number + 1

    def _json_of(self, response: requests.Response, operation: str, *, maybe_written: bool = False) -> Any:
        body = _json_or_none(response)
        if body is None:
            error = self._scrubbed(error_from_response(response, operation=operation))
            if maybe_written and isinstance(error, TransientError):
                error.maybe_written = True
            raise error
        return body

    def _record_count(self, body: Any, resource: str, operation: str) -> int:
        if isinstance(body, list):
            return len(body)
        if not isinstance(body, dict):
            raise shape_error(operation, f"expected an object with record_count, got {type(body).__name__}")
        count = body.get("record_count")
        if isinstance(count, bool) or not isinstance(count, int) or count < 0:
            if count is None:
                return len(self._list_of(body, resource, operation))
            raise shape_error(operation, f"record_count is {count!r}")
        return count

    def _list_of(self, body: dict[str, Any], resource: str, operation: str) -> list[Any]:
        key = RESOURCES[resource].list_key
        listed = body.get(key)
        if isinstance(listed, list):
            return listed
        lists = [value for value in body.values() if isinstance(value, list)]
        if len(lists) == 1:
            return lists[0]
        raise shape_error(operation, f"no {key!r} list in keys {sorted(body)[:10]}")

    def _scrubbed(self, error: LedgerBridgeError) -> LedgerBridgeError:
        """Remove our own secret and token from an error's texts (servers sometimes echo what they got)."""
        return scrub_error(error, (self._secret, self._token.value if self._token else ""))


def _checked_proxy(proxy: str) -> dict[str, str] | None:
    """requests' proxies mapping for the proxy setting; None to use the environment's / system's."""
    text = (proxy or "").strip()
    if not text:
        return None
    if "://" not in text:
        text = "http://" + text
    parts = urlsplit(text)
    try:
        port_ok = parts.port is None or parts.port > 0
    except ValueError:
        port_ok = False
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname or not port_ok:
        raise ConfigError(
            f"The proxy setting {proxy!r} is not a proxy address.",
            action="Enter it in Settings > Halo as http://host:port, or leave it blank (Windows' setting).",
        )
    return {"http": text, "https": text}


def _json_bytes(value: Any) -> bytes:
    """JSON for a POST body; a Decimal goes out as the number it prints as (19.99, never 19.989999...).

    Why msgspec first: writing save bodies with the standard library was about a tenth of the engine's CPU
    in a first sync (bench/sync_bench.py). msgspec writes the same values; it writes NaN and infinities as
    null, so a body holding a null takes the standard library's road, which refuses them (a real null
    costs only that slower road). A Decimal is written as its digits (3.0000 rather than 3: the same
    number); the payload builders send floats and whole numbers, never Decimals.
    """
    try:
        body = _REQUEST_JSON.encode(value)
    except (TypeError, ValueError, OverflowError, msgspec.EncodeError):
        body = b"null"  # whatever msgspec cannot write, the standard library's road says why
    if b"null" not in body:
        return body
    return _reference_json_bytes(value)


_REQUEST_JSON = msgspec.json.Encoder(decimal_format="number")


def _reference_json_bytes(value: Any) -> bytes:
    """The standard library's JSON, for a body msgspec cannot write as it is (a null, NaN, odd types)."""

    def default(item: object) -> object:
        if isinstance(item, Decimal):
            if not item.is_finite():
                raise ValueError(f"cannot send {item} to Halo")
            return int(item) if item == item.to_integral_value() else float(str(item))
        raise TypeError(f"{type(item).__name__} cannot be sent to Halo as JSON")

    return json.dumps(value, default=default, ensure_ascii=False, allow_nan=False).encode("utf-8")


def _resource(name: str) -> HaloResource:
    """The resource table's row for ``name``; ValueError for a resource the client does not know."""
    if name not in RESOURCES:
        raise ValueError(f"unknown Halo resource {name!r}; expected one of {', '.join(RESOURCES)}")
    return RESOURCES[name]


def _has_id(record: Mapping[str, Any]) -> bool:
    value = record.get("id")
    return isinstance(value, int) and not isinstance(value, bool) and value > 0


def _stringify(params: Mapping[str, Any]) -> dict[str, str]:
    """Query values as Halo expects them (booleans as true/false)."""
    return {
        key: ("true" if value else "false") if isinstance(value, bool) else str(value)
        for key, value in params.items()
        if value is not None
    }


def _answer_records(body: Any, resource: str) -> list[dict[str, Any]]:
    """The records in a POST answer of any shape: an array, one record, a wrapper holding a list, nothing."""
    if isinstance(body, list):
        return [item for item in body if isinstance(item, dict)]
    if not isinstance(body, dict):
        return []  # empty body, `true`, a number, text: no record to match
    listed = body.get(RESOURCES[resource].list_key)
    if isinstance(listed, list):
        return [item for item in listed if isinstance(item, dict)]
    return [body] if body else []


def _shape_name(body: Any, saved: list[dict[str, Any]]) -> str:
    """A short description of an answer's shape, for the log and RequestStats.answer_shapes."""
    if body is None:
        return "no JSON body"
    if isinstance(body, list):
        return f"an array of {len(saved)} records"
    if isinstance(body, dict):
        return "one object" if saved else "an empty object"
    return f"a bare {type(body).__name__}"


def _records_in(items: list[Any], operation: str) -> list[dict[str, Any]]:
    if not all(isinstance(item, dict) for item in items):
        raise shape_error(operation, "a list entry is not a record object")
    return items


_STRICT_JSON = msgspec.json.Decoder()
_UTF8_NAMES = frozenset({"utf-8", "utf8"})


def _json_or_none(response: requests.Response) -> Any:
    """The JSON body, or None when it is empty, HTML or not JSON.

    Why msgspec first: reading save answers with the standard library cost about 0.2 s of CPU in a first
    sync of 10,000 invoices (bench/sync_bench.py), several times what msgspec takes.
    Where msgspec reads a body it gives the values ``json.loads`` gives; what it refuses (a byte-order mark,
    NaN, a lone surrogate, a number too large for a float), and a body in another declared charset, is read
    by ``response.json()`` as before.
    """
    content_type = response.headers.get("Content-Type", "").lower()
    if "html" in content_type or not response.content.strip():
        return None
    if (response.encoding or "utf-8").lower().replace("_", "-") in _UTF8_NAMES:
        try:
            return _STRICT_JSON.decode(response.content)
        except msgspec.MsgspecError:
            pass  # not strict UTF-8 JSON (a BOM, NaN, bad bytes...): requests' own reading decides
    try:
        return response.json()
    except ValueError:
        return None

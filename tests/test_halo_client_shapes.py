"""HaloClient against answers the sandbox does not give: older/odd Halo builds and things that are not Halo.

A small scripted HTTP server on 127.0.0.1 (real sockets, real HTTP) plays those servers: no /api/authinfo
(fallback to {base}/auth), bare JSON arrays instead of {record_count, list}, a server that ignores paging, a
web page where JSON belongs, a login redirect.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import pytest

from core.errors import ConfigError, TransientError
from halo.client import HaloClient, HaloConnection, RetryPolicy

Route = Callable[[dict[str, str]], tuple[int, dict[str, str], bytes]]
RECORDS = [{"id": n, "name": f"Customer {n}"} for n in range(1, 26)]


def as_json(status: int, body: object) -> tuple[int, dict[str, str], bytes]:
    return status, {"Content-Type": "application/json"}, json.dumps(body).encode()


def token_route(query: dict[str, str]) -> tuple[int, dict[str, str], bytes]:
    return as_json(200, {"access_token": "scripted-token-value", "token_type": "Bearer", "expires_in": 3600})


class ScriptedHalo(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, routes: dict[tuple[str, str], Route]) -> None:
        self.routes = routes
        self.seen: list[tuple[str, str, dict[str, str]]] = []
        super().__init__(("127.0.0.1", 0), _ScriptedHandler)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class _ScriptedHandler(BaseHTTPRequestHandler):
    server: ScriptedHalo
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: object) -> None:  # quiet
        pass

    def _answer(self, method: str) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        parts = urlsplit(self.path)
        query = {key: values[-1] for key, values in parse_qs(parts.query).items()}
        self.server.seen.append((method, parts.path, query))
        route = self.server.routes.get((method, parts.path))
        status, headers, body = route(query) if route else as_json(404, {"error": "not here"})
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        self._answer("GET")

    def do_POST(self) -> None:
        self._answer("POST")


@pytest.fixture
def scripted_halo() -> Iterator[Callable[[dict[tuple[str, str], Route]], ScriptedHalo]]:
    servers: list[ScriptedHalo] = []

    def start(routes: dict[tuple[str, str], Route]) -> ScriptedHalo:
        server = ScriptedHalo(routes)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


def client_for(server: ScriptedHalo, **options: object) -> HaloClient:
    return HaloClient(HaloConnection(server.url, client_id="cid"), "scripted-secret-value", **options)


def test_without_authinfo_the_token_comes_from_base_auth(scripted_halo):
    server = scripted_halo({("POST", "/auth/token"): token_route})
    with client_for(server) as client:
        client.sign_in()
    assert [(m, p) for m, p, _ in server.seen] == [("GET", "/api/authinfo"), ("POST", "/auth/token")]


def test_neither_authinfo_nor_auth_means_no_halo_api_here(scripted_halo):
    server = scripted_halo({})
    with client_for(server) as client, pytest.raises(ConfigError) as caught:
        client.sign_in()
    assert caught.value.message == f"No Halo API at {server.url}."
    assert "resource server URL" in caught.value.action


def test_a_web_page_at_authinfo_is_a_config_error(scripted_halo):
    page = (200, {"Content-Type": "text/html"}, b"<html><body>Welcome to our website</body></html>")
    server = scripted_halo({("GET", "/api/authinfo"): lambda q: page})
    with client_for(server) as client, pytest.raises(ConfigError, match="web page, not the Halo API"):
        client.sign_in()


def test_a_login_redirect_is_a_config_error_and_is_not_followed(scripted_halo):
    redirect = (302, {"Location": "https://login.example.com/sso"}, b"")
    server = scripted_halo({("GET", "/api/authinfo"): lambda q: redirect})
    with client_for(server) as client, pytest.raises(ConfigError, match=r"login\.example\.com"):
        client.sign_in()
    assert len(server.seen) == 1


def test_bare_arrays_are_paged_until_a_short_page(scripted_halo):
    def bare_pages(query: dict[str, str]) -> tuple[int, dict[str, str], bytes]:
        size, number = int(query["page_size"]), int(query["page_no"])
        return as_json(200, RECORDS[(number - 1) * size : number * size])

    server = scripted_halo({("POST", "/auth/token"): token_route, ("GET", "/api/Client"): bare_pages})
    with client_for(server) as client:
        assert [r["id"] for r in client.iter_records("Client", page_size=10)] == [r["id"] for r in RECORDS]
    assert sum(1 for m, p, _ in server.seen if p == "/api/Client") == 3


def test_a_bare_array_that_ignores_paging_is_read_once(scripted_halo):
    everything = lambda q: as_json(200, RECORDS[:10])  # noqa: E731 - exactly one page size, every time
    server = scripted_halo({("POST", "/auth/token"): token_route, ("GET", "/api/Item"): everything})
    with client_for(server) as client:
        assert len(list(client.iter_records("Item", page_size=10))) == 10


def test_a_paged_object_that_repeats_its_page_is_an_error_not_duplicates(scripted_halo):
    same_page = lambda q: as_json(200, {"record_count": 25, "clients": RECORDS[:10]})  # noqa: E731
    server = scripted_halo({("POST", "/auth/token"): token_route, ("GET", "/api/Client"): same_page})
    seen: list[dict] = []
    with client_for(server) as client, pytest.raises(TransientError, match="expected form"):
        seen.extend(client.iter_records("Client", page_size=10))
    assert len(seen) == 10


def test_an_unknown_list_key_is_found_when_it_is_the_only_list(scripted_halo):
    odd_key = lambda q: as_json(200, {"record_count": 2, "tax_rates": RECORDS[:2]})  # noqa: E731
    server = scripted_halo({("POST", "/auth/token"): token_route, ("GET", "/api/Tax"): odd_key})
    with client_for(server) as client:
        assert len(list(client.iter_records("Tax"))) == 2


def test_json_of_the_wrong_shape_is_transient_with_detail(scripted_halo):
    wrong = lambda q: as_json(200, {"record_count": "many"})  # noqa: E731
    server = scripted_halo({("POST", "/auth/token"): token_route, ("GET", "/api/Client"): wrong})
    with client_for(server) as client, pytest.raises(TransientError) as caught:
        list(client.iter_records("Client"))
    assert "record_count" in caught.value.detail


@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        ([{"id": 1, "accountsid": "B"}, {"id": 2, "accountsid": "A"}], 2),  # an array, any order
        ({"id": 1, "accountsid": "A"}, 1),  # one object for a two-record POST
        ([{"id": 1}], 1),  # fewer records than sent
        ({"clients": [{"id": 1}, {"id": 2}]}, 2),  # a wrapper holding the list
        (True, 0),
        ({}, 0),
        (None, 0),  # an empty body
    ],
)
def test_a_save_answer_of_any_shape_is_returned_never_raised(scripted_halo, answer, expected):
    """Issue 10 changed this (it raised "not in the expected form"): the engine pairs records by key."""
    body = b"" if answer is None else json.dumps(answer).encode()
    route = lambda q: (201, {"Content-Type": "application/json"}, body)  # noqa: E731
    server = scripted_halo({("POST", "/auth/token"): token_route, ("POST", "/api/Client"): route})
    with client_for(server) as client:
        saved = client.save("Client", [{"name": "A", "accountsid": "A"}, {"name": "B", "accountsid": "B"}])
        assert len(saved) == expected and all(isinstance(record, dict) for record in saved)
        if not isinstance(answer, list):
            assert sum(client.stats.answer_shapes.values()) == 1
    assert sum(1 for m, p, _ in server.seen if (m, p) == ("POST", "/api/Client")) == 1


def test_a_token_answer_without_a_token_is_transient(scripted_halo):
    server = scripted_halo({("POST", "/auth/token"): lambda q: as_json(200, {"hello": "world"})})
    with client_for(server, retry=RetryPolicy(max_attempts=1)) as client, pytest.raises(TransientError):
        client.sign_in()

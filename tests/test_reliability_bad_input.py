"""Bad input: malformed Halo answers over real HTTP become clear errors; garbage after a POST is never linked.

A tiny HTTP server on 127.0.0.1 (http.server in a thread, real sockets) signs the client in like Halo and then
answers the API with whatever the test sets: HTML error pages, empty bodies, wrong JSON types, truncated JSON,
a list where an object is expected, a lying record_count. Hypothesis generates the answers. The client must
turn each into a LedgerBridgeError (TransientError / ConfigError / RecordError / AuthError) with a message —
never a raw KeyError/TypeError/JSONDecodeError — and a create whose answer is garbage must be reported as
possibly written (so the engine looks it up instead of resending). At engine level the same garbage must leave
no link in the state store, so nothing unconfirmed is treated as a success.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core.errors import LedgerBridgeError, TransientError
from halo.client import HaloClient, HaloConnection, RetryPolicy

NO_WAIT = RetryPolicy(max_attempts=2, base_delay=0.0, max_delay=0.0, max_retry_after=0.0)


@dataclass
class Answer:
    status: int = 200
    body: bytes = b"[]"
    content_type: str = "application/json"


@dataclass
class Script:
    """What the tiny Halo answers to /api/<resource> (GET and POST), and what it was asked."""

    get: Answer = field(default_factory=Answer)
    post: Answer = field(default_factory=Answer)
    paged: dict[int, Answer] = field(default_factory=dict)  # page_no -> answer, overrides ``get``
    requests: list[tuple[str, str]] = field(default_factory=list)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _TinyHalo

    def log_message(self, format: str, *args: Any) -> None:  # keep pytest's output clean
        pass

    def _reply(self, answer: Answer) -> None:
        self.send_response(answer.status)
        self.send_header("Content-Type", answer.content_type)
        self.send_header("Content-Length", str(len(answer.body)))
        self.end_headers()
        self.wfile.write(answer.body)

    def do_GET(self) -> None:
        parts = urlsplit(self.path)
        script = self.server.script
        script.requests.append(("GET", parts.path))
        if parts.path == "/api/authinfo":
            self._reply(Answer(body=json.dumps({"auth_url": f"{self.server.url}/auth"}).encode()))
            return
        page = int(parse_qs(parts.query).get("page_no", ["1"])[0])
        self._reply(script.paged.get(page, script.get))

    def do_POST(self) -> None:
        parts = urlsplit(self.path)
        length = int(self.headers.get("Content-Length", "0") or 0)
        self.rfile.read(length)
        script = self.server.script
        script.requests.append(("POST", parts.path))
        if parts.path == "/auth/token":
            token = {"access_token": "tiny-token-0123456789", "token_type": "Bearer", "expires_in": 3600}
            self._reply(Answer(body=json.dumps(token).encode()))
            return
        self._reply(script.post)


class _TinyHalo(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.script = Script()
        self.url = f"http://127.0.0.1:{self.server_address[1]}"


@pytest.fixture(scope="module")
def tiny_halo() -> Iterator[_TinyHalo]:
    server = _TinyHalo()
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def _client(server: _TinyHalo) -> HaloClient:
    return HaloClient(
        HaloConnection(resource_server=server.url, client_id="tiny", batch_size=5),
        "s3cret-tiny-value",
        retry=NO_WAIT,
    )


# --- the garbage -------------------------------------------------------------------------------------------

HTML_PAGES = st.sampled_from(
    [
        b"<!DOCTYPE html><html><body><h1>502 Bad Gateway</h1></body></html>",
        b"<html><head><title>Login</title></head><body>Please sign in</body></html>",
        b"",
    ]
)
JSON_SCALARS = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), st.text(max_size=20)
)
WRONG_JSON = st.one_of(
    JSON_SCALARS,
    st.lists(JSON_SCALARS, max_size=4),
    st.dictionaries(st.text(max_size=8), JSON_SCALARS, max_size=4),
    st.fixed_dictionaries({"record_count": st.one_of(st.text(), st.floats(), st.integers(max_value=-1))}),
)
RECORDS = st.lists(
    st.fixed_dictionaries({"id": st.integers(1, 10**6), "name": st.text(max_size=10)}), min_size=1, max_size=4
)


@st.composite
def garbage(draw: st.DrawFn) -> Answer:
    """One malformed answer: HTML, empty, wrong JSON types, or JSON cut short."""
    kind = draw(st.sampled_from(["html", "wrong_json", "truncated"]))
    status = draw(st.sampled_from([200, 201, 500, 502, 503]))
    if kind == "html":
        return Answer(status, draw(HTML_PAGES), draw(st.sampled_from(["text/html", "application/json"])))
    if kind == "wrong_json":
        return Answer(status, json.dumps(draw(WRONG_JSON)).encode())
    whole = json.dumps(draw(RECORDS)).encode()
    cut = draw(st.integers(1, len(whole) - 1))
    return Answer(status, whole[:cut])


HYPOTHESIS = settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


def _assert_clear(error: BaseException) -> None:
    assert isinstance(error, LedgerBridgeError), f"raw {type(error).__name__}: {error}"
    assert error.message.strip() and error.action.strip()
    assert "s3cret-tiny-value" not in f"{error} {error.detail} {error!r}"


@HYPOTHESIS
@given(answer=garbage())
def test_a_malformed_list_answer_is_a_clear_error_never_a_raw_exception(tiny_halo, answer):
    tiny_halo.script = Script(get=answer)
    with _client(tiny_halo) as client:
        try:
            records = list(client.iter_records("Client"))
        except Exception as error:
            _assert_clear(error)
        else:  # only a well-formed answer (e.g. an empty list) may be read as records
            assert all(isinstance(r, dict) for r in records)
            assert answer.status < 300


@HYPOTHESIS
@given(answer=garbage())
def test_a_malformed_answer_to_a_create_is_never_resent_blind(tiny_halo, answer):
    """Issue 10 changed this: a 2xx answer of any shape is not an error any more (Halo documents no POST
    body); save returns whatever records it holds, for the engine to pair by key. A failing status still
    raises, as possibly written."""
    tiny_halo.script = Script(post=answer)
    with _client(tiny_halo) as client:
        try:
            saved = client.save("Client", [{"name": "Acme Ltd", "accountsid": "ACME01"}])
        except Exception as error:
            _assert_clear(error)
            assert answer.status >= 300, "a 2xx answer of any shape must not raise"
            if isinstance(error, TransientError):
                assert error.maybe_written, "a create answered with garbage may have been written"
        else:
            assert answer.status < 300
            assert all(isinstance(record, dict) for record in saved)
    posts = [path for method, path in tiny_halo.script.requests if method == "POST" and path == "/api/Client"]
    assert len(posts) == 1, "a create must never be resent blind"


@HYPOTHESIS
@given(records=RECORDS, sent=st.integers(1, 5))
def test_a_create_answered_with_the_wrong_number_of_records_is_returned_as_is(tiny_halo, records, sent):
    """Issue 10 changed this (it raised before): the records come back for the engine to pair by key."""
    tiny_halo.script = Script(post=Answer(200, json.dumps(records).encode()))
    batch = [{"name": f"Customer {n}", "accountsid": f"C{n}"} for n in range(sent)]
    with _client(tiny_halo) as client:
        assert client.save("Client", batch) == records
        assert client.stats.answer_shapes or len(records) == sent


@HYPOTHESIS
@given(records=RECORDS, claimed=st.integers(5, 10**9))
def test_a_lying_record_count_with_a_server_that_ignores_paging_ends_without_duplicates(
    tiny_halo, records, claimed
):
    """record_count says more than there is and every page repeats page 1: the read must still end."""
    unique = {r["id"]: r for r in records}
    body = json.dumps({"record_count": claimed, "clients": list(unique.values())}).encode()
    tiny_halo.script = Script(get=Answer(200, body))
    with _client(tiny_halo) as client:
        try:
            got = []
            for record in client.iter_records("Client", page_size=len(unique)):
                got.append(record["id"])
                assert len(got) <= 50 * len(unique), "the read never ends: the same page again and again"
        except LedgerBridgeError as error:
            _assert_clear(error)
        else:
            assert len(got) == len(set(got)), "the same records were read twice"


@HYPOTHESIS
@given(records=RECORDS, claimed=st.integers(0, 200))
def test_a_record_count_smaller_than_the_page_still_returns_the_page(tiny_halo, records, claimed):
    body = json.dumps({"record_count": claimed, "clients": records}).encode()
    tiny_halo.script = Script(
        get=Answer(200, body), paged={2: Answer(200, b'{"record_count": 0, "clients": []}')}
    )
    with _client(tiny_halo) as client:
        got = list(client.iter_records("Client", page_size=len(records)))
    assert got[: len(records)] == records  # never fewer than Halo actually sent


# --- engine level: garbage after a POST is never linked -----------------------------------------------------

ENGINE_GARBAGE = {
    "html_200": Answer(200, b"<html><body>Service temporarily unavailable</body></html>", "text/html"),
    "empty_201": Answer(201, b""),
    "truncated_201": Answer(201, b'[{"id": 17, "name": "Standard'),
    "object_not_list_201": Answer(201, b'{"id": 17, "name": "Standard"}'),
    "wrong_count_201": Answer(
        201, b'[{"id": 17}, {"id": 18}, {"id": 19}, {"id": 20}, {"id": 21}, {"id": 22}]'
    ),
    "records_without_ids_200": Answer(200, b"[{}, {}, {}]"),
}


@pytest.mark.parametrize("kind", sorted(ENGINE_GARBAGE))
def test_an_engine_batch_answered_with_garbage_is_not_linked(tiny_halo, sage_company, kind):
    """Issue 10 changed the run's ending: a 2xx answer that shows none of the records is looked up, and each
    record Halo cannot show becomes its own problem (never resent, never linked); the run goes on."""
    tiny_halo.script = Script(get=Answer(200, b"[]"), post=ENGINE_GARBAGE[kind])
    sage_company.settings.halo.resource_server = tiny_halo.url
    sage_company.settings.halo.client_id = "tiny"
    summary = sage_company.run()
    assert summary.status == "partial" and summary.exit_code == 1
    with sage_company.state() as state:
        for entity in ("tax_rates", "customers", "sites", "items", "invoices", "payments"):
            assert state.links(entity) == {}, f"{entity} linked to an answer that confirmed nothing"
        unseen = [p for p in state.problems() if p.message.startswith("Halo accepted")]
    assert unseen and all("looks it up by accounts ID" in p.action for p in unseen)
    posts = [
        path for method, path in tiny_halo.script.requests if method == "POST" and path.startswith("/api/")
    ]
    lookups = [path for method, path in tiny_halo.script.requests if method == "GET" and path == "/api/Tax"]
    assert posts, "nothing was sent"
    assert len(lookups) >= posts.count("/api/Tax"), "every create answered without records is looked up"
    sent_tax_batches = posts.count("/api/Tax")
    tax_rates = summary.counts["tax_rates"]
    assert sent_tax_batches * sage_company.settings.halo.batch_size >= tax_rates["failed"] > 0

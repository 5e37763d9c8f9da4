"""The one scrubber (core.scrub): one registry, one minimum length, one set of patterns for every user."""

from __future__ import annotations

import json
import logging
import secrets
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs

import pytest

from core.errors import AuthError, ConfigError
from core.scrub import MIN_SECRET_LENGTH, REDACTED, register_secret, scrub, scrub_error
from halo.client import HaloClient, HaloConnection


def test_one_minimum_length_for_registered_and_passed_values():
    short = "x" * (MIN_SECRET_LENGTH - 1)
    enough = secrets.token_hex(MIN_SECRET_LENGTH)[:MIN_SECRET_LENGTH]
    assert scrub(f"a {short} b", [short]) == f"a {short} b"  # would redact ordinary words
    assert scrub(f"a {enough} b", [enough]) == f"a {REDACTED} b"
    register_secret(short)
    assert short in scrub(f"a {short} b")
    registered = "reg-" + secrets.token_hex(8)
    register_secret(registered)
    assert scrub(f"inside{registered}text") == f"inside{REDACTED}text"  # a value, not only a whole word


@pytest.mark.parametrize(
    ("text", "kept"),
    [
        ("HALO_CLIENT_SECRET=abc123xyz", "HALO_CLIENT_SECRET="),
        ("source_password: 'a b c'", "source_password: "),
        ("Authorization: Bearer abc.def-123", "Authorization: Bearer "),
        ("refresh_token=zzz&x=1", "refresh_token="),
        ("DSN=Sage;UID=manager;PWD={p;w};", "DSN=Sage;UID=manager;PWD="),
    ],
)
def test_credential_shapes_are_scrubbed_whatever_their_value(text, kept):
    scrubbed = scrub(text)
    assert scrubbed.startswith(kept + REDACTED)
    assert "abc123xyz" not in scrubbed and "a b c" not in scrubbed and "abc.def" not in scrubbed
    assert "zzz" not in scrubbed and "p;w" not in scrubbed


def test_scrub_error_cleans_every_text_an_error_carries():
    value = "pw-" + secrets.token_hex(6)
    error = ConfigError(f"driver said {value}", action=f"retype {value}", detail=f"echo {value}")
    error.args = (error.message, f"extra {value}", 7)
    same = scrub_error(error, [value])
    assert same is error
    assert value not in f"{error.message} {error.action} {error.detail} {error.args}"
    assert error.args[2] == 7 and str(error) == f"driver said {REDACTED} retype {REDACTED}"


def test_the_halo_logger_scrubs_registered_values_without_the_app_log_set_up(caplog):
    registered = "halo-" + secrets.token_hex(10)
    register_secret(registered)
    with caplog.at_level(logging.INFO, logger="ledgerbridge.halo"):
        logging.getLogger("ledgerbridge.halo").info("server echoed %s and Bearer %s", registered, "tok.en")
    assert registered not in caplog.text and "tok.en" not in caplog.text
    assert f"server echoed {REDACTED} and Bearer {REDACTED}" in caplog.text


class _EchoingTokenService(BaseHTTPRequestHandler):
    """A sign-in service that quotes the form it got in its refusal, as some servers and proxies do."""

    def do_POST(self) -> None:
        form = parse_qs(self.rfile.read(int(self.headers["Content-Length"])).decode())
        body = json.dumps(
            {
                "error": "invalid_client",
                "error_description": f"client_secret {form['client_secret'][0]} unknown",
            }
        ).encode()
        self.send_response(401)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


def test_a_refused_sign_in_never_quotes_the_secret_sent():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _EchoingTokenService)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{server.server_address[1]}"
    wrong = "not-the-secret-" + secrets.token_hex(4)
    client = HaloClient(HaloConnection(url, auth_server=url, client_id="cid"), wrong)
    try:
        with pytest.raises(AuthError) as raised:
            client.sign_in()
    finally:
        client.close()
        server.shutdown()
        server.server_close()
    error = raised.value
    texts = f"{error.message} {error.action} {error.detail} {error.args}"
    assert REDACTED in texts  # the server's words reached the error, with the secret taken out
    assert wrong not in texts

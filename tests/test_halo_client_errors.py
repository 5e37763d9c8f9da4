"""Halo error mapping, Retry-After parsing, URL rules and back-off arithmetic (no server needed).

The responses are real ``requests.Response`` objects filled the way requests fills them from the wire; the
mapping is a pure function of status, headers and body, so no server is needed to exercise every branch.
"""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest
import requests

from core.errors import AuthError, ConfigError, RecordError, TransientError
from core.scrub import scrub
from halo.auth import AccessToken, normalise_server_url, token_from_json, token_url
from halo.client import HaloClient, HaloConnection, RetryPolicy
from halo.errors import HaloRecordError, error_from_response
from halo.retry import parse_retry_after
from sync.halo_connection import halo_connection
from sync.settings import HaloSettings


def response(
    status: int,
    body: object = None,
    *,
    method: str = "GET",
    url: str = "https://acme.halopsa.com/api/Client",
    headers: dict[str, str] | None = None,
    raw: bytes | None = None,
) -> requests.Response:
    result = requests.Response()
    result.status_code = status
    result._content = raw if raw is not None else (b"" if body is None else json.dumps(body).encode())
    result.headers.update({"Content-Type": "application/json", **(headers or {})})
    result.url = url
    result.request = requests.Request(method, url).prepare()
    return result


HTML = b"<!DOCTYPE html><html><body><h1>Bad gateway</h1></body></html>"


def test_400_with_record_index_and_field_is_a_record_error_naming_the_field():
    error = error_from_response(
        response(
            400,
            {"error": "Record 2: unknown field 'colour'", "record_index": 2, "field": "colour"},
            method="POST",
        ),
        operation="saving customers",
    )
    assert isinstance(error, HaloRecordError) and isinstance(error, RecordError)
    assert error.field == "colour" and error.record_index == 2
    assert "colour" in str(error) and error.action


def test_400_with_a_bare_json_string_keeps_the_servers_words():
    error = error_from_response(
        response(400, "Invoice number already used", method="POST"), operation="saving"
    )
    assert isinstance(error, RecordError)
    assert error.message == "Invoice number already used."


def test_invalid_client_is_an_auth_error_with_the_agreed_words():
    error = error_from_response(
        response(401, {"error": "invalid_client"}, method="POST", url="https://acme.halopsa.com/auth/token"),
        operation="signing in",
    )
    assert isinstance(error, AuthError)
    assert error.message == "The client ID or secret was rejected by Halo."
    assert "Settings > Halo" in error.action and "create a new one" in error.action


def test_unknown_tenant_is_a_config_error_naming_the_tenant_setting():
    error = error_from_response(
        response(
            400,
            {"error": "invalid_request", "error_description": "Unknown tenant 'acmee'"},
            method="POST",
            url="https://acme.halopsa.com/auth/token?tenant=acmee",
        ),
        operation="signing in",
    )
    assert isinstance(error, ConfigError)
    assert "tenant" in error.message.lower() and "Tenant" in error.action


def test_invalid_scope_is_a_config_error_about_the_scope():
    error = error_from_response(
        response(400, {"error": "invalid_scope"}, method="POST", url="https://h.example/auth/token"),
        operation="signing in",
    )
    assert isinstance(error, ConfigError) and "scope" in str(error)


@pytest.mark.parametrize(
    ("method", "path", "permission"),
    [
        ("POST", "/api/Client", "edit:customers"),
        ("GET", "/api/Item", "read:items"),
        ("POST", "/api/InvoicePayment", "edit:invoices"),
        ("POST", "/api/Tax", "admin"),
        ("GET", "/api/Supplier", "read:suppliers"),
    ],
)
def test_403_names_the_missing_permission(method, path, permission):
    error = error_from_response(
        response(403, {"message": "Forbidden"}, method=method, url=f"https://h.example{path}"),
        operation="saving",
    )
    assert isinstance(error, AuthError)
    assert f"'{permission}'" in error.action


def test_404_on_a_collection_is_a_config_error_and_on_a_record_a_record_error():
    base = error_from_response(
        response(404, url="https://h.example/api/Client"), operation="reading customers"
    )
    assert isinstance(base, ConfigError) and "No Halo API at https://h.example" in base.message
    info = error_from_response(response(404, url="https://h.example/api/authinfo"), operation="looking up")
    assert isinstance(info, ConfigError)
    record = error_from_response(response(404, url="https://h.example/api/Client/42"), operation="reading")
    assert isinstance(record, RecordError)


def test_429_carries_retry_after_seconds_and_http_date():
    seconds = error_from_response(response(429, headers={"Retry-After": "7"}), operation="reading")
    assert isinstance(seconds, TransientError) and seconds.retry_after == 7
    when = datetime.now(UTC) + timedelta(seconds=120)
    dated = error_from_response(
        response(429, headers={"Retry-After": format_datetime(when, usegmt=True)}), operation="r"
    )
    assert isinstance(dated, TransientError) and 100 < dated.retry_after <= 120


@pytest.mark.parametrize("status", [408, 500, 502, 503, 504])
def test_timeouts_and_5xx_are_transient(status):
    assert isinstance(error_from_response(response(status, {"x": 1}), operation="reading"), TransientError)


def test_an_html_error_page_is_transient_and_says_so():
    error = error_from_response(
        response(502, raw=HTML, headers={"Content-Type": "text/html"}), operation="reading customers"
    )
    assert isinstance(error, TransientError) and "error page" in error.message


def test_a_web_page_where_json_was_expected_is_a_config_error():
    error = error_from_response(
        response(200, raw=HTML, headers={"Content-Type": "text/html; charset=utf-8"}),
        operation="reading customers",
    )
    assert isinstance(error, ConfigError)
    assert "web page, not the Halo API" in error.message and "resource server URL" in error.action


def test_an_empty_200_is_a_config_error_and_unreadable_json_is_transient():
    assert isinstance(error_from_response(response(200, raw=b""), operation="reading"), ConfigError)
    assert isinstance(
        error_from_response(response(200, raw=b"{not json"), operation="reading"), TransientError
    )


def test_a_redirect_is_a_config_error_naming_where_it_went():
    error = error_from_response(
        response(302, headers={"Location": "https://login.example/sso?next=/api"}), operation="reading"
    )
    assert isinstance(error, ConfigError) and "https://login.example/sso" in error.message


# --- Retry-After and back-off ----------


def test_parse_retry_after_forms():
    now = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
    assert parse_retry_after("30", now=now) == 30
    assert parse_retry_after(" 1.5 ", now=now) == 1.5
    assert parse_retry_after("Thu, 01 Jan 2026 12:00:45 GMT", now=now) == 45
    assert parse_retry_after("Thu, 01 Jan 2026 11:00:00 GMT", now=now) == 0
    assert parse_retry_after("-5", now=now) == 0
    assert parse_retry_after("soon", now=now) is None
    assert parse_retry_after(None) is None and parse_retry_after("") is None


def test_backoff_is_full_jitter_under_an_exponential_ceiling():
    policy = RetryPolicy(base_delay=0.5, max_delay=4.0)
    rng = random.Random(1)
    for retry_number, ceiling in [(0, 0.5), (1, 1.0), (2, 2.0), (3, 4.0), (8, 4.0)]:
        waits = [policy.backoff(retry_number, rng) for _ in range(200)]
        assert all(0 <= w <= ceiling for w in waits)
        assert max(waits) > ceiling * 0.8 and min(waits) < ceiling * 0.2  # spread over the whole range


def test_retry_policy_refuses_nonsense():
    with pytest.raises(ValueError):
        RetryPolicy(max_attempts=0)


# --- URLs and tokens ----------


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("https://acme.halopsa.com", "https://acme.halopsa.com"),
        ("https://acme.halopsa.com/", "https://acme.halopsa.com"),
        ("https://acme.halopsa.com/api", "https://acme.halopsa.com"),
        ("https://acme.halopsa.com/API/", "https://acme.halopsa.com"),
        ("acme.halopsa.com", "https://acme.halopsa.com"),
        ("https://halo.example.org/halo/api", "https://halo.example.org/halo"),
        ("http://127.0.0.1:8080/api", "http://127.0.0.1:8080"),
        ("http://localhost:1234", "http://localhost:1234"),
        ("http://[::1]:1234", "http://[::1]:1234"),
    ],
)
def test_resource_server_is_normalised(given, expected):
    assert normalise_server_url(given, setting="resource server", strip_suffix="/api") == expected


@pytest.mark.parametrize(
    "url", ["http://acme.halopsa.com", "http://10.0.0.5/api", "ftp://acme.halopsa.com", ""]
)
def test_plain_http_off_this_pc_and_non_web_urls_are_refused(url):
    with pytest.raises(ConfigError) as caught:
        HaloClient(HaloConnection(url, client_id="id"), "a-secret-value")
    assert caught.value.action


def test_plain_http_error_explains_why():
    with pytest.raises(ConfigError, match="unencrypted"):
        HaloClient(HaloConnection("http://acme.halopsa.com", client_id="id"), "a-secret-value")


def test_token_url_adds_tenant_only_when_set():
    assert token_url("https://h.example/auth/", "") == ("https://h.example/auth/token", {})
    assert token_url("https://h.example/auth/token", "acme") == (
        "https://h.example/auth/token",
        {"tenant": "acme"},
    )


def test_token_renewal_margin():
    hour = AccessToken(value="t", lifetime=3600, obtained_at=0)
    assert hour.renew_at == 3600 - 360  # 10% beats 60 s
    ten_minutes = AccessToken(value="t", lifetime=600, obtained_at=0)
    assert ten_minutes.renew_at == 540  # 60 s beats 10%
    short = AccessToken(value="t", lifetime=4, obtained_at=100)
    assert short.renew_at == 102  # never earlier than half-way
    assert not hour.needs_renewal(3239) and hour.needs_renewal(3240)
    assert "t'" not in repr(hour) and "value" not in repr(hour)


def test_token_from_json_rejects_non_tokens():
    assert token_from_json({"access_token": "abc", "expires_in": "120"}, now=0).lifetime == 120
    assert token_from_json({"access_token": "abc"}, now=0).lifetime == 3600
    assert token_from_json({"token_type": "Bearer"}, now=0) is None
    assert token_from_json({"access_token": "abc", "token_type": "mac"}, now=0) is None
    assert token_from_json(["abc"], now=0) is None


def test_connection_from_settings_and_repr_hides_the_secret():
    settings = HaloSettings(
        resource_server="https://acme.halopsa.com/api", client_id="cid", tenant="acme", page_size=50
    )
    conn = halo_connection(settings)
    assert conn.base_url == "https://acme.halopsa.com" and conn.page_size == 50 and conn.tenant == "acme"
    client = HaloClient(conn, "Sup3r-Secret-Value-123")
    try:
        assert "Sup3r-Secret-Value-123" not in repr(client)
        assert "Sup3r-Secret-Value-123" not in repr(client.__dict__.get("conn"))
    finally:
        client.close()


def test_scrub_removes_values_and_secret_shapes():
    text = "Authorization: Bearer abc.def-123 client_secret=hunter2hunter2&x=1 token Sup3r-Secret-Value-123"
    scrubbed = scrub(text, ["Sup3r-Secret-Value-123"])
    assert "abc.def-123" not in scrubbed and "hunter2hunter2" not in scrubbed
    assert "Sup3r-Secret-Value-123" not in scrubbed and "x=1" in scrubbed

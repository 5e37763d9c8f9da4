"""HaloClient against the Halo sandbox over real HTTP on 127.0.0.1: sign-in, paging, saves, retries, faults.

Nothing is mocked: the sandbox is a real HTTP server with real tokens and switchable faults. The only
injection is the client's ``sleep`` (records the waits so tests need not sit through back-off) and, in one
test, its ``clock`` (to reach a token's renewal point without waiting an hour).
"""

from __future__ import annotations

import logging
import time

import pytest

from core.errors import AuthError, ConfigError, RecordError, TransientError
from halo.client import HaloClient, HaloConnection, RetryPolicy
from halo.errors import HaloRecordError
from halo.sandbox.server import HaloSandbox


def seed_clients(sandbox: HaloSandbox, count: int) -> list[int]:
    return [
        sandbox.seed("Client", {"name": f"Customer {n:04d}", "accountsid": f"C{n:04d}"})["id"]
        for n in range(count)
    ]


# --- sign-in ----------


@pytest.mark.parametrize("suffix", ["", "/", "/api", "/api/"])
def test_sign_in_discovers_the_auth_server_through_authinfo(halo_sandbox, make_halo_client, suffix):
    client = make_halo_client(halo_sandbox, resource_server=halo_sandbox.url + suffix)
    client.sign_in()
    counts = halo_sandbox.counts()
    assert counts[("GET", "/api/authinfo")] == 1
    assert counts[("POST", "/auth/token")] == 1


def test_sign_in_with_an_explicit_auth_server_skips_discovery(halo_sandbox, make_halo_client):
    client = make_halo_client(halo_sandbox, auth_server=halo_sandbox.url + "/auth")
    client.sign_in()
    assert ("GET", "/api/authinfo") not in halo_sandbox.counts()
    assert halo_sandbox.counts()[("POST", "/auth/token")] == 1


def test_test_connection_signs_in_and_counts_customers(halo_sandbox, make_halo_client):
    seed_clients(halo_sandbox, 3)
    summary = make_halo_client(halo_sandbox).test_connection()
    assert summary == f"Signed in to {halo_sandbox.url}; 3 customers visible."


def test_a_tenant_is_sent_and_a_wrong_one_is_a_config_error(make_halo_client):
    with HaloSandbox(tenant="acme") as sandbox:
        make_halo_client(sandbox, tenant="acme", auth_server=sandbox.url + "/auth").sign_in()
        # Blank tenant with discovery: authinfo's tenant_id is used.
        make_halo_client(sandbox).sign_in()
        wrong = make_halo_client(sandbox, tenant="acmee")
        with pytest.raises(ConfigError) as caught:
            wrong.sign_in()
        assert "tenant" in caught.value.message.lower() and "Tenant" in caught.value.action
        missing = make_halo_client(sandbox, auth_server=sandbox.url + "/auth")
        with pytest.raises(ConfigError, match="tenant"):
            missing.sign_in()


def test_a_wrong_secret_is_an_auth_error_and_is_not_retried(halo_sandbox, make_halo_client):
    client = make_halo_client(halo_sandbox, secret="not-the-right-secret-at-all")
    with pytest.raises(AuthError) as caught:
        client.sign_in()
    assert caught.value.message == "The client ID or secret was rejected by Halo."
    assert caught.value.action.startswith("Re-enter them in Settings > Halo")
    assert halo_sandbox.counts()[("POST", "/auth/token")] == 1


def test_a_wrong_client_id_is_an_auth_error(halo_sandbox, make_halo_client):
    with pytest.raises(AuthError, match="client ID or secret"):
        make_halo_client(halo_sandbox, client_id="someone-else").sign_in()


def test_an_unknown_scope_is_a_config_error(halo_sandbox, make_halo_client):
    with pytest.raises(ConfigError, match="scope"):
        make_halo_client(halo_sandbox, scope="everything").sign_in()


def test_a_missing_secret_is_a_config_error_before_any_request(halo_sandbox, make_halo_client):
    with pytest.raises(ConfigError, match="secret"):
        make_halo_client(halo_sandbox, secret="").sign_in()
    assert halo_sandbox.counts() == {}


def test_a_url_without_halo_is_a_config_error(halo_sandbox, make_halo_client):
    client = make_halo_client(halo_sandbox, resource_server=halo_sandbox.url + "/not-halo")
    with pytest.raises(ConfigError) as caught:
        client.sign_in()
    assert "No Halo API at" in caught.value.message and "resource server" in caught.value.action


def test_nothing_listening_is_transient_naming_the_host(make_halo_client, unused_tcp_port):
    client = HaloClient(
        HaloConnection(f"http://127.0.0.1:{unused_tcp_port}", client_id="id"),
        "some-secret-value",
        retry=RetryPolicy(max_attempts=3),
        sleep=lambda seconds: None,
    )
    with pytest.raises(TransientError) as caught:
        client.sign_in()
    assert "127.0.0.1" in caught.value.message and "resource server URL" in caught.value.action
    assert client.stats.retries["connect"] == 2 and client.stats.requests[("GET", "/api/authinfo")] == 3


# --- tokens ----------


def test_token_is_cached_across_requests(halo_sandbox, make_halo_client):
    client = make_halo_client(halo_sandbox)
    for _ in range(5):
        list(client.iter_records("Client"))
    assert halo_sandbox.counts()[("POST", "/auth/token")] == 1


def test_a_short_lived_token_is_renewed_before_it_expires(halo_sandbox, make_halo_client):
    halo_sandbox.faults.token_lifetime = 2
    client = make_halo_client(halo_sandbox)
    list(client.iter_records("Client"))
    time.sleep(1.2)  # past half the lifetime (the renewal point for very short tokens), before expiry
    list(client.iter_records("Client"))
    assert halo_sandbox.counts()[("POST", "/auth/token")] == 2
    assert client.stats.retries["401"] == 0  # renewed ahead of time, never rejected


def test_renewal_happens_when_under_ten_percent_of_an_hour_is_left(halo_sandbox, make_halo_client):
    now = [1000.0]
    client = make_halo_client(halo_sandbox, clock=lambda: now[0])
    list(client.iter_records("Client"))
    now[0] += 3600 - 361  # 361 s left: more than 10% of 3600
    list(client.iter_records("Client"))
    assert halo_sandbox.counts()[("POST", "/auth/token")] == 1
    now[0] += 2  # 359 s left
    list(client.iter_records("Client"))
    assert halo_sandbox.counts()[("POST", "/auth/token")] == 2


def test_a_401_renews_the_token_once_and_resends(halo_sandbox, make_halo_client):
    seed_clients(halo_sandbox, 2)
    client = make_halo_client(halo_sandbox)
    client.sign_in()
    halo_sandbox.expire_tokens()
    assert len(list(client.iter_records("Client"))) == 2
    assert client.stats.retries["401"] == 1
    assert halo_sandbox.counts()[("POST", "/auth/token")] == 2
    assert halo_sandbox.counts()[("GET", "/api/Client")] == 2


def test_a_create_rejected_with_401_is_resent_once_and_lands_once(halo_sandbox, make_halo_client):
    client = make_halo_client(halo_sandbox)
    client.sign_in()
    halo_sandbox.expire_tokens()
    saved = client.save("Client", [{"name": "After Expiry Ltd", "accountsid": "AE1"}])
    assert saved[0]["id"] > 0
    assert [r["name"] for r in halo_sandbox.records("Client")] == ["After Expiry Ltd"]
    assert halo_sandbox.counts()[("POST", "/api/Client")] == 2


# --- paging ----------


def test_paging_reads_every_record_once_with_a_partial_last_page(halo_sandbox, make_halo_client):
    ids = seed_clients(halo_sandbox, 250)
    client = make_halo_client(halo_sandbox)
    records = list(client.iter_records("Client", page_size=100))
    assert [r["id"] for r in records] == ids
    assert halo_sandbox.counts()[("GET", "/api/Client")] == 3
    assert client.stats.requests[("GET", "/api/Client")] == 3


def test_paging_stops_at_record_count_on_an_exact_multiple(halo_sandbox, make_halo_client):
    seed_clients(halo_sandbox, 40)
    records = list(make_halo_client(halo_sandbox, page_size=20).iter_records("Client"))
    assert len(records) == 40
    assert halo_sandbox.counts()[("GET", "/api/Client")] == 2


def test_an_empty_list_is_one_request(halo_sandbox, make_halo_client):
    assert list(make_halo_client(halo_sandbox).iter_records("Item")) == []
    assert halo_sandbox.counts()[("GET", "/api/Item")] == 1


def test_iter_records_is_lazy_and_passes_filters(halo_sandbox, make_halo_client):
    seed_clients(halo_sandbox, 30)
    halo_sandbox.seed("Client", {"name": "Zebra Crossing Ltd", "accountsid": "Z1"})
    client = make_halo_client(halo_sandbox)
    records = client.iter_records("Client", {"search": "zebra"}, page_size=10)
    assert halo_sandbox.counts() == {}  # a generator: nothing sent until iterated
    assert [r["name"] for r in records] == ["Zebra Crossing Ltd"]


def test_get_record_returns_the_record_or_none(halo_sandbox, make_halo_client):
    (client_id,) = seed_clients(halo_sandbox, 1)
    client = make_halo_client(halo_sandbox)
    assert client.get_record("Client", client_id)["name"] == "Customer 0000"
    assert client.get_record("Client", 999_999) is None


# --- saving ----------


def test_batched_create_then_update(halo_sandbox, make_halo_client):
    client = make_halo_client(halo_sandbox)
    created = client.save("Client", [{"name": f"New {n}", "accountsid": f"N{n}"} for n in range(3)])
    assert [r["name"] for r in created] == ["New 0", "New 1", "New 2"]
    assert all(r["id"] > 0 for r in created)
    updated = client.save("Client", [{"id": r["id"], "name": r["name"] + " Ltd"} for r in created])
    assert [r["id"] for r in updated] == [r["id"] for r in created]
    stored = {r["id"]: r["name"] for r in halo_sandbox.records("Client")}
    assert stored == {r["id"]: r["name"] + " Ltd" for r in created}
    assert halo_sandbox.counts()[("POST", "/api/Client")] == 2


def test_a_batch_larger_than_batch_size_is_refused(halo_sandbox, make_halo_client):
    client = make_halo_client(halo_sandbox, batch_size=2)
    with pytest.raises(ValueError, match="batch size"):
        client.save("Client", [{"name": str(n)} for n in range(3)])
    assert client.save("Client", []) == []
    assert halo_sandbox.counts() == {}


def test_an_unknown_field_is_a_record_error_naming_it(halo_sandbox, make_halo_client):
    client = make_halo_client(halo_sandbox)
    with pytest.raises(RecordError) as caught:
        client.save("Client", [{"name": "Fine Ltd"}, {"name": "Odd Ltd", "favourite_colour": "blue"}])
    error = caught.value
    assert isinstance(error, HaloRecordError)
    assert error.field == "favourite_colour" and error.record_index == 1
    assert "favourite_colour" in error.message
    assert halo_sandbox.records("Client") == []


# --- retries ----------


def test_429_is_retried_after_the_servers_retry_after(halo_sandbox, make_halo_client):
    seed_clients(halo_sandbox, 25)
    waits: list[float] = []

    def sleep(seconds: float) -> None:  # records the wait, and waits for real so the window moves on
        waits.append(seconds)
        time.sleep(seconds)

    client = make_halo_client(halo_sandbox, sleep=sleep, page_size=10)
    client.sign_in()
    halo_sandbox.faults.rate_limit = (2, 1.0)
    assert len(list(client.iter_records("Client"))) == 25
    assert client.stats.retries["429"] >= 1
    assert waits and all(w == 1 for w in waits)  # the sandbox says Retry-After: 1


def test_a_retry_after_beyond_the_cap_is_handed_to_the_caller(halo_sandbox, make_halo_client):
    waits: list[float] = []
    client = make_halo_client(halo_sandbox, sleep=waits.append, retry=RetryPolicy(max_retry_after=5))
    client.sign_in()
    halo_sandbox.faults.rate_limit = (1, 60.0)
    list(client.iter_records("Client"))
    with pytest.raises(TransientError) as caught:
        list(client.iter_records("Client"))
    assert caught.value.retry_after is not None and caught.value.retry_after > 5
    assert waits == []


def test_a_create_hitting_429_is_resent_and_lands_once(halo_sandbox, make_halo_client):
    waits: list[float] = []

    def sleep(seconds: float) -> None:
        waits.append(seconds)
        time.sleep(seconds)

    client = make_halo_client(halo_sandbox, sleep=sleep)
    client.sign_in()
    halo_sandbox.faults.rate_limit = (1, 1.0)
    list(client.iter_records("Client"))  # uses up the window
    saved = client.save("Client", [{"name": "Rate Limited Ltd", "accountsid": "RL1"}])
    assert saved[0]["name"] == "Rate Limited Ltd"
    assert len(halo_sandbox.records("Client")) == 1
    assert halo_sandbox.counts()[("POST", "/api/Client")] == 2
    assert client.stats.retries["429"] == 1 and waits == [1]


def test_5xx_on_reads_is_retried_with_backoff(halo_sandbox, make_halo_client):
    ids = seed_clients(halo_sandbox, 120)
    waits: list[float] = []
    client = make_halo_client(
        halo_sandbox, sleep=waits.append, retry=RetryPolicy(max_attempts=12, base_delay=0.01)
    )
    client.sign_in()
    halo_sandbox.faults.error_rate = 0.5
    assert [r["id"] for r in client.iter_records("Client", page_size=10)] == ids
    assert client.stats.retries["5xx"] > 0 and len(waits) == client.stats.retries["5xx"]
    assert all(0 <= w <= 0.01 * 2**11 for w in waits)


def test_5xx_on_updates_is_retried(halo_sandbox, make_halo_client):
    ids = seed_clients(halo_sandbox, 10)
    client = make_halo_client(halo_sandbox, sleep=lambda s: None, retry=RetryPolicy(max_attempts=12))
    client.sign_in()
    halo_sandbox.faults.error_rate = 0.5
    for _ in range(4):
        client.save("Client", [{"id": i, "name": f"Updated {i}"} for i in ids])
    assert {r["name"] for r in halo_sandbox.records("Client")} == {f"Updated {i}" for i in ids}
    assert client.stats.retries["5xx"] > 0


def test_html_error_pages_on_reads_are_retried_then_reported(halo_sandbox, make_halo_client):
    client = make_halo_client(halo_sandbox, sleep=lambda s: None, retry=RetryPolicy(max_attempts=3))
    client.sign_in()
    halo_sandbox.faults.html_error_rate = 1.0
    with pytest.raises(TransientError, match="error page"):
        list(client.iter_records("Client"))
    assert client.stats.retries["5xx"] == 2


def test_a_create_hitting_an_error_after_write_is_not_resent(halo_sandbox, make_halo_client):
    client = make_halo_client(halo_sandbox, sleep=lambda s: None)
    client.sign_in()
    halo_sandbox.faults.error_after_write_rate = 1.0
    with pytest.raises(TransientError) as caught:
        client.save("Client", [{"name": "Only Once Ltd", "accountsid": "OO1"}])
    assert caught.value.maybe_written is True
    assert [r["name"] for r in halo_sandbox.records("Client")] == ["Only Once Ltd"]
    assert halo_sandbox.counts()[("POST", "/api/Client")] == 1
    assert sum(client.stats.retries.values()) == 0


def test_a_mixed_batch_counts_as_a_create(halo_sandbox, make_halo_client):
    (existing,) = seed_clients(halo_sandbox, 1)
    client = make_halo_client(halo_sandbox, sleep=lambda s: None)
    client.sign_in()
    halo_sandbox.faults.error_rate = 1.0
    with pytest.raises(TransientError) as caught:
        client.save("Client", [{"id": existing, "name": "Renamed"}, {"name": "Brand New Ltd"}])
    assert caught.value.maybe_written is True
    assert halo_sandbox.counts()[("POST", "/api/Client")] == 1


def test_a_create_on_a_dropped_connection_is_not_resent(halo_sandbox, make_halo_client):
    client = make_halo_client(halo_sandbox, sleep=lambda s: None)
    client.sign_in()
    halo_sandbox.faults.drop_rate = 1.0
    sent = 0
    # Half the drops happen after the commit, half before; keep going until one landed, then check that no
    # create was ever sent twice either way.
    while not halo_sandbox.records("Client") and sent < 30:
        with pytest.raises(TransientError) as caught:
            client.save("Client", [{"name": f"Dropped {sent}", "accountsid": f"D{sent}"}])
        assert caught.value.maybe_written is True
        sent += 1
    assert len(halo_sandbox.records("Client")) == 1
    assert halo_sandbox.counts()[("POST", "/api/Client")] == sent
    assert client.stats.requests[("POST", "/api/Client")] == sent


def test_dropped_connections_on_reads_are_retried(halo_sandbox, make_halo_client):
    ids = seed_clients(halo_sandbox, 60)
    client = make_halo_client(halo_sandbox, sleep=lambda s: None, retry=RetryPolicy(max_attempts=12))
    client.sign_in()
    halo_sandbox.faults.drop_rate = 0.4
    assert [r["id"] for r in client.iter_records("Client", page_size=10)] == ids
    assert client.stats.retries["dropped"] > 0


def test_a_slow_server_is_a_timeout_that_never_resends_a_create(halo_sandbox, make_halo_client):
    client = make_halo_client(halo_sandbox, timeout=0.3, sleep=lambda s: None)
    client.sign_in()
    halo_sandbox.faults.latency = 0.6
    with pytest.raises(TransientError) as caught:
        client.save("Client", [{"name": "Slow Ltd"}])
    assert caught.value.maybe_written is True and "did not answer" in caught.value.message
    assert halo_sandbox.counts()[("POST", "/api/Client")] == 1
    halo_sandbox.faults.latency = 0.0


# --- secrets ----------


def test_no_secret_or_token_in_logs_errors_or_reprs(halo_sandbox, make_halo_client, caplog):
    caplog.set_level(logging.DEBUG)  # root: ledgerbridge.halo, urllib3 and requests all captured
    seed_clients(halo_sandbox, 15)
    client = make_halo_client(halo_sandbox, sleep=lambda s: None, page_size=5)
    tokens: set[str] = set()
    texts: list[str] = [repr(client), str(client.stats)]
    client.test_connection()
    tokens.add(client._token.value)
    halo_sandbox.expire_tokens()
    list(client.iter_records("Client"))  # 401 -> renewal
    tokens.add(client._token.value)
    halo_sandbox.faults.error_after_write_rate = 1.0
    with pytest.raises(TransientError) as transient:
        client.save("Client", [{"name": "Logged Ltd"}])
    halo_sandbox.faults.error_after_write_rate = 0.0
    with pytest.raises(RecordError) as record:
        client.save("Client", [{"name": "Bad", "no_such_field": 1}])
    wrong = make_halo_client(halo_sandbox, secret=halo_sandbox.client_secret[::-1])
    with pytest.raises(AuthError) as auth:
        wrong.sign_in()
    for error in (transient.value, record.value, auth.value):
        texts += [str(error), repr(error), error.detail, error.action]
    texts += [r.getMessage() for r in caplog.records]
    texts += [repr(client), repr(client.conn), repr(client._token)]
    assert len(caplog.records) > 10 and any(r.name.startswith("urllib3") for r in caplog.records)
    secrets = [halo_sandbox.client_secret, halo_sandbox.client_secret[::-1], *tokens]
    for text in texts:
        for secret in secrets:
            assert secret not in text


def test_money_as_decimal_is_sent_as_the_number_it_prints_as(halo_sandbox, make_halo_client):
    from decimal import Decimal

    client = make_halo_client(halo_sandbox)
    (saved,) = client.save(
        "Item", [{"name": "Widget", "baseprice": Decimal("19.99"), "costprice": Decimal("7")}]
    )
    stored = halo_sandbox.records("Item")[0]
    assert stored["baseprice"] == 19.99 and stored["costprice"] == 7 and saved["id"] == stored["id"]

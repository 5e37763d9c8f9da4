"""Each sandbox fault switch really happens, over real HTTP, and never touches the page or /sandbox/*."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from halo.sandbox.server import HaloSandbox


def token_for(sandbox: HaloSandbox) -> str:
    answer = requests.post(
        f"{sandbox.url}/auth/token",
        data={
            "grant_type": "client_credentials",
            "client_id": sandbox.client_id,
            "client_secret": sandbox.client_secret,
            "scope": "all",
        },
        timeout=10,
    )
    assert answer.status_code == 200, answer.text
    return answer.json()["access_token"]


@pytest.fixture
def api(halo_sandbox):
    with requests.Session() as session:
        session.headers["Authorization"] = f"Bearer {token_for(halo_sandbox)}"
        session.url = f"{halo_sandbox.url}/api"
        yield session


def test_rate_limit_answers_429_with_retry_after_then_recovers(api, halo_sandbox) -> None:
    halo_sandbox.faults.rate_limit = (3, 2.0)
    statuses = [api.get(f"{api.url}/Client", timeout=10).status_code for _ in range(3)]
    assert statuses == [200, 200, 200]
    limited = api.get(f"{api.url}/Client", timeout=10)
    assert limited.status_code == 429
    wait = int(limited.headers["Retry-After"])
    assert 1 <= wait <= 2
    time.sleep(wait + 0.05)
    assert api.get(f"{api.url}/Client", timeout=10).status_code == 200


def test_a_rate_limited_post_writes_nothing(api, halo_sandbox) -> None:
    halo_sandbox.faults.rate_limit = (1, 30.0)
    assert api.get(f"{api.url}/Client", timeout=10).status_code == 200
    answer = api.post(f"{api.url}/Client", json=[{"name": "Acme"}], timeout=10)
    assert answer.status_code == 429
    assert int(answer.headers["Retry-After"]) >= 29
    assert halo_sandbox.records("Client") == []


def test_error_rate_answers_a_share_of_requests_with_5xx(api, halo_sandbox) -> None:
    halo_sandbox.faults.error_rate = 0.5
    statuses = [api.get(f"{api.url}/Item", timeout=10).status_code for _ in range(200)]
    failures = [status for status in statuses if status != 200]
    assert set(failures) == {500, 502, 503}
    assert 0.35 <= len(failures) / len(statuses) <= 0.65


def test_errors_before_processing_write_nothing(api, halo_sandbox) -> None:
    halo_sandbox.faults.error_rate = 1.0
    answer = api.post(f"{api.url}/Client", json=[{"name": "Acme"}], timeout=10)
    assert answer.status_code in (500, 502, 503)
    assert halo_sandbox.records("Client") == []


def test_error_after_write_commits_then_answers_500(api, halo_sandbox) -> None:
    halo_sandbox.faults.error_after_write_rate = 1.0
    answer = api.post(f"{api.url}/Client", json=[{"name": "Acme", "accountsid": "A1"}], timeout=10)
    assert answer.status_code == 500
    stored = halo_sandbox.records("Client")
    assert [(c["name"], c["accountsid"]) for c in stored] == [("Acme", "A1")]
    assert api.get(f"{api.url}/Client", timeout=10).status_code == 200  # reads are not affected


def test_error_after_write_only_hits_posts_that_succeed(api, halo_sandbox) -> None:
    halo_sandbox.faults.error_after_write_rate = 1.0
    refused = api.post(f"{api.url}/Client", json=[{"nmae": "typo"}], timeout=10)
    assert refused.status_code == 400


def test_drop_closes_the_connection_without_an_answer(api, halo_sandbox) -> None:
    halo_sandbox.faults.drop_rate = 1.0
    with pytest.raises(requests.ConnectionError):
        api.get(f"{api.url}/Client", timeout=10)


def test_dropped_posts_are_sometimes_committed_first(halo_sandbox) -> None:
    halo_sandbox.faults.drop_rate = 1.0
    token = token_for(halo_sandbox)
    dropped = 0
    for n in range(40):
        with requests.Session() as session:
            try:
                session.post(
                    f"{halo_sandbox.url}/api/Client",
                    json=[{"name": f"Client {n}"}],
                    headers={"Authorization": f"Bearer {token}"},
                    timeout=10,
                )
            except requests.ConnectionError:
                dropped += 1
    assert dropped == 40
    saved = len(halo_sandbox.records("Client"))
    assert 8 <= saved <= 32, saved  # about half were committed before the connection was closed


def test_latency_is_added_to_each_request(api, halo_sandbox) -> None:
    halo_sandbox.faults.latency = 0.3
    started = time.perf_counter()
    assert api.get(f"{api.url}/Client", timeout=10).status_code == 200
    assert time.perf_counter() - started >= 0.3


def test_token_lifetime_sets_expires_in_and_tokens_expire(halo_sandbox) -> None:
    halo_sandbox.faults.token_lifetime = 2
    answer = requests.post(
        f"{halo_sandbox.url}/auth/token",
        data={
            "grant_type": "client_credentials",
            "client_id": halo_sandbox.client_id,
            "client_secret": halo_sandbox.client_secret,
        },
        timeout=10,
    ).json()
    assert answer["expires_in"] == 2
    headers = {"Authorization": f"Bearer {answer['access_token']}"}
    assert requests.get(f"{halo_sandbox.url}/api/Client", headers=headers, timeout=10).status_code == 200
    time.sleep(2.1)
    assert requests.get(f"{halo_sandbox.url}/api/Client", headers=headers, timeout=10).status_code == 401


def test_html_error_rate_answers_like_a_proxy(api, halo_sandbox) -> None:
    halo_sandbox.faults.html_error_rate = 1.0
    answer = api.get(f"{api.url}/Client", timeout=10)
    assert answer.status_code == 502
    assert answer.headers["Content-Type"].startswith("text/html")
    assert "<html>" in answer.text


def test_faults_never_touch_the_page_or_sandbox_endpoints(halo_sandbox) -> None:
    faults = halo_sandbox.faults
    faults.error_rate = faults.drop_rate = faults.html_error_rate = 1.0
    faults.rate_limit = (1, 60.0)
    for _ in range(3):
        assert requests.get(f"{halo_sandbox.url}/", timeout=10).status_code == 200
        assert requests.get(f"{halo_sandbox.url}/sandbox/stats", timeout=10).status_code == 200
    reset = requests.post(
        f"{halo_sandbox.url}/sandbox/faults",
        json={"error_rate": 0, "drop_rate": 0, "html_error_rate": 0, "rate_limit": None},
        timeout=10,
    )
    assert reset.status_code == 200
    assert reset.json()["faults"]["error_rate"] == 0.0


def test_faults_can_be_set_over_http(halo_sandbox) -> None:
    answer = requests.post(
        f"{halo_sandbox.url}/sandbox/faults", json={"rate_limit": [5, 2], "latency": 0.01}, timeout=10
    )
    assert answer.status_code == 200
    assert halo_sandbox.faults.rate_limit == (5, 2.0)
    assert halo_sandbox.faults.latency == 0.01
    for bad in ({"error_rate": 2}, {"no_such_fault": 1}, {"rate_limit": [0, 1]}, [1, 2]):
        refused = requests.post(f"{halo_sandbox.url}/sandbox/faults", json=bad, timeout=10)
        assert refused.status_code == 400, bad
        assert refused.json()["error"]


def test_faults_refuse_changes_from_other_machines(halo_sandbox) -> None:
    # The only way to be another machine in a test is to call the handler with another peer address.
    reply = halo_sandbox.handle("POST", "/sandbox/faults", {}, b'{"error_rate": 1}', "192.0.2.7")
    assert reply.status == 403
    assert halo_sandbox.faults.error_rate == 0.0


def test_same_seed_gives_the_same_faults() -> None:
    def statuses(seed: int) -> list[int]:
        with HaloSandbox(seed=seed).start() as sandbox, requests.Session() as session:
            session.headers["Authorization"] = f"Bearer {token_for(sandbox)}"
            sandbox.faults.error_rate = 0.3
            return [session.get(f"{sandbox.url}/api/Tax", timeout=10).status_code for _ in range(40)]

    assert statuses(7) == statuses(7)
    assert statuses(7) != statuses(8)


def test_counts_per_method_and_path(api, halo_sandbox) -> None:
    halo_sandbox.reset_counts()
    api.post(f"{api.url}/Client", json=[{"name": "A"}], timeout=10)
    api.post(f"{api.url}/Client", json=[{"name": "B"}], timeout=10)
    api.get(f"{api.url}/Client", timeout=10)
    api.get(f"{api.url}/Client/1", timeout=10)
    requests.get(f"{halo_sandbox.url}/", timeout=10)
    assert halo_sandbox.counts() == {
        ("POST", "/api/Client"): 2,
        ("GET", "/api/Client"): 1,
        ("GET", "/api/Client/{id}"): 1,
    }
    stats = requests.get(f"{halo_sandbox.url}/sandbox/stats", timeout=10).json()
    assert stats["requests"]["POST /api/Client"] == 2
    assert stats["records"]["Client"] == 2
    assert stats["records"]["Site"] == 2
    halo_sandbox.reset_counts()
    assert halo_sandbox.counts() == {}


def test_concurrent_posts_get_unique_ids(halo_sandbox) -> None:
    token = token_for(halo_sandbox)

    def create(n: int) -> list[int]:
        with requests.Session() as session:
            answer = session.post(
                f"{halo_sandbox.url}/api/Item",
                json=[{"name": f"Item {n}-{k}"} for k in range(5)],
                headers={"Authorization": f"Bearer {token}"},
                timeout=10,
            )
            assert answer.status_code == 201
            return [item["id"] for item in answer.json()]

    with ThreadPoolExecutor(max_workers=8) as pool:
        ids = [item_id for batch in pool.map(create, range(40)) for item_id in batch]
    assert len(ids) == 200
    assert sorted(ids) == list(range(1, 201))
    assert len(halo_sandbox.records("Item")) == 200

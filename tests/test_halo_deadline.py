"""An overall deadline per request: a server that trickles its answer is cut off at ``timeout`` seconds.

The trickling server is a raw socket on 127.0.0.1 (tests/proxy_halo.TricklingServer): headers at once, then
one byte of body every 0.2 s, so no single socket read ever waits long enough for a per-read timeout.
"""

from __future__ import annotations

import json
import threading
import time

import pytest

from core.errors import TransientError
from halo.client import HaloClient, HaloConnection, RetryPolicy
from tests.proxy_halo import TricklingServer
from tests.test_cli_setup import cli_env, run_cli, write_settings

ONE_TRY = RetryPolicy(max_attempts=1)


@pytest.fixture
def trickling():
    server = TricklingServer(interval=0.2).start()
    yield server
    server.stop()


def _client(url: str, timeout: float, retry: RetryPolicy = ONE_TRY) -> HaloClient:
    connection = HaloConnection(
        resource_server=url, auth_server=url + "/auth", client_id="x", timeout=timeout
    )
    return HaloClient(connection, "secret-value-123", retry=retry)


def test_a_trickled_answer_is_cut_off_at_the_deadline(trickling):
    client = _client(trickling.url, timeout=1.5)
    started = time.monotonic()
    with pytest.raises(TransientError) as caught:
        client.sign_in()
    elapsed = time.monotonic() - started
    client.close()
    assert 1.4 <= elapsed < 3.0, elapsed
    assert "did not answer" in caught.value.message and "1.5 seconds" in caught.value.message


def test_every_retry_has_its_own_deadline_and_the_watchdog_thread_ends_with_the_client(trickling):
    before = threading.active_count()
    client = _client(trickling.url, timeout=0.6, retry=RetryPolicy(max_attempts=3, base_delay=0.0))
    started = time.monotonic()
    with pytest.raises(TransientError):
        client.sign_in()
    elapsed = time.monotonic() - started
    assert trickling.connections == 3  # one connection per attempt, each cut at 0.6 s
    assert 1.7 <= elapsed < 3.5, elapsed
    client.close()
    assert threading.active_count() <= before + 1  # the server's trickle threads end as their sockets shut


def test_a_quick_answer_is_not_disturbed_by_the_watchdog(halo_sandbox, make_halo_client):
    client = make_halo_client(halo_sandbox, timeout=1.0)
    for _ in range(20):
        assert isinstance(list(client.iter_records("Client")), list)
    time.sleep(1.2)  # past the deadline of every request so far: nothing may be cut afterwards
    assert list(client.iter_records("Tax")) == []


def test_the_cli_with_timeout_1_stops_within_the_deadlines_and_says_why(tmp_path, trickling):
    write_settings(
        tmp_path,
        {
            "halo": {"resource_server": trickling.url, "client_id": "x", "timeout_seconds": 1.0},
            "source": {"kind": "demo", "connection_string": str(tmp_path / "none.sqlite3")},
            "app": {"allow_plaintext_secrets": True},
        },
    )
    env = cli_env(tmp_path)
    assert run_cli(env, "secret", "set", "halo.client_secret", stdin="secret-value-123\n").returncode == 0
    started = time.monotonic()
    result = run_cli(env, "sync", "--json")
    elapsed = time.monotonic() - started
    assert result.returncode == 2, result.stdout + result.stderr
    assert "did not answer" in json.loads(result.stdout)["error"]
    attempts = trickling.connections
    # Each attempt ends at its 1 s deadline; the default policy waits at most ~16 s in back-off in all.
    assert elapsed < attempts * 1.0 + 20, (elapsed, attempts)
    print(f"CLI against a trickling server, timeout 1 s: {attempts} attempts, {elapsed:.1f} s")

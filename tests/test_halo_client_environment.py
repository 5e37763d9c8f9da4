"""What the client takes from the PC's environment, against the real sandbox on 127.0.0.1.

requests reads the environment on every request unless told not to: the proxy variables (and on Windows the
system's proxy settings) and ~/.netrc. The client reads the proxies once per server and never the .netrc,
whose entry for a host replaces an Authorization header the caller set (requests' documentation,
"Authentication": "the netrc file overrides raw HTTP authentication headers set with headers=").
"""

from __future__ import annotations

import socket

import pytest

from core.errors import TransientError
from halo.client import HaloClient, HaloConnection, RetryPolicy


@pytest.fixture
def clean_environment(monkeypatch):
    for name in ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
    for name in ("NO_PROXY", "no_proxy", "NETRC"):
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


def _nothing_listening() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _client(halo_sandbox) -> HaloClient:
    return HaloClient(
        HaloConnection(halo_sandbox.url, client_id=halo_sandbox.client_id), halo_sandbox.client_secret
    )


def test_a_netrc_entry_for_the_halo_host_does_not_replace_the_bearer_token(
    halo_sandbox, clean_environment, tmp_path
):
    netrc = tmp_path / "netrc"
    netrc.write_text("machine 127.0.0.1 login technician password from-curl-days\n", encoding="utf-8")
    netrc.chmod(0o600)
    clean_environment.setenv("NETRC", str(netrc))
    with _client(halo_sandbox) as client:
        client.sign_in()
        assert (
            list(client.iter_records("Tax")) == []
        )  # the sandbox answers 401 to anything but its bearer token


def test_a_host_the_environment_sends_direct_is_not_sent_to_its_proxy(halo_sandbox, clean_environment):
    clean_environment.setenv("HTTP_PROXY", f"http://127.0.0.1:{_nothing_listening()}")  # nothing there
    clean_environment.setenv("NO_PROXY", "127.0.0.1")
    with _client(halo_sandbox) as client:
        client.sign_in()
        assert list(client.iter_records("Tax")) == []


def test_the_environments_proxy_is_used_when_the_host_is_not_excluded(halo_sandbox, clean_environment):
    clean_environment.setenv("HTTP_PROXY", f"http://127.0.0.1:{_nothing_listening()}")  # nothing there
    client = HaloClient(
        HaloConnection(halo_sandbox.url, client_id=halo_sandbox.client_id),
        halo_sandbox.client_secret,
        retry=RetryPolicy(max_attempts=2),
        sleep=lambda seconds: None,
    )
    with client, pytest.raises(TransientError) as caught:
        client.sign_in()
    assert "proxy" in caught.value.message.lower(), caught.value.message

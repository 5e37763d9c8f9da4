"""HaloClient TLS: verified against the OS store (truststore) plus an optional CA file, never switched off.

A real TLS front end on 127.0.0.1 (a self-signed certificate made with ``cryptography``) forwards bytes to the
real Halo sandbox, so the handshake, the verification failure and the extra-CA success are all genuine.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import selectors
import socket
import socketserver
import ssl
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from core.errors import ConfigError, TransientError
from halo.client import HaloClient, HaloConnection, RetryPolicy


def write_self_signed_certificate(folder: Path) -> tuple[Path, Path]:
    """A CA-flagged self-signed certificate for 127.0.0.1/localhost, so it can also serve as a CA bundle."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "LedgerBridge test proxy CA")])
    now = dt.datetime.now(dt.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                key_cert_sign=True,
                crl_sign=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .sign(key, hashes.SHA256())
    )
    cert_path = folder / "test-ca.pem"
    key_path = folder / "test-ca.key"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return cert_path, key_path


class _TLSFront(socketserver.ThreadingTCPServer):
    """Terminates TLS and pipes the plain bytes to the sandbox (like a TLS load balancer in front of Halo)."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, context: ssl.SSLContext, upstream: tuple[str, int]) -> None:
        self.context = context
        self.upstream = upstream
        super().__init__(("127.0.0.1", 0), _Pipe)

    def get_request(self) -> tuple[socket.socket, object]:
        raw, address = self.socket.accept()
        raw.settimeout(10)
        return raw, address


def pipe(one: socket.socket, other: socket.socket) -> None:
    """Copy bytes both ways until either side closes."""
    selector = selectors.DefaultSelector()
    selector.register(one, selectors.EVENT_READ, other)
    selector.register(other, selectors.EVENT_READ, one)
    try:
        while True:
            for key, _ in selector.select(timeout=10):
                try:
                    data = key.fileobj.recv(65536)
                except (ssl.SSLError, OSError):
                    return
                if not data:
                    return
                key.data.sendall(data)
    finally:
        selector.close()


class _Pipe(socketserver.BaseRequestHandler):
    server: _TLSFront

    def handle(self) -> None:
        try:
            secure = self.server.context.wrap_socket(self.request, server_side=True)
        except (ssl.SSLError, OSError):
            return  # the client refused our certificate: exactly what some tests expect
        with secure, socket.create_connection(self.server.upstream, timeout=10) as upstream:
            pipe(secure, upstream)


class _ConnectProxy(socketserver.ThreadingTCPServer):
    """A minimal HTTP CONNECT proxy (like an office proxy); remembers which host:port each tunnel went to."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self) -> None:
        self.tunnels: list[str] = []
        super().__init__(("127.0.0.1", 0), _Tunnel)


class _Tunnel(socketserver.StreamRequestHandler):
    server: _ConnectProxy

    def handle(self) -> None:
        request_line = self.rfile.readline(8192).decode("latin-1").split()
        while self.rfile.readline(8192) not in (b"\r\n", b"\n", b""):
            pass  # skip the headers
        if len(request_line) < 2 or request_line[0] != "CONNECT":
            self.wfile.write(b"HTTP/1.1 405 Method Not Allowed\r\nContent-Length: 0\r\n\r\n")
            return
        host, _, port = request_line[1].rpartition(":")
        self.server.tunnels.append(request_line[1])
        with socket.create_connection((host, int(port)), timeout=10) as upstream:
            self.wfile.write(b"HTTP/1.1 200 Connection established\r\n\r\n")
            self.wfile.flush()
            pipe(self.connection, upstream)


@pytest.fixture
def tls_certificate(tmp_path) -> tuple[Path, Path]:
    return write_self_signed_certificate(tmp_path)


@pytest.fixture
def tls_front(halo_sandbox, tls_certificate) -> Iterator[str]:
    """https://127.0.0.1:PORT in front of the sandbox, with a certificate no OS store trusts."""
    cert_path, key_path = tls_certificate
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert_path, key_path)
    server = _TLSFront(context, ("127.0.0.1", halo_sandbox.port))
    thread = threading.Thread(target=server.serve_forever, name="tls-front", daemon=True)
    thread.start()
    try:
        yield f"https://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


def test_an_untrusted_certificate_is_a_config_error_and_is_not_retried(halo_sandbox, tls_front):
    client = HaloClient(
        HaloConnection(tls_front, client_id=halo_sandbox.client_id),
        halo_sandbox.client_secret,
        sleep=lambda seconds: None,
    )
    with client, pytest.raises(ConfigError) as caught:
        client.sign_in()
    error = caught.value
    assert "certificate of 127.0.0.1 was not trusted" in error.message
    assert "Windows' certificate store" in error.action
    assert client.stats.requests[("GET", "/api/authinfo")] == 1 and not client.stats.retries
    assert halo_sandbox.counts() == {}


def test_the_ca_bundle_setting_adds_a_trusted_ca(halo_sandbox, tls_front, tls_certificate):
    cert_path, _ = tls_certificate
    halo_sandbox.seed("Client", {"name": "Behind The Proxy Ltd"})
    client = HaloClient(
        HaloConnection(tls_front, client_id=halo_sandbox.client_id, ca_bundle=str(cert_path)),
        halo_sandbox.client_secret,
    )
    with client:
        assert client.test_connection() == f"Signed in to {tls_front}; 1 customers visible."
        assert [r["name"] for r in client.iter_records("Client")] == ["Behind The Proxy Ltd"]


def test_verification_cannot_be_switched_off_through_the_session(halo_sandbox, tls_front, monkeypatch):
    session = requests.Session()
    session.verify = False
    monkeypatch.setenv("CURL_CA_BUNDLE", "")  # requests' old "empty bundle disables checks" behaviour
    client = HaloClient(
        HaloConnection(tls_front, client_id=halo_sandbox.client_id),
        halo_sandbox.client_secret,
        session=session,
        retry=RetryPolicy(max_attempts=1),
    )
    with client, pytest.raises(ConfigError, match="not trusted"):
        client.sign_in()
    session.close()


def test_an_unreadable_ca_bundle_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError) as caught:
        HaloClient(
            HaloConnection("https://acme.halopsa.com", client_id="id", ca_bundle=str(tmp_path / "none.pem")),
            "some-secret-value",
        )
    assert "CA bundle" in caught.value.message and "PEM" in caught.value.action


@pytest.fixture
def connect_proxy() -> Iterator[_ConnectProxy]:
    server = _ConnectProxy()
    thread = threading.Thread(target=server.serve_forever, name="connect-proxy", daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


@pytest.fixture
def no_proxy_environment(monkeypatch):
    for name in ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    return monkeypatch


def test_the_proxy_setting_tunnels_https_and_beats_the_environment(
    halo_sandbox, tls_front, tls_certificate, connect_proxy, no_proxy_environment, unused_tcp_port
):
    no_proxy_environment.setenv("HTTPS_PROXY", f"http://127.0.0.1:{unused_tcp_port}")  # nothing there
    proxy_url = f"http://127.0.0.1:{connect_proxy.server_address[1]}"
    client = HaloClient(
        HaloConnection(
            tls_front,
            auth_server=tls_front + "/auth",  # the sandbox's authinfo names its own plain-http address
            client_id=halo_sandbox.client_id,
            ca_bundle=str(tls_certificate[0]),
            proxy=proxy_url,
        ),
        halo_sandbox.client_secret,
    )
    with client:
        client.sign_in()
        assert list(client.iter_records("Tax")) == []
    assert connect_proxy.tunnels and set(connect_proxy.tunnels) == {tls_front.removeprefix("https://")}


def test_a_blank_proxy_setting_uses_the_environments_proxy(
    halo_sandbox, tls_front, tls_certificate, connect_proxy, no_proxy_environment
):
    no_proxy_environment.setenv("HTTPS_PROXY", f"http://127.0.0.1:{connect_proxy.server_address[1]}")
    client = HaloClient(
        HaloConnection(
            tls_front,
            auth_server=tls_front + "/auth",
            client_id=halo_sandbox.client_id,
            ca_bundle=str(tls_certificate[0]),
        ),
        halo_sandbox.client_secret,
    )
    with client:
        client.sign_in()
    assert connect_proxy.tunnels


def test_a_proxy_that_is_not_there_is_transient_and_names_the_proxy_setting(
    halo_sandbox, tls_front, no_proxy_environment, unused_tcp_port
):
    client = HaloClient(
        HaloConnection(tls_front, client_id=halo_sandbox.client_id, proxy=f"127.0.0.1:{unused_tcp_port}"),
        halo_sandbox.client_secret,
        retry=RetryPolicy(max_attempts=2),
        sleep=lambda seconds: None,
    )
    with client, pytest.raises(TransientError) as caught:
        client.sign_in()
    assert "proxy" in caught.value.message and "proxy" in caught.value.action
    assert client.stats.retries["proxy"] == 1


@pytest.mark.parametrize("proxy", ["socks5://127.0.0.1:1080", "http://", "http://host:notaport"])
def test_an_unusable_proxy_setting_is_a_config_error(proxy):
    with pytest.raises(ConfigError, match="proxy"):
        HaloClient(HaloConnection("https://acme.halopsa.com", client_id="id", proxy=proxy), "some-secret")

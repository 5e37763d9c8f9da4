"""A misbehaving proxy in front of the Halo sandbox, on 127.0.0.1, with real sockets.

Why: Halo's permission errors (403 on one endpoint) and a server that trickles its reply are not sandbox
switches; a few lines of forwarding make them real HTTP answers without touching the sandbox itself.
"""

from __future__ import annotations

import http.client
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

HOP_HEADERS = {"connection", "keep-alive", "transfer-encoding", "content-length", "host"}


class RefusingProxy(ThreadingHTTPServer):
    """Forwards everything to ``target``; answers 403 to the (method, path) pairs in ``refused``."""

    daemon_threads = True

    def __init__(self, target: str) -> None:
        super().__init__(("127.0.0.1", 0), _ProxyHandler)
        self.target = urlsplit(target)
        self.refused: set[tuple[str, str]] = set()
        self.refusals = 0
        self._lock = threading.Lock()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def refuses(self, method: str, path: str) -> bool:
        with self._lock:
            hit = (method, path.split("?")[0].lower()) in self.refused
            self.refusals += hit
            return hit


class _ProxyHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: RefusingProxy

    def log_message(self, *args: object) -> None:  # quiet: pytest would show every request
        pass

    def _forward(self, method: str) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        if self.server.refuses(method, self.path):
            reply = b'{"message": "You do not have permission to do this."}'
            self.send_response(403)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(reply)))
            self.end_headers()
            self.wfile.write(reply)
            return
        target = self.server.target
        upstream = http.client.HTTPConnection(target.hostname, target.port, timeout=60)
        try:
            headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP_HEADERS}
            upstream.request(method, self.path, body=body or None, headers=headers)
            answer = upstream.getresponse()
            data = answer.read()
            self.send_response(answer.status)
            for name, value in answer.getheaders():
                if name.lower() not in HOP_HEADERS:
                    self.send_header(name, value)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
        finally:
            upstream.close()

    def do_GET(self) -> None:
        self._forward("GET")

    def do_POST(self) -> None:
        self._forward("POST")


@contextmanager
def refusing_proxy(target: str) -> Iterator[RefusingProxy]:
    proxy = RefusingProxy(target)
    thread = threading.Thread(target=proxy.serve_forever, name="refusing-proxy", daemon=True)
    thread.start()
    try:
        yield proxy
    finally:
        proxy.shutdown()
        proxy.server_close()
        thread.join(5)


class TricklingServer:
    """Accepts connections and answers every request one byte every ``interval`` seconds, forever-ish.

    The status line and headers arrive at once (a per-read timeout never fires: a byte always comes
    sooner), then the body trickles: only an overall deadline per request can cut it off.
    """

    def __init__(self, interval: float = 0.5, body_bytes: int = 100_000) -> None:
        self.interval = interval
        self.body_bytes = body_bytes
        self._listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._listener.bind(("127.0.0.1", 0))
        self._listener.listen(16)
        self._stop = threading.Event()
        self.connections = 0
        self._thread = threading.Thread(target=self._accept, name="trickling-server", daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._listener.getsockname()[1]}"

    def start(self) -> TricklingServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._listener.close()
        self._thread.join(5)

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                connection, _ = self._listener.accept()
            except OSError:
                return
            self.connections += 1
            threading.Thread(target=self._trickle, args=(connection,), daemon=True).start()

    def _trickle(self, connection: socket.socket) -> None:
        with connection:
            try:
                connection.recv(65536)
                head = (
                    "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                    f"Content-Length: {self.body_bytes}\r\n\r\n"
                )
                connection.sendall(head.encode())
                for _ in range(self.body_bytes):
                    if self._stop.wait(self.interval):
                        return
                    connection.sendall(b" ")
            except OSError:
                return

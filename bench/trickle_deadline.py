"""How long a server that trickles its answer can hold LedgerBridge: the overall deadline per request.

Why: requests' timeouts apply to each socket read, so one byte every half second kept a request (and the
run) waiting for as long as the server liked: 142 s for timeout_seconds = 5 in the hostile test. Each request
now ends at ``timeout_seconds`` in all (connect + headers + the whole body). This prints, per timeout, the
time one attempt takes and the time a whole sign-in takes with the app's real retry policy (6 attempts,
full-jitter back-off), against a raw-socket server on 127.0.0.1 that sends its headers at once and then one
byte of body every ``--interval`` seconds.

    python bench/trickle_deadline.py [--timeouts 1 2 5] [--interval 0.5]
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from core.errors import TransientError  # noqa: E402
from halo.client import HaloClient, HaloConnection, RetryPolicy  # noqa: E402
from tests.proxy_halo import TricklingServer  # noqa: E402


def sign_in_seconds(url: str, timeout: float, retry: RetryPolicy) -> tuple[float, str]:
    connection = HaloConnection(
        resource_server=url, auth_server=url + "/auth", client_id="x", timeout=timeout
    )
    client = HaloClient(connection, "bench-secret-value", retry=retry)
    started = time.monotonic()
    try:
        client.sign_in()
        outcome = "answered"
    except TransientError as exc:
        outcome = exc.message
    finally:
        client.close()
    return time.monotonic() - started, outcome


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--timeouts", type=float, nargs="+", default=[1.0, 2.0, 5.0])
    parser.add_argument("--interval", type=float, default=0.5, help="seconds between trickled bytes")
    args = parser.parse_args()
    logging.disable(logging.WARNING)  # every cut attempt logs a warning; the table says it all
    print(f"{'timeout':>8}  {'one attempt':>12}  {'sign-in, 6 attempts':>20}  attempts  message")
    for timeout in args.timeouts:
        server = TricklingServer(interval=args.interval).start()
        try:
            one, _ = sign_in_seconds(server.url, timeout, RetryPolicy(max_attempts=1))
            before = server.connections
            whole, message = sign_in_seconds(server.url, timeout, RetryPolicy())
            attempts = server.connections - before
        finally:
            server.stop()
        print(f"{timeout:>7.1f}s  {one:>11.2f}s  {whole:>19.1f}s  {attempts:>8}  {message}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

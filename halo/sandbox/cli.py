"""``ledgerbridge sandbox``: run the local Halo on its own, to try the app or a script against it.

The generated client secret is printed once: it guards a throw-away local test server, not a real Halo.
"""

from __future__ import annotations

import argparse
import sys
import threading
from pathlib import Path
from typing import TextIO

from halo.sandbox.server import DEFAULT_CLIENT_ID, HaloSandbox


def sandbox_command(
    args: argparse.Namespace, out: TextIO | None = None, stop_event: threading.Event | None = None
) -> int:
    """Serve until Ctrl-C (or ``stop_event``, for tests); 0 on a clean stop, 2 if it could not start."""
    out = out if out is not None else sys.stdout
    db_path = Path(args.db).expanduser() if getattr(args, "db", None) else None
    try:
        sandbox = HaloSandbox(
            db_path=db_path,
            client_id=getattr(args, "client_id", None) or DEFAULT_CLIENT_ID,
            tenant=getattr(args, "tenant", "") or "",
            port=int(getattr(args, "port", 0) or 0),
        ).start()
    except RuntimeError as error:
        print(f"Could not start the Halo sandbox: {error}", file=sys.stderr)
        return 2
    _print_banner(sandbox, out, db_path)
    stop = stop_event or threading.Event()
    try:
        while not stop.wait(0.5):  # short waits: Ctrl-C cannot interrupt an untimed wait on Windows
            pass
    except KeyboardInterrupt:
        print("Stopping the Halo sandbox.", file=out, flush=True)
    finally:
        sandbox.stop()
    return 0


def _print_banner(sandbox: HaloSandbox, out: TextIO, db_path: Path | None) -> None:
    lines = [
        "LedgerBridge Halo sandbox: a local test server that answers like Halo's API (not a real Halo).",
        f"  Resource server: {sandbox.url}",
        f"  Auth server:     {sandbox.url}/auth",
        f"  Client ID:       {sandbox.client_id}",
        f"  Client secret:   {sandbox.client_secret}   (generated for this run; shown only here)",
    ]
    if sandbox.tenant:
        lines.append(f"  Tenant:          {sandbox.tenant}")
    lines.append(f"  Data:            {db_path if db_path else 'in memory (lost when stopped)'}")
    lines.append(f"  Open {sandbox.url}/ in a browser to see what arrived. Press Ctrl-C to stop.")
    print("\n".join(lines), file=out, flush=True)

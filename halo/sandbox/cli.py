"""``ledgerbridge sandbox``: run the local Halo on its own, to try the app or a script against it.

The generated client secret is printed once: it guards a throw-away local test server, not a real Halo.
"""

from __future__ import annotations

import argparse
import json
import signal
import subprocess
import sys
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from halo.sandbox.seed import seed_halo_invoices
from halo.sandbox.server import DEFAULT_CLIENT_ID, HaloSandbox

RESOURCE_LABEL, CLIENT_ID_LABEL, SECRET_LABEL = "Resource server", "Client ID", "Client secret"
LAST_LINE = "Press Ctrl-C to stop."
MAIN_SCRIPT = Path(__file__).resolve().parents[2] / "main.py"


@dataclass
class SandboxProcess:
    """``main.py sandbox`` in a process of its own (as a real Halo is: its CPU is not the caller's)."""

    process: subprocess.Popen[str]
    url: str
    client_id: str
    client_secret: str

    def stop(self, timeout: float = 20.0) -> None:
        """Ctrl-C, as a person would; killed if it does not stop in ``timeout`` seconds."""
        self.process.send_signal(signal.SIGINT)
        try:
            self.process.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.communicate()


def start_sandbox_process() -> SandboxProcess:
    """Start the sandbox command from a checkout (tests, benchmarks); credentials come off its banner."""
    process = subprocess.Popen(
        [sys.executable, str(MAIN_SCRIPT), "sandbox"],
        cwd=MAIN_SCRIPT.parent,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    banner: dict[str, str] = {}
    assert process.stdout is not None
    for line in process.stdout:
        label, _, value = line.strip().partition(":")
        banner[label.strip()] = value.strip().split("   ")[0]
        if LAST_LINE in line:
            break
    if RESOURCE_LABEL not in banner:
        process.kill()
        process.communicate()
        raise RuntimeError("The sandbox process ended before printing its address.")
    return SandboxProcess(process, banner[RESOURCE_LABEL], banner[CLIENT_ID_LABEL], banner[SECRET_LABEL])


def parse_modes(items: list[str]) -> dict[str, object]:
    """``--mode NAME=VALUE`` options as the JSON object POST /sandbox/faults takes (VALUE is JSON;
    a bare word that is not JSON, such as ``object``, is taken as text)."""
    modes: dict[str, object] = {}
    for item in items:
        name, sep, raw = item.partition("=")
        if not sep or not name.strip():
            raise ValueError(f"--mode {item!r} is not NAME=VALUE (for example post_answer=object).")
        try:
            modes[name.strip()] = json.loads(raw)
        except ValueError:
            modes[name.strip()] = raw
    return modes


def sandbox_command(
    args: argparse.Namespace, out: TextIO | None = None, stop_event: threading.Event | None = None
) -> int:
    """Serve until Ctrl-C (or ``stop_event``, for tests); 0 on a clean stop, 2 if it could not start."""
    out = out if out is not None else sys.stdout
    db_path = Path(args.db).expanduser() if getattr(args, "db", None) else None
    try:
        modes = parse_modes(getattr(args, "mode", None) or [])
    except ValueError as error:
        print(f"Could not start the Halo sandbox: {error}", file=sys.stderr)
        return 2
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
    try:
        sandbox.faults.update(modes)
    except ValueError as error:
        sandbox.stop()
        print(f"Could not start the Halo sandbox: {error}", file=sys.stderr)
        return 2
    halo_invoices = int(getattr(args, "halo_invoices", 0) or 0)
    if halo_invoices > 0:
        seeded = seed_halo_invoices(sandbox, halo_invoices)
        print(
            f"Seeded {len(seeded.invoice_ids)} Halo-origin invoices for {len(seeded.client_ids)} clients "
            f"(tax id {seeded.tax_id}), not yet posted.",
            file=out,
            flush=True,
        )
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
        f"  {RESOURCE_LABEL}: {sandbox.url}",
        f"  Auth server:     {sandbox.url}/auth",
        f"  {CLIENT_ID_LABEL}:       {sandbox.client_id}",
        f"  {SECRET_LABEL}:   {sandbox.client_secret}   (generated for this run; shown only here)",
    ]
    if sandbox.tenant:
        lines.append(f"  Tenant:          {sandbox.tenant}")
    lines.append(f"  Data:            {db_path if db_path else 'in memory (lost when stopped)'}")
    lines.append(f"  Open {sandbox.url}/ in a browser to see what arrived. {LAST_LINE}")
    print("\n".join(lines), file=out, flush=True)

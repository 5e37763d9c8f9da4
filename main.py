"""LedgerBridge entry point.

No argument: the desktop app (setup wizard on first run). ``--demo``: the app on the demo company and a
local Halo sandbox. ``sync``: one headless run for Task Scheduler. ``secret set NAME``: store a secret in the
keyring. ``doctor``: check the books and Halo as this PC sees them. ``support-bundle [FILE]``: one zip for
support, without secrets. ``sandbox``: run the local Halo sandbox on its own.

Imports are deferred to each command so that ``sync`` never loads Qt and ``--help`` is instant.
"""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from demo.environment import DemoEnvironment

__version__ = "0.1.0"

EXIT_OK, EXIT_RECORDS_FAILED, EXIT_COULD_NOT_RUN = 0, 1, 2


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ledgerbridge",
        description="Keeps your books (Sage 50 UK, Sage 50 Canada, QuickBooks Desktop or any ODBC source) "
        "and your HaloPSA / HaloITSM instance in step.",
        epilog="Exit codes of 'sync': 0 all good, 1 some records failed (see Problems), 2 could not run "
        "(settings, connection or sign-in).",
    )
    parser.add_argument("--version", action="version", version=f"LedgerBridge {__version__}")
    parser.add_argument(
        "--demo", action="store_true", help="open the app on the demo company and a local Halo sandbox"
    )
    parser.add_argument("--minimized", action="store_true", help="start in the system tray (used at login)")
    parser.add_argument("--config", metavar="FILE", help="settings file (default: the user's config folder)")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    sync = commands.add_parser("sync", help="run one sync without a window (for Task Scheduler) and exit")
    sync.add_argument("--config", metavar="FILE", dest="sync_config", help="settings file to use")
    sync.add_argument(
        "--dry-run", action="store_true", help="show what would be created/updated; write nothing"
    )
    sync.add_argument(
        "--entities",
        nargs="+",
        metavar="ENTITY",
        choices=["tax_rates", "customers", "items", "invoices"],
        help="only these: tax_rates customers items invoices",
    )
    sync.add_argument("--json", action="store_true", help="print the summary as JSON")
    sync.add_argument(
        "--demo", action="store_true", dest="sync_demo", help="sync the demo company into a local sandbox"
    )

    secret = commands.add_parser("secret", help="store or remove a secret in the OS keyring")
    secret.add_argument("action", choices=["set", "delete"])
    secret.add_argument("name", choices=["halo.client_secret", "source.password"])

    doctor = commands.add_parser(
        "doctor", help="check what the books and Halo look like from this PC (tables, columns, fields)"
    )
    doctor.add_argument("--config", metavar="FILE", dest="check_config", help="settings file to use")
    doctor.add_argument("--json", action="store_true", help="print the report as JSON")

    bundle = commands.add_parser(
        "support-bundle", help="write one zip for support: doctor report, settings, runs, log (no secrets)"
    )
    bundle.add_argument(
        "file", nargs="?", help="zip to write (default: ledgerbridge-support-<time>.zip here)"
    )
    bundle.add_argument("--config", metavar="FILE", dest="check_config", help="settings file to use")
    bundle.add_argument("--no-doctor", action="store_true", help="leave the doctor report out (faster)")

    sandbox = commands.add_parser("sandbox", help="run the local Halo sandbox (for trying things out)")
    sandbox.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (default: a free one)")
    sandbox.add_argument("--db", metavar="FILE", help="SQLite file to keep the sandbox's data in")
    sandbox.add_argument("--client-id", default="ledgerbridge-sandbox")
    sandbox.add_argument("--tenant", default="")
    sandbox.add_argument(
        "--halo-invoices",
        type=int,
        default=0,
        metavar="N",
        help="seed N invoices raised in Halo (not yet posted), to try posting them into the books",
    )
    sandbox.add_argument(
        "--mode",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="a sandbox mode as POST /sandbox/faults takes it (VALUE is JSON), e.g. post_answer=object",
    )
    return parser


def start_demo() -> DemoEnvironment:
    """The demo for ``sync --demo``, wired here: the engine never imports the sandbox or the demo builder."""
    from demo.environment import DemoEnvironment

    return DemoEnvironment.start()


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "sync":
        from sync.cli import sync_command

        return sync_command(args, start_demo=start_demo)
    if args.command == "secret":
        from sync.cli import secret_command

        return secret_command(args)
    if args.command == "doctor":
        from sync.cli import doctor_command

        return doctor_command(args)
    if args.command == "support-bundle":
        from sync.cli import support_bundle_command

        return support_bundle_command(args, app_version=__version__)
    if args.command == "sandbox":
        from halo.sandbox.cli import sandbox_command

        return sandbox_command(args)
    from gui.app import run_app

    return run_app(args)


if __name__ == "__main__":
    sys.exit(main())

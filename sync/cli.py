"""Headless commands: ``ledgerbridge sync`` (Task Scheduler) and ``ledgerbridge secret set|delete NAME``.

Why: a scheduled run has no window; what it did must be readable in a console or a scheduler's log, and its
exit code must tell a script whether to worry: 0 all good, 1 some records failed (see Problems), 2 could not
run or did not finish (settings, keyring, connection, sign-in, another sync running, Ctrl-C). ``--json``
gives scripts one JSON document on stdout.
"""

from __future__ import annotations

import argparse
import contextlib
import getpass
import json
import logging
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol, TextIO

from core.errors import LedgerBridgeError
from core.scrub import scrub
from sync.events import (
    EntityStarted,
    Event,
    LogMessage,
    Outcome,
    PostingPreviewed,
    Progress,
    RecordOutcome,
    RunFinished,
    RunStarted,
    RunSummary,
)
from sync.logs import setup_logging
from sync.paths import AppPaths, app_paths
from sync.posting_preview import PostingPreview
from sync.secrets import SECRET_NAMES, KeyringSecretStore, MemorySecretStore, SecretStore
from sync.settings import Settings

log = logging.getLogger("ledgerbridge.cli")

EXIT_OK, EXIT_RECORDS_FAILED, EXIT_COULD_NOT_RUN = 0, 1, 2
NOT_SET_UP = (
    "LedgerBridge is not set up yet: run `ledgerbridge` to open the setup, or `ledgerbridge sync --demo` "
    "to try the demo."
)
TABLE_COLUMNS: tuple[Outcome, ...] = ("created", "updated", "unchanged", "deactivated", "failed", "skipped")
PROGRESS_EVERY_SECONDS = 2.0
WOULD = {"created": "create", "updated": "update", "deactivated": "deactivate"}  # what a dry run lists


class CouldNotRun(Exception):
    """The sync could not start; ``message`` says what is wrong and what to do."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class DemoRun(Protocol):
    """A started demo as `sync --demo` uses it (demo.environment.DemoEnvironment is one)."""

    @property
    def settings(self) -> Settings: ...

    @property
    def secrets(self) -> SecretStore: ...

    @property
    def paths(self) -> AppPaths: ...

    @property
    def company_file(self) -> Path: ...

    @property
    def sandbox_url(self) -> str: ...

    def print_contents(self, out: TextIO) -> dict[str, int]: ...

    def stop(self) -> None: ...


# --- printing what happens ------------------------------------------------------------------------------


class ConsoleListener:
    """Turns engine events into lines for a console: progress (throttled) and every failure with its fix."""

    def __init__(self, out: TextIO) -> None:
        self.out = out
        self._last_progress: dict[str, float] = {}
        self._dry_run = False

    def _print(self, text: str) -> None:
        print(text, file=self.out, flush=True)

    def __call__(self, event: Event) -> None:
        if isinstance(event, RunStarted):
            self._dry_run = event.dry_run
            mode = " (dry run: nothing will be written)" if event.dry_run else ""
            self._print(f"Sync {event.run_id} started{mode}: {', '.join(event.entities)}")
        elif isinstance(event, EntityStarted):
            self._last_progress[event.entity] = time.monotonic()  # a quick entity shows only its total
            self._print(f"{event.entity}: reading...")
        elif isinstance(event, Progress):
            now = time.monotonic()
            finished = event.total is not None and event.done >= event.total
            if finished or now - self._last_progress.get(event.entity, 0.0) >= PROGRESS_EVERY_SECONDS:
                self._last_progress[event.entity] = now
                total = f"/{event.total}" if event.total is not None else ""
                self._print(f"{event.entity}: {event.done}{total} done")
        elif isinstance(event, RecordOutcome):
            if event.outcome == "failed":
                line = f"FAILED {event.entity} {event.key}: {event.message}"
                if event.action:
                    line += f" What to do: {event.action}"
                self._print(line)
            elif self._dry_run and event.outcome in WOULD and event.entity != "posting":  # its own table
                self._print(f"{event.entity} {event.key}: {event.message or 'would ' + WOULD[event.outcome]}")
        elif isinstance(event, LogMessage):
            if event.level != "info":
                self._print(f"{event.level.upper()}: {event.text}")
        elif isinstance(event, PostingPreviewed):
            self._print(posting_table(event.preview))
        elif isinstance(event, RunFinished):
            pass  # the caller prints the summary table


def posting_table(preview: PostingPreview) -> str:
    """A dry run's Halo -> books list: number, client, date, net/tax/gross, action and why, with totals."""
    header = ("Number", "Client", "Date", "Net", "Tax", "Gross", "Action")
    rows: list[tuple[str, ...]] = []
    for row in preview.rows:
        sign = "-" if row.is_credit else ""
        action = row.action + (f": {row.message}" if row.action != "post" and row.message else "")
        if row.action == "post" and "; " in row.message:
            action += " (" + row.message.split("; ", 1)[1] + ")"
        rows.append(
            (
                row.number or str(row.halo_id),
                row.client,
                f"{row.date:%Y-%m-%d}" if row.date else "",
                f"{sign}{row.net}",
                f"{sign}{row.tax}",
                f"{sign}{row.gross}",
                action,
            )
        )
    net, tax, gross = preview.totals("post")
    counts = preview.counts()
    total = (f"Total to post: {counts['post']}", "", "", str(net), str(tax), str(gross), "")
    widths = [max(len(r[i]) for r in (header, *rows, total)) for i in range(len(header) - 1)]

    def line(cells: Sequence[str]) -> str:
        left = [cells[i].ljust(widths[i]) for i in range(3)]
        right = [cells[i].rjust(widths[i]) for i in range(3, 6)]
        return "  ".join([*left, *right, cells[6]]).rstrip()

    title = "Halo -> books (dry run: nothing is written):"
    if not rows:
        return f"{title} nothing to post ({preview.filtered} listed by Halo are left out by the rule)."
    rule = line(["-" * w for w in widths] + [""])
    summary = (
        f"{counts['post']} to post, {counts['already in books']} already in the books, "
        f"{counts['problem']} with problems, {counts['skipped']} skipped; {preview.filtered} left out by "
        "the rule."
    )
    return "\n".join([title, line(header), rule, *(line(r) for r in rows), rule, line(total), summary])


def summary_table(summary: RunSummary) -> str:
    """Per entity: created, updated, unchanged, deactivated, failed, skipped — plus a total row."""
    header = ("Entity", *(c.capitalize() for c in TABLE_COLUMNS))
    rows = [
        (entity, *(str(counts.get(c, 0)) for c in TABLE_COLUMNS)) for entity, counts in summary.counts.items()
    ]
    rows.append(("Total", *(str(summary.total(c)) for c in TABLE_COLUMNS)))
    widths = [max(len(row[i]) for row in (header, *rows)) for i in range(len(header))]

    def line(cells: Sequence[str]) -> str:
        first = cells[0].ljust(widths[0])
        return "  ".join([first, *(cell.rjust(w) for cell, w in zip(cells[1:], widths[1:], strict=True))])

    return "\n".join([line(header), line(["-" * w for w in widths]), *(line(r) for r in rows)])


def _status_line(summary: RunSummary) -> str:
    seconds = ""
    if summary.finished is not None:
        seconds = f", {(summary.finished - summary.started).total_seconds():.1f} s"
    words = {
        "ok": "finished",
        "partial": "finished with failures",
        "failed": "could not run",
        "cancelled": "was cancelled",
    }
    dry = " (dry run: nothing was written)" if summary.dry_run else ""
    text = f"Sync {summary.run_id} {words.get(summary.status, summary.status)}{dry}{seconds}."
    if summary.total("failed"):
        text += f" {summary.total('failed')} record(s) failed: see the lines above or Problems in the app."
    return text


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def summary_json(summary: RunSummary) -> dict[str, Any]:
    return {
        "status": summary.status,
        "dry_run": summary.dry_run,
        "run_id": summary.run_id,
        "started": _iso(summary.started),
        "finished": _iso(summary.finished),
        "error": summary.error,
        "counts": {entity: dict(counts) for entity, counts in summary.counts.items()},
    }


def _failed_json(message: str, dry_run: bool) -> dict[str, Any]:
    now = datetime.now(UTC).isoformat()
    return {
        "status": "failed",
        "dry_run": dry_run,
        "run_id": None,
        "started": now,
        "finished": now,
        "error": message,
        "counts": {},
    }


def _message(error: LedgerBridgeError) -> str:
    return f"{error.message} {error.action}".strip()


# --- sync ----------------------------------------------------------------------------------------------


@contextlib.contextmanager
def _stop_on_signals(cancel: threading.Event, out: TextIO) -> Iterator[None]:
    """Ctrl-C (or SIGTERM) asks the run to stop after the current batch, keeping what Halo confirmed.

    A second Ctrl-C stops at once (still safe: every confirmed write is already in the state store).
    Signal handlers can only be set from the main thread; elsewhere this does nothing.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    names = ["SIGINT", "SIGTERM", "SIGBREAK"]  # SIGBREAK: Ctrl-Break in a Windows console
    wanted = [getattr(signal, name) for name in names if hasattr(signal, name)]
    previous = {number: signal.getsignal(number) for number in wanted}

    def on_signal(number: int, _frame: object) -> None:
        if cancel.is_set():
            signal.signal(number, signal.SIG_DFL)
            raise KeyboardInterrupt
        cancel.set()
        # os.write, not print: the interrupted code may be in the middle of printing to the same stream.
        note = "Stopping after the current batch (press Ctrl-C again to stop at once)...\n"
        with contextlib.suppress(OSError, ValueError, AttributeError):
            os.write(out.fileno(), note.encode())

    for number in wanted:
        signal.signal(number, on_signal)
    try:
        yield
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)


def _load_settings(args: argparse.Namespace, paths: AppPaths) -> Settings:
    explicit = getattr(args, "sync_config", None) or getattr(args, "config", None)
    settings_file = Path(explicit) if explicit else paths.settings_file
    if explicit and not settings_file.exists():
        raise CouldNotRun(f"The settings file {settings_file} does not exist. Check the --config path.")
    try:
        settings = Settings.load(settings_file)
    except LedgerBridgeError as exc:
        raise CouldNotRun(_message(exc)) from exc
    if not settings.is_configured():
        raise CouldNotRun(NOT_SET_UP)
    try:
        settings.validate()
    except LedgerBridgeError as exc:
        raise CouldNotRun(_message(exc)) from exc
    return settings


def _open_secrets(settings: Settings) -> SecretStore:
    store = KeyringSecretStore(allow_plaintext=settings.app.allow_plaintext_secrets)
    try:
        store.check()
        for name in SECRET_NAMES:  # read (and so registered with the scrubber) before anything can log them
            store.get(name)
    except LedgerBridgeError as exc:
        raise CouldNotRun(_message(exc)) from exc
    return store


def _tolerant_console() -> None:
    """Never crash on a name the console cannot show (a Windows code page, redirected): replace it."""
    for stream in (sys.stdout, sys.stderr):
        reconfigure = getattr(stream, "reconfigure", None)
        if reconfigure is not None:
            with contextlib.suppress(ValueError, OSError):
                reconfigure(errors="replace")


def sync_command(args: argparse.Namespace, *, start_demo: Callable[[], DemoRun] | None = None) -> int:
    """``ledgerbridge sync``: one run, progress and failures on stdout, a summary, exit 0/1/2.

    ``--demo`` runs on what ``start_demo`` starts (main.py hands it in: sync never imports the demo).
    """
    _tolerant_console()
    as_json = bool(getattr(args, "json", False))
    dry_run = bool(getattr(args, "dry_run", False))
    entities = list(args.entities) if getattr(args, "entities", None) else None
    out = sys.stderr if as_json else sys.stdout
    demo: DemoRun | None = None
    sandbox_counts: dict[str, int] | None = None
    try:
        if getattr(args, "sync_demo", False):
            if start_demo is None:
                raise CouldNotRun("The demo is not part of this program: run `ledgerbridge sync --demo`.")
            try:
                demo = start_demo()
            except LedgerBridgeError as exc:
                raise CouldNotRun(_message(exc)) from exc
            settings, secrets, paths = demo.settings, demo.secrets, demo.paths
            print(f"Demo: company {demo.company_file}, Halo sandbox at {demo.sandbox_url}", file=out)
        else:
            paths = app_paths()
            settings = _load_settings(args, paths)
            secrets = _open_secrets(settings)
        log_file = setup_logging(paths.ensure())
        from sync.runner import run_sync  # here, so a settings problem is reported without loading the engine

        log.info("Headless sync started (dry run: %s, entities: %s).", dry_run, entities or "all configured")
        cancel = threading.Event()
        with _stop_on_signals(cancel, out):
            summary = run_sync(
                settings,
                secrets,
                paths=paths,
                dry_run=dry_run,
                entities=entities,
                listener=ConsoleListener(out),
                cancel=cancel,
            )
        if demo is not None:
            sandbox_counts = demo.print_contents(out)
    except KeyboardInterrupt:
        print(
            "Stopped. Everything Halo confirmed is kept; the next sync carries on from there.",
            file=sys.stderr,
        )
        return EXIT_COULD_NOT_RUN
    except (CouldNotRun, LedgerBridgeError) as exc:
        message = exc.message if isinstance(exc, CouldNotRun) else _message(exc)
        if as_json:
            print(json.dumps(_failed_json(message, dry_run)))
        else:
            print(message, file=sys.stderr)
        return EXIT_COULD_NOT_RUN
    except Exception as exc:  # a bug or an unforeseen failure: say so plainly, keep the details in the log
        log.exception("The headless sync stopped on an unexpected error.")
        message = (
            f"LedgerBridge stopped on an unexpected error ({type(exc).__name__}: {scrub(str(exc))}). "
            "Everything Halo confirmed is kept. Try again; if it happens again, send the log file to support."
        )
        if as_json:
            print(json.dumps(_failed_json(message, dry_run)))
        else:
            print(message, file=sys.stderr)
        return EXIT_COULD_NOT_RUN
    finally:
        if demo is not None:
            demo.stop()

    if as_json:
        document = summary_json(summary)
        if sandbox_counts is not None:
            document["sandbox"] = sandbox_counts
        print(json.dumps(document))
    else:
        print("", file=out)
        print(summary_table(summary), file=out)
        print(_status_line(summary), file=out)
        if summary.error:
            print(summary.error, file=sys.stderr)
        print(f"Log: {log_file}", file=out)
    exit_code = summary.exit_code
    log.info("Headless sync %s ended: %s (exit %d).", summary.run_id, summary.status, exit_code)
    return exit_code


# --- secret --------------------------------------------------------------------------------------------


def _read_secret_value(name: str) -> str:
    """From the keyboard without echo when interactive, else one line from stdin (a pipe)."""
    if sys.stdin is not None and sys.stdin.isatty():
        return getpass.getpass(f"Value for {name} (typing is not shown): ")
    line = sys.stdin.readline() if sys.stdin is not None else ""
    return line.rstrip("\r\n")


def secret_command(args: argparse.Namespace) -> int:
    """``ledgerbridge secret set|delete NAME``: the value never appears on screen or in a log."""
    _tolerant_console()
    name = args.name
    if name not in SECRET_NAMES:
        print(f"Unknown secret {name!r}: use one of {', '.join(SECRET_NAMES)}.", file=sys.stderr)
        return EXIT_COULD_NOT_RUN
    paths = app_paths()
    explicit = getattr(args, "config", None)
    try:
        settings = Settings.load(Path(explicit) if explicit else paths.settings_file)
        store = KeyringSecretStore(allow_plaintext=settings.app.allow_plaintext_secrets)
        store.check()
        if args.action == "set":
            value = _read_secret_value(name)
            if not value:
                print(f"No value given: {name} was not changed.", file=sys.stderr)
                return EXIT_COULD_NOT_RUN
            store.set(name, value)
            print(f"Stored {name} in the keyring ({store.backend_name()}).")
        else:
            store.delete(name)
            print(f"Removed {name} from the keyring (if it was there).")
    except LedgerBridgeError as exc:
        print(_message(exc), file=sys.stderr)
        return EXIT_COULD_NOT_RUN
    return EXIT_OK


# --- doctor and support bundle ---------------------------------------------------------------------------


def _settings_for_checks(args: argparse.Namespace, paths: AppPaths) -> Settings:
    """The saved settings, half-finished ones too: the doctor is for when things do not work yet."""
    explicit = getattr(args, "check_config", None) or getattr(args, "config", None)
    settings_file = Path(explicit) if explicit else paths.settings_file
    if explicit and not settings_file.exists():
        raise CouldNotRun(f"The settings file {settings_file} does not exist. Check the --config path.")
    try:
        return Settings.load(settings_file)
    except LedgerBridgeError as exc:
        raise CouldNotRun(_message(exc)) from exc


def _open_for_checks(args: argparse.Namespace) -> tuple[AppPaths, Settings, SecretStore | None] | None:
    """What the doctor and the support bundle read: paths, settings and (if usable) the keyring; None when
    the settings cannot be read, after saying why on stderr."""
    _tolerant_console()
    try:
        paths = app_paths()
        settings = _settings_for_checks(args, paths)
    except CouldNotRun as exc:
        print(exc.message, file=sys.stderr)
        return None
    return paths, settings, _secrets_for_checks(settings)


def _secrets_for_checks(settings: Settings) -> SecretStore | None:
    store = KeyringSecretStore(allow_plaintext=settings.app.allow_plaintext_secrets)
    try:
        store.check()
        for name in SECRET_NAMES:  # registered with the scrubber before anything can print them
            store.get(name)
    except LedgerBridgeError as exc:
        log.warning("The keyring cannot be used for the checks: %s", exc.message)
        return None
    return store


def doctor_command(args: argparse.Namespace) -> int:
    """``ledgerbridge doctor``: probe the books and Halo, print the report; exit 0 (no problems) or 1."""
    from sync.doctor import doctor_for_settings

    opened = _open_for_checks(args)
    if opened is None:
        return EXIT_COULD_NOT_RUN
    _, settings, secrets = opened
    report = doctor_for_settings(settings, secrets or MemorySecretStore())
    from sync.support_bundle import redact

    if getattr(args, "json", False):
        print(redact(json.dumps(report.to_dict(), default=str, ensure_ascii=False)))
    else:
        print(redact(report.to_text()))
    return EXIT_OK if report.ok else EXIT_RECORDS_FAILED


def support_bundle_command(args: argparse.Namespace, *, app_version: str = "") -> int:
    """``ledgerbridge support-bundle [FILE]``: doctor report, settings, runs, problems, log, versions."""
    from sync.doctor import doctor_for_settings
    from sync.support_bundle import default_bundle_name, write_bundle

    opened = _open_for_checks(args)
    if opened is None:
        return EXIT_COULD_NOT_RUN
    paths, settings, secrets = opened
    report = (
        None
        if getattr(args, "no_doctor", False)
        else doctor_for_settings(settings, secrets or MemorySecretStore())
    )
    target = Path(args.file) if getattr(args, "file", None) else Path.cwd() / default_bundle_name()
    try:
        written = write_bundle(
            target, settings=settings, paths=paths, secrets=secrets, report=report, app_version=app_version
        )
    except OSError as exc:
        print(f"The support bundle could not be written to {target}: {exc.strerror or exc}.", file=sys.stderr)
        return EXIT_COULD_NOT_RUN
    print(f"Support bundle written: {written}")
    print("It holds no passwords or secrets. Send it to your LedgerBridge support contact.")
    return EXIT_OK

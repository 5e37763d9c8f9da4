"""One sync run from settings: lock, state store, connector, Halo client, engine, summary.

Why: the GUI worker, the tray timer and the headless ``sync`` command all need the same run with the same
guarantees — one run at a time (SyncLock), every run recorded, and an expected failure (wrong URL, secret
rejected, Halo down, company file locked) ends as a summary with status "failed" and a message saying what
to do, never as an exception the caller must understand.
"""

from __future__ import annotations

import contextlib
import gc
import logging
import threading
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from typing import get_args

from connectors.base import ConnectionCheck, Connector
from connectors.registry import (
    SourceConfig,
    create_connector,
    create_writer,
    no_writer_reason,
    odbc_data_sources,
    odbc_drivers,
)
from core.books import BooksWriter
from core.errors import CancelledError, ConfigError, LedgerBridgeError, error_kind
from core.records import ENTITY_ORDER
from halo.client import HaloClient
from sync.engine import SyncEngine
from sync.entities import STREAMS
from sync.events import ErrorKind, Listener, RunFinished, RunStarted, RunSummary
from sync.guard import SecondInstallationGuard
from sync.halo_connection import build_client
from sync.lock import SyncLock
from sync.paths import AppPaths, app_paths
from sync.posting import PostingRun, check_settings
from sync.secrets import SOURCE_PASSWORD, SecretStore
from sync.settings import Settings, SourceSettings
from sync.skips import SkipRecorder
from sync.state import StateStore

log = logging.getLogger("ledgerbridge.sync")
_ERROR_KINDS: dict[str, ErrorKind] = {kind: kind for kind in get_args(ErrorKind)}


def _error_kind(exc: BaseException) -> ErrorKind:
    """core.errors.error_kind as the summary's Literal: a word it does not know is reported as a bug."""
    return _ERROR_KINDS.get(error_kind(exc), "bug")


def open_state(paths: AppPaths | None = None) -> StateStore:
    """The state store of this configuration (data dir; LEDGERBRIDGE_HOME when set)."""
    paths = (paths or app_paths()).ensure()
    return StateStore(paths.state_file)


def source_config(source: SourceSettings, income_account: str = "") -> SourceConfig:
    """The settings' [source] table as the plain values the connector registry takes (and, for a writer,
    the [posting] income account for items it creates)."""
    return SourceConfig(
        kind=source.kind,
        connection_string=source.connection_string,
        username=source.username,
        timezone=source.timezone,
        queries=dict(source.queries),
        columns={entity: dict(mapping) for entity, mapping in source.columns.items()},
        sdo_progid=source.sdo_progid,
        sdo_python=source.sdo_python,
        income_account=income_account,
    )


def build_connector(settings: Settings, secrets: SecretStore) -> Connector:
    """The configured connector, its password from the keyring (the connection opens on first use)."""
    password = secrets.get(SOURCE_PASSWORD) if settings.source.username else None
    return create_connector(source_config(settings.source), password)


def build_writer(settings: Settings, secrets: SecretStore) -> BooksWriter:
    """The configured package's BooksWriter (Halo -> books), its password from the keyring; a package that
    cannot take invoices is a ConfigError saying so (connectors.registry.writer_class)."""
    password = secrets.get(SOURCE_PASSWORD) if settings.source.username else None
    return create_writer(source_config(settings.source, settings.posting.income_account), password)


def posting_route(kind: str) -> str:
    """'' when Halo's invoices can be posted into the package ``kind``; otherwise why not, for a person (the
    app shows it beside the greyed-out choice; a run with posting on stops with the same words)."""
    return no_writer_reason(kind)


def odbc_inventory() -> tuple[list[str], dict[str, str]]:
    """The installed ODBC drivers and DSNs (for the settings form's lists; empty when ODBC is missing)."""
    return odbc_drivers(), odbc_data_sources()


def check_halo(settings: Settings, secrets: SecretStore) -> ConnectionCheck:
    """Sign in for real and read one page: the answer to Settings > Halo > Test connection."""
    try:
        client = build_client(settings, secrets)
        try:
            return ConnectionCheck(ok=True, message=client.test_connection())
        finally:
            client.close()
    except LedgerBridgeError as exc:
        return ConnectionCheck(ok=False, message=exc.message, action=exc.action, detail=exc.detail)


def check_source(settings: Settings, secrets: SecretStore) -> ConnectionCheck:
    """Open the accounting package for real: the answer to Settings > Accounting package > Test."""
    try:
        connector = build_connector(settings, secrets)
        try:
            return connector.test_connection()
        finally:
            connector.close()
    except LedgerBridgeError as exc:
        return ConnectionCheck(ok=False, message=exc.message, action=exc.action, detail=exc.detail)


def _ordered(entities: Sequence[str]) -> tuple[str, ...]:
    wanted = set(entities)
    return tuple(e for e in ENTITY_ORDER if e in wanted and (e in STREAMS or e == "payments"))


def run_sync(
    settings: Settings,
    secrets: SecretStore,
    *,
    paths: AppPaths | None = None,
    dry_run: bool = False,
    entities: Sequence[str] | None = None,
    listener: Listener | None = None,
    cancel: threading.Event | None = None,
    wait_for_lock: float = 0.0,
    connector: Connector | None = None,
    client: HaloClient | None = None,
    writer: BooksWriter | None = None,
) -> RunSummary:
    """One run. Never raises for an expected failure: see the summary's status and error.

    With ``[posting] enabled`` (and invoices among the entities) the run ends by posting Halo's invoices
    into the books (sync/posting.py); what an earlier posting left half-way is finished first, before the
    books are read, so the books -> Halo run never meets a posted invoice it does not know.
    """
    chosen = _ordered(entities if entities is not None else settings.sync.entities)

    def emit(event: RunStarted | RunFinished) -> None:
        if listener is not None:
            listener(event)

    try:
        paths = (paths or app_paths()).ensure()
        lock = SyncLock(paths.lock_file)
        acquired = lock.acquire(wait_for_lock)
    except LedgerBridgeError as exc:  # the data folder cannot be written: say so, as a finished run
        started = datetime.now(UTC)
        summary = RunSummary(run_id=0, started=started, finished=started, dry_run=dry_run)
        summary.status, summary.error, summary.error_kind = "failed", str(exc), _error_kind(exc)
        emit(RunStarted(0, chosen, dry_run, started))
        emit(RunFinished(summary))
        return summary
    if not acquired:
        started = datetime.now(UTC)
        holder = lock.holder() or "another LedgerBridge"
        summary = RunSummary(run_id=0, started=started, finished=datetime.now(UTC), dry_run=dry_run)
        summary.status, summary.error_kind = "failed", "busy"
        summary.error = (
            f"Another sync is running ({holder}). Wait for it to finish (see the tray icon), then try again."
        )
        emit(RunStarted(0, chosen, dry_run, started))
        emit(RunFinished(summary))
        return summary
    try:
        with _earlier_objects_frozen():
            return _run_locked(
                settings, secrets, paths, dry_run, chosen, listener, cancel, connector, client, writer
            )
    finally:
        lock.release()


@contextlib.contextmanager
def _earlier_objects_frozen() -> Iterator[None]:
    """The objects alive when the run starts are left out of the garbage collector's passes during it.

    Why: a run keeps a page of records and their links alive at a time, so Python's collector makes a few
    full passes per run, and each walks every object in the process (in the app, every module and Qt
    wrapper), none of which the run made: at scale 0.2 they were half the collector's time in a no-change
    full re-read. ``gc.freeze`` sets them aside; ``gc.unfreeze`` hands them back when the run ends, and
    any of them freed in the meantime in a reference cycle is collected then. Runs never overlap (the
    sync lock), so one run's unfreeze never ends another's freeze.
    """
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()


def _run_locked(
    settings: Settings,
    secrets: SecretStore,
    paths: AppPaths,
    dry_run: bool,
    chosen: tuple[str, ...],
    listener: Listener | None,
    cancel: threading.Event | None,
    connector: Connector | None,
    client: HaloClient | None,
    writer: BooksWriter | None,
) -> RunSummary:
    started = datetime.now(UTC)
    state: StateStore | None = None
    summary = RunSummary(run_id=0, started=started, dry_run=dry_run)
    own_connector = own_client = own_writer = False
    posting = settings.posting.enabled and "invoices" in chosen
    try:
        state = open_state(paths)
        summary.run_id = state.start_run(
            dry_run=dry_run, entities=(*chosen, "posting") if posting else chosen
        )
    except LedgerBridgeError as exc:
        summary.status, summary.error, summary.error_kind = "failed", str(exc), _error_kind(exc)
    if listener is not None:
        listener(RunStarted(summary.run_id, chosen, dry_run, started))
    if state is not None:
        try:
            settings.validate()
            if not chosen:
                raise ConfigError(
                    "No entities are chosen to sync.", action="Tick at least one in Settings > Sync."
                )
            if client is None:
                client, own_client = build_client(settings, secrets), True
            client.sign_in()  # fail fast and clearly (secret rejected, server unreachable) before any reads
            if connector is None:
                connector, own_connector = build_connector(settings, secrets), True
            run_listener = listener if dry_run else SkipRecorder(state, listener)  # skips kept with why
            posting_run: PostingRun | None = None
            if posting:
                check_settings(settings.posting)  # no start date: stop before anything is read
                if writer is None:
                    writer, own_writer = build_writer(settings, secrets), True
                posting_run = PostingRun(
                    settings,
                    state,
                    client,
                    writer,
                    summary=summary,
                    listener=run_listener,
                    cancel=cancel,
                    dry_run=dry_run,
                )
                posting_run.recover()
            guard = None if dry_run else SecondInstallationGuard(client, state)
            engine = SyncEngine(
                settings,
                state,
                connector,
                guard or client,
                summary=summary,
                listener=run_listener,
                cancel=cancel,
                dry_run=dry_run,
            )
            engine.run(chosen)
            if guard is not None:
                guard.finish()
            if posting_run is not None:
                posting_run.run()
            summary.status = "partial" if summary.total("failed") or engine.interrupted else "ok"
        except CancelledError:
            summary.status = "cancelled"
        except LedgerBridgeError as exc:
            log.warning("Sync could not run: %s (%s)", exc, exc.detail)
            summary.status, summary.error, summary.error_kind = "failed", str(exc), _error_kind(exc)
        except Exception as exc:  # a bug must still end the run cleanly and be reported, not kill the app
            log.exception("Sync failed unexpectedly")
            summary.status, summary.error_kind = "failed", "bug"
            summary.error = (
                f"LedgerBridge hit an unexpected error ({type(exc).__name__}). "
                f"Send the log file {paths.log_file} to support; nothing confirmed so far is lost."
            )
        finally:
            if own_connector and connector is not None:
                _quietly(connector.close)
            if own_client and client is not None:
                _quietly(client.close)
            if own_writer and writer is not None:
                _quietly(writer.close)
            summary.finished = datetime.now(UTC)
            try:
                state.finish_run(summary.run_id, summary)
            except LedgerBridgeError as exc:  # a full disk: the run's own outcome still reaches the caller
                log.warning("The run could not be recorded: %s", exc)
                if not summary.error:
                    summary.status, summary.error, summary.error_kind = "failed", str(exc), _error_kind(exc)
            finally:
                _quietly(state.close)
    summary.finished = summary.finished or datetime.now(UTC)
    log.info("%s", describe_run(summary))
    if listener is not None:
        listener(RunFinished(summary))
    return summary


def describe_run(summary: RunSummary) -> str:
    """One log line a support technician can read: status, time taken and counts per entity."""
    seconds = ((summary.finished or summary.started) - summary.started).total_seconds()
    counts = "; ".join(
        f"{entity} " + ", ".join(f"{n} {outcome}" for outcome, n in outcomes.items() if n)
        for entity, outcomes in summary.counts.items()
        if any(outcomes.values())
    )
    kind = "Dry run" if summary.dry_run else "Sync"
    text = f"{kind} {summary.run_id} {summary.status} in {seconds:.1f} s: {counts or 'nothing to do'}"
    return f"{text}. {summary.error}" if summary.error else f"{text}."


def _quietly(close: object) -> None:
    try:
        close()  # type: ignore[operator]
    except Exception:  # closing must never hide the run's own outcome
        log.debug("close failed", exc_info=True)

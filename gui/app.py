"""Start-up of the desktop app: one instance per user, logging and crash reporting, then wizard or window.

Order matters: the single-instance check comes first (a second launch must hand over quickly and touch
nothing), then logging and the exception hooks (so everything after is recorded), then the demo, the wizard
(not configured yet) or the main window and tray (configured; only the tray with --minimized).
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
import traceback
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import Any

from PySide6.QtCore import QEvent, QObject, QTimer, QtMsgType, Signal, Slot, qInstallMessageHandler
from PySide6.QtGui import QSessionManager
from PySide6.QtWidgets import QApplication, QMessageBox, QSystemTrayIcon, QWidget

from core.errors import ConfigError
from core.scrub import scrub
from gui.advice import describe_error
from gui.controller import AppContext, SyncController
from gui.icons import app_icon
from gui.main_window import MainWindow
from gui.single_instance import SingleInstance, server_name
from gui.tray import TrayController
from gui.wizard import SetupWizard
from gui.worker import TaskRunner
from sync.logs import setup_logging
from sync.paths import AppPaths, app_paths
from sync.secrets import KeyringSecretStore
from sync.settings import Settings

log = logging.getLogger("ledgerbridge.gui.app")

# How long Quit waits for a running sync to finish the records it is sending before the app closes anyway
# (the engine checks for cancel before every batch; what was confirmed is kept, the rest is resent next run).
QUIT_WAIT_MS = 30_000

_QT_LEVELS = {
    QtMsgType.QtDebugMsg: logging.DEBUG,
    QtMsgType.QtInfoMsg: logging.INFO,
    QtMsgType.QtWarningMsg: logging.WARNING,
    QtMsgType.QtCriticalMsg: logging.ERROR,
    QtMsgType.QtFatalMsg: logging.CRITICAL,
}


def _qt_message(mode: QtMsgType, _context: object, message: str) -> None:
    logging.getLogger("ledgerbridge.qt").log(_QT_LEVELS.get(mode, logging.INFO), "%s", message)


class ExceptionReporter(QObject):
    """Unhandled exceptions (GUI thread or any other) are logged with a scrubbed traceback and shown.

    Why: a tray app that dies silently looks like it is syncing when it is not. The app keeps running.
    """

    report = Signal(str, str)  # summary, details (both scrubbed)

    def __init__(self, parent: QObject | None = None, *, show_dialogs: bool = True) -> None:
        super().__init__(parent)
        self.show_dialogs = show_dialogs
        self.reported: list[str] = []
        self._previous_hook = sys.excepthook
        self._previous_thread_hook = threading.excepthook
        self._dialogs: list[QMessageBox] = []
        self.report.connect(self._show)

    def install(self) -> None:
        sys.excepthook = self._excepthook
        threading.excepthook = self._thread_excepthook

    def uninstall(self) -> None:
        sys.excepthook = self._previous_hook
        threading.excepthook = self._previous_thread_hook

    def _excepthook(
        self, kind: type[BaseException], value: BaseException, trace: TracebackType | None
    ) -> None:
        self.handle(kind, value, trace, where="the window")

    def _thread_excepthook(self, args: threading.ExceptHookArgs) -> None:
        if args.exc_type is SystemExit:
            return
        name = args.thread.name if args.thread is not None else "a background thread"
        self.handle(args.exc_type, args.exc_value, args.exc_traceback, where=name)

    def handle(
        self, kind: type[BaseException], value: BaseException | None, trace: TracebackType | None, where: str
    ) -> None:
        if issubclass(kind, KeyboardInterrupt):
            QApplication.quit()  # DesktopApp's quit filter turns this into a clean quit
            return
        log.error("Unhandled error in %s", where, exc_info=(kind, value, trace))  # type: ignore[arg-type]
        summary = scrub(f"{kind.__name__}: {value}")
        details = scrub("".join(traceback.format_exception(kind, value, trace)))
        self.report.emit(summary, details)  # queued to the GUI thread when raised elsewhere

    @Slot(str, str)
    def _show(self, summary: str, details: str) -> None:
        self.reported.append(summary)
        if not self.show_dialogs:
            return
        box = QMessageBox(
            QMessageBox.Icon.Critical,
            "LedgerBridge hit an unexpected error",
            "Something went wrong inside LedgerBridge. It keeps running.",
        )
        box.setInformativeText(
            "If it happens again, send the log (Log tab > Open log folder) to your IT support. "
            "The technical details are under Show Details."
        )
        box.setDetailedText(f"{summary}\n\n{details}")
        box.finished.connect(lambda _result, b=box: self._dialogs.remove(b) if b in self._dialogs else None)
        self._dialogs.append(box)
        box.open()


class DesktopApp(QObject):
    """The running app: which of wizard / window / tray is up, and the objects behind them.

    Quitting has one path, whoever asks (tray or window Quit, Ctrl-C / SIGTERM, the wizard closed, Windows
    log-off, an upgrade): a running sync is cancelled and finishes the batch it is sending, then every window
    closes (the main window no longer hides itself to the tray) and the event loop ends.
    """

    def __init__(self, app: QApplication, args: argparse.Namespace, paths: AppPaths | None = None) -> None:
        super().__init__()
        self.qt_app = app
        self.args = args
        self.paths = (paths or app_paths()).ensure()
        self.config_path = Path(args.config) if getattr(args, "config", None) else self.paths.settings_file
        self.tasks = TaskRunner(self)
        self.single: SingleInstance | None = None
        self.reporter = ExceptionReporter(self)
        self.context: AppContext | None = None
        self.controller: SyncController | None = None
        self.tray: TrayController | None = None
        self.window: MainWindow | None = None
        self.wizard: SetupWizard | None = None
        self.demo: Any = None
        self.message_box: QMessageBox | None = None
        self.tray_available = QSystemTrayIcon.isSystemTrayAvailable()
        self._previous_qt_handler: Any = None
        self._qt_handler_installed = False
        self.quitting = False  # a quit was asked for: windows may close, no new sync starts
        self._quit_ready = False  # the running sync (if any) has stopped: Qt's own quit may go through
        self._quit_deadline: QTimer | None = None
        self._shut_down = False
        app.installEventFilter(self)  # every QEvent.Quit (ours, Qt's, the OS's) goes through eventFilter
        app.commitDataRequest.connect(self._session_ending)

    # --- start ----------------------------------------------------------------------------------------------

    def instance_name(self) -> str:
        anchor = self.paths.data_dir / "demo" if self.args.demo else self.config_path
        return server_name(anchor)

    def start(self, *, install_qt_handler: bool = True) -> bool:
        """False when another copy was running and has been asked to show itself (then exit 0)."""
        self.single = SingleInstance(self.instance_name(), self)
        if not self.single.acquire():
            return False
        self.single.show_requested.connect(self.bring_forward)
        from gui.win_mutex import create_app_mutex

        create_app_mutex()
        setup_logging(self.paths)
        self.reporter.install()
        if install_qt_handler:
            self._previous_qt_handler = qInstallMessageHandler(_qt_message)
            self._qt_handler_installed = True
        log.info(
            "LedgerBridge desktop app starting (tray %s).", "available" if self.tray_available else "absent"
        )
        if self.args.demo:
            self.start_demo()
            return True
        try:
            settings = Settings.load(self.config_path)
        except ConfigError as error:
            self._tell(QMessageBox.Icon.Warning, "The settings file cannot be read", describe_error(error))
            settings = Settings()
        if settings.is_configured():
            self.open_main(self._context_for(settings))
        else:
            self.open_wizard(settings)
        return True

    def _context_for(self, settings: Settings) -> AppContext:
        secrets = KeyringSecretStore(allow_plaintext=settings.app.allow_plaintext_secrets)
        return AppContext(settings=settings, secrets=secrets, paths=self.paths, config_path=self.config_path)

    def open_wizard(self, settings: Settings | None = None) -> SetupWizard:
        wizard = SetupWizard(self.paths, self.config_path, settings)
        wizard.finished.connect(self._wizard_finished)
        self.wizard = wizard
        wizard.show()
        return wizard

    @Slot(int)
    def _wizard_finished(self, _result: int) -> None:
        wizard, self.wizard = self.wizard, None
        if wizard is None:
            return
        wizard.stop_background_work(QUIT_WAIT_MS)  # a preview still running must not outlive its wizard
        wizard.deleteLater()
        if wizard.choice == "demo":
            self.start_demo()
        elif wizard.choice == "configured" and wizard.saved_settings is not None:
            self.open_main(self._context_for(wizard.saved_settings))
        elif not self.quitting:
            log.info("Set-up cancelled; LedgerBridge closes.")
            self.quit()

    def start_demo(self) -> None:
        """Build the demo company and start the sandbox off the GUI thread, then open the window on it."""
        from demo.environment import DemoEnvironment

        home = self.paths.data_dir
        self._tell(
            QMessageBox.Icon.Information, "Starting the demo", "Preparing the demo company and sandbox…"
        )
        self.tasks.submit(lambda: DemoEnvironment.start(home), self._demo_started, self._demo_failed)

    def _demo_started(self, demo: Any) -> None:
        self._close_message()
        self.demo = demo
        context = AppContext(
            settings=demo.settings,
            secrets=demo.secrets,
            paths=demo.paths,
            config_path=self.config_path,
            demo=demo,
            log_file=self.paths.log_file,  # the app keeps logging to its own file while it shows the demo
        )
        self.open_main(context, force_window=True)

    def _demo_failed(self, error: BaseException) -> None:
        self._close_message()
        log.error("The demo could not start: %s", error, exc_info=error)
        self._tell(QMessageBox.Icon.Critical, "The demo could not start", describe_error(error))

    def open_main(self, context: AppContext, *, force_window: bool = False) -> MainWindow:
        self.context = context
        controller = SyncController(context, parent=self)
        tray = TrayController(controller, self)
        window = MainWindow(controller, tray_available=tray.available)
        tray.open_requested.connect(self.bring_forward)
        tray.place_requested.connect(window.open_place)
        tray.quit_requested.connect(self.quit_asked)
        window.quit_requested.connect(self.quit)  # the window asked already (closeEvent)
        window.hidden_to_tray.connect(lambda text: tray.show_message("LedgerBridge", text))
        self.controller, self.tray, self.window = controller, tray, window
        tray.show()
        controller.start()
        if isinstance(context.secrets, KeyringSecretStore):  # the demo's secrets live in memory
            controller.tasks.submit(context.secrets.check, None, self._keyring_problem)
        # --minimized comes from the start-at-login entry; the user may prefer the window even then.
        at_login = bool(getattr(self.args, "minimized", False)) and context.settings.app.start_minimised
        minimised = at_login and tray.available and not force_window
        if not minimised:
            window.show()
        return window

    def _keyring_problem(self, error: BaseException) -> None:
        if self.window is not None:
            self.window.status_page.info_label.setText(describe_error(error))
        if self.tray is not None:
            self.tray.show_message("LedgerBridge cannot read its secrets", describe_error(error), True)

    # --- running --------------------------------------------------------------------------------------------

    @Slot()
    def bring_forward(self) -> None:
        if self.window is not None:
            self.window.bring_forward()
        elif self.wizard is not None:
            self.wizard.show()
            self.wizard.raise_()
            self.wizard.activateWindow()

    @Slot()
    def quit_asked(self) -> None:
        """The tray's Quit: the window may first ask about mapping choices not saved yet."""
        if self.window is not None and not self.quitting and not self.window.confirm_quit():
            return
        self.quit()

    @Slot()
    def quit(self) -> None:
        """Quit for real: a running sync stops after its current batch, then the app ends (window or not)."""
        if self.quitting:
            return
        self._begin_quit()
        controller = self.controller
        if controller is not None and controller.is_running():
            log.info("Quit asked during a sync: it stops after the records it is sending now.")
            controller.busy_changed.connect(self._sync_stopped_for_quit)
            controller.cancel()
            if self.tray is not None:
                self.tray.show_message(
                    "LedgerBridge is closing", "The sync stops after the records it is sending now."
                )
            deadline = QTimer(self)
            deadline.setSingleShot(True)
            deadline.timeout.connect(self._finish_quit)
            deadline.start(QUIT_WAIT_MS)
            self._quit_deadline = deadline
            return
        self._finish_quit()

    def _begin_quit(self) -> None:
        self.quitting = True
        if self.window is not None:
            self.window.prepare_to_quit()
        if self.controller is not None:
            self.controller.scheduler.stop()  # no timed run may start while we wait to close

    @Slot(bool)
    def _sync_stopped_for_quit(self, busy: bool) -> None:
        if not busy:
            self._finish_quit()

    @Slot()
    def _finish_quit(self) -> None:
        if self._quit_ready:
            return
        self._quit_ready = True
        if self._quit_deadline is not None:
            self._quit_deadline.stop()
        log.info("LedgerBridge is quitting.")
        self.qt_app.quit()

    def _stop_sync_now(self) -> None:
        """For a quit that cannot wait for the event loop (log-off): cancel and wait here for the batch."""
        controller = self.controller
        if controller is not None and controller.is_running():
            log.info("Quitting during a sync: waiting for the records it is sending now.")
            controller.shutdown(QUIT_WAIT_MS)

    @Slot(QSessionManager)
    def _session_ending(self, _manager: QSessionManager | None) -> None:
        """Windows log-off / shut-down (WM_QUERYENDSESSION) or the X11 session manager: let the app go.

        Qt then closes every window and quits; the main window must not hide itself to the tray, or the
        log-off would be blocked. A running sync is asked to stop now, so it is done by the time Qt quits.
        """
        log.info("The session is ending; LedgerBridge stops.")
        if not self.quitting:
            self._begin_quit()
        if self.controller is not None and self.controller.is_running():
            self.controller.cancel()

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        """A quit LedgerBridge did not start itself (log-off, an installer, QApplication.quit()): honour it.

        Qt turns every quit into a QEvent.Quit to the application, which first asks each window to close.
        Without this, the main window (which hides to the tray on close) would refuse, and the quit with it.
        """
        if watched is self.qt_app and event.type() == QEvent.Type.Quit and not self._quit_ready:
            if not self.quitting:
                self._begin_quit()
            self._stop_sync_now()
            self._quit_ready = True
        return False

    def _tell(self, icon: QMessageBox.Icon, title: str, text: str, parent: QWidget | None = None) -> None:
        self._close_message()
        box = QMessageBox(icon, title, text, QMessageBox.StandardButton.Ok, parent)
        box.setWindowIcon(app_icon())
        self.message_box = box
        box.show()

    def _close_message(self) -> None:
        if self.message_box is not None:
            self.message_box.close()
            self.message_box.deleteLater()
            self.message_box = None

    # --- stop -----------------------------------------------------------------------------------------------

    def shutdown(self) -> None:
        """Cancel a running sync and wait for it, stop the demo sandbox, give back the instance name."""
        if not self._shut_down:
            self._shut_down = True
            self.qt_app.removeEventFilter(self)
            self.qt_app.commitDataRequest.disconnect(self._session_ending)
        self.quitting = True
        if self.controller is not None:
            self.controller.shutdown()
        if self.window is not None:
            self.window.log_page.detach()
            self.window.hide()
            self.window.deleteLater()
            self.window = None
        if self.tray is not None:
            self.tray.hide()
        if self.wizard is not None:
            self.wizard.stop_background_work(QUIT_WAIT_MS)
            self.wizard.hide()
            self.wizard.deleteLater()
            self.wizard = None
        self._close_message()
        if self.demo is not None:
            self.demo.stop()
            self.demo = None
        if self.single is not None:
            self.single.release()
        self.reporter.uninstall()
        if self._qt_handler_installed:
            qInstallMessageHandler(self._previous_qt_handler)
            self._qt_handler_installed = False


def run_app(args: argparse.Namespace) -> int:
    """The desktop app (main.py with no command). Returns the process exit code."""
    app = QApplication.instance() or QApplication(sys.argv[:1])
    assert isinstance(app, QApplication)
    app.setApplicationName("LedgerBridge")
    app.setOrganizationName("LedgerBridge")
    app.setWindowIcon(app_icon())
    app.setQuitOnLastWindowClosed(False)
    desktop = DesktopApp(app, args)
    if not desktop.start():
        return 0
    restore_signals = install_quit_signals(desktop)
    try:
        return app.exec()
    finally:
        restore_signals()
        desktop.shutdown()


def install_quit_signals(desktop: DesktopApp) -> Callable[[], None]:
    """Ctrl-C in a terminal, SIGTERM (log-off, ``kill``, an upgrade): the same clean quit as the tray's Quit.

    Python only runs signal handlers between bytecodes, so a timer wakes the interpreter while Qt waits for
    events. Returns what puts the previous handlers back.
    """
    numbers = [signal.SIGINT, signal.SIGTERM]
    previous = {number: signal.getsignal(number) for number in numbers}

    def on_signal(number: int, _frame: object) -> None:
        log.info("Signal %s received; LedgerBridge quits.", signal.Signals(number).name)
        QTimer.singleShot(0, desktop.quit)  # out of the signal handler, into the event loop

    for number in numbers:
        signal.signal(number, on_signal)
    wake = QTimer(desktop)
    wake.timeout.connect(lambda: None)
    wake.start(200)

    def restore() -> None:
        wake.stop()
        for number, handler in previous.items():
            signal.signal(number, handler)

    return restore

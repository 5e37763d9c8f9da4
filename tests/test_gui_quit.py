"""Quit means quit: the tray's Quit, SIGTERM and a log-off end the app with the window open or not.

The app runs in its real event loop (``QApplication.exec``) with a deadline that ends the loop with code 99:
a quit that is refused (the window hiding itself to the tray instead of closing) fails the test instead of
hanging it. Qt's offscreen platform has no tray host, so ``tray_available`` is set on the window as it is
on a desktop that has one (that is when closing the window hides it, and when the defect showed). There,
Qt's quit gave up when the window hid itself instead of closing and said "use Quit in that icon's menu";
offscreen, Qt carries on quitting, so every test also checks that the window closed rather than hid.
"""

from __future__ import annotations

import argparse
import os
import signal
from collections.abc import Callable, Iterator

import pytest
from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import QApplication, QMessageBox

from gui.app import DesktopApp, install_quit_signals

pytestmark = pytest.mark.qt_log_ignore("This plugin does not support")

REFUSED = 99  # the exit code of the deadline: the app did not quit


def exec_until_quit(app: QApplication, action: Callable[[], object], deadline_ms: int = 60_000) -> int:
    """Run the real event loop, do ``action`` from inside it, and return the loop's exit code."""
    deadline = QTimer()
    deadline.setSingleShot(True)
    deadline.timeout.connect(lambda: app.exit(REFUSED))
    deadline.start(deadline_ms)
    QTimer.singleShot(0, action)
    try:
        return app.exec()
    finally:
        deadline.stop()


@pytest.fixture
def desktop(qtbot, gui_context, gui_env) -> Iterator[DesktopApp]:
    gui_context.settings.save(gui_context.config_path)
    app = QApplication.instance()
    # As gui.app.run_app sets it. Left at Qt's default, the windows closed by the quit would post one more
    # quit, delivered after the loop ended: every later event loop in the test session would then end at once.
    app.setQuitOnLastWindowClosed(False)
    running = DesktopApp(app, argparse.Namespace(demo=False, minimized=False, config=None), gui_context.paths)
    try:
        assert running.start(install_qt_handler=False)
        assert running.window is not None and running.window.isVisible()
        running.window.tray_available = True  # as with a tray host: closing the window hides it
        running.told_about_tray = []  # type: ignore[attr-defined]
        running.window.hidden_to_tray.connect(running.told_about_tray.append)  # type: ignore[attr-defined]
        yield running
    finally:
        running.shutdown()
        qtbot.waitUntil(lambda: running.tasks.pending == 0, timeout=10_000)
        app.setQuitOnLastWindowClosed(True)


def test_closing_the_window_hides_it_to_the_tray_and_the_app_keeps_running(desktop):
    window = desktop.window
    assert not window.close()  # the window's X: back to the tray, the app keeps syncing
    assert not window.isVisible() and len(desktop.told_about_tray) == 1
    window.bring_forward()
    assert window.isVisible() and not desktop.quitting


def test_the_trays_quit_with_the_window_open_ends_the_app(desktop):
    code = exec_until_quit(QApplication.instance(), desktop.tray.action_quit.trigger)
    assert code == 0
    assert not desktop.window.isVisible() and desktop.told_about_tray == []  # closed, not hidden


def test_quit_from_the_window_with_it_open_ends_the_app(desktop):
    code = exec_until_quit(QApplication.instance(), desktop.window.quit_requested.emit)
    assert code == 0 and desktop.told_about_tray == []


def test_a_quit_the_app_did_not_start_itself_goes_through(desktop):
    """Qt quits this way on Windows log-off (WM_ENDSESSION) and when an installer closes the app."""
    code = exec_until_quit(QApplication.instance(), QApplication.quit)
    assert code == 0
    assert not desktop.window.isVisible() and desktop.told_about_tray == []


def test_log_off_lets_the_window_close(desktop):
    # WM_QUERYENDSESSION exists only on Windows: the slot of its Qt signal is called as Qt calls it.
    desktop._session_ending(None)
    assert desktop.window.close()  # the session manager's close is accepted, not hidden to the tray
    assert not desktop.window.isVisible() and desktop.told_about_tray == []


@pytest.mark.parametrize("window_open", [True, False])
def test_sigterm_quits_with_the_window_open_or_not(desktop, window_open):
    if not window_open:
        desktop.window.close()  # hidden to the tray
        desktop.told_about_tray.clear()
    restore = install_quit_signals(desktop)
    try:
        code = exec_until_quit(QApplication.instance(), lambda: os.kill(os.getpid(), signal.SIGTERM))
    finally:
        restore()
    assert code == 0 and desktop.told_about_tray == []
    assert not desktop.window.isVisible()


def test_quit_during_a_sync_waits_for_the_current_batch_then_ends(desktop):
    controller = desktop.controller

    def start_then_quit() -> None:
        assert controller.sync_now()
        desktop.tray.action_quit.trigger()
        assert controller.scheduler.is_active() is False  # no timed run starts while it waits

    code = exec_until_quit(QApplication.instance(), start_then_quit)
    assert code == 0
    assert not controller.is_running()  # stopped inside the event loop, not cut off afterwards
    assert controller.last_summary is not None
    assert controller.last_summary.status in ("cancelled", "ok", "partial")


def test_quit_while_the_wizard_previews_waits_for_the_preview_then_ends(qtbot, sage_company, gui_env):
    from tests.standins.sage50uk import odbc_connection_string

    app = QApplication.instance()
    app.setQuitOnLastWindowClosed(False)
    desktop = DesktopApp(
        app, argparse.Namespace(demo=False, minimized=False, config=None), sage_company.paths
    )
    try:
        assert desktop.start(install_qt_handler=False)
        wizard = desktop.wizard
        wizard.next()
        halo = wizard.halo_page
        halo.form.resource_server.setText(sage_company.sandbox.url)
        halo.form.client_id.setText(sage_company.sandbox.client_id)
        halo.form.client_secret.setText(sage_company.sandbox.client_secret)
        halo.plaintext_box.setChecked(True)  # the tests' keyring is a plain-text file
        qtbot.waitUntil(lambda: halo.keyring_ok is True, timeout=10_000)
        wizard.next()
        wizard.source_page.form.connection_string.setText(odbc_connection_string(sage_company.path))
        wizard.next()
        wizard.next()
        page = wizard.mappings_page
        qtbot.waitUntil(lambda: page.editor.snapshot is not None, timeout=60_000)
        page.start_dry_run()
        thread = page.dry_run_thread
        assert thread is not None
        ended: list[bool] = []
        thread.finished.connect(lambda: ended.append(True), Qt.ConnectionType.DirectConnection)
        code = exec_until_quit(app, desktop.quit)
        assert code == 0
        assert ended == [True]  # waited for before its wizard went (Qt aborts on a running QThread deleted)
        assert desktop.wizard is None
    finally:
        desktop.shutdown()
        qtbot.waitUntil(lambda: desktop.tasks.pending == 0, timeout=10_000)
        app.setQuitOnLastWindowClosed(True)


def answer_the_question_with(button: QMessageBox.StandardButton, seen: list[str]) -> None:
    """Click ``button`` on the modal question as soon as it shows (polled from the event loop)."""

    def poll() -> None:
        box = QApplication.activeModalWidget()
        if isinstance(box, QMessageBox):
            seen.append(box.text())
            box.button(button).click()
        else:
            QTimer.singleShot(20, poll)

    QTimer.singleShot(20, poll)


def test_the_trays_quit_asks_before_losing_mapping_choices_not_saved(desktop):
    editor = desktop.window.mappings_page.editor
    editor.pending_customers["ACME01"] = None  # a choice made on the Mappings tab, not saved yet
    seen: list[str] = []
    answer_the_question_with(QMessageBox.StandardButton.Cancel, seen)
    desktop.tray.action_quit.trigger()
    assert seen and "1 mapping choice is not saved" in seen[0]
    assert not desktop.quitting and desktop.window.isVisible()
    assert desktop.window.tabs.currentWidget() is desktop.window.mappings_page  # where to press Save

    def quit_and_discard() -> None:
        answer_the_question_with(QMessageBox.StandardButton.Discard, seen)
        desktop.tray.action_quit.trigger()

    assert exec_until_quit(QApplication.instance(), quit_and_discard) == 0
    assert len(seen) == 2


def test_sigterm_does_not_wait_for_an_answer_about_mapping_choices(desktop):
    desktop.window.mappings_page.editor.pending_customers["ACME01"] = None
    restore = install_quit_signals(desktop)
    try:
        code = exec_until_quit(
            QApplication.instance(), lambda: os.kill(os.getpid(), signal.SIGTERM), deadline_ms=20_000
        )
    finally:
        restore()
    assert code == 0 and QApplication.activeModalWidget() is None

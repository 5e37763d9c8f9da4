"""The app as a whole: demo start-up, crash reports, when to notify, the Settings tab, closing the window."""

from __future__ import annotations

import argparse
import logging
import os
import subprocess
import sys
import threading
from datetime import UTC, datetime
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication

from core.scrub import register_secret
from gui.app import DesktopApp, ExceptionReporter
from gui.attention import AttentionPolicy, user_must_act
from gui.main_window import HIDDEN_TO_TRAY_MESSAGE, MainWindow
from gui.tray import TrayController
from sync.events import RunSummary
from sync.logs import setup_logging
from sync.paths import app_paths
from sync.secrets import HALO_CLIENT_SECRET
from sync.settings import Settings

REPO = Path(__file__).resolve().parent.parent

pytestmark = pytest.mark.qt_log_ignore("This plugin does not support")


def summary(
    status: str = "ok", error: str = "", failed: int = 0, dry_run: bool = False, kind: str = ""
) -> RunSummary:
    if status == "failed" and not kind:
        kind = "transient"
    result = RunSummary(run_id=1, started=datetime.now(UTC), status=status, error=error, dry_run=dry_run)  # type: ignore[arg-type]
    result.error_kind = kind  # type: ignore[assignment]
    result.add("customers", "created", 3)
    if failed:
        result.add("customers", "failed", failed)
    return result


# --- when to interrupt the user ----------------------------------------


def test_transient_failures_notify_only_after_three_in_a_row():
    policy = AttentionPolicy()
    timeout = (
        "Halo did not answer in time (the network may be down). LedgerBridge tries again at the next run."
    )
    assert not user_must_act(summary("failed", timeout))
    assert policy.observe(summary("failed", timeout)) is None
    assert policy.needs_attention
    assert policy.observe(summary("failed", timeout)) is None
    notice = policy.observe(summary("failed", timeout))
    assert notice is not None and not notice.critical and "last 3 syncs failed" in notice.message
    assert policy.observe(summary("failed", timeout)) is None  # said once per streak, not every run
    assert policy.observe(summary("ok")) is None and not policy.needs_attention
    assert policy.consecutive_failures == 0


def test_a_refused_sign_in_notifies_at_once():
    policy = AttentionPolicy()
    refused = "Halo refused the client ID or secret (invalid_client). Re-enter them in Settings > Halo."
    notice = policy.observe(summary("failed", refused, kind="auth"))
    assert notice is not None and notice.critical and refused in notice.message
    for _ in range(5):  # the timer keeps failing the same way: said once, not every hour
        assert policy.observe(summary("failed", refused, kind="auth")) is None
    assert policy.observe(summary("ok")) is None
    assert (
        policy.observe(summary("failed", refused, kind="auth")) is not None
    )  # broke again after a good run: said again


def test_failed_records_need_attention_without_a_notification():
    policy = AttentionPolicy()
    assert policy.observe(summary("partial", failed=2)) is None
    assert policy.needs_attention
    assert (
        policy.observe(summary("failed", "sign in refused", dry_run=True, kind="auth")) is None
    )  # a preview never nags


def test_the_tray_shows_the_notice_the_controller_raises(qtbot, gui_controller, sage_company):
    tray = TrayController(gui_controller, tray_available=lambda: False)
    sage_company.secrets.set(HALO_CLIENT_SECRET, "wrong-secret")
    with qtbot.waitSignal(gui_controller.run_finished, timeout=120_000) as finished:
        gui_controller.sync_now()
    qtbot.waitUntil(lambda: not gui_controller.is_running(), timeout=10_000)
    result = finished.args[0]
    assert result.status == "failed" and result.error
    assert tray.state == "attention"
    assert len(tray.notices) == 1 and tray.notices[0][2] is True  # the user must act: said at once
    assert "wrong-secret" not in tray.notices[0][1]


# --- crash reporting ----------------------------------------


def test_unhandled_errors_are_logged_scrubbed_and_reported_and_the_app_goes_on(qtbot, isolated_home):
    paths = app_paths().ensure()
    log_file = setup_logging(paths)
    register_secret("s3cr3t-value-for-the-test")
    reporter = ExceptionReporter(show_dialogs=False)
    reporter.install()
    try:

        def worker() -> None:
            raise RuntimeError("token s3cr3t-value-for-the-test was refused")

        thread = threading.Thread(target=worker, name="test-worker")
        thread.start()
        thread.join()
        qtbot.waitUntil(lambda: bool(reporter.reported), timeout=5000)
        try:
            raise ValueError("in the window, with s3cr3t-value-for-the-test")
        except ValueError as exc:
            reporter._excepthook(type(exc), exc, exc.__traceback__)
        qtbot.waitUntil(lambda: len(reporter.reported) == 2, timeout=5000)
    finally:
        reporter.uninstall()
    for handler in logging.getLogger().handlers:
        handler.flush()
    text = log_file.read_text(encoding="utf-8")
    assert "Unhandled error in test-worker" in text and "Traceback" in text
    assert "s3cr3t-value-for-the-test" not in text
    assert all("s3cr3t-value-for-the-test" not in line for line in reporter.reported)
    assert reporter.reported[0].startswith("RuntimeError")


# --- the demo, the window ----------------------------------------


def test_the_demo_opens_the_window_with_its_banner_and_syncs(qtbot, isolated_home, gui_env):
    app = QApplication.instance()
    desktop = DesktopApp(app, argparse.Namespace(demo=True, minimized=False, config=None))
    try:
        assert desktop.start(install_qt_handler=False)
        qtbot.waitUntil(lambda: desktop.window is not None, timeout=120_000)
        window = desktop.window
        assert window.isVisible() and window.demo_banner is not None
        assert window.sandbox_url().startswith("http://127.0.0.1:")
        # The sandbox's address is shown and copyable; with no browser to open it, the banner says so.
        assert window.sandbox_address.text() == window.sandbox_url()
        window.copy_sandbox_url()
        assert QApplication.clipboard().text() == window.sandbox_url()
        assert window.open_sandbox() is False  # Qt's offscreen platform opens no browser, like a bare server
        assert window.sandbox_note.isVisibleTo(window)
        assert "No web browser opened" in window.sandbox_note.text()
        assert window.windowTitle() == "LedgerBridge — Demo"
        with qtbot.waitSignal(desktop.controller.run_finished, timeout=240_000) as finished:
            qtbot.mouseClick(window.status_page.sync_button, Qt.MouseButton.LeftButton)
        assert finished.args[0].status == "ok" and finished.args[0].total("created") > 0
        sandbox = desktop.demo.sandbox
        assert len(sandbox.records("Client")) > 0 and len(sandbox.records("Invoice")) > 0
        qtbot.waitUntil(lambda: window.history_page.table.rowCount() == 1, timeout=10_000)
        assert not app_paths().settings_file.exists()  # the demo never writes a real configuration
        # The Log tab shows (and "Open log folder" opens) the file the app really writes, run line included.
        assert window.log_page.log_file == app_paths().log_file
        assert f"Sync {finished.args[0].run_id} ok in" in app_paths().log_file.read_text(encoding="utf-8")
    finally:
        desktop.shutdown()


def test_a_configured_app_opens_the_main_window_not_the_wizard(qtbot, gui_context, gui_env):
    gui_context.settings.save(gui_context.config_path)
    app = QApplication.instance()
    desktop = DesktopApp(app, argparse.Namespace(demo=False, minimized=False, config=None), gui_context.paths)
    try:
        assert desktop.start(install_qt_handler=False)
        assert desktop.wizard is None and desktop.window is not None and desktop.window.isVisible()
        assert desktop.controller.scheduler.is_active()
    finally:
        desktop.shutdown()


def test_not_configured_opens_the_wizard(qtbot, isolated_home, gui_env):
    app = QApplication.instance()
    desktop = DesktopApp(app, argparse.Namespace(demo=False, minimized=False, config=None))
    try:
        assert desktop.start(install_qt_handler=False)
        assert desktop.window is None and desktop.wizard is not None and desktop.wizard.isVisible()
    finally:
        desktop.shutdown()


def test_closing_the_window_hides_it_to_the_tray_and_says_so_once(qtbot, gui_controller):
    window = MainWindow(gui_controller, tray_available=True)
    qtbot.addWidget(window)
    told: list[str] = []
    window.hidden_to_tray.connect(told.append)
    window.show()
    window.close()
    assert not window.isVisible() and told == [HIDDEN_TO_TRAY_MESSAGE]
    window.bring_forward()
    assert window.isVisible()
    window.close()
    assert told == [HIDDEN_TO_TRAY_MESSAGE]
    window.log_page.detach()


def test_without_a_tray_closing_the_window_quits(qtbot, gui_controller):
    window = MainWindow(gui_controller, tray_available=False)
    qtbot.addWidget(window)
    window.show()
    with qtbot.waitSignal(window.quit_requested, timeout=1000):
        window.close()


def test_the_settings_tab_saves_settings_and_the_secret_and_the_timer_follows(qtbot, gui_controller, gui_env):
    window = MainWindow(gui_controller, tray_available=True)
    qtbot.addWidget(window)
    page = window.settings_page
    qtbot.waitUntil(lambda: page._secrets_loaded, timeout=10_000)
    assert page.halo_form.client_secret.text() == gui_controller.context.secrets.get(HALO_CLIENT_SECRET)
    page.sync_form.interval.setValue(5)
    page.halo_form.client_secret.setText("a-new-secret")
    page.app_form.start_at_login.setChecked(True)
    page.save()
    qtbot.waitUntil(lambda: page.result_label.text().startswith("Saved"), timeout=10_000)
    saved = Settings.load(gui_controller.context.config_path)
    assert saved.sync.interval_minutes == 5 and saved.app.start_at_login
    assert "a-new-secret" not in gui_controller.context.config_path.read_text(encoding="utf-8")
    assert gui_controller.context.secrets.get(HALO_CLIENT_SECRET) == "a-new-secret"
    assert gui_controller.scheduler.interval_ms == 5 * 60_000
    autostart = gui_env / "xdg-config" / "autostart" / "ledgerbridge.desktop"
    assert autostart.exists() and "--minimized" in autostart.read_text(encoding="utf-8")

    page.halo_form.resource_server.setText("")
    page.save()
    assert "resource server is not set" in page.result_label.text()
    window.log_page.detach()


def test_minimized_without_a_tray_still_shows_the_window(qtbot, gui_context, gui_env):
    gui_context.settings.save(gui_context.config_path)
    app = QApplication.instance()
    desktop = DesktopApp(app, argparse.Namespace(demo=False, minimized=True, config=None), gui_context.paths)
    try:
        assert desktop.start(install_qt_handler=False)
        assert not desktop.tray.available  # offscreen has no system tray
        assert desktop.window is not None and desktop.window.isVisible()  # otherwise nothing could be reached
    finally:
        desktop.shutdown()


def test_a_second_launch_brings_the_running_apps_window_forward(qtbot, gui_context, isolated_home, gui_env):
    """The first copy is the real app (in this process); the second is ``python main.py`` in a new process."""
    gui_context.settings.save(gui_context.config_path)
    app = QApplication.instance()
    desktop = DesktopApp(app, argparse.Namespace(demo=False, minimized=False, config=None), gui_context.paths)
    try:
        assert desktop.start(install_qt_handler=False)
        window = desktop.window
        window.hide()  # as if closed to the tray
        env = {**os.environ, "LEDGERBRIDGE_HOME": str(isolated_home), "QT_QPA_PLATFORM": "offscreen"}
        second = subprocess.Popen([sys.executable, str(REPO / "main.py")], cwd=REPO, env=env)
        qtbot.waitUntil(window.isVisible, timeout=60_000)
        assert second.wait(timeout=60) == 0
    finally:
        desktop.shutdown()

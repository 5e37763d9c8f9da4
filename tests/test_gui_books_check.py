"""The *Check the books* and *Support bundle* buttons on a real Qt event loop (pytest-qt), on the stand-in
Sage 50 UK company (real unixODBC) and the real HTTP Halo sandbox. The doctor runs on the worker pool: the
test checks it ran off the GUI thread and that the event loop kept turning meanwhile."""

from __future__ import annotations

import threading
import zipfile

import pytest
from PySide6.QtCore import Qt, QTimer

import sync.doctor
from gui.books_check import BooksCheckPanel
from gui.pages.settings_page import SettingsPage
from gui.wizard import SetupWizard

pytestmark = pytest.mark.qt_log_ignore("This plugin does not support")

TIMEOUT = 60_000


def test_check_the_books_runs_off_the_gui_thread_and_shows_the_report(qtbot, gui_controller, monkeypatch):
    context = gui_controller.context
    threads: list[threading.Thread] = []
    real = sync.doctor.run_doctor

    def recording(*args, **kwargs):
        threads.append(threading.current_thread())
        return real(*args, **kwargs)

    monkeypatch.setattr(sync.doctor, "run_doctor", recording)
    panel = BooksCheckPanel(gui_controller.tasks, lambda: (context.settings, context.secrets))
    qtbot.addWidget(panel)
    ticks: list[int] = []
    timer = QTimer()
    timer.timeout.connect(lambda: ticks.append(1))
    timer.start(5)
    with qtbot.waitSignal(panel.report_ready, timeout=TIMEOUT) as blocker:
        qtbot.mouseClick(panel.check_button, Qt.MouseButton.LeftButton)
        assert not panel.check_button.isEnabled()  # busy while it runs
    timer.stop()
    report = blocker.args[0]
    assert threads and threads[0] is not threading.main_thread()
    assert ticks  # the GUI thread kept turning
    assert report.ok, report.to_text()
    assert "INVOICE: found" in panel.report_view.toPlainText() and panel.report_view.isVisibleTo(panel)
    assert "No problems found" in panel.status.text()
    assert panel.check_button.isEnabled()
    assert not panel.bundle_button.isVisibleTo(panel)  # no paths: no bundle button (the wizard's panel)


def test_settings_page_has_both_buttons_and_writes_a_bundle_without_the_secret(
    qtbot, gui_controller, tmp_path
):
    page = SettingsPage(gui_controller)
    qtbot.addWidget(page)
    qtbot.waitUntil(lambda: page._secrets_loaded, timeout=TIMEOUT)
    panel = page.books_check
    assert panel.bundle_button.isVisibleTo(page) and panel.check_button.isVisibleTo(page)
    target = tmp_path / "bundle.zip"
    panel.bundle_target = lambda: target
    with qtbot.waitSignal(panel.bundle_written, timeout=TIMEOUT) as blocker:
        qtbot.mouseClick(panel.bundle_button, Qt.MouseButton.LeftButton)
    assert blocker.args[0] == str(target)
    secret = gui_controller.context.secrets.get("halo.client_secret")
    with zipfile.ZipFile(target) as bundle:
        everything = "\n".join(bundle.read(name).decode("utf-8") for name in bundle.namelist())
    assert "INVOICE: found" in everything
    assert secret and secret not in everything
    assert "Support bundle saved" in panel.status.text()


def test_the_wizard_accounting_page_has_check_the_books(qtbot, sage_company, gui_env):
    paths = sage_company.paths
    wizard = SetupWizard(paths, paths.settings_file)
    qtbot.addWidget(wizard)
    panel = wizard.source_page.books_check
    assert panel.check_button.text() == "Check the books"
    assert panel.bundle_button.isHidden()
    wizard.source_page.form.load(sage_company.settings, None)
    with qtbot.waitSignal(panel.report_ready, timeout=TIMEOUT) as blocker:
        panel.check()
    report = blocker.args[0]
    assert {table.table for table in report.tables} >= {"INVOICE", "AUDIT_HEADER"}
    qtbot.waitUntil(lambda: wizard.tasks.pending == 0, timeout=TIMEOUT)
    wizard._close_state()

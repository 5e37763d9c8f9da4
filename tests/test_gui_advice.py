"""Every "what to do" is actionable where the user is: the right page and field one click away, the raw error
behind *Details*, the wizard's own words inside the wizard. Real sandbox Halo over HTTP, real Qt widgets.
"""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt

from gui.advice import Place, find_place, in_wizard_words
from gui.main_window import MainWindow
from gui.wizard import SetupWizard
from sync.secrets import HALO_CLIENT_SECRET
from sync.settings import Settings

LOAD_TIMEOUT = 60_000

pytestmark = pytest.mark.qt_log_ignore("This plugin does not support")


def test_advice_names_places_and_reads_in_the_wizards_words():
    assert find_place("Point Settings > Halo > CA bundle at a PEM file.") == Place("halo", "ca_bundle")
    assert find_place("Re-enter them in Settings > Halo (the secret is shown once).") == Place("halo")
    assert find_place("Check the path in Settings > Accounting package.") == Place("source")
    assert find_place("Map it in Mappings > Tax codes.") == Place("mappings")
    assert find_place("Try again later.") is None
    words = in_wizard_words("Re-enter them in Settings > Halo. Or fix it in Settings > Sync.")
    assert words == "Re-enter them on the Halo page. Or fix it on the What to sync page."
    assert (
        in_wizard_words("Point Settings > Halo > CA bundle at a PEM file.")
        == "Point the CA bundle field on the Halo page at a PEM file."
    )


def test_a_refused_secret_says_what_to_do_and_keeps_the_raw_answer_behind_details(qtbot, gui_controller):
    window = MainWindow(gui_controller, tray_available=False)
    qtbot.addWidget(window)
    page = window.settings_page
    qtbot.waitUntil(lambda: page._secrets_loaded, timeout=10_000)
    form = page.halo_form
    form.client_secret.setText("not-the-secret")
    qtbot.mouseClick(form.test_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: form.result_label.ok is not None, timeout=LOAD_TIMEOUT)
    result = form.result_label
    assert result.ok is False
    assert "rejected" in result.text() and "Settings > Halo" in result.text()
    assert "{" not in result.text() and "401" not in result.text()  # no JSON body, no status line
    assert not result.details_button.isHidden() and result.details.isHidden()
    qtbot.mouseClick(result.details_button, Qt.MouseButton.LeftButton)
    assert not result.details.isHidden() and "401" in result.details.toPlainText()
    assert "not-the-secret" not in result.details.toPlainText()
    window.log_page.detach()


def test_open_settings_goes_to_the_field_the_advice_names(qtbot, gui_controller, tmp_path):
    window = MainWindow(gui_controller, tray_available=False)
    qtbot.addWidget(window)
    window.show()
    page = window.settings_page
    qtbot.waitUntil(lambda: page._secrets_loaded, timeout=10_000)
    window.tabs.setCurrentWidget(page)
    form = page.halo_form
    form.ca_bundle.setText(str(tmp_path / "missing.pem"))
    form.run_check()
    qtbot.waitUntil(lambda: form.result_label.ok is not None, timeout=LOAD_TIMEOUT)
    advice = form.result_label
    assert "CA bundle" in advice.text() and advice.open_button.text() == "Open Settings > Halo"
    form.resource_server.setFocus()
    qtbot.mouseClick(advice.open_button, Qt.MouseButton.LeftButton)
    assert page.tabs.currentWidget().widget() is form
    assert window.focusWidget() is form.ca_bundle
    window.log_page.detach()


def test_an_error_on_the_mappings_tab_opens_the_settings_it_names(qtbot, gui_controller):
    window = MainWindow(gui_controller, tray_available=False)
    qtbot.addWidget(window)
    window.show()
    gui_controller.context.secrets.delete(HALO_CLIENT_SECRET)
    window.tabs.setCurrentWidget(window.mappings_page)
    editor = window.mappings_page.editor
    editor.load()
    qtbot.waitUntil(lambda: editor.advice.isVisible(), timeout=LOAD_TIMEOUT)
    assert "client secret is not stored" in editor.advice.text()
    qtbot.mouseClick(editor.advice.open_button, Qt.MouseButton.LeftButton)
    assert window.tabs.currentWidget() is window.settings_page
    assert window.settings_page.tabs.currentWidget().widget() is window.settings_page.halo_form
    qtbot.waitUntil(lambda: gui_controller.tasks.pending == 0, timeout=LOAD_TIMEOUT)
    window.log_page.detach()


def test_proxy_and_ca_bundle_are_settings_like_any_other(qtbot, gui_controller, tmp_path):
    window = MainWindow(gui_controller, tray_available=True)
    qtbot.addWidget(window)
    page = window.settings_page
    qtbot.waitUntil(lambda: page._secrets_loaded, timeout=10_000)
    bundle = tmp_path / "company-proxy.pem"
    page.halo_form.proxy.setText("http://proxy.example:8080")
    page.halo_form.ca_bundle.setText(str(bundle))
    page.save()
    qtbot.waitUntil(lambda: page.result_label.text().startswith("Saved"), timeout=10_000)
    saved = Settings.load(gui_controller.context.config_path)
    assert saved.halo.proxy == "http://proxy.example:8080" and saved.halo.ca_bundle == str(bundle)
    window.log_page.detach()


def test_inside_the_wizard_the_advice_points_to_its_pages(qtbot, sage_company, gui_env):
    wizard = SetupWizard(sage_company.paths, sage_company.paths.settings_file)
    qtbot.addWidget(wizard)
    wizard.show()
    wizard.next()
    halo = wizard.halo_page
    halo.form.resource_server.setText(sage_company.sandbox.url)
    halo.form.client_id.setText(sage_company.sandbox.client_id)
    halo.form.client_secret.setText("not-the-secret")
    halo.form.run_check()
    qtbot.waitUntil(lambda: halo.form.result_label.ok is not None, timeout=LOAD_TIMEOUT)
    text = halo.form.result_label.text()
    assert "rejected" in text and "on the Halo page" in text and "Settings" not in text
    assert halo.form.result_label.open_button.text() == "Go to Halo page"
    qtbot.waitUntil(lambda: wizard.tasks.pending == 0, timeout=LOAD_TIMEOUT)
    wizard._close_state()


def test_an_unexpected_error_is_not_shown_as_its_raw_text(qtbot):
    from gui.forms import CheckResultLabel

    label = CheckResultLabel()
    qtbot.addWidget(label)
    label.show_error(KeyError("HTTPSConnectionPool(host='x', port=443)"))
    assert "HTTPSConnectionPool" not in label.text() and "unexpected problem" in label.text()
    assert "HTTPSConnectionPool" in label.details.toPlainText()
    assert sage_secret_free(label.text())


def sage_secret_free(text: str) -> bool:
    return HALO_CLIENT_SECRET not in text


def test_clicking_a_notice_opens_the_window_where_it_says_to_fix_it(qtbot, gui_controller, sage_company):
    from gui.tray import TrayController

    window = MainWindow(gui_controller, tray_available=False)
    qtbot.addWidget(window)
    tray = TrayController(gui_controller, tray_available=lambda: False)
    tray.place_requested.connect(window.open_place)
    sage_company.secrets.set(HALO_CLIENT_SECRET, "wrong-secret")
    with qtbot.waitSignal(gui_controller.run_finished, timeout=LOAD_TIMEOUT):
        gui_controller.sync_now()
    assert tray.notices and "Settings > Halo" in tray.notices[-1][1]
    with qtbot.waitSignal(tray.open_requested, timeout=1000):
        tray.open_notice()  # what clicking the balloon does
    assert window.tabs.currentWidget() is window.settings_page
    assert window.settings_page.tabs.currentWidget().widget() is window.settings_page.halo_form
    qtbot.waitUntil(lambda: not gui_controller.is_running(), timeout=LOAD_TIMEOUT)
    window.log_page.detach()


def test_a_wizard_error_on_the_mappings_page_goes_back_to_the_page_that_fixes_it(
    qtbot, sage_company, gui_env
):
    from gui.wizard import PAGE_HALO, PAGE_MAPPINGS
    from tests.standins.sage50uk import odbc_connection_string

    wizard = SetupWizard(sage_company.paths, sage_company.paths.settings_file)
    qtbot.addWidget(wizard)
    wizard.show()
    wizard.next()
    halo = wizard.halo_page
    halo.form.resource_server.setText(sage_company.sandbox.url)
    halo.form.client_id.setText(sage_company.sandbox.client_id)
    halo.form.client_secret.setText("not-the-secret")
    halo.plaintext_box.setChecked(True)  # the tests' keyring is a plain-text file
    qtbot.waitUntil(lambda: halo.keyring_ok is True, timeout=10_000)
    wizard.next()
    wizard.source_page.form.connection_string.setText(odbc_connection_string(sage_company.path))
    wizard.next()
    wizard.next()
    assert wizard.currentId() == PAGE_MAPPINGS
    advice = wizard.mappings_page.editor.advice
    qtbot.waitUntil(lambda: advice.isVisible(), timeout=LOAD_TIMEOUT)
    assert "rejected" in advice.text() and "on the Halo page" in advice.text()
    assert "Settings" not in advice.text()
    qtbot.mouseClick(advice.open_button, Qt.MouseButton.LeftButton)
    assert wizard.currentId() == PAGE_HALO
    qtbot.waitUntil(lambda: wizard.tasks.pending == 0, timeout=LOAD_TIMEOUT)
    wizard._close_state()

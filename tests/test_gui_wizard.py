"""The set-up wizard from empty settings to a saved configuration that really syncs.

Real parts only: the sandbox Halo over HTTP, the stand-in Sage 50 UK company through unixODBC and the SQLite3
driver, the test's file keyring, the real state store. The keyring of the tests is keyrings.alt's plain-text
file backend, so the wizard first refuses it and the user's explicit tick is part of the path.
"""

from __future__ import annotations

import keyring
import pytest
from keyring.backends.fail import Keyring as NoKeyring
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QWizard

from gui.mapping_editor import ALL_CLIENTS
from gui.wizard import (
    KEYRING_FIX_IN_WIZARD,
    PAGE_HALO,
    PAGE_INTRO,
    PAGE_MAPPINGS,
    PAGE_SOURCE,
    PAGE_SYNC,
    SetupWizard,
)
from sync.runner import open_state, run_sync
from sync.secrets import HALO_CLIENT_SECRET, KeyringSecretStore
from sync.settings import Settings
from tests.standins.sage50uk import odbc_connection_string

LOAD_TIMEOUT = 60_000

# Qt's offscreen platform (used by the tests) cannot size real windows and says so for each one shown.
pytestmark = pytest.mark.qt_log_ignore("This plugin does not support")


@pytest.fixture
def wizard(qtbot, sage_company, gui_env):
    paths = sage_company.paths
    wizard = SetupWizard(paths, paths.settings_file)
    qtbot.addWidget(wizard)
    wizard.show()
    yield wizard
    wizard.mappings_page.cleanupPage()
    qtbot.waitUntil(lambda: wizard.mappings_page.dry_run_thread is None, timeout=LOAD_TIMEOUT)
    qtbot.waitUntil(lambda: wizard.tasks.pending == 0, timeout=LOAD_TIMEOUT)
    wizard._close_state()


def click(qtbot, button) -> None:
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)


def fill_halo(page, sandbox, secret: str) -> None:
    page.form.resource_server.setText(sandbox.url)
    page.form.client_id.setText(sandbox.client_id)
    page.form.client_secret.setText(secret)


def test_the_plain_text_tick_is_not_undone_by_the_first_check_answering_after_it(qtbot, wizard, monkeypatch):
    """The page checks the keyring when it opens, and again when the plain-text box is ticked, each in a
    pool thread: when the first check (no tick: "no safe keyring") answers after the second, the tick must
    still stand. The first check is held here until the second has answered."""
    import threading

    release = threading.Event()
    real_check = KeyringSecretStore.check

    def check(store: KeyringSecretStore) -> None:
        if not store.allow_plaintext:
            release.wait(10)
        real_check(store)

    monkeypatch.setattr(KeyringSecretStore, "check", check)
    click(qtbot, wizard.intro_page.setup_button)
    halo = wizard.halo_page
    halo.plaintext_box.setVisible(True)  # as the first answer would show it; that answer is held back
    halo.plaintext_box.setChecked(True)
    qtbot.waitUntil(lambda: halo.keyring_ok is True, timeout=10_000)
    release.set()  # now the first check answers, last
    qtbot.waitUntil(lambda: wizard.tasks.pending == 0, timeout=10_000)
    assert halo.keyring_ok is True and halo.isComplete() is False  # complete once the form is filled
    assert "plain-text file, as you chose" in halo.keyring_label.text()


def test_the_wizard_saves_a_working_configuration(qtbot, wizard, sage_company):
    sandbox = sage_company.sandbox
    zed = sandbox.seed("Client", {"name": "Zeds Last Customer Limited"})
    obrien = sandbox.seed("Client", {"name": "OBrien and Sons"})
    assert wizard.currentId() == PAGE_INTRO

    # 1. Halo ----------------------------------------
    click(qtbot, wizard.intro_page.setup_button)
    assert wizard.currentId() == PAGE_HALO
    halo = wizard.halo_page
    assert "API application" in halo.form.findChildren(type(halo.keyring_label))[0].text()
    qtbot.waitUntil(lambda: halo.keyring_ok is not None, timeout=10_000)
    assert halo.keyring_ok is False and "plain text" in halo.keyring_label.text()  # told, not assumed
    assert halo.plaintext_box.isVisible()
    assert halo.form.client_secret.echoMode() == halo.form.client_secret.EchoMode.Password
    fill_halo(halo, sandbox, "not-the-secret")
    assert not halo.isComplete()
    halo.plaintext_box.setChecked(True)  # the user's explicit choice
    qtbot.waitUntil(lambda: halo.keyring_ok is True, timeout=10_000)
    assert halo.isComplete()

    click(qtbot, halo.form.test_button)
    qtbot.waitUntil(lambda: halo.form.result_label.ok is not None, timeout=LOAD_TIMEOUT)
    assert halo.form.result_label.ok is False
    refused = halo.form.result_label.text()
    assert refused and "not-the-secret" not in refused
    halo.form.client_secret.setText(sandbox.client_secret)
    click(qtbot, halo.form.test_button)
    qtbot.waitUntil(lambda: halo.form.result_label.ok is True, timeout=LOAD_TIMEOUT)

    # 2. Accounting package ----------------------------------------
    wizard.next()
    assert wizard.currentId() == PAGE_SOURCE
    source = wizard.source_page.form
    qtbot.waitUntil(lambda: source.driver.findText("SQLite3") >= 0, timeout=LOAD_TIMEOUT)  # real ODBC list
    source.kind.setCurrentIndex(source.kind.findData("sage50uk"))
    source.driver.setCurrentText("SQLite3")
    source.path.setText(str(sage_company.path))
    assert source.connection_string.text() == f"Driver={{SQLite3}};DIR={sage_company.path}"
    source.connection_string.setText("Driver=SQLite3;Database=/nowhere/ACCDATA.sqlite;NoCreat=1")
    click(qtbot, source.test_button)
    qtbot.waitUntil(lambda: source.result_label.ok is not None, timeout=LOAD_TIMEOUT)
    assert source.result_label.ok is False and source.result_label.text()
    source.connection_string.setText(odbc_connection_string(sage_company.path))  # the special case
    click(qtbot, source.test_button)
    qtbot.waitUntil(lambda: source.result_label.ok is not None, timeout=LOAD_TIMEOUT)
    assert source.result_label.ok is True, source.result_label.text()

    # 3. What to sync ----------------------------------------
    wizard.next()
    assert wizard.currentId() == PAGE_SYNC
    options = wizard.sync_page.form
    options.interval.setValue(15)
    for box in options.entity_boxes.values():
        box.setChecked(False)
    assert not wizard.sync_page.isComplete()
    for box in options.entity_boxes.values():
        box.setChecked(True)

    # 4. Mappings and the dry run ----------------------------------------
    wizard.next()
    assert wizard.currentId() == PAGE_MAPPINGS
    editor = wizard.mappings_page.editor
    qtbot.waitUntil(lambda: editor.snapshot is not None, timeout=LOAD_TIMEOUT)
    states = {row.source_key: row.state for row in editor.snapshot.customers}
    assert states["ZED"] == "exact"
    assert editor.customer_table.rowCount() == len(editor.snapshot.customers)
    zed_row = editor.customer_row("ZED")
    assert editor.customer_table.item(zed_row, 0).background().color().name() == "#bbdefb"
    assert "matched" in editor.counter.text()

    click(qtbot, editor.generate_button)
    qtbot.waitUntil(lambda: editor.status.text().startswith("Saved 1 mapping"), timeout=LOAD_TIMEOUT)
    combo = editor.customer_combo("OBRIEN")
    assert combo is not None
    assert combo.findData(obrien["id"]) == -1 or "% match" in combo.itemText(combo.findData(obrien["id"]))
    combo.setCurrentIndex(combo.findText(ALL_CLIENTS))  # "Another Halo client…": the full list
    assert combo.count() == len(editor.snapshot.halo_clients) + 1
    assert editor.customer_table.item(editor.customer_row("OBRIEN"), 3).text() != "Mapped by you"
    combo.setCurrentIndex(combo.findData(obrien["id"]))  # picked by hand: pending until Save
    row = editor.customer_row("OBRIEN")
    assert editor.customer_table.item(row, 3).text() == "Changed: not saved yet"
    click(qtbot, wizard.mappings_page.dry_run_button)  # the preview would not use an unsaved choice
    assert "Save changes" in wizard.mappings_page.dry_run_label.text()
    assert wizard.mappings_page.dry_run_thread is None
    click(qtbot, editor.save_button)
    qtbot.waitUntil(
        lambda: editor.customer_table.item(row, 3).text() == "Mapped by you", timeout=LOAD_TIMEOUT
    )
    with open_state(sage_company.paths) as state:
        assert state.mapping("customer", "ZED") == zed["id"]
        assert state.mapping("customer", "OBRIEN") == obrien["id"]

    posts_before = sage_company.posts()
    click(qtbot, wizard.mappings_page.dry_run_button)
    qtbot.waitUntil(lambda: wizard.mappings_page.dry_run_summary is not None, timeout=LOAD_TIMEOUT)
    preview = wizard.mappings_page.dry_run_summary
    assert preview.dry_run and preview.total("created") > 0
    assert "would create" in wizard.mappings_page.dry_run_label.text()
    assert sage_company.posts() == posts_before  # nothing written to Halo by the preview

    # Finish: secrets to the keyring, settings to the file ----------------------------------------
    click(qtbot, wizard.button(QWizard.WizardButton.FinishButton))
    qtbot.waitUntil(lambda: wizard.choice == "configured", timeout=LOAD_TIMEOUT)
    settings_file = sage_company.paths.settings_file
    text = settings_file.read_text(encoding="utf-8")
    assert sandbox.client_secret not in text
    saved = Settings.load(settings_file)
    assert saved.is_configured() and saved.sync.interval_minutes == 15
    assert saved.app.allow_plaintext_secrets is True
    secrets = KeyringSecretStore(allow_plaintext=saved.app.allow_plaintext_secrets)
    assert secrets.get(HALO_CLIENT_SECRET) == sandbox.client_secret

    # ... and that configuration really syncs, using the mappings chosen in the wizard.
    summary = run_sync(saved, secrets, paths=sage_company.paths)
    assert summary.status in ("ok", "partial"), summary.error
    assert summary.total("created") > 0
    clients = sandbox.records("Client")
    assert [c["accountsid"] for c in clients if c["id"] == zed["id"]] == ["ZED"]
    assert [c["accountsid"] for c in clients if c["id"] == obrien["id"]] == ["OBRIEN"]


def test_without_a_keyring_the_wizard_says_how_to_fix_it_and_does_not_go_on(qtbot, wizard, sage_company):
    previous = keyring.get_keyring()
    keyring.set_keyring(NoKeyring())
    try:
        click(qtbot, wizard.intro_page.setup_button)
        halo = wizard.halo_page
        fill_halo(halo, sage_company.sandbox, sage_company.sandbox.client_secret)
        qtbot.waitUntil(lambda: halo.keyring_ok is not None, timeout=10_000)
        assert halo.keyring_ok is False
        # The wizard's own words: how to fix it here (the Settings tab it used to name is not open yet).
        assert KEYRING_FIX_IN_WIZARD in halo.keyring_label.text()
        assert "Settings" not in halo.keyring_label.text() and "plain-text" not in halo.keyring_label.text()
        assert not halo.plaintext_box.isVisible()  # there is no backend to write to, plain or not
        assert not halo.isComplete()
        assert not wizard.button(QWizard.WizardButton.NextButton).isEnabled()
    finally:
        keyring.set_keyring(previous)


def test_try_the_demo_first_leaves_the_wizard_with_the_demo_choice(qtbot, wizard):
    with qtbot.waitSignal(wizard.finished, timeout=5000):
        click(qtbot, wizard.intro_page.demo_button)
    assert wizard.choice == "demo"
    assert wizard.saved_settings is None

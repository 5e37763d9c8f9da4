"""The generic ODBC source's queries and column map are edited in Settings, and *Test this query* shows the
first rows as the sync reads them: real unixODBC with the SQLite3 driver, real Qt widgets, the real settings
file.
"""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt

from gui.main_window import MainWindow
from sync.settings import Settings
from tests.fixtures_odbc import build_sqlite_odbc

LOAD_TIMEOUT = 60_000

pytestmark = pytest.mark.qt_log_ignore("This plugin does not support")

SCRIPT = """
CREATE TABLE clients (id INTEGER PRIMARY KEY, company TEXT, mail TEXT, town TEXT);
INSERT INTO clients VALUES (1, 'Ferme du Château', 'compta@chateau.example', 'Lyon'),
                           (2, 'O''Malley Ltd', NULL, NULL), (3, 'Zürich AG', NULL, 'Zürich');
"""


@pytest.fixture
def source_form(qtbot, gui_controller, tmp_path):
    window = MainWindow(gui_controller, tray_available=True)
    qtbot.addWidget(window)
    page = window.settings_page
    qtbot.waitUntil(lambda: page._secrets_loaded, timeout=10_000)
    form = page.source_form
    form.kind.setCurrentIndex(form.kind.findData("odbc"))
    form.connection_string.setText(build_sqlite_odbc(tmp_path / "books.sqlite", SCRIPT))
    form.username.setText("")
    yield page, form
    qtbot.waitUntil(lambda: gui_controller.tasks.pending == 0, timeout=LOAD_TIMEOUT)
    window.log_page.detach()


def test_the_editor_shows_for_other_odbc_sources_only(source_form):
    _page, form = source_form
    assert not form.queries_editor.isHidden()
    form.kind.setCurrentIndex(form.kind.findData("sage50uk"))
    assert form.queries_editor.isHidden()


def test_test_this_query_shows_the_first_rows_mapped_and_save_keeps_them(qtbot, source_form, gui_controller):
    page, form = source_form
    editor = form.queries_editor
    editor.select_entity("customers")
    editor.query.setPlainText("SELECT id, company, mail, town FROM clients")
    editor.set_column("key", "id")
    editor.set_column("name", "company")
    editor.set_column("email", "mail")
    editor.set_column("city", "town")
    qtbot.mouseClick(editor.test_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(
        lambda: editor.test_button.isEnabled() and not editor.preview.isHidden(), timeout=LOAD_TIMEOUT
    )
    headers = [editor.preview.horizontalHeaderItem(c).text() for c in range(editor.preview.columnCount())]
    assert "key" in headers and "name" in headers
    names = {editor.preview.item(r, headers.index("name")).text() for r in range(editor.preview.rowCount())}
    assert names == {"Ferme du Château", "O'Malley Ltd", "Zürich AG"}
    assert "as LedgerBridge reads them" in editor.result.text()

    page.save()
    qtbot.waitUntil(lambda: page.result_label.text().startswith("Saved"), timeout=10_000)
    saved = Settings.load(gui_controller.context.config_path)
    assert saved.source.kind == "odbc"
    assert saved.source.queries == {"customers": "SELECT id, company, mail, town FROM clients"}
    assert saved.source.columns["customers"] == {
        "key": "id",
        "name": "company",
        "email": "mail",
        "city": "town",
    }


def test_a_column_the_select_does_not_return_is_told_with_the_columns_it_does(qtbot, source_form):
    _page, form = source_form
    editor = form.queries_editor
    editor.query.setPlainText("SELECT id, company FROM clients")
    editor.set_column("key", "id")
    editor.set_column("name", "company_name")
    editor.run_test()
    qtbot.waitUntil(lambda: editor.test_button.isEnabled(), timeout=LOAD_TIMEOUT)
    text = editor.result.text()
    assert "company_name" in text and "id, company" in text
    assert editor.preview.isHidden()
    editor.select_entity("items")  # another entity keeps the customers' work
    editor.select_entity("customers")
    assert editor.query.toPlainText() == "SELECT id, company FROM clients"


def test_a_suppliers_query_is_tested_and_saved_like_the_others(qtbot, source_form, gui_controller):
    page, form = source_form
    editor = form.queries_editor
    editor.select_entity("suppliers")
    editor.query.setPlainText("SELECT id, company, town FROM clients WHERE id > 1")
    editor.set_column("key", "id")
    editor.set_column("name", "company")
    editor.set_column("city", "town")
    qtbot.mouseClick(editor.test_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(
        lambda: editor.test_button.isEnabled() and not editor.preview.isHidden(), timeout=LOAD_TIMEOUT
    )
    headers = [editor.preview.horizontalHeaderItem(c).text() for c in range(editor.preview.columnCount())]
    names = {editor.preview.item(r, headers.index("name")).text() for r in range(editor.preview.rowCount())}
    assert names == {"O'Malley Ltd", "Zürich AG"}
    page.save()
    qtbot.waitUntil(lambda: page.result_label.text().startswith("Saved"), timeout=10_000)
    saved = Settings.load(gui_controller.context.config_path)
    assert saved.source.columns["suppliers"] == {"key": "id", "name": "company", "city": "town"}

"""The mapping editor cannot change a mapping by accident; the Mappings tab's search, filters and CSV export.

Real parts: the stand-in Sage 50 UK company over unixODBC, the sandbox Halo over HTTP, the state store, a
real Qt event loop. The confirmation box is a real QMessageBox, answered by clicking its buttons.
"""

from __future__ import annotations

import csv

import pytest
from PySide6.QtCore import QPoint, QPointF, Qt
from PySide6.QtGui import QWheelEvent
from PySide6.QtWidgets import QApplication, QHeaderView, QMessageBox

from gui.mapping_editor import CREATE_NEW, CUSTOMER_STRETCH, TAX_STRETCH
from gui.pages.mappings import MappingsPage
from sync.runner import open_state

LOAD_TIMEOUT = 60_000

pytestmark = pytest.mark.qt_log_ignore("This plugin does not support")


@pytest.fixture
def halo_records(sage_company):
    sandbox = sage_company.sandbox
    return {
        "standard": sandbox.seed("Tax", {"name": "Standard", "code": "T1", "value": 20}),
        "zero": sandbox.seed("Tax", {"name": "Zero rated", "code": "T0", "value": 0}),
        "acme": sandbox.seed("Client", {"name": "Acme Widgets Limited"}),
    }


@pytest.fixture
def editor(qtbot, gui_controller, halo_records):
    page = MappingsPage(gui_controller)
    qtbot.addWidget(page)
    page.resize(1200, 800)
    page.show()
    editor = page.editor
    editor.load()
    qtbot.waitUntil(lambda: editor.snapshot is not None, timeout=LOAD_TIMEOUT)
    yield editor
    qtbot.waitUntil(lambda: gui_controller.tasks.pending == 0, timeout=LOAD_TIMEOUT)


def saved_mappings(sage_company, kind: str) -> dict[str, int]:
    with open_state(sage_company.paths) as state:
        return state.mappings(kind)


def wheel(widget, notches: int) -> None:
    """A real wheel event, as the mouse sends it, over the middle of ``widget``."""
    centre = QPointF(widget.width() / 2, widget.height() / 2)
    event = QWheelEvent(
        centre,
        QPointF(widget.mapToGlobal(QPoint(int(centre.x()), int(centre.y())))),
        QPoint(0, 0),
        QPoint(0, -120 * notches),
        Qt.MouseButton.NoButton,
        Qt.KeyboardModifier.NoModifier,
        Qt.ScrollPhase.NoScrollPhase,
        False,
    )
    QApplication.sendEvent(widget, event)


def answer(qtbot, editor, button: QMessageBox.StandardButton) -> list[str]:
    """Wait for the editor's question, read it, click ``button``; returns the question's lines."""
    qtbot.waitUntil(lambda: editor.confirm_box is not None and editor.confirm_box.isVisible(), timeout=5000)
    box = editor.confirm_box
    text = box.informativeText()
    qtbot.mouseClick(box.button(button), Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: editor.confirm_box is None, timeout=5000)
    return text.split("\n\n")


def test_the_wheel_over_a_mapping_drop_down_changes_nothing(qtbot, editor, sage_company, halo_records):
    combo = editor.tax_combo("T1")
    assert combo is not None and combo.currentData() == halo_records["standard"]["id"]  # code + rate
    customer = editor.customer_combo("ACME01")
    before = (combo.currentIndex(), customer.currentIndex())
    for notches in (1, 2, -3):
        wheel(combo, notches)
        wheel(customer, notches)
    assert (combo.currentIndex(), customer.currentIndex()) == before
    assert editor.pending_count == 0 and not editor.save_button.isEnabled()
    assert saved_mappings(sage_company, "tax") == {} and saved_mappings(sage_company, "customer") == {}


def test_a_choice_waits_for_save_and_undo_puts_it_back(qtbot, editor, sage_company, halo_records):
    combo = editor.customer_combo("ACME01")
    original = combo.currentData()
    acme = halo_records["acme"]["id"]
    editor.show_all_clients(combo, original)
    combo.setCurrentIndex(combo.findData(acme))
    row = editor.customer_row("ACME01")
    assert editor.customer_table.item(row, 3).text() == "Changed: not saved yet"
    assert editor.pending_customers == {"ACME01": acme} and "1 not saved" in editor.counter.text()
    assert editor.save_button.isEnabled() and not editor.load_button.isEnabled()
    assert saved_mappings(sage_company, "customer") == {}  # nothing written yet

    qtbot.mouseClick(editor.undo_button, Qt.MouseButton.LeftButton)
    assert combo.currentData() == original and editor.pending_count == 0
    assert editor.customer_table.item(row, 3).text() != "Changed: not saved yet"
    assert saved_mappings(sage_company, "customer") == {}

    combo.setCurrentIndex(combo.findData(acme))
    qtbot.mouseClick(editor.save_button, Qt.MouseButton.LeftButton)  # a client picked: nothing to ask
    qtbot.waitUntil(
        lambda: editor.customer_table.item(row, 3).text() == "Mapped by you", timeout=LOAD_TIMEOUT
    )
    assert editor.confirm_box is None
    assert saved_mappings(sage_company, "customer") == {"ACME01": acme}
    assert editor.pending_count == 0 and not editor.save_button.isEnabled()


def test_a_tax_re_mapping_to_another_rate_asks_once_before_it_is_saved(
    qtbot, editor, sage_company, halo_records
):
    combo = editor.tax_combo("T1")
    zero = halo_records["zero"]["id"]
    combo.setCurrentIndex(combo.findData(zero))
    other = editor.tax_combo("T5")
    other.setCurrentIndex(other.findData(halo_records["standard"]["id"]))  # 5% sent as 20%: asked too

    qtbot.mouseClick(editor.save_button, Qt.MouseButton.LeftButton)
    question = answer(qtbot, editor, QMessageBox.StandardButton.Cancel)
    assert len(question) == 2  # one box for both changes
    assert "T1" in question[0] and "20%" in question[0] and "0% tax" in question[0]
    assert "T5" in question[1] and "5%" in question[1] and "20% tax" in question[1]
    assert saved_mappings(sage_company, "tax") == {}  # cancelled: still pending, nothing written
    assert editor.pending_taxes == {"T1": zero, "T5": halo_records["standard"]["id"]}

    qtbot.mouseClick(editor.save_button, Qt.MouseButton.LeftButton)
    answer(qtbot, editor, QMessageBox.StandardButton.Save)
    qtbot.waitUntil(lambda: editor.pending_count == 0, timeout=LOAD_TIMEOUT)
    assert saved_mappings(sage_company, "tax") == {"T1": zero, "T5": halo_records["standard"]["id"]}
    assert editor.tax_table.item(editor.tax_row("T1"), 4).text() == "Mapped by you"


def test_sending_a_matched_customer_to_a_new_halo_client_asks(qtbot, editor, sage_company, halo_records):
    acme = halo_records["acme"]["id"]
    with open_state(sage_company.paths) as state:
        state.set_mapping("customer", "ACME01", acme)
    editor.load()
    qtbot.waitUntil(lambda: editor.customer_combo("ACME01").currentData() == acme, timeout=LOAD_TIMEOUT)
    combo = editor.customer_combo("ACME01")
    combo.setCurrentIndex(combo.findText(CREATE_NEW))
    qtbot.mouseClick(editor.save_button, Qt.MouseButton.LeftButton)
    question = answer(qtbot, editor, QMessageBox.StandardButton.Cancel)
    assert "ACME01" in question[0] and "new Halo client" in question[0]
    assert saved_mappings(sage_company, "customer") == {"ACME01": acme}


def test_search_state_filter_and_unmatched_only(qtbot, editor):
    customers = editor.customer_table
    total = customers.rowCount()
    assert total > 3

    def shown(table) -> list[str]:
        return [table.item(r, 0).text() for r in range(table.rowCount()) if not table.isRowHidden(r)]

    editor.search.setText("acme")
    assert shown(customers) and all("ACME" in key for key in shown(customers))
    assert f"of {total} customers" in editor.shown_label.text()
    editor.search.clear()
    assert len(shown(customers)) == total and editor.shown_label.text() == ""

    editor.unmatched_only.setChecked(True)
    unmatched = shown(customers)
    assert unmatched and all(editor.customer_combo(k).currentData() is None for k in unmatched)
    assert "T1" not in shown(editor.tax_table)  # matched by code and rate
    editor.unmatched_only.setChecked(False)

    combo = editor.customer_combo(unmatched[0])
    editor.show_all_clients(combo, None)
    combo.setCurrentIndex(1)  # some Halo client: now a pending change
    editor.show_filter.setCurrentIndex(editor.show_filter.findData("pending"))
    assert shown(customers) == [unmatched[0]] and shown(editor.tax_table) == []
    editor.undo()
    assert shown(customers) == []


def test_csv_export_writes_the_rows_shown(qtbot, editor, tmp_path):
    editor.search.setText("acme")
    target = tmp_path / "mappings.csv"
    editor.export_csv(target)
    qtbot.waitUntil(lambda: editor.status.text().startswith("Exported"), timeout=LOAD_TIMEOUT)
    with target.open(encoding="utf-8-sig", newline="") as handle:
        rows = list(csv.reader(handle))
    assert rows[0][:3] == ["Kind", "Key", "Name in the books"]
    assert rows[1:] and all(row[0] == "Customer" and "ACME" in row[1] for row in rows[1:])
    assert len(rows) - 1 == sum(
        not t.isRowHidden(r) for t in (editor.tax_table, editor.customer_table) for r in range(t.rowCount())
    )


def test_rates_read_as_people_write_them_and_columns_keep_their_stretch(qtbot, editor):
    rates = {
        editor.tax_table.item(r, 0).text(): editor.tax_table.item(r, 2).text()
        for r in range(editor.tax_table.rowCount())
    }
    assert rates["T1"] == "20%" and rates["T20"] == "17.5%" and rates["T0"] == "0%"
    qtbot.mouseClick(editor.generate_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: editor.status.text().startswith("Saved"), timeout=LOAD_TIMEOUT)
    for table, stretch in ((editor.tax_table, TAX_STRETCH), (editor.customer_table, CUSTOMER_STRETCH)):
        header = table.horizontalHeader()
        for column in range(table.columnCount()):
            expected = (
                QHeaderView.ResizeMode.Stretch if column in stretch else QHeaderView.ResizeMode.Interactive
            )
            assert header.sectionResizeMode(column) == expected
            if column not in stretch:  # the header's own text is not clipped
                assert header.sectionSize(column) >= header.sectionSizeHint(column)

"""*What to sync* sets each entity's direction and the posting rule, and offers Halo -> books only where the
chosen package can take invoices. Real Qt widgets on a real event loop, clicked with qtbot."""

from __future__ import annotations

import pytest
from PySide6.QtCore import QDate, QPoint, Qt

from gui.forms import SyncOptionsForm
from gui.posting_options import parse_toplevels
from sync.runner import posting_route
from sync.settings import Settings

pytestmark = pytest.mark.qt_log_ignore("This plugin does not support")


def form_for(qtbot, kind: str, **posting: object) -> SyncOptionsForm:
    settings = Settings()
    settings.source.kind = kind
    for name, value in posting.items():
        setattr(settings.posting, name, value)
    form = SyncOptionsForm()
    qtbot.addWidget(form)
    form.load(settings)
    form.show()
    qtbot.waitExposed(form)
    return form


def click(qtbot, box) -> None:
    """A click on the box's indicator (a stretched grid cell is wider than the box's text)."""
    qtbot.mouseClick(box, Qt.MouseButton.LeftButton, pos=QPoint(8, box.height() // 2))


def test_posting_is_off_until_asked_and_its_rule_appears_with_it(qtbot):
    form = form_for(qtbot, "quickbooks")
    grid = form.directions
    assert not grid.to_books["invoices"].isChecked()
    assert not form.posting_rule.isVisible()
    assert not grid.to_books["customers"].isEnabled()  # rides with posting
    click(qtbot, grid.to_books["invoices"])
    assert form.posting_rule.isVisible()
    assert grid.to_books["customers"].isEnabled()
    click(qtbot, grid.to_books["customers"])
    form.posting_rule.start_date.setDate(QDate(2026, 10, 1))
    form.posting_rule.toplevels.setText("7, 3, 7")
    form.posting_rule.income_account.setText(" Consulting Income ")
    settings = Settings()
    form.apply_to(settings)
    assert settings.posting.enabled
    assert settings.posting.start_date == "2026-10-01"
    assert settings.posting.toplevel_ids == [3, 7]
    assert settings.posting.missing_customers == "create"
    assert settings.posting.missing_items == "report"
    assert settings.posting.income_account == "Consulting Income"
    assert settings.sync.entities == ["tax_rates", "customers", "items", "invoices"]


def test_a_package_that_cannot_take_invoices_greys_the_column_and_says_why(qtbot):
    form = form_for(qtbot, "sage50ca", enabled=True, start_date="2026-01-01")
    grid = form.directions
    assert not grid.to_books["invoices"].isEnabled()
    assert grid.route_note.isVisible()
    assert grid.route_note.text() == posting_route("sage50ca")
    assert not form.posting_rule.isVisible()
    settings = Settings()
    settings.posting.enabled = True
    form.apply_to(settings)
    assert not settings.posting.enabled  # never left on for a package it cannot reach
    form.set_source_kind("quickbooks")  # the user picks another package on the previous page
    assert grid.to_books["invoices"].isEnabled()
    assert form.posting_rule.isVisible()  # the saved choice shows again


def test_posting_alone_is_a_complete_choice_and_a_bad_top_level_list_is_not(qtbot):
    form = form_for(qtbot, "quickbooks")
    for box in form.directions.to_halo.values():
        if box.isChecked():
            click(qtbot, box)
    assert not form.is_complete()  # nothing flows either way
    click(qtbot, form.directions.to_books["invoices"])
    assert form.is_complete()
    form.posting_rule.toplevels.setText("3, seven")
    assert not form.is_complete()
    assert "comma" in form.posting_rule.toplevels_note.text()


def test_the_start_date_ignores_a_passing_mouse_wheel(qtbot):
    from tests.test_gui_mappings import wheel

    form = form_for(qtbot, "quickbooks", enabled=True, start_date="2026-03-01")
    field = form.posting_rule.start_date
    wheel(field, 3)
    assert field.date() == QDate(2026, 3, 1)


@pytest.mark.parametrize(
    ("text", "expected"), [("", []), ("3", [3]), (" 7 ; 3 ,7", [3, 7]), ("x", None), ("-1", None)]
)
def test_top_level_lists_are_read_as_people_type_them(text, expected):
    assert parse_toplevels(text) == expected

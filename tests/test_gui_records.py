"""The Records view after a real sync of the stand-in Sage company into the sandbox: search and filters,
Open in Halo (the record's web address; a Qt URL handler stands in for the browser, which a test machine may
not have), and Sync this record again, which sends that record to Halo once more."""

from __future__ import annotations

from PySide6.QtCore import QItemSelectionModel, QObject, QUrl, Slot
from PySide6.QtGui import QDesktopServices

from gui.halo_links import halo_web_url, web_base
from gui.pages.records import RecordsPage
from tests.fixtures_gui import run_and_wait


class UrlCatcher(QObject):
    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []

    @Slot(QUrl)
    def open(self, url: QUrl) -> None:
        self.urls.append(url.toString())


def loaded_page(qtbot, gui_controller) -> RecordsPage:
    page = RecordsPage(gui_controller)
    qtbot.addWidget(page)
    gui_controller.start()
    run_and_wait(qtbot, gui_controller)
    gui_controller.load_records()  # what showing the tab does (showing warns on the offscreen platform)
    qtbot.waitUntil(lambda: bool(page.model.records), timeout=10_000)
    return page


def search(qtbot, page: RecordsPage, text: str) -> None:
    """Type into the search box and wait for the filter (it runs once typing pauses)."""
    page.search_edit.setText(text)
    qtbot.waitUntil(lambda: page.proxy.needle == text.strip().casefold(), timeout=2000)


def select(qtbot, page: RecordsPage, key: str, entity: str) -> None:
    search(qtbot, page, key)
    for row in range(page.proxy.rowCount()):
        record = page.proxy.data(page.proxy.index(row, 0), 256)
        if record.key == key and record.entity == entity:
            page.view.selectionModel().select(
                page.proxy.index(row, 0),
                QItemSelectionModel.SelectionFlag.ClearAndSelect | QItemSelectionModel.SelectionFlag.Rows,
            )
            return
    raise AssertionError(f"{entity} {key} is not listed")


def test_halo_web_addresses_follow_the_published_forms():
    assert web_base("https://acme.halopsa.com/api/") == "https://acme.halopsa.com"
    assert (
        halo_web_url("https://acme.halopsa.com", "customers", 12)
        == "https://acme.halopsa.com/customers?clientid=12"
    )
    assert (
        halo_web_url("https://acme.halopsa.com/api", "items", 7) == "https://acme.halopsa.com/items?itemid=7"
    )
    assert (
        halo_web_url("https://h.example/", "sites", 3) == "https://h.example/customers?mainview=site&siteid=3"
    )
    assert halo_web_url("https://h.example", "invoices", 9).endswith(
        "/invoices?mainview=invoices&selid=-1&sellevel=1&invoiceid=9"
    )
    assert halo_web_url("https://h.example", "tax_rates", 2) is None  # no page of its own: no guess
    assert halo_web_url("https://h.example", "customers", None) is None  # not in Halo yet


def test_records_list_links_with_names_and_search_filters(qtbot, gui_controller, sage_company):
    page = loaded_page(qtbot, gui_controller)
    clients = sage_company.sandbox.records("Client")
    customers = [r for r in page.model.records if r.entity == "customers" and r.halo_id]
    assert len(customers) == len(clients)
    acme = next(r for r in customers if r.key == "ACME01")
    assert acme.name == "Acme Ltd" and acme.synced_at is not None and acme.result == "Synced"
    total = page.proxy.rowCount()
    search(qtbot, page, "acme ltd")
    assert 0 < page.proxy.rowCount() < total
    search(qtbot, page, "")
    page.result_combo.setCurrentIndex(page.result_combo.findData("Problem"))
    shown = [page.proxy.data(page.proxy.index(r, 5)) for r in range(page.proxy.rowCount())]
    assert shown and all(text.startswith("Problem: ") for text in shown)
    page.result_combo.setCurrentIndex(0)
    page.kind_combo.setCurrentIndex(page.kind_combo.findData("items"))
    assert {page.proxy.data(page.proxy.index(r, 0)) for r in range(page.proxy.rowCount())} == {"Items"}


def test_open_in_halo_opens_the_records_page(qtbot, gui_controller, sage_company):
    page = loaded_page(qtbot, gui_controller)
    select(qtbot, page, "ACME01", "customers")
    acme_id = next(c["id"] for c in sage_company.sandbox.records("Client") if c.get("accountsid") == "ACME01")
    expected = f"{sage_company.sandbox.url}/customers?clientid={acme_id}"
    assert page.open_button.isEnabled() and page.selected_url() == expected
    catcher = UrlCatcher()
    QDesktopServices.setUrlHandler("http", catcher, "open")
    try:
        assert page.open_in_halo()
    finally:
        QDesktopServices.unsetUrlHandler("http")
    assert catcher.urls == [expected]
    tax = next(r for r in page.model.records if r.entity == "tax_rates" and r.halo_id)
    select(qtbot, page, tax.key, "tax_rates")
    assert not page.open_button.isEnabled() and "no page of its own" in page.open_button.toolTip()


def test_sync_this_record_again_sends_it_to_halo_once_more(qtbot, gui_controller, sage_company):
    page = loaded_page(qtbot, gui_controller)
    acme = next(c for c in sage_company.sandbox.records("Client") if c.get("accountsid") == "ACME01")
    sage_company.sandbox.seed("Client", {**acme, "name": "Renamed in Halo by someone"})
    assert any(c["name"] == "Renamed in Halo by someone" for c in sage_company.sandbox.records("Client"))
    select(qtbot, page, "ACME01", "customers")
    with qtbot.waitSignal(gui_controller.run_finished, timeout=120_000) as finished:
        page.sync_again()
    summary = finished.args[0]
    qtbot.waitUntil(lambda: not gui_controller.is_running(), timeout=60_000)
    assert summary.counts["customers"]["updated"] >= 1
    restored = next(c for c in sage_company.sandbox.records("Client") if c["id"] == acme["id"])
    assert restored["name"] == "Acme Ltd"
    assert set(summary.counts) <= {"tax_rates", "customers", "sites"}  # only that kind of record ran

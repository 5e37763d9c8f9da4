"""The Status tab's *Preview* shows, before anything is written, what posting would put into the books.

Real parts: invoices raised in the sandbox Halo (HTTP on 127.0.0.1), the QuickBooks stand-in with QODBC's
write rules behind real unixODBC, the app's controller running the dry run in its worker thread, and the
preview carried to the Status tab on the real Qt event loop.
"""

from __future__ import annotations

from datetime import date

import pytest
from PySide6.QtCore import Qt

from gui.controller import AppContext, SyncController
from gui.pages.records import RecordsPage
from gui.pages.status import StatusPage
from halo.sandbox.seed import SeedLine, halo_invoice
from tests.fixtures_gui import run_and_wait
from tests.test_posting_quickbooks import quickbooks  # noqa: F401 - the fixture

pytestmark = pytest.mark.qt_log_ignore("This plugin does not support")


def test_the_status_tabs_preview_lists_what_would_be_posted_and_writes_nothing(qtbot, quickbooks, gui_env):  # noqa: F811
    first = quickbooks.run()  # books -> Halo: the customer, its item and tax code are linked
    assert first.status in ("ok", "partial"), first.error
    with quickbooks.state() as state:
        _customer, link = sorted(state.links("customers").items())[0]
        items = {key: value.halo_id for key, value in state.links("items").items()}
        taxes = {key: value.halo_id for key, value in state.links("tax_rates").items()}
    item_key = "S1" if "S1" in items else sorted(items)[0]
    line = SeedLine("Support, November", 2, 60.0, tax_rate=5, tax_id=taxes["STC-G"], item_id=items[item_key])
    seeded = quickbooks.sandbox.seed(
        "Invoice", halo_invoice(link.halo_id, "HQ-71", date(2026, 11, 2), [line])
    )
    halo_id = int(seeded["id"])
    settings = quickbooks.settings
    settings.posting.enabled = True
    settings.posting.start_date = "2026-11-01"
    settings.app.allow_plaintext_secrets = True
    context = AppContext(
        settings=settings,
        secrets=quickbooks.secrets,
        paths=quickbooks.paths,
        config_path=quickbooks.paths.settings_file,
    )
    controller = SyncController(context)
    page = StatusPage(controller)
    qtbot.addWidget(page)
    page.show()
    try:
        summary = run_and_wait(qtbot, controller, dry_run=True)
        assert summary.dry_run
        qtbot.waitUntil(lambda: page.posting_preview.isVisible(), timeout=10_000)
        view = page.posting_preview
        assert "1 document would be posted to the books" in view.summary.text()
        assert "gross 126.00" in view.summary.text()  # 2 x 60.00 + 5 % GST
        assert view.table.rowCount() == 1
        assert [view.table.item(0, column).text() for column in (0, 6)] == ["HQ-71", "Posted to the books"]
        assert quickbooks.rows("SELECT COUNT(*) FROM Invoice WHERE CustomFieldOther LIKE 'HALO-%'") == [(0,)]
        with quickbooks.state() as state:
            assert state.postings() == []

        # Then a real sync posts it, and the Records tab lists it under the Halo -> books direction.
        real = run_and_wait(qtbot, controller)
        assert real.counts["posting"]["created"] == 1, real.error
        records = RecordsPage(controller)
        qtbot.addWidget(records)
        records.show()
        with qtbot.waitSignal(controller.records_loaded, timeout=30_000):
            controller.load_records()
        qtbot.waitUntil(lambda: any(r.entity == "posting" for r in records.model.records), timeout=30_000)
        (posted,) = [r for r in records.model.records if r.entity == "posting"]
        assert posted.halo_id == halo_id and posted.result == "Synced"
        row = next(
            r
            for r in range(records.proxy.rowCount())
            if records.proxy.data(records.proxy.index(r, 0), Qt.ItemDataRole.UserRole) is posted
        )
        records.view.selectRow(row)
        assert records.open_button.isEnabled()  # the Halo invoice's page
        assert not records.resync_button.isEnabled()  # never posted twice
    finally:
        controller.shutdown()

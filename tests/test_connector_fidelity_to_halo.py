"""From the published Sage 50 UK layout to the real HTTP Halo sandbox (which validates every POST against
Halo's OpenAPI schemas): a euro invoice lands in euros with its currency, and an invoice with carriage lands
with lines that add up to its total."""

from __future__ import annotations

from decimal import Decimal


def test_currency_and_carriage_reach_halo(sage_company):
    summary = sage_company.run()
    assert summary.status in ("ok", "partial"), summary.error
    invoices = {
        record["thirdpartyinvoicenumber"]: record for record in sage_company.sandbox.records("Invoice")
    }
    euro = invoices["1012"]
    assert euro["currency"] == "EUR" and Decimal(str(euro["total"])) == Decimal("243.60")
    assert "currency" not in invoices["1001"] or not invoices["1001"]["currency"]
    carriage = invoices["1011"]
    lines = carriage.get("lines") or []
    assert any(line.get("item_shortdescription") == "Carriage" for line in lines)
    gross = sum(Decimal(str(line["net_amount"])) + Decimal(str(line["tax_amount"])) for line in lines)
    assert gross == Decimal(str(carriage["total"])) == Decimal("134.94")

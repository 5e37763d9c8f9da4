"""The demo company: deterministic, shaped like a small UK MSP's books, readable by the real connector."""

from __future__ import annotations

import re
import sqlite3
from collections import Counter
from datetime import date
from decimal import Decimal

from connectors.registry import SourceConfig, create_connector
from core.records import Invoice, Supplier
from resources.demo.build_demo_company import build_demo_company, ensure_demo_company

TODAY = date(2026, 11, 22)


def dump(path):
    connection = sqlite3.connect(path)
    try:
        return list(connection.iterdump())
    finally:
        connection.close()


def test_same_seed_and_day_give_the_same_company(tmp_path):
    first = build_demo_company(tmp_path / "a.sqlite", today=TODAY)
    second = build_demo_company(tmp_path / "b.sqlite", today=TODAY)
    assert dump(first) == dump(second)
    assert dump(build_demo_company(tmp_path / "c.sqlite", today=TODAY, seed=1)) != dump(first)


def test_demo_company_shape_through_the_connector(tmp_path):
    path = build_demo_company(tmp_path / "demo.sqlite", today=TODAY)
    with create_connector(SourceConfig(kind="demo", connection_string=str(path)), None) as connector:
        rates = list(connector.read("tax_rates"))
        customers = list(connector.read("customers"))
        items = list(connector.read("items"))
        invoices = list(connector.read("invoices"))
    assert all(isinstance(i, Invoice) for i in invoices), [i for i in invoices if not isinstance(i, Invoice)]
    assert {r.key for r in rates} == {"T0", "T1", "T2", "T5", "T9"}
    assert len(customers) == 40
    assert all(re.fullmatch(r"[A-Z0-9]{1,8}", c.key) for c in customers)
    assert any("'" in c.name for c in customers) and any(not c.name.isascii() for c in customers)
    assert sum(1 for c in customers if not c.active) == 1
    assert len(items) == 25 and {i.tax_code for i in items} == {"T0", "T1", "T2", "T5", "T9"}

    kinds = Counter("credit" if i.is_credit else "invoice" for i in invoices)
    assert kinds == {"invoice": 294, "credit": 6}
    assert all(i.date.date() <= TODAY and (TODAY - i.date.date()).days <= 366 for i in invoices)
    paid = [i for i in invoices if i.is_paid]
    assert 150 < len(paid) < 280
    assert any(not i.posted for i in invoices) and any(0 < i.amount_paid < i.gross for i in invoices)
    for invoice in invoices:
        assert invoice.gross == invoice.net + invoice.tax
        assert invoice.net == sum((line.net for line in invoice.lines), Decimal("0.00"))
        assert invoice.amount_paid == sum((p.amount for p in invoice.payments), Decimal("0.00"))
    payment_keys = [p.key for i in invoices for p in i.payments]
    assert len(payment_keys) == len(set(payment_keys)) > 150


def test_ensure_builds_once_and_keeps_the_file(tmp_path):
    path = tmp_path / "demo" / "company.sqlite"
    assert ensure_demo_company(path) == path and path.is_file()
    stamp = path.stat().st_mtime_ns
    with sqlite3.connect(path) as connection:
        connection.execute("UPDATE SALES_LEDGER SET NAME = 'Edited by the user'")
    connection.close()
    ensure_demo_company(path)
    assert path.stat().st_mtime_ns >= stamp
    with sqlite3.connect(path) as connection:
        assert connection.execute(
            "SELECT COUNT(*) FROM SALES_LEDGER WHERE NAME = 'Edited by the user'"
        ).fetchone()[0]
    connection.close()
    assert not list(path.parent.glob("*.building"))


def test_the_demo_company_has_a_few_suppliers(tmp_path):
    path = build_demo_company(tmp_path / "company.sqlite", today=TODAY)
    with create_connector(SourceConfig(kind="demo", connection_string=str(path)), None) as connector:
        suppliers = [r for r in connector.read("suppliers") if isinstance(r, Supplier)]
    assert len(suppliers) == 5 and sum(not s.active for s in suppliers) == 1
    assert all(s.email and s.address.postcode and s.modified for s in suppliers)

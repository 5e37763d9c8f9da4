"""The sandbox's read-only HTML page: what the sync put into "Halo", for a person to look at.

Every value comes from records a client posted, so all of it is HTML-escaped.
"""

from __future__ import annotations

from html import escape
from typing import Any

from halo.sandbox.store import RESOURCES, SandboxStore

LATEST_PER_RESOURCE = 10

# Which columns make each record recognisable: (heading, field).
COLUMNS: dict[str, tuple[tuple[str, str], ...]] = {
    "Client": (("Name", "name"), ("Accounts id", "accountsid"), ("Inactive", "inactive")),
    "Site": (("Name", "name"), ("Customer", "client_name"), ("Accounts id", "accountsid")),
    "Item": (("Name", "name"), ("Accounts id", "accountsid"), ("Price", "baseprice")),
    "Tax": (("Name", "name"), ("Code", "code"), ("Rate", "value")),
    "Invoice": (
        ("Number", "invoicenumber"),
        ("Customer", "client_name"),
        ("Accounts id", "accountsid"),
        ("Total", "total"),
    ),
    "InvoicePayment": (
        ("Invoice", "invoice_id"),
        ("Amount", "amount"),
        ("Date", "date"),
        ("Reference", "sage50_reference"),
    ),
    "Supplier": (("Name", "name"), ("Accounts id", "accounts_id"), ("Inactive", "inactive")),
}

_STYLE = (
    "body{font-family:system-ui,sans-serif;margin:2em;color:#222}"
    "table{border-collapse:collapse;margin-bottom:1.5em}"
    "td,th{border:1px solid #ccc;padding:.25em .6em;text-align:left}"
    "th{background:#f2f2f2}.note{color:#666}"
)


def render_page(store: SandboxStore, url: str) -> str:
    """The whole page as text."""
    parts = [
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>",
        "<meta http-equiv='refresh' content='5'>",
        f"<title>Halo sandbox</title><style>{_STYLE}</style></head><body>",
        "<h1>LedgerBridge Halo sandbox</h1>",
        f"<p class='note'>A local stand-in for Halo at {escape(url)} (test data only). "
        "This page refreshes every 5 seconds.</p>",
        "<h2>Records</h2><table><tr><th>Resource</th><th>Count</th></tr>",
    ]
    parts += [f"<tr><td>{name}</td><td>{store.count(name)}</td></tr>" for name in RESOURCES]
    parts.append("</table>")
    for name in RESOURCES:
        parts.append(_latest_table(name, store.latest(name, LATEST_PER_RESOURCE)))
    parts.append("</body></html>")
    return "".join(parts)


def _latest_table(resource: str, records: list[dict[str, Any]]) -> str:
    columns = COLUMNS[resource]
    head = "".join(f"<th>{escape(heading)}</th>" for heading, _ in columns)
    rows = [f"<h2>Latest {escape(resource)} records</h2>"]
    if not records:
        rows.append("<p class='note'>None yet.</p>")
        return "".join(rows)
    rows.append(f"<table><tr><th>Id</th>{head}</tr>")
    for record in records:
        cells = "".join(f"<td>{_cell(record.get(field))}</td>" for _, field in columns)
        rows.append(f"<tr><td>{_cell(record.get('id'))}</td>{cells}</tr>")
    rows.append("</table>")
    return "".join(rows)


def _cell(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else ""
    return escape(str(value))

"""The sandbox's GET /Invoice parameters (Halo's OpenAPI), its mode that ignores them, seeding Halo-origin
invoices over HTTP, and a mark-posted POST that takes the invoice out of notpostedonly lists."""

from __future__ import annotations

import json
import urllib.request
from datetime import date

from halo.sandbox.seed import SeedLine, halo_invoice, seed_halo_invoices


def _ids(client, **params) -> list[int]:
    return [
        int(r["id"]) for r in client.iter_records("Invoice", {k: str(v).lower() for k, v in params.items()})
    ]


def test_invoice_list_parameters_are_honoured_and_can_be_ignored(halo_sandbox, make_halo_client):
    top1 = halo_sandbox.seed("Client", {"name": "One", "toplevel_id": 1})["id"]
    top2 = halo_sandbox.seed("Client", {"name": "Two", "toplevel_id": 2})["id"]
    line = [SeedLine("Work", 1, 10)]
    old = halo_sandbox.seed("Invoice", halo_invoice(top1, "A", date(2025, 12, 31), line))["id"]
    new = halo_sandbox.seed("Invoice", halo_invoice(top1, "B", date(2026, 1, 2), line))["id"]
    credit = halo_sandbox.seed("Invoice", halo_invoice(top1, "C", date(2026, 1, 3), line, credit=True))["id"]
    posted = halo_sandbox.seed("Invoice", halo_invoice(top2, "D", date(2026, 1, 4), line, posted=True))["id"]
    other = halo_sandbox.seed("Invoice", halo_invoice(top2, "E", date(2026, 1, 5), line))["id"]
    client = make_halo_client(halo_sandbox)

    assert _ids(client, notpostedonly=True) == [old, new, credit, other]
    assert _ids(client, postedonly=True) == [posted]
    assert _ids(client, includecredits=False) == [old, new, posted, other]
    assert _ids(client, includeinvoices=False) == [credit]
    assert _ids(client, invoicedatestart="2026-01-01", invoicedateend="2026-01-04") == [new, credit, posted]
    assert _ids(client, toplevel_id=2) == [posted, other]
    with_lines = list(client.iter_records("Invoice", {"includelines": "true"}))
    assert all(r["lines"] for r in with_lines)
    assert all("lines" not in r for r in client.iter_records("Invoice"))
    approval = halo_sandbox.seed(
        "Invoice", halo_invoice(top1, "F", date(2026, 1, 6), line, requires_approval=True, approval_status=0)
    )
    assert (approval["requires_approval"], approval["approval_status"]) == (True, 0)

    halo_sandbox.faults.update({"ignore_invoice_filters": True})
    everything = [old, new, credit, posted, other, approval["id"]]
    assert _ids(
        client, notpostedonly=True, includecredits=False, invoicedatestart="2026-01-02", toplevel_id=2
    ) == (everything)


def test_a_marked_invoice_keeps_its_posted_fields_and_leaves_the_not_posted_list(
    halo_sandbox, make_halo_client
):
    seeded = seed_halo_invoices(halo_sandbox, 3)
    client = make_halo_client(halo_sandbox)
    target = seeded.invoice_ids[1]
    client.save(
        "Invoice",
        [
            {
                "id": target,
                "posted": True,
                "dateposted": "2026-02-01T10:00:00+00:00",
                "thirdpartyinvoicenumber": "B7",
            }
        ],
    )
    record = client.get_record("Invoice", target)
    assert record is not None
    assert (record["posted"], record["thirdpartyinvoicenumber"]) == (True, "B7")
    assert record["dateposted"].startswith("2026-02-01") and record["lines"]  # lines kept
    assert target not in _ids(client, notpostedonly=True)
    assert _ids(client, postedonly=True) == [target]


def test_halo_origin_invoices_can_be_seeded_over_http_from_this_machine(halo_sandbox):
    client_id = halo_sandbox.seed("Client", {"name": "Seeded"})["id"]
    body = json.dumps([halo_invoice(client_id, "S-1", date(2026, 1, 9), [SeedLine("Work", 2, 30)])]).encode()
    request = urllib.request.Request(
        f"{halo_sandbox.url}/sandbox/seed/Invoice",
        data=body,
        method="POST",
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=10) as answer:
        saved = json.load(answer)
    assert answer.status == 201 and saved[0]["invoicenumber"] == "S-1" and saved[0]["total"] == 72
    assert [r["invoicenumber"] for r in halo_sandbox.records("Invoice")] == ["S-1"]


def test_the_sandbox_command_seeds_halo_invoices_to_post():
    import argparse
    import io
    import threading
    import time

    from halo.sandbox.cli import sandbox_command

    out, stop = io.StringIO(), threading.Event()
    args = argparse.Namespace(db=None, client_id="", tenant="", port=0, mode=[], halo_invoices=7)
    runner = threading.Thread(target=sandbox_command, args=(args, out, stop))
    runner.start()
    try:
        deadline = time.monotonic() + 20
        while "Resource server" not in out.getvalue() and time.monotonic() < deadline:
            time.sleep(0.05)
        url = next(line for line in out.getvalue().splitlines() if "Resource server" in line).split(": ")[1]
        with urllib.request.urlopen(f"{url.strip()}/sandbox/stats", timeout=10) as answer:
            assert json.load(answer)["records"]["Invoice"] == 7
        assert "Seeded 7 Halo-origin invoices" in out.getvalue()
    finally:
        stop.set()
        runner.join(20)

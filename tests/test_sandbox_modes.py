"""The sandbox's Halo-variation switches behave as documented, over real HTTP through the real client."""

from __future__ import annotations

import argparse
import io
import json
import threading
import time
import urllib.request

import pytest

from core.errors import AuthError, RecordError
from halo.sandbox.cli import parse_modes, sandbox_command

RECORDS = [{"name": f"Customer {n}", "accountsid": f"C{n}"} for n in range(3)]


@pytest.mark.parametrize(
    ("shape", "expected_keys"),
    [
        ("array", ["C0", "C1", "C2"]),
        ("object", ["C0"]),
        ("first", ["C0"]),
        ("reversed", ["C2", "C1", "C0"]),
        ("truncated", ["C0", "C1"]),
        ("empty", []),
        ("true", []),
    ],
)
def test_post_answer_shapes(halo_sandbox, make_halo_client, shape, expected_keys):
    halo_sandbox.faults.update({"post_answer": shape})
    saved = make_halo_client(halo_sandbox).save("Client", RECORDS)
    assert [record["accountsid"] for record in saved] == expected_keys
    assert len(halo_sandbox.records("Client")) == 3, "every shape still saves the whole batch"


def test_a_shuffled_answer_is_never_in_the_order_sent(halo_sandbox, make_halo_client):
    halo_sandbox.faults.update({"post_answer": "shuffled"})
    saved = make_halo_client(halo_sandbox).save("Client", RECORDS)
    assert sorted(r["accountsid"] for r in saved) == ["C0", "C1", "C2"]
    assert [r["accountsid"] for r in saved] != ["C0", "C1", "C2"]


def test_lean_rows_leave_the_matching_fields_out_of_lists_only(halo_sandbox, make_halo_client):
    client = make_halo_client(halo_sandbox)
    created = client.save("Client", RECORDS)
    halo_sandbox.faults.update({"lean_rows": True})
    rows = list(client.iter_records("Client"))
    assert rows and all("accountsid" not in row and "main_site_id" not in row and row["name"] for row in rows)
    full = client.get_record("Client", created[0]["id"])
    assert full["accountsid"] == "C0" and full["main_site_id"]


def test_order_and_includeinactive_can_be_ignored(halo_sandbox, make_halo_client):
    client = make_halo_client(halo_sandbox)
    client.save("Client", [*RECORDS, {"name": "Old", "accountsid": "OLD", "inactive": True}])
    newest_first = {"order": "id", "orderdesc": "true", "includeinactive": "true"}
    keys = [r["accountsid"] for r in client.iter_records("Client", newest_first)]
    assert keys[0] == "OLD" and len(keys) == 4
    halo_sandbox.faults.update({"ignore_order": True, "ignore_includeinactive": True})
    ids = [r["id"] for r in client.iter_records("Client", newest_first)]
    assert ids == sorted(ids) and len(ids) == 3


def test_numbers_as_text_in_answers_and_accepted_in_requests(halo_sandbox, make_halo_client):
    halo_sandbox.faults.update({"numbers_as_text": True})
    client = make_halo_client(halo_sandbox)
    (saved,) = client.save("Tax", [{"name": "Standard", "code": "T1", "value": "20.5"}])
    assert isinstance(saved["id"], str) and saved["value"] == "20.5"
    assert halo_sandbox.records("Tax")[0]["value"] == 20.5  # stored as the number it names
    (row,) = client.iter_records("Tax")
    assert row["id"] == saved["id"]


def test_admin_only_endpoints_answer_403(halo_sandbox, make_halo_client):
    halo_sandbox.faults.update({"admin_only": ["Tax"]})
    client = make_halo_client(halo_sandbox)
    with pytest.raises(AuthError) as caught:
        list(client.iter_records("Tax"))
    assert "admin" in caught.value.action.lower()
    assert client.save("Client", RECORDS[:1])  # other endpoints still answer


def test_hidden_clients_are_invisible_to_the_agent(halo_sandbox, make_halo_client):
    client = make_halo_client(halo_sandbox)
    created = client.save("Client", RECORDS)
    hidden = created[1]["id"]
    halo_sandbox.faults.update({"hidden_clients": [hidden]})
    assert hidden not in {r["id"] for r in client.iter_records("Client")}
    assert client.get_record("Client", hidden) is None
    with pytest.raises(RecordError):
        client.save("Client", [{"id": hidden, "name": "Renamed"}])


def test_a_record_deleted_in_halo_is_gone(halo_sandbox, make_halo_client):
    client = make_halo_client(halo_sandbox)
    (saved,) = client.save("Client", RECORDS[:1])
    assert halo_sandbox.delete("Client", saved["id"]) and not halo_sandbox.delete("Client", saved["id"])
    assert client.get_record("Client", saved["id"]) is None


@pytest.mark.parametrize(
    "change",
    [
        {"post_answer": "sideways"},
        {"lean_rows": "yes"},
        {"admin_only": "Tax"},
        {"hidden_clients": [0]},
    ],
)
def test_bad_mode_values_are_refused_with_what_is_allowed(halo_sandbox, change):
    with pytest.raises(ValueError, match="must be"):
        halo_sandbox.faults.update(change)


def test_the_sandbox_command_takes_modes(tmp_path):
    assert parse_modes(["post_answer=object", "lean_rows=true", 'admin_only=["Tax"]']) == {
        "post_answer": "object",
        "lean_rows": True,
        "admin_only": ["Tax"],
    }
    with pytest.raises(ValueError, match="NAME=VALUE"):
        parse_modes(["lean_rows"])
    out, stop = io.StringIO(), threading.Event()
    args = argparse.Namespace(db=None, client_id="", tenant="", port=0, mode=["post_answer=first"])
    runner = threading.Thread(target=sandbox_command, args=(args, out, stop))
    runner.start()
    try:
        deadline = time.monotonic() + 20
        while "Resource server" not in out.getvalue() and time.monotonic() < deadline:
            time.sleep(0.05)
        url = next(line for line in out.getvalue().splitlines() if "Resource server" in line).split(": ")[1]
        with urllib.request.urlopen(f"{url.strip()}/sandbox/stats", timeout=10) as answer:
            assert json.load(answer)["faults"]["post_answer"] == "first"
    finally:
        stop.set()
        runner.join(20)
    bad = argparse.Namespace(db=None, client_id="", tenant="", port=0, mode=["post_answer=sideways"])
    assert sandbox_command(bad, io.StringIO(), threading.Event()) == 2

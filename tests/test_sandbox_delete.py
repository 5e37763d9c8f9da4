"""DELETE /api/{resource}/{id}: in Halo's OpenAPI for every resource LedgerBridge writes; the sandbox has it
so the second-installation guard can remove a copy it has just made twice (sync/guard.py)."""

from __future__ import annotations

import json
import urllib.error
import urllib.request


def test_the_client_deletes_a_record_and_a_client_takes_its_sites_along(halo_sandbox, make_halo_client):
    client = make_halo_client(halo_sandbox)
    saved = client.save("Client", [{"name": "Made twice", "accountsid": "TWICE"}])
    client_id = int(saved[0]["id"])
    assert any(s.get("client_id") == client_id for s in halo_sandbox.records("Site"))
    assert client.delete_record("Client", client_id) is True
    assert client.get_record("Client", client_id) is None
    assert not any(s.get("client_id") == client_id for s in halo_sandbox.records("Site"))
    assert client.delete_record("Client", client_id) is False  # already gone: a resend is harmless


def test_a_delete_without_a_token_is_refused(halo_sandbox):
    halo_sandbox.seed("Item", {"name": "Kept", "accountsid": "KEPT"})
    item_id = halo_sandbox.records("Item")[0]["id"]
    request = urllib.request.Request(f"{halo_sandbox.url}/api/Item/{item_id}", method="DELETE")
    try:
        urllib.request.urlopen(request, timeout=10)
        status = 200
    except urllib.error.HTTPError as error:
        status = error.code
        json.loads(error.read() or b"{}")
    assert status == 401
    assert len(halo_sandbox.records("Item")) == 1


def test_a_deletion_is_kept_by_a_sandbox_persisted_to_sqlite(tmp_path, make_halo_client):
    from halo.sandbox.server import HaloSandbox

    database = tmp_path / "halo.sqlite3"
    with HaloSandbox(database) as sandbox:
        client = make_halo_client(sandbox)
        ids = [int(r["id"]) for r in client.save("Item", [{"name": "A"}, {"name": "B"}])]
        assert client.delete_record("Item", ids[0])
    with HaloSandbox(database) as reopened:
        assert [r["id"] for r in reopened.records("Item")] == [ids[1]]

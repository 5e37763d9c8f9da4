"""halo/resources.py is the one table of Halo's resources: the client, its errors and the sandbox all read it.

Each row is exercised through the real parts (the sandbox on 127.0.0.1 and the HaloClient), so a resource
added to the table but missing anywhere that serves or reads it fails here.
"""

from __future__ import annotations

import pytest
import requests

from core.errors import AuthError
from halo.client import HaloClient
from halo.resources import RESOURCES, HaloResource

ROWS = list(RESOURCES.values())


@pytest.mark.parametrize("row", ROWS, ids=[row.name for row in ROWS])
def test_the_sandbox_lists_each_resource_under_the_tables_list_key(
    row: HaloResource, make_halo_client, halo_sandbox
):
    client: HaloClient = make_halo_client(halo_sandbox)
    client.sign_in()
    answer = requests.get(
        f"{halo_sandbox.url}/api/{row.name}",
        headers={"Authorization": f"Bearer {client._bearer()}"},
        timeout=10,
    )
    assert answer.status_code == 200, answer.text
    assert isinstance(answer.json()[row.list_key], list)
    assert list(client.iter_records(row.name)) == halo_sandbox.records(row.name, include_inactive=False)


@pytest.mark.parametrize("row", ROWS, ids=[row.name for row in ROWS])
def test_a_refused_resource_names_the_tables_permission_and_words(
    row: HaloResource, make_halo_client, halo_sandbox
):
    halo_sandbox.faults.update({"admin_only": [row.name]})
    client: HaloClient = make_halo_client(halo_sandbox)
    with pytest.raises(AuthError) as raised:
        list(client.iter_records(row.name))
    needed = "admin" if row.needs_admin else f"read:{row.permission_area}"
    assert f"'{needed}'" in raised.value.action
    assert row.words in raised.value.message


def test_parentless_records_are_kept_shown_and_read_back_by_key(make_halo_client, halo_sandbox):
    seeded = {
        "Client": {"name": "Acme", "accountsid": "C1"},
        "Item": {"name": "Widget", "accountsid": "I1"},
        "Tax": {"name": "Standard", "third_party_id": "T1"},
        "Supplier": {"name": "Parts Ltd", "accounts_id": "S1"},
    }
    for resource, record in seeded.items():
        assert RESOURCES[resource].parent is None
        halo_sandbox.seed(resource, record)
    client: HaloClient = make_halo_client(halo_sandbox)
    for resource, record in seeded.items():
        key_field = RESOURCES[resource].key_field
        assert [row[key_field] for row in client.iter_records(resource)] == [record[key_field]]
    page = requests.get(f"{halo_sandbox.url}/", timeout=10).text
    assert all(f"Latest {resource} records" in page for resource in RESOURCES)
    assert "Parts Ltd" in page


def test_an_unknown_resource_is_refused_by_name(make_halo_client, halo_sandbox):
    client: HaloClient = make_halo_client(halo_sandbox)
    with pytest.raises(ValueError, match="unknown Halo resource 'Vendor'"):
        client.get_record("Vendor", 1)

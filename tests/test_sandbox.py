"""The Halo sandbox over real HTTP: sign-in, lists and paging, POST create/update/validation, page, stats."""

from __future__ import annotations

import math

import pytest
import requests

from halo.sandbox.server import HaloSandbox


def sign_in(sandbox: HaloSandbox, session: requests.Session, **form: str) -> requests.Response:
    data = {
        "grant_type": "client_credentials",
        "client_id": sandbox.client_id,
        "client_secret": sandbox.client_secret,
        "scope": "all",
    }
    data.update(form)
    return session.post(f"{sandbox.url}/auth/token", data=data, timeout=10)


@pytest.fixture
def api(halo_sandbox):
    """A requests session already signed in to the sandbox; ``api.url`` is the sandbox's /api base."""
    with requests.Session() as session:
        answer = sign_in(halo_sandbox, session)
        assert answer.status_code == 200, answer.text
        session.headers["Authorization"] = f"Bearer {answer.json()['access_token']}"
        session.url = f"{halo_sandbox.url}/api"
        yield session


def post(api, resource: str, records: list) -> requests.Response:
    return api.post(f"{api.url}/{resource}", json=records, timeout=10)


# ------------------------------------------------------------------------------------------- sign-in


def test_authinfo_names_the_auth_server_and_tenant() -> None:
    with HaloSandbox(tenant="acme").start() as sandbox, requests.Session() as session:
        info = session.get(f"{sandbox.url}/api/authinfo", timeout=10).json()
    assert info == {"auth_url": f"{sandbox.url}/auth", "tenant_id": "acme"}


def test_token_flow_gives_a_bearer_token_that_opens_the_api(halo_sandbox) -> None:
    with requests.Session() as session:
        answer = sign_in(halo_sandbox, session)
        assert answer.status_code == 200
        token = answer.json()
        assert token["token_type"] == "Bearer"
        assert token["expires_in"] == 3600
        assert len(token["access_token"]) >= 32
        second = sign_in(halo_sandbox, session).json()["access_token"]
        assert second != token["access_token"]
        listed = session.get(
            f"{halo_sandbox.url}/api/Client",
            headers={"Authorization": f"Bearer {token['access_token']}"},
            timeout=10,
        )
    assert listed.status_code == 200
    assert listed.json() == {"record_count": 0, "clients": []}


@pytest.mark.parametrize(
    ("form", "status", "error"),
    [
        ({"client_secret": "wrong"}, 401, "invalid_client"),
        ({"client_id": "someone-else"}, 401, "invalid_client"),
        ({"grant_type": "password"}, 400, "unsupported_grant_type"),
        ({"scope": "read:everything"}, 400, "invalid_scope"),
    ],
)
def test_token_refusals_use_oauth_errors(halo_sandbox, form, status, error) -> None:
    with requests.Session() as session:
        answer = sign_in(halo_sandbox, session, **form)
    assert answer.status_code == status
    body = answer.json()
    assert body["error"] == error
    assert body["error_description"]
    assert halo_sandbox.client_secret not in answer.text


def test_several_valid_scopes_are_accepted(halo_sandbox) -> None:
    with requests.Session() as session:
        answer = sign_in(halo_sandbox, session, scope="read:customers edit:invoices admin")
    assert answer.status_code == 200


def test_tenant_is_required_when_the_sandbox_has_one() -> None:
    with HaloSandbox(tenant="acme").start() as sandbox, requests.Session() as session:
        missing = sign_in(sandbox, session)
        wrong = session.post(
            f"{sandbox.url}/auth/token?tenant=other",
            data={
                "grant_type": "client_credentials",
                "client_id": sandbox.client_id,
                "client_secret": sandbox.client_secret,
                "scope": "all",
            },
            timeout=10,
        )
        right = session.post(
            f"{sandbox.url}/auth/token?tenant=acme",
            data={
                "grant_type": "client_credentials",
                "client_id": sandbox.client_id,
                "client_secret": sandbox.client_secret,
                "scope": "all",
            },
            timeout=10,
        )
    for refused in (missing, wrong):
        assert refused.status_code == 400
        assert refused.json()["error"] == "invalid_request"
        assert "Unknown tenant" in refused.json()["error_description"]
    assert right.status_code == 200


def test_api_needs_a_valid_token(halo_sandbox) -> None:
    with requests.Session() as session:
        none = session.get(f"{halo_sandbox.url}/api/Client", timeout=10)
        made_up = session.get(
            f"{halo_sandbox.url}/api/Client", headers={"Authorization": "Bearer not-a-token"}, timeout=10
        )
        posted = session.post(f"{halo_sandbox.url}/api/Client", json=[{"name": "X"}], timeout=10)
    assert none.status_code == 401
    assert made_up.status_code == 401
    assert posted.status_code == 401
    assert halo_sandbox.records("Client") == []


def test_expired_tokens_are_refused(api, halo_sandbox) -> None:
    assert api.get(f"{api.url}/Client", timeout=10).status_code == 200
    halo_sandbox.expire_tokens()
    assert api.get(f"{api.url}/Client", timeout=10).status_code == 401


# ------------------------------------------------------------------------------------------- POST


def test_create_then_update_merges_fields(api, halo_sandbox) -> None:
    created = post(api, "Client", [{"name": "Acme Ltd", "accountsid": "ACME01"}, {"name": "Beta plc"}])
    assert created.status_code == 201
    acme, beta = created.json()
    assert acme["id"] != beta["id"]
    assert acme["alastupdate"]
    updated = post(api, "Client", [{"id": acme["id"], "name": "Acme Limited"}])
    assert updated.status_code == 200
    assert updated.json()[0]["accountsid"] == "ACME01"
    assert updated.json()[0]["name"] == "Acme Limited"
    fetched = api.get(f"{api.url}/Client/{acme['id']}", timeout=10).json()
    assert fetched["name"] == "Acme Limited"
    assert [c["name"] for c in halo_sandbox.records("Client")] == ["Acme Limited", "Beta plc"]


def test_a_new_client_gets_its_main_site(api, halo_sandbox) -> None:
    client = post(api, "Client", [{"name": "Acme Ltd"}]).json()[0]
    sites = halo_sandbox.records("Site")
    assert len(sites) == 1
    assert sites[0]["name"] == "Main Site"
    assert sites[0]["client_id"] == client["id"]
    assert client["main_site_id"] == sites[0]["id"]


def test_unknown_field_is_refused_naming_it_and_nothing_is_saved(api, halo_sandbox) -> None:
    answer = post(api, "Client", [{"name": "Fine"}, {"name": "Bad", "acountsid": "X"}])
    assert answer.status_code == 400
    body = answer.json()
    assert body["record_index"] == 1
    assert body["field"] == "acountsid"
    assert "acountsid" in body["error"] and "Record 1" in body["error"]
    assert halo_sandbox.records("Client") == []
    assert halo_sandbox.records("Site") == []


@pytest.mark.parametrize(
    ("record", "field"),
    [
        ({"name": 42}, "name"),
        ({"name": "X", "inactive": "yes"}, "inactive"),
        ({"name": "X", "toplevel_id": True}, "toplevel_id"),
        ({"name": "X", "toplevel_id": 1.5}, "toplevel_id"),
    ],
)
def test_wrong_type_is_refused_naming_the_field(api, halo_sandbox, record, field) -> None:
    answer = post(api, "Client", [record])
    assert answer.status_code == 400
    assert answer.json()["field"] == field
    assert field in answer.json()["error"]
    assert halo_sandbox.records("Client") == []


def test_invoice_line_problems_name_the_line(api, halo_sandbox) -> None:
    client = post(api, "Client", [{"name": "Acme"}]).json()[0]
    answer = post(api, "Invoice", [{"client_id": client["id"], "lines": [{"qty_order": 1}, {"qty": 1}]}])
    assert answer.status_code == 400
    assert answer.json()["field"] == "lines[1].qty"
    assert halo_sandbox.records("Invoice") == []


def test_numbers_may_be_int_or_float_but_not_text(api) -> None:
    assert (
        post(api, "Item", [{"name": "A", "baseprice": 10}, {"name": "B", "baseprice": 9.99}]).status_code
        == 201
    )
    assert post(api, "Item", [{"name": "C", "baseprice": "9.99"}]).status_code == 400


def test_non_array_body_is_refused(api, halo_sandbox) -> None:
    answer = post(api, "Client", {"name": "Acme"})  # type: ignore[arg-type]
    assert answer.status_code == 400
    assert "array" in answer.json()["error"]
    broken = api.post(
        f"{api.url}/Client", data=b"[{", headers={"Content-Type": "application/json"}, timeout=10
    )
    assert broken.status_code == 400
    assert halo_sandbox.records("Client") == []


def test_update_of_an_unknown_id_is_refused(api, halo_sandbox) -> None:
    post(api, "Client", [{"name": "Acme"}])
    answer = post(api, "Client", [{"name": "New"}, {"id": 999, "name": "Ghost"}])
    assert answer.status_code == 400
    assert answer.json()["field"] == "id"
    assert "999" in answer.json()["error"]
    assert [c["name"] for c in halo_sandbox.records("Client")] == ["Acme"]


@pytest.mark.parametrize(
    ("resource", "record", "field"),
    [
        ("Site", {"name": "Depot", "client_id": 77}, "client_id"),
        ("Invoice", {"invoicenumber": "INV1", "client_id": 77}, "client_id"),
        ("Invoice", {"invoicenumber": "INV1"}, "client_id"),
        ("InvoicePayment", {"invoice_id": 88, "amount": 10.0}, "invoice_id"),
    ],
)
def test_references_must_exist(api, halo_sandbox, resource, record, field) -> None:
    answer = post(api, resource, [record])
    assert answer.status_code == 400
    assert answer.json()["field"] == field
    assert field in answer.json()["error"]
    assert halo_sandbox.records(resource) == []


def test_invoice_lines_are_replaced_and_tied_to_the_header(api, halo_sandbox) -> None:
    client = post(api, "Client", [{"name": "Acme"}]).json()[0]
    lines = [
        {"item_shortdescription": "Support", "qty_order": 2, "unit_price": 50.0, "tax_amount": 20.0},
        {"item_shortdescription": "Cable", "qty_order": 1, "unit_price": 5.0, "net_amount": 5.0},
    ]
    invoice = post(api, "Invoice", [{"client_id": client["id"], "invoicenumber": "INV-1", "lines": lines}])
    assert invoice.status_code == 201
    saved = invoice.json()[0]
    assert [line["ihid"] for line in saved["lines"]] == [saved["id"], saved["id"]]
    assert len({line["id"] for line in saved["lines"]}) == 2
    assert saved["total"] == 125.0
    assert saved["client_name"] == "Acme"
    listed = api.get(f"{api.url}/Invoice", timeout=10).json()["invoices"][0]
    assert "lines" not in listed
    with_lines = api.get(f"{api.url}/Invoice", params={"includelines": "true"}, timeout=10).json()
    assert len(with_lines["invoices"][0]["lines"]) == 2
    post(
        api, "Invoice", [{"id": saved["id"], "lines": [{"item_shortdescription": "Only", "net_amount": 1.0}]}]
    )
    stored = halo_sandbox.records("Invoice")[0]
    assert [line["item_shortdescription"] for line in stored["lines"]] == ["Only"]
    assert stored["invoicenumber"] == "INV-1"
    post(api, "Invoice", [{"id": saved["id"], "accountsid": "SAGE-1"}])
    assert len(halo_sandbox.records("Invoice")[0]["lines"]) == 1


def test_payments_belong_to_invoices(api, halo_sandbox) -> None:
    client = post(api, "Client", [{"name": "Acme"}]).json()[0]
    invoice = post(api, "Invoice", [{"client_id": client["id"], "invoicenumber": "I1"}]).json()[0]
    paid = post(
        api, "InvoicePayment", [{"invoice_id": invoice["id"], "amount": 12.5, "sage50_reference": "R1"}]
    )
    assert paid.status_code == 201
    assert paid.json()[0]["client_id"] == client["id"]
    listed = api.get(f"{api.url}/InvoicePayment", params={"invoice_id": invoice["id"]}, timeout=10).json()
    assert listed["record_count"] == 1
    assert listed["payments"][0]["amount"] == 12.5


# ------------------------------------------------------------------------------------------- GET


def test_paging_math(api, halo_sandbox) -> None:
    for start in range(0, 23, 10):
        post(api, "Item", [{"name": f"Item {n:02d}"} for n in range(start, min(start + 10, 23))])
    page_size = 5
    first = api.get(f"{api.url}/Item", params={"pageinate": "true", "page_size": 5, "page_no": 1}, timeout=10)
    total = first.json()["record_count"]
    assert total == 23
    pages = math.ceil(total / page_size)
    names = []
    for page_no in range(1, pages + 1):
        body = api.get(
            f"{api.url}/Item",
            params={"pageinate": "true", "page_size": page_size, "page_no": page_no},
            timeout=10,
        ).json()
        assert body["record_count"] == 23
        names += [item["name"] for item in body["items"]]
        if page_no == pages:
            assert len(body["items"]) == 3
    assert names == [f"Item {n:02d}" for n in range(23)]
    beyond = api.get(
        f"{api.url}/Item", params={"pageinate": "true", "page_size": 5, "page_no": 6}, timeout=10
    )
    assert beyond.json() == {"record_count": 23, "items": []}
    limited = api.get(f"{api.url}/Item", params={"count": 4}, timeout=10).json()
    assert limited["record_count"] == 23 and len(limited["items"]) == 4
    everything = api.get(f"{api.url}/Item", timeout=10).json()
    assert len(everything["items"]) == 23


def test_bad_paging_parameters_are_refused(api) -> None:
    answer = api.get(f"{api.url}/Item", params={"pageinate": "true", "page_size": "ten"}, timeout=10)
    assert answer.status_code == 400
    assert "page_size" in answer.json()["error"]


def test_search_inactive_and_client_filters(api) -> None:
    acme, beta, _gone = post(
        api,
        "Client",
        [
            {"name": "Acme Ltd", "accountsid": "ZZZ"},
            {"name": "Beta ACME plc"},
            {"name": "Gone Acme", "inactive": True},
        ],
    ).json()
    found = api.get(f"{api.url}/Client", params={"search": "acme"}, timeout=10).json()
    assert [c["name"] for c in found["clients"]] == ["Acme Ltd", "Beta ACME plc"]
    with_inactive = api.get(
        f"{api.url}/Client", params={"search": "acme", "includeinactive": "true"}, timeout=10
    ).json()
    assert with_inactive["record_count"] == 3
    not_accountsid = api.get(f"{api.url}/Client", params={"search": "zzz"}, timeout=10).json()
    assert not_accountsid["record_count"] == 0
    post(api, "Site", [{"name": "Depot", "client_id": beta["id"]}])
    sites = api.get(f"{api.url}/Site", params={"client_id": beta["id"]}, timeout=10).json()
    assert sorted(s["name"] for s in sites["sites"]) == ["Depot", "Main Site"]
    invoices = post(
        api,
        "Invoice",
        [
            {"client_id": acme["id"], "invoicenumber": "A-1"},
            {"client_id": beta["id"], "invoicenumber": "B-1"},
        ],
    ).json()
    by_client = api.get(f"{api.url}/Invoice", params={"client_id": acme["id"]}, timeout=10).json()
    assert [i["id"] for i in by_client["invoices"]] == [invoices[0]["id"]]
    by_client_name = api.get(f"{api.url}/Invoice", params={"search": "beta"}, timeout=10).json()
    assert [i["invoicenumber"] for i in by_client_name["invoices"]] == ["B-1"]


def test_toplevel_filter(api) -> None:
    post(api, "Client", [{"name": "North", "toplevel_id": 2}, {"name": "South", "toplevel_id": 3}])
    found = api.get(f"{api.url}/Client", params={"toplevel_id": 3}, timeout=10).json()
    assert [c["name"] for c in found["clients"]] == ["South"]


def test_server_keeps_ids_and_timestamps(api) -> None:
    sent = "2001-01-01T00:00:00Z"
    item = post(api, "Item", [{"name": "Widget", "lastmodified": sent}]).json()[0]
    assert item["lastmodified"] != sent
    first_stamp = item["lastmodified"]
    again = post(api, "Item", [{"id": item["id"], "baseprice": 2.5}]).json()[0]
    assert again["lastmodified"] >= first_stamp
    assert again["id"] == item["id"]


def test_get_one_and_404(api) -> None:
    item = post(api, "Item", [{"name": "Widget"}]).json()[0]
    assert api.get(f"{api.url}/Item/{item['id']}", timeout=10).json()["name"] == "Widget"
    assert api.get(f"{api.url}/Item/999", timeout=10).status_code == 404
    assert api.get(f"{api.url}/Nothing", timeout=10).status_code == 404


def test_seed_and_records_helpers(halo_sandbox, api) -> None:
    seeded = halo_sandbox.seed("Client", {"name": "Existing Co", "accountsid": "EX1"})
    assert seeded["id"] == 1
    with_id = halo_sandbox.seed("Tax", {"id": 40, "name": "Standard", "code": "T1", "value": 20.0})
    assert with_id["id"] == 40
    assert post(api, "Tax", [{"name": "Zero", "code": "T0", "value": 0}]).json()[0]["id"] == 41
    listed = api.get(f"{api.url}/Client", timeout=10).json()
    assert listed["clients"][0]["accountsid"] == "EX1"
    with pytest.raises(ValueError, match="nmae"):
        halo_sandbox.seed("Client", {"nmae": "typo"})
    with pytest.raises(ValueError, match="Unknown sandbox resource"):
        halo_sandbox.records("Customer")


def test_oversized_bodies_are_refused(api, halo_sandbox, monkeypatch) -> None:
    from halo.sandbox import server

    monkeypatch.setattr(server, "MAX_BODY_BYTES", 100)
    answer = post(api, "Client", [{"name": "x" * 200}])
    assert answer.status_code == 413
    assert "smaller batches" in answer.json()["error"]
    assert halo_sandbox.records("Client") == []


def test_lists_follow_order_and_orderdesc(halo_sandbox, api):
    for name in ("Bravo", "alpha", "Charlie"):
        halo_sandbox.seed("Client", {"name": name})

    def names(**params: str) -> list[str]:
        answer = api.get(f"{api.url}/Client", params=params, timeout=10)
        answer.raise_for_status()
        return [client["name"] for client in answer.json()["clients"]]

    assert names() == ["Bravo", "alpha", "Charlie"]
    assert names(orderdesc="true") == ["Charlie", "alpha", "Bravo"]
    assert names(order="name") == ["alpha", "Bravo", "Charlie"]
    assert names(order="name", orderdesc="true", pageinate="true", page_size="2", page_no="1") == [
        "Charlie",
        "Bravo",
    ]


def test_helpers_hand_out_copies_while_answers_stay_the_stores(halo_sandbox, api) -> None:
    """records() and seed() give deep copies (a test may change them); the server's answers, encoded
    straight from the store's records without a copy, are unaffected by that."""
    client = post(api, "Client", [{"name": "Acme"}]).json()[0]
    lines = [{"item_shortdescription": "Widget", "net_amount": 10.0}]
    invoice = post(api, "Invoice", [{"client_id": client["id"], "invoicenumber": "I-1", "lines": lines}])
    invoice_id = invoice.json()[0]["id"]
    held = halo_sandbox.records("Invoice")[0]
    held["lines"][0]["item_shortdescription"] = "changed by a test"
    held["lines"].append({"item_shortdescription": "added by a test"})
    seeded = halo_sandbox.seed("Invoice", {"client_id": client["id"], "lines": [{"net_amount": 1.0}]})
    seeded["lines"][0]["net_amount"] = 99.0
    answer = api.get(f"{api.url}/Invoice/{invoice_id}", timeout=10).json()
    assert [line["item_shortdescription"] for line in answer["lines"]] == ["Widget"]
    assert halo_sandbox.records("Invoice")[1]["lines"][0]["net_amount"] == 1.0
    assert halo_sandbox.records("Invoice")[0]["lines"] == answer["lines"]

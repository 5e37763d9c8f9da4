"""Sandbox persistence across restarts, the HTML page, the `sandbox` command and the schema data file."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import requests

from halo.sandbox import extract_schemas
from halo.sandbox.server import HaloSandbox

REPO = Path(__file__).resolve().parents[1]
SPEC = REPO.parent / "shared" / "reference" / "halo-openapi.json"


def signed_in(sandbox: HaloSandbox) -> requests.Session:
    session = requests.Session()
    answer = session.post(
        f"{sandbox.url}/auth/token",
        data={
            "grant_type": "client_credentials",
            "client_id": sandbox.client_id,
            "client_secret": sandbox.client_secret,
            "scope": "all",
        },
        timeout=10,
    )
    assert answer.status_code == 200, answer.text
    session.headers["Authorization"] = f"Bearer {answer.json()['access_token']}"
    return session


def test_records_and_next_ids_survive_a_restart(tmp_path) -> None:
    db = tmp_path / "sandbox" / "halo.sqlite3"
    with HaloSandbox(db_path=db, client_secret="s3cret").start() as first, signed_in(first) as api:
        clients = api.post(
            f"{first.url}/api/Client", json=[{"name": "Acme"}, {"name": "Beta"}], timeout=10
        ).json()
        invoice = api.post(
            f"{first.url}/api/Invoice",
            json=[{"client_id": clients[0]["id"], "invoicenumber": "I-1", "lines": [{"net_amount": 10.0}]}],
            timeout=10,
        ).json()[0]
        api.post(f"{first.url}/api/Client", json=[{"id": clients[1]["id"], "inactive": True}], timeout=10)
        before = {name: first.records(name) for name in ("Client", "Site", "Invoice")}
    with HaloSandbox(db_path=db, client_secret="s3cret").start() as second, signed_in(second) as api:
        assert {name: second.records(name) for name in ("Client", "Site", "Invoice")} == before
        active = api.get(f"{second.url}/api/Client", timeout=10).json()
        assert [c["name"] for c in active["clients"]] == ["Acme"]
        newer = api.post(f"{second.url}/api/Client", json=[{"name": "Gamma"}], timeout=10).json()[0]
        assert newer["id"] == clients[1]["id"] + 1
        assert newer["main_site_id"] == 3
        relined = api.post(
            f"{second.url}/api/Invoice",
            json=[{"id": invoice["id"], "lines": [{"net_amount": 2.0}]}],
            timeout=10,
        ).json()[0]
        assert relined["lines"][0]["id"] > invoice["lines"][0]["id"]


def test_a_failed_batch_is_not_persisted(tmp_path) -> None:
    db = tmp_path / "halo.sqlite3"
    with HaloSandbox(db_path=db).start() as sandbox, signed_in(sandbox) as api:
        refused = api.post(f"{sandbox.url}/api/Client", json=[{"name": "Ok"}, {"name": 5}], timeout=10)
        assert refused.status_code == 400
    with HaloSandbox(db_path=db) as reopened:
        assert reopened.records("Client") == []
        assert reopened.seed("Client", {"name": "First"})["id"] == 1


def test_an_unusable_data_file_says_what_to_do(tmp_path) -> None:
    db = tmp_path / "broken.sqlite3"
    db.write_bytes(b"this is not a database" * 100)
    with pytest.raises(RuntimeError, match="Delete the file"):
        HaloSandbox(db_path=db)


def test_page_lists_created_records_html_escaped(halo_sandbox) -> None:
    with signed_in(halo_sandbox) as api:
        name = "<script>alert('x')</script> & Sons"
        api.post(f"{halo_sandbox.url}/api/Client", json=[{"name": name, "accountsid": "AC<1>"}], timeout=10)
    page = requests.get(f"{halo_sandbox.url}/", timeout=10)
    assert page.status_code == 200
    assert page.headers["Content-Type"].startswith("text/html")
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt; &amp; Sons" in page.text
    assert "AC&lt;1&gt;" in page.text
    assert "<script>" not in page.text
    assert "<td>Client</td><td>1</td>" in page.text
    assert halo_sandbox.client_secret not in page.text


def test_sandbox_command_prints_its_credentials_and_stops_on_ctrl_c(tmp_path) -> None:
    db = tmp_path / "cli.sqlite3"
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    process = subprocess.Popen(
        [sys.executable, "main.py", "sandbox", "--port", "0", "--db", str(db), "--client-id", "cli-test"],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        banner: dict[str, str] = {}
        assert process.stdout is not None
        for line in process.stdout:
            label, _, value = line.strip().partition(":")
            banner[label] = value.strip()
            if label == "Data":
                break
        url = banner["Resource server"]
        secret = banner["Client secret"].split()[0]
        assert banner["Client ID"] == "cli-test"
        token = requests.post(
            f"{url}/auth/token",
            data={"grant_type": "client_credentials", "client_id": "cli-test", "client_secret": secret},
            timeout=10,
        )
        assert token.status_code == 200
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=20)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert process.returncode == 0, err
    assert "Stopping" in out
    assert db.exists()


@pytest.mark.skipif(not SPEC.exists(), reason="the reference OpenAPI file is not in this checkout")
def test_schema_file_is_up_to_date_with_the_spec() -> None:
    spec = json.loads(SPEC.read_text(encoding="utf-8"))
    shipped = (REPO / "halo" / "sandbox" / "halo_schemas.json").read_text(encoding="utf-8")
    assert extract_schemas.render(extract_schemas.build_schema_document(spec)) == shipped, (
        "halo_schemas.json is stale: run `python -m halo.sandbox.extract_schemas`"
    )


def test_schema_file_records_its_source_and_converts_openapi() -> None:
    document = json.loads((REPO / "halo" / "sandbox" / "halo_schemas.json").read_text(encoding="utf-8"))
    assert "covenanttechnologysolutions/halopsa-rest" in document["x-source"]
    assert "MIT" in document["x-source"]
    area = document["$defs"]["Area"]
    assert area["additionalProperties"] is False
    assert area["properties"]["name"]["type"] == ["string", "null"]
    assert area["properties"]["id"] == {
        "type": "integer",
        "format": "int32",
        "minimum": -(2**31),
        "maximum": 2**31 - 1,
    }
    assert document["$defs"]["InvoiceHeader"]["properties"]["lines"]["items"] == {
        "$ref": "#/$defs/InvoiceDetail"
    }
    assert "nullable" not in json.dumps(document)
    assert "#/components/" not in json.dumps(document)


def test_openapi_conversion_handles_nullable_enums_and_refs() -> None:
    converted = extract_schemas.openapi_to_json_schema(
        {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "kind": {"type": "integer", "format": "int32", "enum": [1, 2], "nullable": True},
                "child": {"$ref": "#/components/schemas/Child"},
                "many": {"type": "array", "items": {"$ref": "#/components/schemas/Child"}, "nullable": True},
                "price": {"type": "number", "format": "double"},
            },
        }
    )
    assert converted["properties"]["kind"]["type"] == ["integer", "null"]
    assert converted["properties"]["kind"]["enum"] == [1, 2, None]
    assert converted["properties"]["child"] == {"$ref": "#/$defs/Child"}
    assert converted["properties"]["many"]["type"] == ["array", "null"]
    assert converted["properties"]["price"] == {"type": "number", "format": "double"}


def test_extract_command_writes_the_file(tmp_path) -> None:
    if not SPEC.exists():
        pytest.skip("the reference OpenAPI file is not in this checkout")
    out = tmp_path / "schemas.json"
    assert extract_schemas.main([str(SPEC), "--output", str(out)]) == 0
    assert json.loads(out.read_text(encoding="utf-8"))["x-resources"]["Invoice"] == "InvoiceHeader"
    assert extract_schemas.main([str(tmp_path / "missing.json"), "--output", str(out)]) == 2

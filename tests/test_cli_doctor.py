"""`ledgerbridge doctor` and `ledgerbridge support-bundle` as subprocesses, on the Sage 50 UK stand-in (real
unixODBC) and the real HTTP Halo sandbox; the bundle is scanned for the secret and for bearer tokens."""

from __future__ import annotations

import json
import re
import sqlite3
import tomllib
import zipfile

import pytest
import tomli_w

from tests.test_cli_setup import cli_env, run_cli, write_settings

BEARER = re.compile(r"(?i)bearer\s+(?!\*\*\*)[A-Za-z0-9\-._~+/=]{6,}")


@pytest.fixture
def configured(tmp_path, halo_sandbox, sage50uk_company):
    write_settings(
        tmp_path,
        {
            "halo": {"resource_server": halo_sandbox.url, "client_id": halo_sandbox.client_id},
            "source": {
                "kind": "sage50uk",
                "connection_string": sage50uk_company.connection_string,
                "timezone": "Europe/London",
            },
            "app": {"allow_plaintext_secrets": True},
        },
    )
    env = cli_env(tmp_path)
    stored = run_cli(env, "secret", "set", "halo.client_secret", stdin=halo_sandbox.client_secret + "\n")
    assert stored.returncode == 0, stored.stderr
    halo_sandbox.seed("Client", {"name": "Seeded Ltd", "accountsid": "ACME01"})
    return env


def test_doctor_reports_the_books_and_halo(configured, halo_sandbox):
    done = run_cli(configured, "doctor")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "INVOICE: found, 12 rows" in done.stdout
    assert "Driver: sqlite3odbc" in done.stdout
    assert "Client: answers, 1 row(s) looked at; carries accountsid, main_site_id" in done.stdout
    assert halo_sandbox.client_secret not in done.stdout + done.stderr

    as_json = run_cli(configured, "doctor", "--json")
    document = json.loads(as_json.stdout)
    assert document["ok"] is True and {t["table"] for t in document["tables"]} >= {"INVOICE", "AUDIT_USAGE"}


def test_doctor_names_a_dropped_column_and_exits_1(configured, sage50uk_company):
    with sqlite3.connect(sage50uk_company.path) as db:
        db.execute('ALTER TABLE AUDIT_USAGE DROP COLUMN "FOREIGN_AMOUNT"')
    done = run_cli(configured, "doctor")
    assert done.returncode == 1, done.stdout + done.stderr
    assert "[PROBLEM] AUDIT_USAGE.FOREIGN_AMOUNT: this column is missing" in done.stdout
    assert "invoices cannot be read" in done.stdout


def test_support_bundle_holds_everything_but_no_secret_or_token(configured, halo_sandbox, tmp_path):
    secret = halo_sandbox.client_secret
    settings_file = tmp_path / "home" / "config" / "settings.toml"
    settings = tomllib.loads(settings_file.read_text(encoding="utf-8"))
    settings["halo"]["proxy"] = "http://bob:Pr0xy-pass-77@127.0.0.1:9"  # never used: the doctor runs first
    settings_file.write_text(tomli_w.dumps(settings), encoding="utf-8")
    log = tmp_path / "home" / "logs" / "ledgerbridge.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    # What a careless line could hold: the secret itself and a bearer token in a quoted header.
    log.write_text(
        f"2026-12-01 09:00:00 INFO ledgerbridge test [MainThread] sent client_secret={secret}\n"
        "2026-12-01 09:00:01 INFO ledgerbridge test [MainThread] headers {'Authorization': "
        "'Bearer eyJhbGciOiJIUzI1NiJ9.c2VjcmV0.dG9rZW4'}\n",
        encoding="utf-8",
    )
    target = tmp_path / "bundle.zip"
    done = run_cli(configured, "support-bundle", str(target))
    assert done.returncode == 0, done.stdout + done.stderr
    with zipfile.ZipFile(target) as bundle:
        names = set(bundle.namelist())
        texts = {name: bundle.read(name).decode("utf-8") for name in names}
    assert names >= {
        "doctor.txt",
        "doctor.json",
        "settings.json",
        "runs-and-problems.json",
        "ledgerbridge.log",
    }
    assert "versions.json" in names
    versions = json.loads(texts["versions.json"])
    assert versions["LedgerBridge"] and versions["Python"] and "SQLite3" in versions["ODBC drivers installed"]
    assert versions["ODBC driver manager"]
    assert "INVOICE: found" in texts["doctor.txt"]
    assert json.loads(texts["settings.json"])["source"]["kind"] == "sage50uk"
    everything = "\n".join(texts.values())
    assert secret not in everything
    assert "Pr0xy-pass-77" not in everything and "http://bob:***@127.0.0.1:9" in texts["settings.json"]
    assert not BEARER.search(everything), BEARER.search(everything)
    assert "sent client_secret=***" in texts["ledgerbridge.log"]  # the line is kept, its value is not


def test_support_bundle_without_settings_still_writes(tmp_path):
    env = cli_env(tmp_path)
    done = run_cli(env, "support-bundle", str(tmp_path / "empty.zip"), "--no-doctor")
    assert done.returncode == 0, done.stdout + done.stderr
    with zipfile.ZipFile(tmp_path / "empty.zip") as bundle:
        assert "no state store yet" in bundle.read("runs-and-problems.json").decode()

"""The demo environment: its own folder, a persisted sandbox with a stable credential, a sync that lands."""

from __future__ import annotations

import json
import stat

import pytest

from demo.environment import CREDENTIALS_FILE, DemoEnvironment
from sync.secrets import HALO_CLIENT_SECRET


@pytest.fixture
def demo(tmp_path):
    env = DemoEnvironment.start(tmp_path)
    yield env
    env.stop()


def test_demo_lives_in_its_own_folder_and_signs_in(demo, tmp_path):
    from halo.client import HaloClient
    from sync.halo_connection import halo_connection

    folder = tmp_path / "demo"
    assert demo.folder == folder
    assert demo.company_file.is_file() and demo.company_file.parent == folder
    assert (folder / "halo-sandbox.sqlite3").exists()
    assert demo.paths.state_file.parent.parent == folder and demo.paths.log_dir.parent == folder
    assert demo.settings.source.kind == "demo"
    assert demo.settings.source.connection_string == str(demo.company_file)
    assert demo.settings.halo.resource_server == demo.sandbox_url == demo.sandbox.url
    assert demo.settings.is_configured()
    credentials = folder / CREDENTIALS_FILE
    assert stat.S_IMODE(credentials.stat().st_mode) == 0o600
    secret = demo.secrets.get(HALO_CLIENT_SECRET)
    assert secret == json.loads(credentials.read_text(encoding="utf-8"))["client_secret"]
    assert secret not in repr(demo) and secret not in repr(demo.secrets)
    with HaloClient(halo_connection(demo.settings.halo), secret) as client:
        assert "Signed in" in client.test_connection()


def test_restart_keeps_the_credential_and_the_sandbox_data(tmp_path):
    first = DemoEnvironment.start(tmp_path)
    try:
        secret = first.secrets.get(HALO_CLIENT_SECRET)
        seeded = first.sandbox.seed("Client", {"name": "Kept Across Restarts"})
    finally:
        first.stop()
    second = DemoEnvironment.start(tmp_path)
    try:
        assert second.secrets.get(HALO_CLIENT_SECRET) == secret
        assert second.settings.halo.client_id == first.settings.halo.client_id
        names = {c["id"]: c["name"] for c in second.sandbox.records("Client")}
        assert names[seeded["id"]] == "Kept Across Restarts"
    finally:
        second.stop()


def test_an_unreadable_credentials_file_is_replaced(tmp_path):
    folder = tmp_path / "demo"
    folder.mkdir()
    (folder / CREDENTIALS_FILE).write_text("not json", encoding="utf-8")
    env = DemoEnvironment.start(tmp_path)
    try:
        secret = env.secrets.get(HALO_CLIENT_SECRET)
        assert secret and len(secret) >= 32
        assert json.loads((folder / CREDENTIALS_FILE).read_text(encoding="utf-8"))["client_secret"] == secret
    finally:
        env.stop()


def test_a_demo_sync_lands_everything_once(demo):
    from sync.runner import run_sync

    first = run_sync(demo.settings, demo.secrets, paths=demo.paths)
    assert first.status == "ok", first.error
    assert first.total("created") > 0 and first.total("failed") == 0
    clients = demo.sandbox.records("Client")
    assert len(clients) == first.counts["customers"]["created"]
    assert len({c["accountsid"] for c in clients}) == len(clients)
    assert demo.sandbox.records("Invoice")

    second = run_sync(demo.settings, demo.secrets, paths=demo.paths)
    assert second.status == "ok", second.error
    assert second.total("created") == 0 and second.total("updated") == 0
    assert len(demo.sandbox.records("Client")) == len(clients)

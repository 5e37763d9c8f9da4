"""`ledgerbridge sync` failures that say what to do: settings, a damaged state store, a full disk, a
read-only data folder. Never a traceback, never "unexpected error (...)", and the next good run doubles
nothing.

The full disk is a real 256 KB tmpfs and the read-only folder a real read-only bind mount, each made in a
private mount namespace (``unshare -rm``) that exists only for that one subprocess: nothing on the machine
is mounted or changed.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from tests.test_cli_never_strand import _configure
from tests.test_cli_setup import REPO, cli_env, run_cli, write_settings

BASE = {
    "halo": {"resource_server": "https://acme.halopsa.com", "client_id": "lb"},
    "source": {"kind": "demo", "connection_string": "company.sqlite3"},
    "app": {"allow_plaintext_secrets": True},
}


def _assert_a_message(result: subprocess.CompletedProcess[str], *phrases: str) -> None:
    output = result.stdout + result.stderr
    assert result.returncode == 2, output
    assert "Traceback" not in output and "unexpected error" not in output, output
    for phrase in phrases:
        assert phrase in output, output


@pytest.mark.parametrize(
    ("section", "values", "phrase"),
    [
        ("sync", {"entities": ["customers", 5]}, "sync.entities"),
        ("source", {"columns": {"customers": {"name": 3}}}, "source.columns"),
        ("source", {"queries": {"customers": ["SELECT"]}}, "source.queries"),
        ("halo", {"resource_server": "https://[::1"}, "is not a web address"),
        ("halo", {"resource_server": "https://acme halopsa.com"}, "is not a web address"),
        ("halo", {"resource_server": "https://acme.halopsa.com:99999"}, "is not a web address"),
        ("halo", {"auth_server": "ftp://acme.halopsa.com/auth"}, "is not a web address"),
        ("halo", {"timeout_seconds": "sixty"}, "halo.timeout_seconds"),
    ],
)
def test_a_wrong_setting_is_a_message_that_names_it(tmp_path, section, values, phrase):
    data = {name: dict(table) for name, table in BASE.items()}
    data.setdefault(section, {}).update(values)
    write_settings(tmp_path, data)
    _assert_a_message(run_cli(cli_env(tmp_path), "sync"), phrase)


def test_a_settings_path_that_is_a_folder_is_a_message(tmp_path):
    result = run_cli(cli_env(tmp_path), "sync", "--config", str(tmp_path))
    _assert_a_message(result, "is a folder", "settings.toml")
    as_json = run_cli(cli_env(tmp_path), "sync", "--json", "--config", str(tmp_path))
    assert as_json.returncode == 2 and "is a folder" in json.loads(as_json.stdout)["error"]


def _clients(sandbox) -> Counter:
    return Counter(c.get("accountsid") for c in sandbox.records("Client"))


def test_a_damaged_state_store_says_rename_it_and_the_renamed_run_relinks_by_key(tmp_path, halo_sandbox):
    env = _configure(tmp_path, halo_sandbox, sync={"entities": ["tax_rates", "customers"]})
    assert run_cli(env, "sync").returncode == 0
    state = tmp_path / "home" / "data" / "state.sqlite3"
    for leftover in state.parent.glob("state.sqlite3-*"):
        leftover.unlink()
    state.write_bytes(b"this is not what LedgerBridge wrote" * 200)

    damaged = run_cli(env, "sync")
    _assert_a_message(
        damaged, "record of what it synced", "is damaged", "relinks everything by key on the next run"
    )

    state.rename(state.with_name("state-damaged.sqlite3"))
    relinked = run_cli(env, "sync", "--json")
    assert relinked.returncode == 0, relinked.stdout + relinked.stderr
    counts = json.loads(relinked.stdout)["counts"]
    assert counts["customers"]["created"] == 0 and counts["customers"]["updated"] > 0
    assert max(_clients(halo_sandbox).values()) == 1


def _in_namespace(env: dict[str, str], prepare: str, *args: str) -> subprocess.CompletedProcess[str]:
    """``main.py ARGS`` in a private mount namespace after ``prepare`` (shell) has set up its mounts."""
    script = f'{prepare} && exec "$0" "$@"'
    return subprocess.run(
        ["unshare", "-rm", "sh", "-c", script, sys.executable, str(REPO / "main.py"), *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=REPO,
        timeout=120,
        check=False,
    )


def _namespaces_work(tmp_path: Path) -> bool:
    if shutil.which("unshare") is None:
        return False
    probe = tmp_path / "probe"
    probe.mkdir()
    done = subprocess.run(
        ["unshare", "-rm", "sh", "-c", f"mount -t tmpfs -o size=64k tmpfs {probe}"],
        capture_output=True,
        check=False,
    )
    return done.returncode == 0


@pytest.fixture
def namespaces(tmp_path):
    if not _namespaces_work(tmp_path):
        pytest.skip("needs unshare -rm (unprivileged mount namespaces) for a real full/read-only disk")


def test_a_full_disk_mid_run_is_a_message_and_the_next_run_doubles_nothing(
    tmp_path, halo_sandbox, namespaces
):
    env = _configure(tmp_path, halo_sandbox, halo={"batch_size": 2})
    data = tmp_path / "home" / "data"
    data.mkdir(parents=True, exist_ok=True)
    # 256 KB of disk: the state store opens, then its write-ahead log (4 KB a commit) fills it mid-run.
    prepare = f"mount -t tmpfs -o size=256k tmpfs {data}"
    full = _in_namespace(env, prepare, "sync")
    _assert_a_message(full, "is full", "Free some space")
    assert len(halo_sandbox.records("Client")) > 0  # it stopped part-way, after writing some

    again = run_cli(env, "sync", "--json")  # space again (the real folder): what landed is linked by key
    assert again.returncode == 0, again.stdout + again.stderr
    assert max(_clients(halo_sandbox).values()) == 1


def test_a_read_only_data_folder_is_a_message(tmp_path, halo_sandbox, namespaces):
    env = _configure(tmp_path, halo_sandbox, sync={"entities": ["tax_rates"]})
    assert run_cli(env, "sync").returncode == 0
    data = tmp_path / "home" / "data"
    read_only = f"mount --bind {data} {data} && mount -o remount,bind,ro {data}"
    result = _in_namespace(env, read_only, "sync", "--json")
    assert result.returncode == 2, result.stdout + result.stderr
    error = json.loads(result.stdout)["error"]
    assert "may not write to" in error and "write access" in error
    assert "Traceback" not in result.stderr

    fresh = tmp_path / "fresh"
    fresh_env = {**env, "LEDGERBRIDGE_HOME": str(fresh)}
    shutil.copytree(tmp_path / "home" / "config", fresh / "config")
    (fresh / "data").mkdir()
    prepare = f"mount --bind {fresh / 'data'} {fresh / 'data'} && mount -o remount,bind,ro {fresh / 'data'}"
    first = _in_namespace(fresh_env, prepare, "sync")
    _assert_a_message(first, "may not write to")

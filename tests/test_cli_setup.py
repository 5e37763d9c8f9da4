"""`ledgerbridge sync` and `secret` as real subprocesses: set-up errors exit 2 with a message; no secret.

The subprocess gets its own LEDGERBRIDGE_HOME and keyrings.alt's real PlaintextKeyring, which keeps its file
under $XDG_DATA_HOME/python_keyring (verified in keyring.util.platform_._data_root_Linux), so nothing here
touches the machine's real keyring.
"""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
import tomli_w

REPO = Path(__file__).resolve().parent.parent


def cli_env(tmp_path: Path, backend: str = "keyrings.alt.file.PlaintextKeyring") -> dict[str, str]:
    """The CLI's environment; ``backend`` "" leaves the keyring backend to keyring's own auto-detection."""
    env = dict(os.environ)
    env.update(
        {
            "LEDGERBRIDGE_HOME": str(tmp_path / "home"),
            "PYTHON_KEYRING_BACKEND": backend,
            "XDG_DATA_HOME": str(tmp_path / "xdg"),
            "PYTHONIOENCODING": "utf-8",
        }
    )
    if not backend:
        del env["PYTHON_KEYRING_BACKEND"]
    return env


def run_cli(env: dict[str, str], *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(REPO / "main.py"), *args],
        input=stdin,
        capture_output=True,
        text=True,
        env=env,
        cwd=REPO,
        timeout=120,
        check=False,
    )


def write_settings(tmp_path: Path, data: dict) -> Path:
    path = tmp_path / "home" / "config" / "settings.toml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(tomli_w.dumps(data), encoding="utf-8")
    return path


def read_back(env: dict[str, str]) -> str:
    code = "import keyring; print(keyring.get_password('LedgerBridge', 'halo.client_secret'))"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
    return done.stdout.strip()


def keyring_file(tmp_path: Path) -> Path:
    return tmp_path / "xdg" / "python_keyring" / "keyring_pass.cfg"


def test_sync_with_nothing_configured_exits_2_and_says_how_to_start(tmp_path):
    result = run_cli(cli_env(tmp_path), "sync")
    assert result.returncode == 2
    assert "LedgerBridge is not set up yet" in result.stderr
    assert "ledgerbridge sync --demo" in result.stderr


def test_sync_json_when_it_cannot_run_prints_one_json_document(tmp_path):
    import json

    result = run_cli(cli_env(tmp_path), "sync", "--json")
    assert result.returncode == 2
    document = json.loads(result.stdout)
    assert document["status"] == "failed" and "not set up" in document["error"]
    assert set(document) == {"status", "dry_run", "run_id", "started", "finished", "error", "counts"}


def test_a_console_that_cannot_show_a_character_gets_a_replacement_not_a_crash(tmp_path):
    env = cli_env(tmp_path)
    env["PYTHONIOENCODING"] = "ascii"  # like a Windows code page redirected to a scheduler's log
    result = subprocess.run(
        [sys.executable, str(REPO / "main.py"), "sync", "--config", str(tmp_path / "Café Müller.toml")],
        capture_output=True,
        env=env,
        cwd=REPO,
        timeout=120,
        check=False,
    )
    assert result.returncode == 2
    assert b"Caf? M?ller.toml does not exist" in result.stderr
    assert b"Traceback" not in result.stderr


def test_sync_with_broken_settings_exits_2_naming_the_problem(tmp_path):
    env = cli_env(tmp_path)
    missing = tmp_path / "nowhere.toml"
    result = run_cli(env, "sync", "--config", str(missing))
    assert result.returncode == 2 and str(missing) in result.stderr

    bad = tmp_path / "bad.toml"
    bad.write_text("[halo\nresource_server = ", encoding="utf-8")
    result = run_cli(env, "sync", "--config", str(bad))
    assert result.returncode == 2 and "not valid TOML" in result.stderr

    wrong_kind = write_settings(
        tmp_path,
        {"halo": {"resource_server": "http://127.0.0.1:9", "client_id": "x"}, "source": {"kind": "abacus"}},
    )
    result = run_cli(env, "sync", "--config", str(wrong_kind))
    assert result.returncode == 2 and "Unknown accounting package 'abacus'" in result.stderr


def _configured(tmp_path: Path, *, allow_plaintext: bool) -> None:
    write_settings(
        tmp_path,
        {
            "halo": {"resource_server": "http://127.0.0.1:9", "client_id": "x"},
            "source": {"kind": "demo", "connection_string": str(tmp_path / "company.sqlite3")},
            "app": {"allow_plaintext_secrets": allow_plaintext},
        },
    )


def test_sync_without_a_usable_keyring_exits_2_with_what_to_do(tmp_path):
    _configured(tmp_path, allow_plaintext=False)
    result = run_cli(cli_env(tmp_path, backend="keyring.backends.fail.Keyring"), "sync")
    assert result.returncode == 2
    assert "No keyring is available" in result.stderr and "Install and unlock a keyring" in result.stderr

    # An auto-detected plain-text keyring, not allowed by the user (issue 10: one the user named in
    # PYTHON_KEYRING_BACKEND is their explicit choice and honoured, so this case runs without it).
    result = run_cli(cli_env(tmp_path, backend=""), "sync")
    assert result.returncode == 2 and "plain text" in result.stderr
    assert "keyrings.alt.file.PlaintextKeyring" in result.stderr, "the refusal names the backend it found"


def test_secret_set_from_a_pipe_stores_it_without_showing_it(tmp_path):
    _configured(tmp_path, allow_plaintext=True)
    env = cli_env(tmp_path)
    value = "s3cr3t-" + secrets.token_urlsafe(18)
    result = run_cli(env, "secret", "set", "halo.client_secret", stdin=value + "\n")
    assert result.returncode == 0, result.stderr
    assert "Stored halo.client_secret" in result.stdout
    assert value not in result.stdout and value not in result.stderr
    assert keyring_file(tmp_path).exists()
    for log_file in (tmp_path / "home").rglob("*.log"):
        assert value not in log_file.read_text(encoding="utf-8")

    # Reading it back through the same backend in another process gives the value.
    check = subprocess.run(
        [
            sys.executable,
            "-c",
            "import keyring; print(keyring.get_password('LedgerBridge', 'halo.client_secret'))",
        ],
        capture_output=True,
        text=True,
        env=env,
        check=True,
    )
    assert check.stdout.strip() == value

    result = run_cli(env, "secret", "delete", "halo.client_secret")
    assert result.returncode == 0 and "Removed halo.client_secret" in result.stdout
    assert read_back(env) == "None"


def test_secret_set_with_empty_input_changes_nothing(tmp_path):
    _configured(tmp_path, allow_plaintext=True)
    result = run_cli(cli_env(tmp_path), "secret", "set", "source.password", stdin="")
    assert result.returncode == 2 and "No value given" in result.stderr
    assert not keyring_file(tmp_path).exists()


def test_secret_set_refused_when_only_a_plaintext_keyring_is_available(tmp_path):
    """Auto-detected (issue 10 changed this test: a backend named in PYTHON_KEYRING_BACKEND is honoured)."""
    _configured(tmp_path, allow_plaintext=False)
    result = run_cli(cli_env(tmp_path, backend=""), "secret", "set", "source.password", stdin="hunter22\n")
    assert result.returncode == 2 and "plain text" in result.stderr
    assert "hunter22" not in result.stdout + result.stderr
    assert not keyring_file(tmp_path).exists()


@pytest.mark.parametrize("name", ["halo.client_secret", "source.password"])
def test_secret_delete_of_a_missing_secret_is_fine(tmp_path, name):
    _configured(tmp_path, allow_plaintext=True)
    result = run_cli(cli_env(tmp_path), "secret", "delete", name)
    assert result.returncode == 0


def test_secret_set_at_a_terminal_asks_without_echo(tmp_path):
    """A real pseudo-terminal (pty.fork): getpass turns echo off, so the typed value never shows."""
    import pty
    import select
    import time

    _configured(tmp_path, allow_plaintext=True)
    env = cli_env(tmp_path)
    value = "typed-" + secrets.token_urlsafe(12)
    pid, fd = pty.fork()
    if pid == 0:  # the child: becomes `ledgerbridge secret set` on the terminal
        os.chdir(REPO)
        os.execve(
            sys.executable, [sys.executable, str(REPO / "main.py"), "secret", "set", "source.password"], env
        )
    seen = b""
    deadline = time.monotonic() + 60
    try:
        while b"not shown" not in seen and time.monotonic() < deadline:
            if select.select([fd], [], [], 0.5)[0]:
                seen += os.read(fd, 1024)
        assert b"not shown" in seen, seen
        os.write(fd, value.encode() + b"\r")
        while time.monotonic() < deadline:
            if select.select([fd], [], [], 0.5)[0]:
                try:
                    chunk = os.read(fd, 1024)
                except OSError:  # the terminal closes when the child exits
                    break
                if not chunk:
                    break
                seen += chunk
        _, status = os.waitpid(pid, 0)
    finally:
        os.close(fd)
    assert os.waitstatus_to_exitcode(status) == 0, seen
    assert b"Stored source.password" in seen
    assert value.encode() not in seen
    code = "import keyring; print(keyring.get_password('LedgerBridge', 'source.password'))"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
    assert done.stdout.strip() == value

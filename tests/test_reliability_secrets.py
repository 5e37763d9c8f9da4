"""Secrets stay in the keyring: after set-up and FAILING syncs (wrong secret; a failure mid-run, logging at
DEBUG including urllib3), no secret appears in any log file, the settings file, the state store's raw bytes
(with its WAL) or the captured output of the CLI subprocess. Plain http to another machine is refused and an
untrusted certificate is reported, never bypassed — through the whole run, not just the client.

The keyring file is the secret store itself and lives outside LEDGERBRIDGE_HOME, so scanning every file under
the home scans everything else LedgerBridge wrote.
"""

from __future__ import annotations

import logging
import secrets
import threading
import time
from pathlib import Path

import pytest

from bench.crash_test import configure, post_count, run_main
from core.errors import AuthError
from sync.logs import setup_logging
from sync.secrets import HALO_CLIENT_SECRET, SOURCE_PASSWORD
from tests.test_halo_client_tls import tls_certificate, tls_front  # noqa: F401  (fixtures reused)


def _unique(label: str) -> str:
    return f"{label}-{secrets.token_hex(12)}"


def _hits(folder: Path, values: list[str]) -> list[str]:
    """Every (file, secret) pair where a secret's bytes (UTF-8 or UTF-16) appear in a file in ``folder``."""
    found = []
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        data = path.read_bytes()
        for value in values:
            if value.encode("utf-8") in data or value.encode("utf-16-le") in data:
                found.append(f"{path.relative_to(folder)}: {value[:6]}…")
    return found


@pytest.fixture
def debug_logging(sage_company):
    """The app's own log set-up (rotating file, scrubber), at DEBUG, with urllib3's wire logging on."""
    log_file = setup_logging(sage_company.paths, level=logging.DEBUG)
    urllib3_log = logging.getLogger("urllib3")
    previous = urllib3_log.level
    urllib3_log.setLevel(logging.DEBUG)
    yield log_file
    urllib3_log.setLevel(previous)
    root = logging.getLogger()
    for handler in list(root.handlers):
        if getattr(handler, "_ledgerbridge_handler", False):
            root.removeHandler(handler)
            handler.close()
    root.setLevel(logging.WARNING)


def test_failing_syncs_leave_no_secret_in_logs_settings_or_state(sage_company, debug_logging, isolated_home):
    sandbox = sage_company.sandbox
    password = _unique("books-password")
    wrong = _unique("wrong-halo-secret")
    sage_company.settings.source.username = "manager"  # so the books password is read from the keyring too
    sage_company.settings.app.allow_plaintext_secrets = True
    sage_company.settings.save(sage_company.paths.settings_file)
    sage_company.secrets.set(SOURCE_PASSWORD, password)

    # 1. A rejected secret: AuthError, the run ends "failed" with advice.
    sage_company.secrets.set(HALO_CLIENT_SECRET, wrong)
    rejected = sage_company.run()
    assert rejected.status == "failed" and "rejected" in rejected.error.lower()
    with pytest.raises(AuthError):
        sage_company.client().sign_in()

    # 2. The right secret, and Halo failing hard part-way through the run.
    sage_company.secrets.set(HALO_CLIENT_SECRET, sandbox.client_secret)
    tokens: list[str] = []
    client = sage_company.client()

    def break_halo_mid_run(event) -> None:
        if getattr(event, "outcome", "") == "created" and client._token is not None:
            tokens.append(client._token.value)  # the bearer token is a secret too
            if len(tokens) == 5:
                sandbox.faults.error_rate = 1.0

    failed = sage_company.run(client=client, listener=break_halo_mid_run)
    assert failed.status == "failed" and failed.error, failed
    assert len(tokens) >= 5

    log_text = debug_logging.read_text(encoding="utf-8")
    assert "urllib3" in log_text and "DEBUG" in log_text  # the wire-level logging really was on
    assert "Authorization" not in log_text
    values = [sandbox.client_secret, wrong, password, *set(tokens)]
    assert sage_company.paths.state_file.exists() and sage_company.paths.settings_file.exists()
    assert _hits(isolated_home, values) == []
    with sage_company.state() as state:
        assert all(not any(value in run.error for value in values) for run in state.runs())


def test_the_cli_never_prints_or_writes_a_secret_even_when_failing(tmp_path, halo_sandbox):
    from tests.standins.sage50uk import make_large

    company = make_large(tmp_path / "ACCDATA.sqlite", 40, 10, 40, 1)
    wrong = _unique("wrong-cli-secret")
    setup = configure(tmp_path / "lb", company, halo_sandbox, batch_size=5, secret=wrong)
    outputs = []
    rejected = run_main(setup.env, "sync", "--config", str(setup.config))
    outputs.append(rejected.stdout + rejected.stderr)
    assert rejected.returncode == 2 and "rejected" in rejected.stderr.lower()

    stored = run_main(
        setup.env,
        "--config",
        str(setup.config),
        "secret",
        "set",
        "halo.client_secret",
        stdin=halo_sandbox.client_secret + "\n",
    )
    outputs.append(stored.stdout + stored.stderr)

    def break_after_some_writes() -> None:
        deadline = time.monotonic() + 60
        while post_count(halo_sandbox) < 4 and time.monotonic() < deadline:
            time.sleep(0.002)
        halo_sandbox.faults.error_rate = 1.0

    halo_sandbox.faults.latency = 0.01
    breaker = threading.Thread(target=break_after_some_writes, daemon=True)
    breaker.start()
    failing = run_main(setup.env, "sync", "--config", str(setup.config), "--json")
    breaker.join(5)
    outputs.append(failing.stdout + failing.stderr)
    assert failing.returncode == 2 or '"status": "failed"' in failing.stdout, failing.stdout + failing.stderr
    assert post_count(halo_sandbox) >= 4

    values = [halo_sandbox.client_secret, wrong]
    assert [v[:6] for v in values if any(v in text for text in outputs)] == []
    home = tmp_path / "lb" / "home"
    assert (home / "logs").is_dir() and any((home / "logs").iterdir())
    assert _hits(home, values) == []
    outside_keyring = [
        hit for hit in _hits(tmp_path / "lb", values) if not hit.startswith("xdg/python_keyring/")
    ]
    assert outside_keyring == []  # only the keyring file (the secret store itself) holds the secret


def test_plain_http_to_another_machine_is_refused_before_anything_is_sent(sage_company):
    sage_company.settings.halo.resource_server = "http://halo.example.com"
    from core.errors import ConfigError

    with pytest.raises(ConfigError) as caught:
        sage_company.client()
    assert "plain http://" in caught.value.message and "unencrypted" in caught.value.message
    assert sage_company.secrets.get(HALO_CLIENT_SECRET) not in str(caught.value)

    from sync.runner import run_sync

    result = run_sync(sage_company.settings, sage_company.secrets, paths=sage_company.paths)
    assert result.status == "failed" and "plain http://" in result.error
    assert sage_company.sandbox.counts() == {}


def test_an_untrusted_certificate_stops_the_run_and_is_never_bypassed(sage_company, tls_front):  # noqa: F811
    from sync.runner import run_sync

    sage_company.settings.halo.resource_server = tls_front
    summary = run_sync(sage_company.settings, sage_company.secrets, paths=sage_company.paths)
    assert summary.status == "failed"
    assert "certificate" in summary.error and "not trusted" in summary.error
    assert sage_company.sandbox.counts() == {}  # the secret never went through the untrusted connection
    with sage_company.state() as state:
        assert state.runs()[0].status == "failed"

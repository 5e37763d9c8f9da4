"""Two LedgerBridge configurations (two PCs) syncing the same books into one Halo at once never double.

Each configuration has its own LEDGERBRIDGE_HOME (settings, state store, lock), as two PCs would; both read
the same demo company and write to the same sandbox, started together with latency so their runs overlap.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter
from pathlib import Path

from tests.test_cli_never_strand import _assert_complete_and_once, _configure
from tests.test_cli_setup import REPO

RESOURCES = {
    "Tax": "third_party_id",
    "Client": "accountsid",
    "Item": "accountsid",
    "Invoice": "accountsid",
    "InvoicePayment": "thirdpartyid",
}


def _doubles(sandbox) -> dict[str, list[str]]:
    found = {}
    for resource, key in RESOURCES.items():
        counts = Counter(str(r.get(key)) for r in sandbox.records(resource) if r.get(key))
        found[resource] = sorted(k for k, n in counts.items() if n > 1)
    return {resource: keys for resource, keys in found.items() if keys}


def _start(env: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, str(REPO / "main.py"), "sync", "--json"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        cwd=REPO,
    )


def _two_pcs(tmp_path: Path, sandbox) -> tuple[dict[str, str], dict[str, str]]:
    first = _configure(tmp_path / "pc1", sandbox, halo={"batch_size": 5})
    second = _configure(tmp_path / "pc2", sandbox, halo={"batch_size": 5})
    return first, second


def test_two_configurations_at_once_never_double_and_say_who_else_is_syncing(tmp_path, halo_sandbox):
    first, second = _two_pcs(tmp_path, halo_sandbox)
    halo_sandbox.faults.latency = 0.02
    runs = [_start(first), _start(second)]
    results = []
    for process in runs:
        out, err = process.communicate(timeout=180)
        results.append((process.returncode, json.loads(out), err))
    assert _doubles(halo_sandbox) == {}
    stopped = [doc for code, doc, _ in results if code == 2]
    assert stopped, results  # at least one noticed the other
    for document in stopped:
        assert "Another LedgerBridge (or another program) is syncing into this Halo" in document["error"]
        assert "its last activity" in document["error"] and "stop LedgerBridge" in document["error"]

    halo_sandbox.faults.latency = 0.0
    for env in (first, second):  # once the other PC is stopped, either one completes everything, once
        done = subprocess.run(
            [sys.executable, str(REPO / "main.py"), "sync", "--json"],
            capture_output=True,
            text=True,
            env=env,
            cwd=REPO,
            timeout=180,
        )
        assert done.returncode == 0, done.stdout + done.stderr
    assert _doubles(halo_sandbox) == {}
    _assert_complete_and_once(tmp_path / "pc1", halo_sandbox)


def test_a_second_pc_started_later_stops_before_creating_anything_twice(tmp_path, halo_sandbox):
    first, second = _two_pcs(tmp_path, halo_sandbox)
    halo_sandbox.faults.latency = 0.05
    early = _start(first)
    try:
        assert early.stdout is not None
        for line in early.stderr:
            if line.startswith("items: reading"):
                break  # the first PC is past the customers: the second reads a Halo it has already filled
        late = _start(second)
        out, _ = late.communicate(timeout=180)
        early.communicate(timeout=180)
    finally:
        if early.poll() is None:
            early.kill()
    assert _doubles(halo_sandbox) == {}
    document = json.loads(out)
    assert late.returncode == 2 or document["status"] == "ok", document

"""Two syncs never run at once for one configuration: the app's timer-driven run and a `sync` subprocess
(as Task Scheduler starts it) on the same LEDGERBRIDGE_HOME. The second declines with a clear message (the CLI
with exit code 2); the sandbox holds every record once and the runs table shows no two runs overlapping.
"""

from __future__ import annotations

import itertools
import json
import os
import subprocess
import sys
from collections import Counter

from bench.crash_test import REPO, census, run_main, subprocess_env
from gui.controller import SyncController

RUN_TIMEOUT_MS = 60_000
RAN = ("ok", "partial")


def _cli_setup(sage_company, tmp_path) -> tuple[dict[str, str], str]:
    """The app's own settings file and home for the subprocess; its secret via `main.py secret set`."""
    config = sage_company.paths.settings_file
    sage_company.settings.app.allow_plaintext_secrets = True
    sage_company.settings.save(config)
    env = subprocess_env(tmp_path)
    env["LEDGERBRIDGE_HOME"] = os.environ["LEDGERBRIDGE_HOME"]  # the app's configuration (conftest's home)
    stored = run_main(
        env,
        "--config",
        str(config),
        "secret",
        "set",
        "halo.client_secret",
        stdin=sage_company.sandbox.client_secret,
    )
    assert stored.returncode == 0, stored.stderr
    return env, str(config)


def _spawn(env: dict[str, str], config: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, str(REPO / "main.py"), "sync", "--config", config, "--json"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        cwd=REPO,
    )


def _assert_once_and_never_overlapping(sage_company) -> None:
    counted = census(sage_company.sandbox)
    assert counted["Client"] and all(n == 1 for keys in counted.values() for n in keys.values()), "duplicate"
    with sage_company.state() as state:
        runs = sorted(state.runs(), key=lambda run: run.started)
    assert all(run.finished is not None for run in runs)
    for earlier, later in itertools.pairwise(runs):
        assert earlier.finished <= later.started, f"runs {earlier.id} and {later.id} overlapped"


def test_a_scheduled_cli_sync_declines_while_the_apps_timer_run_is_going(
    qtbot, gui_context, sage_company, tmp_path
):
    env, config = _cli_setup(sage_company, tmp_path)
    sage_company.sandbox.faults.latency = 0.03  # the app's run lasts long enough to be caught in the act
    controller = SyncController(gui_context, interval_ms=20)
    summaries: list = []
    controller.run_finished.connect(summaries.append)
    try:
        controller.start()  # the timer, not a button, starts the app's run
        qtbot.waitUntil(controller.is_running, timeout=5000)
        qtbot.waitUntil(lambda: sum(sage_company.sandbox.counts().values()) > 0, timeout=10_000)
        # Halo slows down while the CLI starts (a Python process: seconds on a busy machine), so the app's
        # first run is still going when the CLI asks for the lock; it speeds up again once the CLI answered.
        sage_company.sandbox.faults.latency = 0.5
        cli = _spawn(env, config)
        out, err = cli.communicate(timeout=120)
        sage_company.sandbox.faults.latency = 0.03
        assert controller.is_running() and not summaries, (
            "the app's run ended before the CLI tried: no overlap was tested"
        )
        assert cli.returncode == 2, out + err
        document = json.loads(out)
        assert document["status"] == "failed" and "Another sync is running" in document["error"]
        assert "Wait for it to finish" in document["error"]
        qtbot.waitUntil(lambda: bool(summaries), timeout=RUN_TIMEOUT_MS)
        controller.scheduler.pause(None)
        qtbot.waitUntil(lambda: not controller.is_running(), timeout=RUN_TIMEOUT_MS)
    finally:
        controller.shutdown()
    assert summaries[0].status in RAN, summaries[0].error  # the stand-in has records Halo refuses: partial
    _assert_once_and_never_overlapping(sage_company)


def test_the_apps_run_declines_while_a_cli_sync_holds_the_configuration(
    qtbot, gui_context, sage_company, tmp_path
):
    env, config = _cli_setup(sage_company, tmp_path)
    sage_company.sandbox.faults.latency = 0.03
    cli = _spawn(env, config)
    try:
        qtbot.waitUntil(lambda: sum(sage_company.sandbox.counts().values()) > 0, timeout=30_000)
        controller = SyncController(gui_context, interval_ms=60 * 60_000)
        summaries: list = []
        controller.run_finished.connect(summaries.append)
        try:
            assert controller.sync_now()  # "Sync now" while Task Scheduler's run is going
            qtbot.waitUntil(lambda: bool(summaries), timeout=RUN_TIMEOUT_MS)
        finally:
            controller.shutdown()
        assert cli.poll() is None, "the CLI run ended before the app tried: no overlap was tested"
        declined = summaries[0]
        assert declined.status == "failed" and "Another sync is running" in declined.error
        out, err = cli.communicate(timeout=120)
    finally:
        if cli.poll() is None:
            cli.kill()
            cli.communicate()
    assert cli.returncode in (0, 1), out + err  # 1: the stand-in's deliberately bad records
    assert json.loads(out)["status"] in RAN
    _assert_once_and_never_overlapping(sage_company)


def test_started_together_exactly_one_runs_and_the_other_declines(qtbot, gui_context, sage_company, tmp_path):
    env, config = _cli_setup(sage_company, tmp_path)
    sage_company.sandbox.faults.latency = 0.03
    controller = SyncController(gui_context, interval_ms=60 * 60_000)
    summaries: list = []
    controller.run_finished.connect(summaries.append)
    try:
        cli = _spawn(env, config)
        assert controller.sync_now()
        qtbot.waitUntil(lambda: bool(summaries), timeout=RUN_TIMEOUT_MS)
        out, err = cli.communicate(timeout=120)
    finally:
        controller.shutdown()
    outcomes = Counter(
        [
            "ran" if summaries[0].status in RAN else "declined",
            "ran" if cli.returncode in (0, 1) else "declined",
        ]
    )
    # Either both ran one after the other (the first was done before the second started: allowed) or one
    # declined with the message; never both at once (checked on the runs table).
    declined_messages = [summaries[0].error] if summaries[0].status not in RAN else []
    if cli.returncode not in (0, 1):
        assert cli.returncode == 2, out + err
        declined_messages.append(json.loads(out)["error"])
    assert outcomes["ran"] >= 1
    assert all("Another sync is running" in message for message in declined_messages)
    _assert_once_and_never_overlapping(sage_company)

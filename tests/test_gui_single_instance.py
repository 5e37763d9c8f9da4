"""One instance per user and settings file: a second launch hands over to the first and exits 0."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from gui.single_instance import SingleInstance, server_name
from sync.paths import app_paths

REPO = Path(__file__).resolve().parent.parent


def test_the_name_depends_on_the_user_and_the_settings_file(tmp_path):
    a = server_name(tmp_path / "settings.toml", user="alice")
    assert a == server_name(tmp_path / "settings.toml", user="alice")
    assert a != server_name(tmp_path / "settings.toml", user="bob")
    assert a != server_name(tmp_path / "other.toml", user="alice")
    assert a.startswith("LedgerBridge-") and "alice" not in a


def test_a_second_instance_in_process_hands_over_to_the_first(qtbot, tmp_path):
    name = server_name(tmp_path / "settings.toml", user="tester")
    first = SingleInstance(name)
    assert first.acquire()
    try:
        second = SingleInstance(name)
        with qtbot.waitSignal(first.show_requested, timeout=5000):
            assert not second.acquire()
    finally:
        first.release()
    # Once the first is gone, a new launch becomes the first.
    third = SingleInstance(name)
    assert third.acquire()
    third.release()


def test_a_stale_socket_left_by_a_crashed_instance_does_not_block_a_new_one(tmp_path):
    name = server_name(tmp_path / "settings.toml", user="tester")
    socket_dir = Path(os.environ.get("TMPDIR", "/tmp"))
    stale = socket_dir / name
    stale.touch()  # what a killed process leaves behind on Unix
    try:
        instance = SingleInstance(name)
        assert instance.acquire()
        instance.release()
    finally:
        stale.unlink(missing_ok=True)


def test_a_real_second_launch_of_the_app_brings_the_first_forward_and_exits_0(qtbot, isolated_home):
    """``python main.py`` as a real second process, against this test's instance as the first one."""
    paths = app_paths()
    first = SingleInstance(server_name(paths.settings_file))
    assert first.acquire()
    env = {**os.environ, "LEDGERBRIDGE_HOME": str(isolated_home), "QT_QPA_PLATFORM": "offscreen"}
    started = time.monotonic()
    try:
        with qtbot.waitSignal(first.show_requested, timeout=60_000):
            process = subprocess.Popen(
                [sys.executable, str(REPO / "main.py")],
                cwd=REPO,
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
            )
        _out, err = process.communicate(timeout=60)
    finally:
        first.release()
    assert process.returncode == 0, err.decode(errors="replace")
    assert time.monotonic() - started < 30
    # It handed over without opening a wizard or writing settings.
    assert not paths.settings_file.exists()

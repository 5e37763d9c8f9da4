"""The frozen app, built with the same PyInstaller spec as the Windows build, runs `--version`, `sync --demo`
and the desktop app from inside the bundle (installer/smoke_test.sh does the work; about 1-2 minutes).

Skipped only when PyInstaller is not installed (the `installer` extra; ./bin/test installs it).
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.slow
@pytest.mark.timeout(900)
@pytest.mark.skipif(importlib.util.find_spec("PyInstaller") is None, reason="PyInstaller is not installed")
def test_frozen_bundle_passes_the_smoke_test(tmp_path):
    env = dict(os.environ, PYTHON=sys.executable, TMPDIR=str(tmp_path))
    env.pop("LEDGERBRIDGE_HOME", None)  # the script makes its own
    result = subprocess.run(
        ["bash", str(ROOT / "installer" / "smoke_test.sh")],
        env=env,
        capture_output=True,
        text=True,
        timeout=880,
        check=False,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-6000:]
    assert "SMOKE TEST FAILED" not in output

"""The README stays true: its settings example loads and validates, CI runs exactly its test command, and
every command it lists exists in `main.py --help`."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

from main import build_parser
from sync.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")


def test_settings_example_is_a_valid_settings_file():
    block = re.search(r"```toml\n(.*?)```", README, re.DOTALL)
    assert block, "README has no TOML settings example"
    settings = Settings.from_dict(tomllib.loads(block.group(1)), origin="README")
    settings.validate()
    assert settings.source.columns["customers"]["key"] == "ID"


def test_ci_runs_exactly_the_readme_test_command():
    setup = re.search(r"## Set-up.*?```bash\n(.*?)```", README, re.DOTALL)
    assert setup
    commands = [line.split("#")[0].strip() for line in setup.group(1).splitlines() if line.strip()]
    assert len(commands) == 2, commands
    run_command, test_command = commands
    assert run_command == "./bin/ledgerbridge"
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert re.search(rf"^exec {re.escape(test_command)}$", ci, re.MULTILINE), ci


def test_every_listed_command_exists():
    help_text = build_parser().format_help()
    for command in ("sync", "secret", "sandbox"):
        assert command in help_text
    for flag in ("--demo", "--minimized", "--config", "--version"):
        assert flag in help_text


def test_the_test_command_runs_the_static_checks_before_pytest():
    script = (ROOT / "bin" / "test").read_text(encoding="utf-8")
    steps = [
        script.index('"$venv/bin/ruff" check'),
        script.index('"$venv/bin/ruff" format --check'),
        script.index('"$venv/bin/mypy" "${MYPY_PACKAGES[@]}"'),
        script.index("-m pytest"),
    ]
    assert steps == sorted(steps)
    assert "set -euo pipefail" in script  # a failing check stops the run
    packages = re.search(r"^MYPY_PACKAGES=\((.*)\)$", script, re.MULTILINE)
    assert packages and {"core", "halo", "connectors", "sync"} <= set(packages.group(1).split())
    pyproject = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    assert "[tool.mypy]" in pyproject and "strict = true" in pyproject

"""``ledgerbridge support-bundle [FILE]``: one zip a user can send to support, with no secret in it.

Why: "it doesn't work" needs the doctor report, the settings, the last runs and open problems, the recent
log and the versions of everything in between (app, Python, Qt, ODBC driver manager and drivers). Secrets
never leave the keyring: the settings file holds none by design, and every text put in the zip goes through
the log scrubber (registered secrets, the keyring's current values, and credential-shaped fragments such as
``PWD=...`` or ``Bearer ...``) once more. No Qt here: the GUI button and the CLI both call ``write_bundle``.
"""

from __future__ import annotations

import contextlib
import json
import platform
import re
import sys
import zipfile
from dataclasses import asdict
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

from core.scrub import scrub
from sync.doctor import DoctorReport
from sync.paths import AppPaths
from sync.secrets import SECRET_NAMES, SecretStore
from sync.settings import Settings

# A password inside a URL (a proxy "http://user:password@host:3128"): the log scrubber's patterns do not
# cover it, and the settings may hold such a proxy.
_URL_PASSWORD = re.compile(r"(://[^/\s:@]+:)[^@\s/]+@")

LOG_TAIL_BYTES = 512 * 1024  # the newest half megabyte of log: the last runs, not months of history
RUNS_IN_BUNDLE = 20


def redact(text: str, extra_secrets: list[str] | tuple[str, ...] = ()) -> str:
    """The log scrubber, plus passwords inside URLs: what may leave this PC in a report or a bundle."""
    return _URL_PASSWORD.sub(r"\1***@", scrub(text, extra_secrets))


def default_bundle_name(now: datetime | None = None) -> str:
    stamp = (now or datetime.now(UTC)).strftime("%Y%m%d-%H%M%S")
    return f"ledgerbridge-support-{stamp}.zip"


def _package_version(name: str) -> str:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "not installed"


def running_app_version() -> str:
    """main.__version__ of the running app, without importing main (it is ``__main__`` when run directly)."""
    for module_name in ("main", "__main__"):
        version = getattr(sys.modules.get(module_name), "__version__", None)
        if isinstance(version, str):
            return version
    return "unknown"


def versions(report: DoctorReport | None = None, app_version: str = "") -> dict[str, Any]:
    """App, Python, OS, Qt (read from the installed package, so no Qt is loaded), pyodbc, ODBC drivers."""
    found: dict[str, Any] = {
        "LedgerBridge": app_version or running_app_version(),
        "Python": sys.version.split()[0],
        "Python build": f"{platform.python_implementation()} {platform.architecture()[0]}",
        "OS": platform.platform(),
        "PySide6 (Qt)": _package_version("PySide6"),
        "pyodbc": _package_version("pyodbc"),
        "keyring": _package_version("keyring"),
    }
    try:
        import pyodbc

        found["ODBC drivers installed"] = sorted(pyodbc.drivers())
    except Exception as exc:  # no driver manager at all is itself worth knowing
        found["ODBC drivers installed"] = f"could not be listed ({type(exc).__name__}: {exc})"
    if report is not None and report.driver:
        found["ODBC driver manager"] = report.driver.get("Driver manager version", "")
        found["ODBC driver in use"] = " ".join(
            part
            for part in (report.driver.get("Driver", ""), report.driver.get("Driver version", ""))
            if part
        )
    return found


def _settings_text(settings: Settings) -> str:
    """The settings as JSON: nothing secret is stored in them, and what looks like one is scrubbed."""
    return json.dumps(settings.to_dict(), indent=2, ensure_ascii=False, default=str)


def _runs_and_problems(paths: AppPaths) -> dict[str, Any]:
    if not paths.state_file.exists():
        return {"runs": [], "problems": [], "note": "no state store yet (LedgerBridge has not synced)"}
    from sync.state import StateStore

    store = StateStore(paths.state_file)
    try:
        runs = [asdict(run) for run in store.runs(limit=RUNS_IN_BUNDLE)]
        problems = [asdict(problem) for problem in store.problems()]
    finally:
        store.close()
    return {"runs": runs, "problems": problems}


def _log_tail(paths: AppPaths) -> str:
    log_file = paths.log_file
    if not log_file.exists():
        return "(no log file yet)\n"
    size = log_file.stat().st_size
    with open(log_file, "rb") as handle:
        if size > LOG_TAIL_BYTES:
            handle.seek(size - LOG_TAIL_BYTES)
            handle.readline()  # start at a whole line
        return handle.read().decode("utf-8", errors="replace")


def _current_secrets(secrets: SecretStore | None) -> list[str]:
    """The keyring's values, so the bundle is scrubbed of them even if nothing registered them yet."""
    values: list[str] = []
    if secrets is None:
        return values
    for name in SECRET_NAMES:
        with contextlib.suppress(Exception):
            value = secrets.get(name)
            if value:
                values.append(value)
    return values


def write_bundle(
    target: Path,
    *,
    settings: Settings,
    paths: AppPaths,
    secrets: SecretStore | None = None,
    report: DoctorReport | None = None,
    app_version: str = "",
) -> Path:
    """Write the zip to ``target`` (a folder gets the default name) and return its path."""
    if target.is_dir():
        target = target / default_bundle_name()
    target.parent.mkdir(parents=True, exist_ok=True)
    known = _current_secrets(secrets)

    def clean(text: str) -> str:
        return redact(text, known)

    parts: dict[str, str] = {
        "README.txt": (
            "LedgerBridge support bundle, made "
            f"{datetime.now(UTC).isoformat(timespec='seconds')}.\n"
            "doctor.txt / doctor.json: what the books and Halo look like from this PC.\n"
            "settings.json: the settings (no secrets: those stay in the keyring).\n"
            "runs-and-problems.json: the last runs and the open problems.\n"
            "ledgerbridge.log: the newest part of the log. versions.json: app, Python, Qt, ODBC.\n"
        ),
        "settings.json": _settings_text(settings),
        "runs-and-problems.json": json.dumps(
            _runs_and_problems(paths), indent=2, ensure_ascii=False, default=str
        ),
        "ledgerbridge.log": _log_tail(paths),
        "versions.json": json.dumps(versions(report, app_version), indent=2, ensure_ascii=False),
    }
    if report is not None:
        parts["doctor.txt"] = report.to_text()
        parts["doctor.json"] = json.dumps(report.to_dict(), indent=2, ensure_ascii=False, default=str)
    else:
        parts["doctor.txt"] = "The doctor was not run for this bundle.\n"
    partial = target.with_name(target.name + ".partial")
    with zipfile.ZipFile(partial, "w", compression=zipfile.ZIP_DEFLATED) as bundle:
        for name, text in parts.items():
            bundle.writestr(name, clean(text))
    partial.replace(target)
    return target

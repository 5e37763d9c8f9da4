"""Fixtures: fixtures_gui — the desktop app's pieces on a real Qt event loop, a real sandbox and ODBC company.

``gui_context`` is the app's context (settings, keyring secrets, paths) on the stand-in Sage 50 UK company
and the sandbox from ``sage_company``; ``gui_controller`` is a started SyncController on it that is shut
down (run cancelled and joined, state store closed) after the test. Start-at-login writes go to a
temporary XDG folder, never the real desktop's autostart.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from gui.controller import AppContext, SyncController


@pytest.fixture
def gui_env(tmp_path, monkeypatch):
    """Keep the autostart entry (XDG) inside the test's folder."""
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg-config"))
    return tmp_path


@pytest.fixture
def gui_context(sage_company, gui_env) -> AppContext:
    paths = sage_company.paths
    sage_company.settings.app.allow_plaintext_secrets = True  # the tests' keyring is a file backend
    return AppContext(
        settings=sage_company.settings,
        secrets=sage_company.secrets,
        paths=paths,
        config_path=paths.settings_file,
    )


@pytest.fixture
def gui_controller(qtbot, gui_context) -> Iterator[SyncController]:
    controller = SyncController(gui_context)
    yield controller
    controller.shutdown()
    qtbot.waitUntil(lambda: controller.tasks.pending == 0, timeout=10_000)


RUN_TIMEOUT_MS = 240_000


def run_and_wait(qtbot, controller: SyncController, **options):
    """Start a sync (``sync_now`` options) and wait until it ended and the views read the history again."""
    with qtbot.waitSignal(controller.run_finished, timeout=RUN_TIMEOUT_MS) as finished:
        assert controller.sync_now(**options)
    qtbot.waitUntil(lambda: not controller.is_running(), timeout=RUN_TIMEOUT_MS)
    qtbot.waitUntil(lambda: controller.tasks.pending == 0, timeout=10_000)
    return finished.args[0]

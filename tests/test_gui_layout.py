"""The wizard and the main window fit a 1366x768 laptop at 100% and at 125% (QT_SCALE_FACTOR=1.25).

Each scale runs in its own process (the scale is fixed when Qt starts) on Qt's offscreen platform with a
1366x768 screen (its ``configfile`` option); this file is that process's script too. At 125% the screen is
1093x614 device-independent pixels: the wizard's Next / Finish buttons must stay inside it on every page.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
SCREEN = {"screens": [{"name": "laptop", "x": 0, "y": 0, "width": 1366, "height": 768, "logicalDpi": 96}]}
TITLE_BAR = 32  # what a window manager adds above a window, at most, in device-independent pixels


def probe() -> dict:
    """Runs in the child process: open each wizard page and the main window, measure them."""
    sys.path.insert(0, str(REPO))
    from PySide6.QtWidgets import QApplication, QWizard

    app = QApplication(sys.argv[:1])
    from gui.controller import AppContext, SyncController
    from gui.main_window import MainWindow
    from gui.wizard import SetupWizard
    from sync.paths import app_paths
    from sync.secrets import MemorySecretStore
    from sync.settings import Settings

    paths = app_paths().ensure()
    room = app.primaryScreen().availableGeometry()
    result: dict = {"screen": [room.width(), room.height()], "wizard": [], "window": {}}
    for page_id in range(5):
        wizard = SetupWizard(paths, paths.settings_file)
        wizard.setStartId(page_id)
        wizard.show()
        wizard.restart()
        app.processEvents()
        last = page_id == wizard.pageIds()[-1]
        button = wizard.button(QWizard.WizardButton.FinishButton if last else QWizard.WizardButton.NextButton)
        bottom = button.mapTo(wizard, button.rect().bottomRight())
        result["wizard"].append(
            {
                "page": type(wizard.currentPage()).__name__,
                "size": [wizard.width(), wizard.height()],
                "minimum": [wizard.minimumSize().width(), wizard.minimumSize().height()],
                "button": [bottom.x(), bottom.y()],
            }
        )
        wizard.hide()
        wizard.deleteLater()
        app.processEvents()
    settings = Settings()
    context = AppContext(settings, MemorySecretStore(), paths, paths.settings_file)
    window = MainWindow(SyncController(context), tray_available=False)
    window.show()
    app.processEvents()
    hint = window.minimumSizeHint()
    result["window"] = {
        "size": [window.width(), window.height()],
        "minimum": [hint.width(), hint.height()],
        "tabs": {
            window.tabs.tabText(i): [
                window.tabs.widget(i).minimumSizeHint().width(),
                window.tabs.widget(i).minimumSizeHint().height(),
            ]
            for i in range(window.tabs.count())
        },
    }
    window.log_page.detach()
    return result


def measure(scale: str, tmp_path: Path) -> dict:
    screen_file = tmp_path / "screen.json"
    screen_file.write_text(json.dumps(SCREEN), encoding="utf-8")
    env = {
        **os.environ,
        "QT_QPA_PLATFORM": f"offscreen:configfile={screen_file}",
        "QT_SCALE_FACTOR": scale,
        "LEDGERBRIDGE_HOME": str(tmp_path / "home"),
    }
    done = subprocess.run(
        [sys.executable, __file__], cwd=REPO, env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("scale", ["1", "1.25"])
def test_the_wizard_and_the_window_fit_a_1366x768_laptop(tmp_path, scale):
    found = measure(scale, tmp_path)
    width, height = found["screen"]
    assert (width, height) == ((1366, 768) if scale == "1" else (1093, 614))
    for page in found["wizard"]:
        w, h = page["size"]
        assert w <= width and h + TITLE_BAR <= height, page
        assert page["minimum"][1] <= h, page  # Qt did not have to grow it past what we chose
        x, y = page["button"]
        assert 0 < x <= w and 0 < y <= h, page  # Next / Finish is on the screen
    window = found["window"]
    w, h = window["size"]
    assert w <= width and h + TITLE_BAR <= height, window
    assert window["minimum"][0] <= w and window["minimum"][1] <= h, window  # every control has its room
    for tab, (tab_w, tab_h) in window["tabs"].items():
        assert tab_w <= w and tab_h <= h, (tab, window)


if __name__ == "__main__":
    os.environ.setdefault("LEDGERBRIDGE_HOME", tempfile.mkdtemp())
    print(json.dumps(probe()))

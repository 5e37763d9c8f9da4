"""Render every set-up wizard page and every main-window tab to docs/screenshots/*.png.

Run under a real X server for faithful fonts and styles, with the screen of a small laptop (the windows open
no bigger than the screen):  ``xvfb-run -a -s "-screen 0 1366x768x24" python3 docs/take_screenshots.py``
(``QT_QPA_PLATFORM=offscreen`` works too). Everything happens in a temporary LEDGERBRIDGE_HOME on the demo
company and a local Halo sandbox, after a real demo sync, so the pictures show what a newcomer sees.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

import keyring  # noqa: E402
import keyring.backend  # noqa: E402

import gui  # noqa: E402, F401  (guards None/True/False against the PySide6 6.12 reference leak)


class SessionKeyring(keyring.backend.KeyringBackend):
    """Secrets for this screenshot session only, so the wizard shows the normal (keyring present) state."""

    priority = 1  # type: ignore[assignment]

    def __init__(self) -> None:
        super().__init__()
        self._values: dict[tuple[str, str], str] = {}

    def get_password(self, service: str, username: str) -> str | None:
        return self._values.get((service, username))

    def set_password(self, service: str, username: str, password: str) -> None:
        self._values[(service, username)] = password

    def delete_password(self, service: str, username: str) -> None:
        self._values.pop((service, username), None)


def give_unknown_tax_code(company_file: Path, account_ref: str, tax_code: str) -> None:
    """Edit the demo company as Sage would (new value, new modify date), so the next sync reads the row."""
    import sqlite3
    from datetime import datetime

    connection = sqlite3.connect(company_file)
    try:
        stamp = datetime.now().strftime("%Y-%m-%d %H:%M:%S.000")
        connection.execute(
            "UPDATE SALES_LEDGER SET DEF_TAX_CODE = ?, RECORD_MODIFY_DATE = ? WHERE ACCOUNT_REF = ?",
            (tax_code, stamp, account_ref),
        )
        connection.commit()
    finally:
        connection.close()


def free_port() -> int:
    """A local TCP port with nothing listening on it (for a moment: enough to fail a connection)."""
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "screenshots")
    args = parser.parse_args(argv)
    home = Path(tempfile.mkdtemp(prefix="lb-screens-"))
    os.environ["LEDGERBRIDGE_HOME"] = str(home)
    os.environ["XDG_CONFIG_HOME"] = str(home / "xdg")
    keyring.set_keyring(SessionKeyring())

    from PySide6.QtCore import QEventLoop
    from PySide6.QtWidgets import QApplication, QWidget

    from demo.environment import DemoEnvironment
    from gui.controller import AppContext, SyncController
    from gui.icons import app_icon
    from gui.main_window import MainWindow
    from gui.wizard import SetupWizard
    from sync.logs import setup_logging
    from sync.paths import app_paths

    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setWindowIcon(app_icon())
    args.out.mkdir(parents=True, exist_ok=True)
    paths = app_paths().ensure()
    setup_logging(paths)

    def wait_until(condition: Callable[[], bool], timeout: float = 120.0) -> None:
        deadline = time.monotonic() + timeout
        while not condition():
            if time.monotonic() > deadline:
                raise TimeoutError("the app did not get there in time")
            app.processEvents(QEventLoop.ProcessEventsFlag.AllEvents, 50)

    def settle(seconds: float = 0.3) -> None:
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            app.processEvents(QEventLoop.ProcessEventsFlag.AllEvents, 20)

    def shoot(widget: QWidget, name: str) -> None:
        settle()
        target = args.out / f"{name}.png"
        if not widget.grab().save(str(target)):
            raise RuntimeError(f"could not write {target}")
        print(target.relative_to(REPO) if target.is_relative_to(REPO) else target)

    demo = DemoEnvironment.start(paths.data_dir)
    try:
        # --- the set-up wizard, filled in with the demo's sandbox and company ---
        wizard = SetupWizard(paths, paths.settings_file)
        wizard.show()
        shoot(wizard, "wizard-1-welcome")
        wizard.next()
        halo = wizard.halo_page
        halo.form.resource_server.setText(demo.sandbox_url)
        halo.form.client_id.setText(demo.settings.halo.client_id)
        halo.form.client_secret.setText(demo.secrets.get("halo.client_secret") or "")
        halo.form.run_check()
        wait_until(lambda: halo.form.result_label.ok is not None and halo.keyring_ok is not None)
        shoot(wizard, "wizard-2-halo")
        wizard.next()
        source = wizard.source_page.form
        source.kind.setCurrentIndex(source.kind.findData("demo"))
        source.path.setText(str(demo.company_file))
        wait_until(lambda: "Found" in source.drivers_note.text() or "No ODBC" in source.drivers_note.text())
        source.run_check()
        wait_until(lambda: source.result_label.ok is not None)
        shoot(wizard, "wizard-3-accounting-package")
        wizard.next()
        shoot(wizard, "wizard-4-what-to-sync")
        wizard.next()
        mappings = wizard.mappings_page
        wait_until(lambda: mappings.editor.snapshot is not None)
        mappings.start_dry_run()
        wait_until(lambda: mappings.dry_run_summary is not None)
        shoot(wizard, "wizard-5-mappings-and-preview")
        wizard.hide()
        wizard._close_state()

        # --- the main window on the demo, after a real sync ---
        context = AppContext(
            settings=demo.settings,
            secrets=demo.secrets,
            paths=demo.paths,
            config_path=paths.settings_file,
            demo=demo,
            log_file=paths.log_file,
        )
        controller = SyncController(context)
        window = MainWindow(controller, tray_available=False)
        window.resize(1366, 768)  # the README's pictures: a 1366x768 laptop screen, the window maximised
        window.show()
        controller.start()
        controller.sync_now()
        wait_until(lambda: not controller.is_running() and controller.tasks.pending == 0, timeout=600)
        # Then someone gives a customer a tax code Halo does not know, and the next sync reports it.
        give_unknown_tax_code(demo.company_file, "ONEILL01", "T7")
        controller.sync_now()
        wait_until(lambda: not controller.is_running() and controller.tasks.pending == 0, timeout=600)
        window.mappings_page.editor.load()
        wait_until(lambda: window.mappings_page.editor.snapshot is not None)
        controller.load_records()
        wait_until(lambda: bool(window.records_page.model.records) and controller.tasks.pending == 0)
        pages = (
            (window.status_page, "main-1-status"),
            (window.history_page, "main-2-history"),
            (window.problems_page, "main-3-problems"),  # the unknown tax code, and a customer skipped
            (window.mappings_page, "main-4-mappings"),
            (window.settings_page, "main-5-settings"),
            (window.log_page, "main-6-log"),
            (window.records_page, "main-7-records"),
        )
        window.records_page.view.selectRow(1)  # a record chosen: "Open in Halo" and "Sync again" are ready
        for page, name in pages:
            window.tabs.setCurrentWidget(page)
            shoot(window, name)
        # Last, Halo cannot be reached (a port nothing listens on stands in for a network outage): the Status
        # page keeps the last figures, says why, and counts down to the retry.
        settings = controller.context.settings
        reachable, settings.halo.resource_server = (
            settings.halo.resource_server,
            f"http://127.0.0.1:{free_port()}",
        )
        controller.sync_now()
        wait_until(lambda: not controller.is_running() and controller.tasks.pending == 0, timeout=600)
        window.tabs.setCurrentWidget(window.status_page)
        shoot(window, "main-8-status-retrying")
        settings.halo.resource_server = reachable
        controller.shutdown()
        window.log_page.detach()
        window.hide()
    finally:
        demo.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())

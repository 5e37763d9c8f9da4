"""Settings tab: everything the wizard set, editable, saved the same way (file without secrets + keyring).

Why: an MSP technician changes the Halo URL or the sync interval months later; they must not have to run the
whole wizard again. Saving validates first and says which setting is wrong.
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Callable
from typing import Any

from PySide6.QtWidgets import QHBoxLayout, QPushButton, QScrollArea, QTabWidget, QVBoxLayout, QWidget

from core.errors import ConfigError
from gui.advice import AdviceView, Place
from gui.books_check import BooksCheckPanel
from gui.controller import SyncController
from gui.forms import AppOptionsForm, HaloForm, SourceForm, SyncOptionsForm
from sync.secrets import HALO_CLIENT_SECRET, SOURCE_PASSWORD, MemorySecretStore
from sync.settings import Settings

log = logging.getLogger("ledgerbridge.gui.settings")


def _scroll(widget: QWidget) -> QScrollArea:
    area = QScrollArea()
    area.setWidgetResizable(True)
    area.setWidget(widget)
    return area


def save_configuration(
    settings: Settings,
    secrets: Any,
    config_path: Any,
    new_secrets: dict[str, str],
    start_at_login: bool | None = None,
    set_start_at_login: Callable[[bool], None] | None = None,
) -> None:
    """Store the typed secrets in the keyring first (a refusal stops here), then write the settings file.

    Runs in a worker thread: the keyring and the autostart entry are I/O.
    """
    for name, value in new_secrets.items():
        if value:
            secrets.set(name, value)
    settings.save(config_path)
    if start_at_login is not None and set_start_at_login is not None:
        set_start_at_login(start_at_login)


class SettingsPage(QWidget):
    def __init__(self, controller: SyncController, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.controller = controller
        tasks = controller.tasks
        layout = QVBoxLayout(self)
        self.tabs = QTabWidget()
        self.halo_form = HaloForm(tasks, show_note=False)
        self.source_form = SourceForm(tasks)
        self.sync_form = SyncOptionsForm()
        self.app_form = AppOptionsForm()
        for form in (self.halo_form, self.source_form):
            form.settings_provider = self._settings_for_check
            form.result_label.open_requested.connect(self.show_place)
        self._section_forms: dict[str, QWidget] = {
            "halo": self.halo_form,
            "source": self.source_form,
            "sync": self.sync_form,
            "app": self.app_form,
        }
        self.tabs.addTab(_scroll(self.halo_form), "Halo")
        self.tabs.addTab(_scroll(self.source_form), "Accounting package")
        self.tabs.addTab(_scroll(self.sync_form), "Sync")
        self.tabs.addTab(_scroll(self.app_form), "Advanced")
        layout.addWidget(self.tabs, 1)
        self.books_check = BooksCheckPanel(
            tasks, self._settings_for_check, paths_provider=lambda: self.controller.context.paths
        )
        layout.addWidget(self.books_check)
        row = QHBoxLayout()
        self.save_button = QPushButton("Save settings")
        self.save_button.clicked.connect(self.save)
        self.revert_button = QPushButton("Undo changes")
        self.revert_button.clicked.connect(self.reload)
        self.result_label = AdviceView()
        self.result_label.open_requested.connect(self.show_place)
        row.addWidget(self.save_button)
        row.addWidget(self.revert_button)
        row.addWidget(self.result_label, 1)
        layout.addLayout(row)
        self.source_form.kind.currentIndexChanged.connect(
            lambda *_: self.sync_form.set_source_kind(self.source_form.current_kind())
        )
        self._secrets_loaded = False
        self.reload()
        self.source_form.load_odbc_lists()

    def reload(self) -> None:
        """Show the running settings; secrets are read from the keyring in the background."""
        context = self.controller.context
        settings = context.settings
        self.halo_form.load(settings, None)
        self.source_form.load(settings, None)
        self.sync_form.load(settings)
        self.app_form.load(settings, settings.app.start_at_login)
        self.result_label.clear()
        secrets = context.secrets

        def read_secrets() -> tuple[str | None, str | None, bool]:
            halo = secrets.get(HALO_CLIENT_SECRET)
            source = secrets.get(SOURCE_PASSWORD)
            return halo, source, _is_start_at_login(settings)

        self.controller.tasks.submit(read_secrets, self._on_secrets, self._on_error)

    def _on_secrets(self, result: tuple[str | None, str | None, bool]) -> None:
        halo, source, at_login = result
        self.halo_form.client_secret.setText(halo or "")
        self.source_form.password.setText(source or "")
        self.app_form.start_at_login.setChecked(at_login)
        self._secrets_loaded = True

    def show_place(self, place: Place) -> None:
        """Open the sub-tab advice named (Settings > Halo > CA bundle) with the cursor in its field."""
        form = self._section_forms.get(place.section)
        if form is None:
            return
        for index in range(self.tabs.count()):
            area = self.tabs.widget(index)
            if isinstance(area, QScrollArea) and area.widget() is form:
                self.tabs.setCurrentIndex(index)
        focus = getattr(form, "focus_field", None)
        if callable(focus):
            focus(place)

    def _on_error(self, error: BaseException) -> None:
        self.save_button.setEnabled(True)
        self.result_label.show_error(error)

    def edited_settings(self) -> Settings:
        settings = copy.deepcopy(self.controller.context.settings)
        self.halo_form.apply_to(settings)
        self.source_form.apply_to(settings)
        self.sync_form.apply_to(settings)
        self.app_form.apply_to(settings)
        return settings

    def _settings_for_check(self) -> tuple[Settings, MemorySecretStore]:
        settings = self.edited_settings()
        secrets = MemorySecretStore()
        if self.halo_form.secret():
            secrets.set(HALO_CLIENT_SECRET, self.halo_form.secret())
        if self.source_form.secret():
            secrets.set(SOURCE_PASSWORD, self.source_form.secret())
        return settings, secrets

    def save(self) -> None:
        settings = self.edited_settings()
        try:
            settings.validate()
        except ConfigError as error:
            self._on_error(error)
            return
        context = self.controller.context
        new_secrets = {
            HALO_CLIENT_SECRET: self.halo_form.secret(),
            SOURCE_PASSWORD: self.source_form.secret(),
        }
        if context.is_demo:
            # The demo's settings and sandbox credentials live only in this process.
            for name, value in new_secrets.items():
                if value:
                    context.secrets.set(name, value)
            self._saved(settings, "Applied to this demo session (the demo's settings are not saved).")
            return
        secrets = context.secrets
        if hasattr(secrets, "allow_plaintext"):
            secrets.allow_plaintext = settings.app.allow_plaintext_secrets
        self.save_button.setEnabled(False)
        self.result_label.show_text("Saving…")
        at_login = settings.app.start_at_login
        self.controller.tasks.submit(
            lambda: save_configuration(
                settings, secrets, context.config_path, new_secrets, at_login, _set_start_at_login
            ),
            lambda _: self._saved(settings, f"Saved to {context.config_path}."),
            self._on_error,
        )

    def _saved(self, settings: Settings, message: str) -> None:
        self.save_button.setEnabled(True)
        self.controller.apply_settings(settings)
        self.result_label.show_text(message, tone="ok")
        log.info("Settings saved.")


def _set_start_at_login(enabled: bool) -> None:
    from gui.autostart import set_start_at_login

    set_start_at_login(enabled)


def _is_start_at_login(settings: Settings) -> bool:
    try:
        from gui.autostart import is_start_at_login

        return is_start_at_login()
    except Exception:  # an unsupported platform: show what the settings say
        log.debug("Could not read the start-at-login state", exc_info=True)
        return settings.app.start_at_login

"""The first-run set-up: Halo, the accounting package, what to sync, mappings and a dry run, then save.

Why a wizard: it is run once, by an office manager or the MSP's technician, and must leave a configuration
that works. Each connection page tests for real (the engine's own checks, in the background) and says what
is wrong; nothing is written to Halo before the dry run has shown what the first sync will do. Finish stores
the secrets in the keyring (never in the settings file) and then writes the settings file.
"""

from __future__ import annotations

import copy
import logging
import threading
from typing import Any

from PySide6.QtCore import QSize, Qt, Slot
from PySide6.QtWidgets import (
    QCheckBox,
    QCommandLinkButton,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QTableWidget,
    QWizard,
    QWizardPage,
)

from core.errors import ConfigError, LedgerBridgeError
from gui.advice import AdviceView, Place, describe_error, in_wizard_words
from gui.books_check import BooksCheckPanel
from gui.forms import HaloForm, SourceForm, SyncOptionsForm, settings_with_secrets
from gui.icons import app_icon
from gui.mapping_editor import MappingEditor
from gui.pages.common import (
    OUTCOME_NAMES,
    cell,
    entity_name,
    in_entity_order,
    read_only_table,
    stretch_columns,
)
from gui.widgets.inputs import fit_to_screen, scrolling_content
from gui.widgets.posting_preview import PostingPreviewView
from gui.worker import ProgressSnapshot, SyncThread, TaskRunner
from sync.events import OUTCOMES, RunSummary
from sync.mappings import MappingService
from sync.paths import AppPaths
from sync.posting_preview import PostingPreview
from sync.runner import open_state, run_sync
from sync.secrets import HALO_CLIENT_SECRET, SOURCE_PASSWORD, KeyringSecretStore, MemorySecretStore
from sync.settings import Settings

log = logging.getLogger("ledgerbridge.gui.wizard")

PAGE_INTRO, PAGE_HALO, PAGE_SOURCE, PAGE_SYNC, PAGE_MAPPINGS = range(5)
KEYRING_FIX_IN_WIZARD = (
    "Install and unlock a keyring (on Windows it is built in: Credential Manager; on Linux, gnome-keyring or "
    "KWallet in a desktop session), then press Check the keyring again."
)


class IntroPage(QWizardPage):
    def __init__(self, wizard: SetupWizard) -> None:
        super().__init__()
        self._wizard = wizard
        self.setTitle("Welcome to LedgerBridge")
        self.setSubTitle(
            "It keeps your books and HaloPSA / HaloITSM in step: tax rates, customers, items, invoices."
        )
        layout = scrolling_content(self)
        layout.setContentsMargins(9, 9, 9, 9)  # in line with the forms of the other pages
        text = QLabel(
            "You will need: your Halo address and an API application's client ID and secret (the next page "
            "says what to create in Halo), and the accounting package's ODBC connection. It takes about "
            "ten minutes, and nothing is written to Halo until you have seen a preview."
        )
        text.setWordWrap(True)
        layout.addWidget(text)
        self.setup_button = QCommandLinkButton(
            "Set up my company", "Connect Halo and your accounting package, step by step."
        )
        self.demo_button = QCommandLinkButton(
            "Try the demo first",
            "A made-up company and a local Halo sandbox on this computer: press Sync now and watch.",
        )
        self.setup_button.clicked.connect(wizard.next)
        self.demo_button.clicked.connect(wizard.choose_demo)
        layout.addWidget(self.setup_button)
        layout.addWidget(self.demo_button)
        layout.addStretch(1)


class HaloPage(QWizardPage):
    def __init__(self, wizard: SetupWizard) -> None:
        super().__init__()
        self._wizard = wizard
        self.setTitle("Halo")
        self.setSubTitle("Where your Halo is, and the API application LedgerBridge signs in with.")
        layout = scrolling_content(self)
        self.form = HaloForm(wizard.tasks)
        self.form.result_label.in_wizard = True
        self.form.result_label.open_requested.connect(wizard.go_to)
        self.form.settings_provider = wizard.pending
        self.form.changed.connect(self.completeChanged)
        layout.addWidget(self.form)
        self.keyring_label = QLabel("")
        self.keyring_label.setWordWrap(True)
        self.keyring_label.setStyleSheet("color: #b71c1c;")
        self.keyring_label.setVisible(False)
        self.plaintext_box = QCheckBox("Keep the secrets in a plain-text file anyway (I understand the risk)")
        self.plaintext_box.setVisible(False)
        self.plaintext_box.toggled.connect(self._on_plaintext)
        self.recheck_button = QPushButton("Check the keyring again")
        self.recheck_button.setVisible(False)
        self.recheck_button.clicked.connect(self.check_keyring)
        layout.addWidget(self.keyring_label)
        row = QHBoxLayout()
        row.addWidget(self.plaintext_box, 1)
        row.addWidget(self.recheck_button)
        layout.addLayout(row)
        self.keyring_ok: bool | None = None
        self._keyring_asked = 0  # the number of the latest keyring check: only its answer counts

    def initializePage(self) -> None:
        self.check_keyring()

    def check_keyring(self) -> None:
        """Find out (off the GUI thread: a keyring may talk to D-Bus) whether secrets can be kept safely.

        Only the latest check's answer counts: ticking the plain-text box starts a check while the page's
        first one may still be running in another pool thread, and that first answer ("no safe keyring")
        must not arrive last and undo the tick.
        """
        allow = self.plaintext_box.isChecked()
        self.keyring_ok = None
        self._keyring_asked += 1
        asked = self._keyring_asked

        def check() -> tuple[int, BaseException | None]:
            try:
                KeyringSecretStore(allow_plaintext=allow).check()
            except Exception as exc:  # the answer, with the check's number: shown by _keyring_answer
                log.debug("The keyring check failed", exc_info=True)
                return asked, exc
            return asked, None

        self._wizard.tasks.submit(check, self._keyring_answer)

    def _keyring_answer(self, answer: tuple[int, BaseException | None]) -> None:
        asked, error = answer
        if asked != self._keyring_asked:
            return  # a later check is on its way; its answer is the one to show
        if error is None:
            self._keyring_fine()
        else:
            self._keyring_problem(error)

    def _keyring_fine(self) -> None:
        self.keyring_ok = True
        self.keyring_label.setVisible(self.plaintext_box.isChecked())
        if self.plaintext_box.isChecked():
            self.keyring_label.setText("Secrets will be kept in a plain-text file, as you chose.")
        self.recheck_button.setVisible(False)
        self.completeChanged.emit()

    def _keyring_problem(self, error: BaseException) -> None:
        self.keyring_ok = False
        plaintext_possible = "plain text" in str(error)
        if isinstance(error, LedgerBridgeError):  # the keyring's own advice names Settings > Advanced
            text = f"{error.message} {KEYRING_FIX_IN_WIZARD}"
            if plaintext_possible:
                text += f" Or, knowing the risk, tick “{self.plaintext_box.text()}” below."
        else:
            text = describe_error(error)
        self.keyring_label.setText(text)
        self.keyring_label.setVisible(True)
        self.plaintext_box.setVisible(plaintext_possible or self.plaintext_box.isChecked())
        self.recheck_button.setVisible(True)
        self.completeChanged.emit()

    def _on_plaintext(self, checked: bool) -> None:
        self._wizard.settings.app.allow_plaintext_secrets = checked
        self.check_keyring()

    def isComplete(self) -> bool:
        return bool(self.keyring_ok) and self.form.is_complete()


class SourcePage(QWizardPage):
    def __init__(self, wizard: SetupWizard) -> None:
        super().__init__()
        self.setTitle("Accounting package")
        self.setSubTitle("Which package holds your books, and how to reach it over ODBC.")
        layout = scrolling_content(self)
        self.form = SourceForm(wizard.tasks)
        self.form.result_label.in_wizard = True
        self.form.result_label.open_requested.connect(wizard.go_to)
        self.form.settings_provider = wizard.pending
        self.form.changed.connect(self.completeChanged)
        layout.addWidget(self.form)
        self.books_check = BooksCheckPanel(wizard.tasks, wizard.pending)
        layout.addWidget(self.books_check)
        self._lists_loaded = False

    def initializePage(self) -> None:
        if not self._lists_loaded:
            self._lists_loaded = True
            self.form.load_odbc_lists()

    def isComplete(self) -> bool:
        return self.form.is_complete()


class SyncPage(QWizardPage):
    def __init__(self, wizard: SetupWizard) -> None:
        super().__init__()
        self.setTitle("What to sync, and how often")
        self.setSubTitle(
            "Choose what goes from the books to Halo and, where your package can take them, which Halo "
            "invoices go into the books. Halo is never asked to delete anything."
        )
        layout = scrolling_content(self)
        self.form = SyncOptionsForm()
        self.form.load(wizard.settings)
        self.form.changed.connect(self.completeChanged)
        layout.addWidget(self.form)
        self._wizard = wizard

    def initializePage(self) -> None:
        """Offer Halo -> books only if the package chosen on the previous page can take invoices."""
        self.form.set_source_kind(self._wizard.source_page.form.current_kind())

    def isComplete(self) -> bool:
        return self.form.is_complete()


class MappingsPage(QWizardPage):
    """Tax codes and customers, then a dry run that shows what the first sync will do."""

    def __init__(self, wizard: SetupWizard) -> None:
        super().__init__()
        self._wizard = wizard
        self.setTitle("Mappings and a preview")
        self.setSubTitle(
            "Check which Halo client each customer lands on, then preview the first sync. Nothing is written "
            "to Halo on this page."
        )
        self.setFinalPage(True)
        layout = scrolling_content(self)  # on a small or scaled screen the page scrolls
        self.editor = MappingEditor(wizard.tasks, self._service)
        self.editor.advice.in_wizard = True
        self.editor.advice.open_requested.connect(wizard.go_to)
        layout.addWidget(self.editor, 5)
        row = QHBoxLayout()
        self.dry_run_button = QPushButton("Preview the first sync (dry run)")
        self.dry_run_button.clicked.connect(self.start_dry_run)
        self.dry_run_label = QLabel("")
        self.dry_run_label.setWordWrap(True)
        row.addWidget(self.dry_run_button)
        row.addWidget(self.dry_run_label, 1)
        layout.addLayout(row)
        self.dry_run_advice = AdviceView(in_wizard=True)  # why the preview could not run, and where to fix it
        self.dry_run_advice.open_requested.connect(wizard.go_to)
        layout.addWidget(self.dry_run_advice)
        self.dry_run_table: QTableWidget = read_only_table(["Records", *[OUTCOME_NAMES[o] for o in OUTCOMES]])
        stretch_columns(self.dry_run_table)
        self.dry_run_table.setMinimumHeight(120)  # the header and three kinds of record
        self.dry_run_table.setMaximumHeight(200)
        layout.addWidget(self.dry_run_table, 1)
        self.posting_preview = PostingPreviewView()  # what would go into the books, when posting is on
        self.posting_preview.setVisible(False)
        self.posting_preview.setMaximumHeight(240)
        layout.addWidget(self.posting_preview, 1)
        self._pending: tuple[Settings, MemorySecretStore] | None = None
        self.dry_run_thread: SyncThread | None = None
        self.dry_run_summary: RunSummary | None = None
        self.dry_run_failures: list[Any] = []

    def initializePage(self) -> None:
        self._pending = self._wizard.pending()
        self.editor.creates_taxes = "tax_rates" in self._pending[0].sync.entities
        self.editor.load()

    def _service(self) -> Any:
        """Runs in a worker thread, on the settings captured when the page opened."""
        assert self._pending is not None
        settings, secrets = self._pending
        return MappingService(settings, secrets, self._wizard.state_store())

    def _unsaved_mappings(self, when: str) -> bool:
        """True (and said on the page) while choices wait for Save: the preview and sync use saved ones."""
        if not self.editor.pending_count:
            return False
        self.dry_run_label.setText(
            f"Press Save changes (or Undo changes) above {when}: the sync uses only saved mappings."
        )
        self.dry_run_label.setStyleSheet("color: #b71c1c;")
        return True

    def validatePage(self) -> bool:
        return not self._unsaved_mappings("before you finish")

    def start_dry_run(self) -> None:
        if self.dry_run_thread is not None or self._unsaved_mappings("before the preview"):
            return
        self.dry_run_label.setStyleSheet("")
        settings, secrets = self._wizard.pending()
        self.dry_run_failures = []
        self.posting_preview.setVisible(False)
        thread = SyncThread(
            run_sync,
            settings=settings,
            secrets=secrets,
            paths=self._wizard.paths,
            dry_run=True,
            prepare=self._wizard.state_store,  # open (and migrate) the state file once, before the engine
            parent=self,
        )
        thread.signals.progress.connect(self._on_progress)
        thread.signals.failures.connect(self._on_failures)
        thread.signals.posting_previewed.connect(self._on_posting_previewed)
        thread.signals.done.connect(self._on_done)
        self.dry_run_thread = thread
        self.dry_run_button.setEnabled(False)
        self.dry_run_advice.clear()
        self.dry_run_label.setText("Reading the books and Halo to plan the first sync…")
        thread.start()

    @Slot(object)
    def _on_progress(self, snapshot: ProgressSnapshot) -> None:
        if snapshot.entity:
            self.dry_run_label.setText(f"Planning {entity_name(snapshot.entity).lower()}: {snapshot.done:,}…")

    @Slot(object)
    def _on_posting_previewed(self, preview: PostingPreview) -> None:
        self.posting_preview.show_preview(preview)
        self.posting_preview.setVisible(True)

    @Slot(object)
    def _on_failures(self, failures: list[Any]) -> None:
        self.dry_run_failures.extend(failures)

    @Slot(object)
    def _on_done(self, summary: RunSummary | None) -> None:
        thread, self.dry_run_thread = self.dry_run_thread, None
        if thread is not None:
            thread.wait()
            thread.deleteLater()
        self.dry_run_button.setEnabled(True)
        self.dry_run_summary = summary
        if summary is None:
            self.dry_run_label.setText("The preview stopped unexpectedly; the details are in the log.")
            return
        if summary.status == "failed":
            self.dry_run_label.setText("The preview could not run.")
            self.dry_run_label.setStyleSheet("color: #b71c1c;")
            self.dry_run_advice.show_text(summary.error, tone="error")
            return
        created, updated = summary.total("created"), summary.total("updated")
        failed = summary.total("failed")
        text = f"The first sync would create {created:,} and update {updated:,} record(s) in Halo."
        if failed:
            first = self.dry_run_failures[0] if self.dry_run_failures else None
            text += f" {failed:,} record(s) would fail"
            text += f", e.g. {first.key}: {first.message} {first.action}" if first else ""
            text = in_wizard_words(text)
        self.dry_run_label.setText(text)
        self.dry_run_label.setStyleSheet("color: #e65100;" if failed else "color: #1b5e20;")
        self.dry_run_table.setRowCount(len(summary.counts))
        for row, (entity, per) in enumerate(in_entity_order(summary.counts)):
            self.dry_run_table.setItem(row, 0, cell(entity_name(entity)))
            for column, outcome in enumerate(OUTCOMES, start=1):
                count = cell(f"{per.get(outcome, 0):,}")
                count.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
                self.dry_run_table.setItem(row, column, count)

    def cleanupPage(self) -> None:
        if self.dry_run_thread is not None:
            self.dry_run_thread.cancel()

    def stop_dry_run(self, timeout_ms: int) -> None:
        """Cancel a running preview and wait for it (the app is quitting: its thread must not outlive it)."""
        thread = self.dry_run_thread
        if thread is not None:
            thread.cancel()
            thread.wait(timeout_ms)


class SetupWizard(QWizard):
    """``choice`` is "configured" after Finish saved a working configuration, "demo" for Try the demo."""

    def __init__(self, paths: AppPaths, config_path: Any, settings: Settings | None = None) -> None:
        super().__init__()
        self.setWindowTitle("Set up LedgerBridge")
        self.setWindowIcon(app_icon())
        self.setWizardStyle(QWizard.WizardStyle.ModernStyle)
        self.setOption(QWizard.WizardOption.NoBackButtonOnStartPage, True)
        self.paths = paths
        self.config_path = config_path
        self.settings = copy.deepcopy(settings) if settings is not None else Settings()
        self.tasks = TaskRunner(self)
        self.choice = ""
        self.saved_settings: Settings | None = None
        self._state: Any = None
        self._state_lock = threading.Lock()
        self._saving = False
        self.intro_page = IntroPage(self)
        self.halo_page = HaloPage(self)
        self.source_page = SourcePage(self)
        self.sync_page = SyncPage(self)
        self.mappings_page = MappingsPage(self)
        for page_id, page in enumerate(
            (self.intro_page, self.halo_page, self.source_page, self.sync_page, self.mappings_page)
        ):
            self.setPage(page_id, page)
        self.halo_page.form.load(self.settings, None)
        self.source_page.form.load(self.settings, None)
        self.finished.connect(self._close_state)
        fit_to_screen(self, QSize(1000, 720))

    # --- what the pages share ----------------------------------------------------------------------------

    def pending(self) -> tuple[Settings, MemorySecretStore]:
        """The settings as typed so far, with the typed secrets in memory only (checks, preview)."""
        return settings_with_secrets(
            self.settings, self.halo_page.form, self.source_page.form, self.sync_page.form
        )

    def state_store(self) -> Any:
        """This configuration's state store (mappings are saved there); opened in a worker thread."""
        with self._state_lock:
            if self._state is None:
                self._state = open_state(self.paths)
            return self._state

    def stop_background_work(self, timeout_ms: int) -> None:
        """On quit: stop the preview (after its current step) and close the state store."""
        self.mappings_page.stop_dry_run(timeout_ms)
        self._close_state()

    def _close_state(self, *_: object) -> None:
        with self._state_lock:
            if self._state is not None:
                self._state.close()
                self._state = None

    @Slot(object)
    def go_to(self, place: Place) -> None:
        """Advice named a place: go back to the wizard page that has it, and put the cursor in the field."""
        pages = {"halo": PAGE_HALO, "app": PAGE_HALO, "source": PAGE_SOURCE, "sync": PAGE_SYNC}
        target = pages.get(place.section)
        if target is None:
            return
        while self.currentId() > target:
            self.back()
        form = {PAGE_HALO: self.halo_page.form, PAGE_SOURCE: self.source_page.form}.get(target)
        if form is not None:
            form.focus_field(place)

    def choose_demo(self) -> None:
        self.choice = "demo"
        self.done(QWizard.DialogCode.Accepted)

    # --- finishing ------------------------------------------------------------------------------------------

    def accept(self) -> None:
        """Validate, store the secrets in the keyring, write the settings file (off-thread), close."""
        if self.choice == "demo":
            super().accept()
            return
        if self._saving:
            return
        settings, typed = self.pending()
        try:
            settings.validate()
        except ConfigError as error:
            self._show_save_error(error)
            return
        self._saving = True
        self.button(QWizard.WizardButton.FinishButton).setEnabled(False)
        secrets = KeyringSecretStore(allow_plaintext=settings.app.allow_plaintext_secrets)
        config_path = self.config_path

        def save() -> Settings:
            for name in (HALO_CLIENT_SECRET, SOURCE_PASSWORD):
                value = typed.get(name)
                if value:
                    secrets.set(name, value)
            settings.save(config_path)
            return settings

        self.tasks.submit(save, self._saved, self._save_failed)

    def _saved(self, settings: Settings) -> None:
        self._saving = False
        self.saved_settings = settings
        self.choice = "configured"
        log.info("Set-up finished; settings saved to %s.", self.config_path)
        super().accept()

    def _save_failed(self, error: BaseException) -> None:
        self._saving = False
        self.button(QWizard.WizardButton.FinishButton).setEnabled(True)
        self._show_save_error(error)

    def _show_save_error(self, error: BaseException) -> None:
        self.mappings_page.dry_run_label.setText("")
        self.mappings_page.dry_run_advice.show_error(error, prefix="Could not save: ")

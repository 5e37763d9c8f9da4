"""Mappings tab: the same editor as the wizard's page, on the running configuration.

It loads both sides the first time it is shown (reading Halo and the books costs a little, so not at
start-up); *Load from both sides* reads them again.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtGui import QShowEvent
from PySide6.QtWidgets import QLabel, QVBoxLayout, QWidget

from gui.controller import SyncController
from gui.mapping_editor import MappingEditor
from sync.mappings import MappingService


class MappingsPage(QWidget):
    def __init__(self, controller: SyncController, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.controller = controller
        layout = QVBoxLayout(self)
        note = QLabel(
            "Choose which Halo client each customer in the books is, and which Halo tax each tax code is. "
            "Nothing is matched on a near name without your say-so."
        )
        note.setWordWrap(True)
        layout.addWidget(note)
        self.editor = MappingEditor(controller.tasks, self._service)
        layout.addWidget(self.editor, 1)
        self._shown_once = False

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        if not self._shown_once:
            self._shown_once = True
            if self.editor.snapshot is None:
                self.editor.load()

    def _service(self) -> Any:
        """Runs in a worker thread: a MappingService on the app's settings and state store."""
        context = self.controller.context
        self.editor.creates_taxes = "tax_rates" in context.settings.sync.entities
        return MappingService(context.settings, context.secrets, self.controller.state_store())

"""The Halo -> books half of *What to sync*: which way each entity flows, and the posting rule.

Why its own module: the books -> Halo choices are one checkbox per entity, but posting into the books is a
rule (from a start date, approved only, which top levels, which number) and depends on what the chosen
package can take. Keeping it here leaves gui/forms.py to the plain settings sections. The form only reads
and writes ``Settings.posting``; what a package supports comes from ``sync.runner.posting_route``.
"""

from __future__ import annotations

from datetime import date

from PySide6.QtCore import QDate, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QFormLayout,
    QGridLayout,
    QGroupBox,
    QLabel,
    QLineEdit,
    QWidget,
)

from gui.widgets.inputs import ScrollSafeComboBox, ScrollSafeDateEdit
from sync.runner import posting_route
from sync.settings import ALL_ENTITIES, DEFAULT_ENTITIES, Settings

NUMBER_CHOICES = (("halo", "Halo's invoice number"), ("books", "The books' next number"))
# Halo -> books per entity: invoices are posted; customers and items ride with them, created in the books
# only when a posted invoice needs one the books lack (else that invoice waits as a problem).
TO_BOOKS_LABELS = {
    "invoices": "Post Halo's invoices",
    "customers": "Create when a posted invoice needs one",
    "items": "Create when a posted invoice needs one",
}


def parse_toplevels(text: str) -> list[int] | None:
    """'3, 7' -> [3, 7]; '' -> [] (all top levels); None when the text is not a list of whole numbers."""
    parts = [part.strip() for part in text.replace(";", ",").split(",") if part.strip()]
    if not all(part.isdigit() for part in parts):
        return None
    return sorted({int(part) for part in parts})


class DirectionGrid(QWidget):
    """One row per entity, one column per direction: books -> Halo and Halo -> books.

    Halo -> books is offered for invoices (posting them) and, riding with them, for the customers and items
    a posted invoice needs; tax rates and suppliers only flow to Halo. A package that cannot take invoices
    greys the column out and says why.
    """

    changed = Signal()

    def __init__(self, labels: dict[str, str], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        grid = QGridLayout(self)
        grid.setContentsMargins(0, 0, 0, 0)
        grid.addWidget(_bold("What"), 0, 0)
        grid.addWidget(_bold("Books to Halo"), 0, 1)
        grid.addWidget(_bold("Halo to the books"), 0, 2)
        self.to_halo: dict[str, QCheckBox] = {}
        self.to_books: dict[str, QCheckBox] = {}
        for row, entity in enumerate(ALL_ENTITIES, start=1):
            grid.addWidget(QLabel(labels[entity]), row, 0)
            box = QCheckBox("Send")
            box.setChecked(entity in DEFAULT_ENTITIES)
            box.toggled.connect(self._notify_changed)
            self.to_halo[entity] = box
            grid.addWidget(box, row, 1)
            text = TO_BOOKS_LABELS.get(entity)
            if text is None:
                grid.addWidget(QLabel("Not offered"), row, 2)
                continue
            books_box = QCheckBox(text)
            books_box.toggled.connect(self._refresh)
            books_box.toggled.connect(self._notify_changed)
            self.to_books[entity] = books_box
            grid.addWidget(books_box, row, 2)
        self.route_note = QLabel("")
        self.route_note.setWordWrap(True)
        self.route_note.setVisible(False)
        grid.addWidget(self.route_note, len(ALL_ENTITIES) + 1, 0, 1, 3)
        grid.setColumnStretch(2, 1)
        self._supported = True
        self._refresh()

    def _notify_changed(self, *_: object) -> None:
        self.changed.emit()

    def _refresh(self, *_: object) -> None:
        posting = self.posting_on
        self.to_books["invoices"].setEnabled(self._supported)
        for entity in ("customers", "items"):
            self.to_books[entity].setEnabled(posting)

    def set_source_kind(self, kind: str) -> None:
        """Offer posting only where the chosen package can take invoices; say why not otherwise."""
        reason = posting_route(kind)
        self._supported = not reason
        self.route_note.setText(reason)
        self.route_note.setVisible(bool(reason))
        self._refresh()
        self.changed.emit()

    @property
    def posting_on(self) -> bool:
        return self._supported and self.to_books["invoices"].isChecked()

    def load(self, settings: Settings) -> None:
        for entity, box in self.to_halo.items():
            box.setChecked(entity in settings.sync.entities)
        posting = settings.posting
        self.to_books["invoices"].setChecked(posting.enabled)
        self.to_books["customers"].setChecked(posting.missing_customers == "create")
        self.to_books["items"].setChecked(posting.missing_items == "create")
        self._refresh()

    def apply_to(self, settings: Settings) -> None:
        settings.sync.entities = [e for e in ALL_ENTITIES if self.to_halo[e].isChecked()]
        posting = settings.posting
        posting.enabled = self.posting_on
        posting.missing_customers = "create" if self.to_books["customers"].isChecked() else "report"
        posting.missing_items = "create" if self.to_books["items"].isChecked() else "report"

    def is_complete(self) -> bool:
        """Something flows one way or the other."""
        return self.posting_on or any(box.isChecked() for box in self.to_halo.values())


class PostingRuleForm(QGroupBox):
    """Which Halo invoices are posted into the books, and the number they carry there."""

    changed = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("Posting Halo's invoices to the books", parent)
        form = QFormLayout(self)
        self.start_date = ScrollSafeDateEdit()
        self.start_date.setCalendarPopup(True)
        self.start_date.setDisplayFormat("d MMM yyyy")
        self.credit_notes = QCheckBox("Credit notes too")
        self.only_approved = QCheckBox("Only invoices that are approved (when Halo asks for approval)")
        self.toplevels = QLineEdit()
        self.toplevels.setPlaceholderText("All top levels (or Halo ids, e.g. 3, 7)")
        self.toplevels_note = QLabel("")
        self.number_from = ScrollSafeComboBox()
        for value, label in NUMBER_CHOICES:
            self.number_from.addItem(label, value)
        self.mark_posted = QCheckBox("Mark each invoice posted in Halo, with the books' number")
        self.income_account = QLineEdit()
        self.income_account.setPlaceholderText("e.g. Sales (QuickBooks account) or 4000 (Sage nominal code)")
        self.income_account.setToolTip(
            "Items created in the books sell to this account unless Halo gives the item a nominal code."
        )
        form.addRow("Invoices dated from:", self.start_date)
        form.addRow("", self.credit_notes)
        form.addRow("", self.only_approved)
        form.addRow("Top levels:", self.toplevels)
        form.addRow("", self.toplevels_note)
        form.addRow("Number in the books:", self.number_from)
        form.addRow("", self.mark_posted)
        form.addRow("Income account for new items:", self.income_account)
        form.setRowVisible(self.toplevels_note, False)
        self._form = form
        self.toplevels.textChanged.connect(self._check_toplevels)
        for box in (self.credit_notes, self.only_approved, self.mark_posted):
            box.toggled.connect(self._notify_changed)
        self.number_from.currentIndexChanged.connect(self._notify_changed)
        self.start_date.dateChanged.connect(self._notify_changed)
        self.income_account.textChanged.connect(self._notify_changed)

    def _notify_changed(self, *_: object) -> None:
        self.changed.emit()

    def _check_toplevels(self, text: str) -> None:
        bad = parse_toplevels(text) is None
        self.toplevels_note.setText("Write Halo top-level ids separated by commas." if bad else "")
        self._form.setRowVisible(self.toplevels_note, bad)
        self.changed.emit()

    def load(self, settings: Settings) -> None:
        posting = settings.posting
        start = _parse_date(posting.start_date) or date.today().replace(day=1)
        self.start_date.setDate(QDate(start.year, start.month, start.day))
        self.credit_notes.setChecked(posting.credit_notes)
        self.only_approved.setChecked(posting.only_approved)
        self.toplevels.setText(", ".join(str(n) for n in posting.toplevel_ids))
        _select(self.number_from, posting.number_from)
        self.mark_posted.setChecked(posting.mark_posted_in_halo)
        self.income_account.setText(posting.income_account)

    def apply_to(self, settings: Settings) -> None:
        posting = settings.posting
        posting.start_date = self.start_date.date().toString("yyyy-MM-dd")
        posting.credit_notes = self.credit_notes.isChecked()
        posting.only_approved = self.only_approved.isChecked()
        toplevels = parse_toplevels(self.toplevels.text())
        if toplevels is not None:
            posting.toplevel_ids = toplevels
        posting.number_from = str(self.number_from.currentData())
        posting.mark_posted_in_halo = self.mark_posted.isChecked()
        posting.income_account = self.income_account.text().strip()

    def is_complete(self) -> bool:
        return parse_toplevels(self.toplevels.text()) is not None


def _bold(text: str) -> QLabel:
    label = QLabel(f"<b>{text}</b>")
    return label


def _parse_date(text: str) -> date | None:
    try:
        return date.fromisoformat(text) if text else None
    except ValueError:
        return None


def _select(combo: ScrollSafeComboBox, value: str) -> None:
    index = combo.findData(value)
    combo.setCurrentIndex(max(index, 0))

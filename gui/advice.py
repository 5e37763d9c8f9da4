"""What to do, where the user is: the advice, a button to the right page, the raw error behind *Details*.

Why: advice such as "Re-enter them in Settings > Halo" leads nowhere when it is read inside the set-up wizard
(which has no Settings tab), and a technical detail (``HTTPSConnectionPool(...)``, a 401 JSON body) is not a
message a person can act on. The engine and connectors write their advice in one vocabulary ("Settings >
Halo > CA bundle", "Mappings > Tax codes"); this module finds those places, words them for the wizard, and
shows the raw detail only on request.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QFontDatabase
from PySide6.QtWidgets import QHBoxLayout, QLabel, QPlainTextEdit, QPushButton, QVBoxLayout, QWidget

from core.errors import LedgerBridgeError

# The Settings tab's sub-tabs, as the advice names them, and the fields the advice may name after them.
SETTINGS_SECTIONS = {"Halo": "halo", "Accounting package": "source", "Sync": "sync", "Advanced": "app"}
SECTION_TITLES = {section: title for title, section in SETTINGS_SECTIONS.items()}
SECTION_FIELDS = {
    "halo": {
        "Resource server": "resource_server",
        "Authorisation server": "auth_server",
        "Tenant": "tenant",
        "Client ID": "client_id",
        "Client secret": "client_secret",
        "Proxy": "proxy",
        "CA bundle": "ca_bundle",
    },
    "source": {
        "Queries": "queries",
        "Column map": "columns",
        "Connection string": "connection_string",
        "User name": "username",
        "Password": "password",
    },
}
# Where each place is in the set-up wizard.
WIZARD_PAGES = {
    "halo": "the Halo page",
    "source": "the Accounting package page",
    "sync": "the What to sync page",
    "app": "the Halo page (the plain-text choice under the keyring message)",
    "mappings": "the Mappings table on this page",
}
_SECTION = re.compile(r"Settings\s*>\s*(Halo|Accounting package|Sync|Advanced)((?:\s*>\s*[A-Z][A-Za-z ]+)?)")
_MAPPINGS = re.compile(r"Mappings\s*>\s*(Tax codes|Customers)")
UNEXPECTED = "LedgerBridge hit an unexpected problem."
UNEXPECTED_ACTION = "Try again; if it happens again, send the log (Log tab) to your IT support."


@dataclass(frozen=True)
class Place:
    """Where advice sends the user: a Settings section (and field), or the Mappings page."""

    section: str  # "halo", "source", "sync", "app" or "mappings"
    field: str = ""

    def button_text(self, in_wizard: bool) -> str:
        if in_wizard:
            return f"Go to {WIZARD_PAGES[self.section].removeprefix('the ')}"
        if self.section == "mappings":
            return "Open Mappings"
        return f"Open Settings > {SECTION_TITLES[self.section]}"


def find_place(text: str) -> Place | None:
    """The first place ``text`` sends the user to, if it names one."""
    match = _SECTION.search(text)
    if match is not None:
        section = SETTINGS_SECTIONS[match.group(1)]
        rest = match.group(2)
        for label, name in SECTION_FIELDS.get(section, {}).items():
            if re.match(rf"\s*>\s*{re.escape(label)}\b", rest):
                return Place(section, name)
        return Place(section)
    if _MAPPINGS.search(text):
        return Place("mappings")
    return None


def in_wizard_words(text: str) -> str:
    """The same advice for someone in the set-up wizard: its pages, not the Settings tab it does not have."""

    def section(match: re.Match[str]) -> str:
        place = SETTINGS_SECTIONS[match.group(1)]
        where, rest = WIZARD_PAGES[place], match.group(2)
        for label in SECTION_FIELDS.get(place, {}):
            named = re.match(rf"\s*>\s*{re.escape(label)}\b", rest)
            if named is not None:
                return f"the {label} field on {where}{rest[named.end() :]}"
        return f"{where}{rest}"

    text = _SECTION.sub(section, text)
    text = _MAPPINGS.sub(lambda m: f"the {m.group(1)} table on the Mappings page", text)
    for page in set(WIZARD_PAGES.values()):  # "in Settings > Halo" reads "on the Halo page"
        text = text.replace(f"in {page}", f"on {page}")
    return text


def error_parts(error: BaseException) -> tuple[str, str, str]:
    """(message, what to do, technical detail) of any error; an unexpected one never shows its raw text."""
    if isinstance(error, LedgerBridgeError):
        return error.message, error.action, error.detail
    return UNEXPECTED, UNEXPECTED_ACTION, f"{type(error).__name__}: {error}"


def describe_error(error: BaseException) -> str:
    """One paragraph for the user: what is wrong and what to do (never the technical detail)."""
    message, action, _detail = error_parts(error)
    return f"{message} {action}".strip()


TONES = {"error": "#b71c1c", "warning": "#e65100", "ok": "#1b5e20", "info": ""}


class AdviceView(QWidget):
    """A message and what to do; an *Open …* button when the advice names a place; *Details* if any."""

    open_requested = Signal(object)  # Place

    def __init__(self, parent: QWidget | None = None, *, in_wizard: bool = False) -> None:
        super().__init__(parent)
        self.in_wizard = in_wizard
        self.place: Place | None = None
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        self.label = QLabel("")
        self.label.setWordWrap(True)
        self.label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        layout.addWidget(self.label)
        row = QHBoxLayout()
        self.open_button = QPushButton("")
        self.open_button.setVisible(False)
        self.open_button.clicked.connect(self._open)
        self.details_button = QPushButton("Details")
        self.details_button.setCheckable(True)
        self.details_button.setVisible(False)
        self.details_button.toggled.connect(self._toggle_details)
        row.addWidget(self.open_button)
        row.addWidget(self.details_button)
        row.addStretch(1)
        layout.addLayout(row)
        self.details = QPlainTextEdit()
        self.details.setReadOnly(True)
        self.details.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        self.details.setMaximumHeight(90)
        self.details.setVisible(False)
        layout.addWidget(self.details)
        self.setVisible(False)

    def text(self) -> str:
        return self.label.text()

    def clear(self) -> None:
        self.show_text("")

    def show_text(self, message: str, action: str = "", detail: str = "", tone: str = "info") -> None:
        """Show ``message`` and ``action`` (in the wizard's words there); ``detail`` only behind *Details*."""
        text = " ".join(part for part in (message.strip(), action.strip()) if part)
        if self.in_wizard:
            text = in_wizard_words(text)
        self.label.setText(text)
        self.label.setStyleSheet(f"color: {TONES[tone]};" if TONES.get(tone) else "")
        self.place = find_place(f"{message} {action}") if tone in ("error", "warning") else None
        if self.in_wizard and self.place is not None and self.place.section == "mappings":
            self.place = None  # the wizard's mappings are on the page the user is on
        self.open_button.setVisible(self.place is not None)
        if self.place is not None:
            self.open_button.setText(self.place.button_text(self.in_wizard))
        self.details.setPlainText(detail)
        self.details_button.setVisible(bool(detail))
        self.details_button.setChecked(False)
        self.details.setVisible(False)
        self.setVisible(bool(text))

    def show_error(self, error: BaseException, prefix: str = "") -> None:
        message, action, detail = error_parts(error)
        self.show_text(f"{prefix}{message}", action, detail, tone="error")

    def _toggle_details(self, shown: bool) -> None:
        self.details.setVisible(shown)

    def _open(self) -> None:
        if self.place is not None:
            self.open_requested.emit(self.place)

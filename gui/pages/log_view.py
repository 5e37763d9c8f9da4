"""Log: the app's log as it is written, in lines for people, with the raw log one click away.

Why: when something goes wrong the technician reads the log first, and the bookkeeper glances at it too. The
view shows each record as "time  level  message" (no logger or thread names; a traceback is left to the raw
log), can be narrowed to warnings and errors or searched, and shows the raw lines (as written to the file,
already scrubbed of secrets) with one tick; *Open log file* and *Open log folder* hand the file over.
Lines arrive through a logging handler that only emits a queued signal, so any thread may log.
"""

from __future__ import annotations

import contextlib
import logging
from collections import deque
from datetime import date
from pathlib import Path

from PySide6.QtCore import QObject, QUrl, Signal, Slot
from PySide6.QtGui import QDesktopServices, QFont
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from core.scrub import SecretScrubber
from gui.worker import TaskRunner
from sync.logs import LOG_FORMAT, LogLine, log_line, parse_log

MAX_LINES = 5000
TAIL_BYTES = 256 * 1024
LEVEL_CHOICES = (
    ("Everything", logging.DEBUG),
    ("Warnings and errors", logging.WARNING),
    ("Errors only", logging.ERROR),
)


class _LineSignal(QObject):
    line = Signal(object)  # LogLine


class QtLogHandler(logging.Handler):
    """A logging handler that hands each scrubbed record to the GUI thread through a signal."""

    def __init__(self, level: int = logging.INFO) -> None:
        super().__init__(level)
        self.bridge = _LineSignal()
        self.setFormatter(logging.Formatter(LOG_FORMAT))
        self.addFilter(SecretScrubber())

    def emit(self, record: logging.LogRecord) -> None:
        # RuntimeError: the view was destroyed while a worker thread was still logging.
        with contextlib.suppress(RuntimeError):
            self.bridge.line.emit(log_line(self.format(record)))


def read_tail(path: Path, limit: int = TAIL_BYTES) -> list[str]:
    """The last lines of the log file (for the view's first paint); empty when there is no file yet."""
    if not path.exists():
        return []
    with path.open("rb") as handle:
        size = handle.seek(0, 2)
        handle.seek(max(0, size - limit))
        data = handle.read().decode("utf-8", errors="replace")
    lines = data.splitlines()
    return lines[1:] if size > limit else lines  # the first line may be cut in half


class LogPage(QWidget):
    def __init__(self, log_file: Path, tasks: TaskRunner, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.log_file = log_file
        self.lines: deque[LogLine] = deque(maxlen=MAX_LINES)
        self._today = date.today().isoformat()  # lines of other days show their date
        layout = QVBoxLayout(self)
        top = QHBoxLayout()
        self.path_label = QLabel(f"Log file: {log_file}")
        self.path_label.setWordWrap(True)
        open_file_button = QPushButton("Open log file")
        open_file_button.setToolTip("The raw log, as support reads it, in your text editor.")
        open_file_button.clicked.connect(self.open_file)
        open_button = QPushButton("Open log folder")
        open_button.clicked.connect(self.open_folder)
        top.addWidget(self.path_label, 1)
        top.addWidget(open_file_button)
        top.addWidget(open_button)
        layout.addLayout(top)

        filters = QHBoxLayout()
        self.search_edit = QLineEdit()
        self.search_edit.setPlaceholderText("Search the log…")
        self.search_edit.setClearButtonEnabled(True)
        self.level_combo = QComboBox()
        for label, level in LEVEL_CHOICES:
            self.level_combo.addItem(label, level)
        self.raw_check = QCheckBox("Raw lines (as written to the file)")
        filters.addWidget(self.search_edit, 1)
        filters.addWidget(self.level_combo)
        filters.addWidget(self.raw_check)
        layout.addLayout(filters)

        self.view = QPlainTextEdit()
        self.view.setReadOnly(True)
        self.view.setMaximumBlockCount(MAX_LINES * 4)  # raw records may span several lines
        self.view.setFont(QFont("monospace"))
        self.view.setLineWrapMode(QPlainTextEdit.LineWrapMode.WidgetWidth)
        layout.addWidget(self.view, 1)
        self.search_edit.textChanged.connect(self.render)
        self.level_combo.currentIndexChanged.connect(self.render)
        self.raw_check.toggled.connect(self.render)

        self.handler = QtLogHandler()
        self.handler.bridge.line.connect(self.append_line)
        logging.getLogger().addHandler(self.handler)
        tasks.submit(lambda: parse_log(read_tail(log_file)), self._show_tail)
        handler = self.handler
        self.destroyed.connect(lambda *_: logging.getLogger().removeHandler(handler))

    def detach(self) -> None:
        """Stop receiving log lines (called when the window goes away)."""
        logging.getLogger().removeHandler(self.handler)

    def _show_tail(self, lines: list[LogLine]) -> None:
        if lines:
            live = list(self.lines)  # lines logged while the file was being read come after it
            self.lines.clear()
            self.lines.extend(lines)
            self.lines.extend(live)
            self.render()

    def shown_text(self, line: LogLine) -> str | None:
        """The line as the current filters show it, or None when they hide it."""
        if line.level_number < int(self.level_combo.currentData()):
            return None
        text = line.raw if self.raw_check.isChecked() else line.for_people(today=self._today)
        needle = self.search_edit.text().strip().casefold()
        if needle and needle not in line.raw.casefold():
            return None
        return text

    @Slot()
    def render(self, *_: object) -> None:
        self._today = date.today().isoformat()
        raw = self.raw_check.isChecked()
        self.view.setLineWrapMode(
            QPlainTextEdit.LineWrapMode.NoWrap if raw else QPlainTextEdit.LineWrapMode.WidgetWidth
        )
        shown = [text for line in self.lines if (text := self.shown_text(line)) is not None]
        self.view.setPlainText("\n".join(shown))
        self.view.verticalScrollBar().setValue(self.view.verticalScrollBar().maximum())

    @Slot(object)
    def append_line(self, line: LogLine) -> None:
        self.lines.append(line)
        text = self.shown_text(line)
        if text is not None:
            self.view.appendPlainText(text)

    def open_folder(self) -> bool:
        folder = self.log_file.parent
        folder.mkdir(parents=True, exist_ok=True)
        return QDesktopServices.openUrl(QUrl.fromLocalFile(str(folder)))

    def open_file(self) -> bool:
        return self.log_file.exists() and QDesktopServices.openUrl(QUrl.fromLocalFile(str(self.log_file)))

"""Log: the app's log lines as they are written (already scrubbed of secrets), and "Open log folder".

Why: when something goes wrong the technician reads the log first; a live view saves finding the folder.
Lines arrive through a logging handler that only emits a queued signal, so any thread may log.
"""

from __future__ import annotations

import contextlib
import logging
from collections import deque
from pathlib import Path

from PySide6.QtCore import QObject, QUrl, Signal, Slot
from PySide6.QtGui import QDesktopServices, QFont
from PySide6.QtWidgets import QHBoxLayout, QLabel, QPlainTextEdit, QPushButton, QVBoxLayout, QWidget

from gui.worker import TaskRunner
from sync.logs import LOG_FORMAT, SecretScrubber

MAX_LINES = 5000
TAIL_BYTES = 64 * 1024


class _LineSignal(QObject):
    line = Signal(str)


class QtLogHandler(logging.Handler):
    """A logging handler that hands each formatted, scrubbed line to the GUI thread through a signal."""

    def __init__(self, level: int = logging.INFO) -> None:
        super().__init__(level)
        self.bridge = _LineSignal()
        self.setFormatter(logging.Formatter(LOG_FORMAT))
        self.addFilter(SecretScrubber())

    def emit(self, record: logging.LogRecord) -> None:
        # RuntimeError: the view was destroyed while a worker thread was still logging.
        with contextlib.suppress(RuntimeError):
            self.bridge.line.emit(self.format(record))


def read_tail(path: Path, limit: int = TAIL_BYTES) -> list[str]:
    """The last lines of the log file (for the view's first paint); empty when there is no file yet."""
    if not path.exists():
        return []
    with path.open("rb") as handle:
        size = handle.seek(0, 2)
        handle.seek(max(0, size - limit))
        data = handle.read().decode("utf-8", errors="replace")
    lines = data.splitlines()
    return list(deque(lines[1:] if size > limit else lines, maxlen=MAX_LINES))


class LogPage(QWidget):
    def __init__(self, log_file: Path, tasks: TaskRunner, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.log_file = log_file
        layout = QVBoxLayout(self)
        top = QHBoxLayout()
        self.path_label = QLabel(f"Log file: {log_file}")
        self.path_label.setWordWrap(True)
        open_button = QPushButton("Open log folder")
        open_button.clicked.connect(self.open_folder)
        top.addWidget(self.path_label, 1)
        top.addWidget(open_button)
        layout.addLayout(top)
        self.view = QPlainTextEdit()
        self.view.setReadOnly(True)
        self.view.setMaximumBlockCount(MAX_LINES)
        self.view.setFont(QFont("monospace"))
        self.view.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
        layout.addWidget(self.view, 1)
        self.handler = QtLogHandler()
        self.handler.bridge.line.connect(self.append_line)
        logging.getLogger().addHandler(self.handler)
        tasks.submit(lambda: read_tail(log_file), self._show_tail)
        handler = self.handler
        self.destroyed.connect(lambda *_: logging.getLogger().removeHandler(handler))

    def detach(self) -> None:
        """Stop receiving log lines (called when the window goes away)."""
        logging.getLogger().removeHandler(self.handler)

    def _show_tail(self, lines: list[str]) -> None:
        if lines:
            existing = self.view.toPlainText()
            self.view.setPlainText("\n".join(lines))
            if existing:
                self.view.appendPlainText(existing)

    @Slot(str)
    def append_line(self, line: str) -> None:
        self.view.appendPlainText(line)

    def open_folder(self) -> bool:
        folder = self.log_file.parent
        folder.mkdir(parents=True, exist_ok=True)
        return QDesktopServices.openUrl(QUrl.fromLocalFile(str(folder)))

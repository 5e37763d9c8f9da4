"""Logging to a rotating UTF-8 file, with every secret scrubbed (core.scrub) before it is written.

Why: users send us their log file when something goes wrong; it must never hold the Halo client secret, a
bearer token or the accounting password, even inside a traceback of an error that quoted one.
"""

from __future__ import annotations

import contextlib
import io
import logging
import logging.handlers
import os
import re
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from core.scrub import SecretScrubber
from sync.paths import AppPaths, ensure_private_dir, make_private

LOG_FORMAT = "%(asctime)s %(levelname)-7s %(name)s [%(threadName)s] %(message)s"
# A line of that format: "2026-12-01 09:16:05,123 WARNING ledgerbridge.sync [lb-sync] Problem with ..."
_LINE = re.compile(
    r"^(?P<date>\d{4}-\d{2}-\d{2}) (?P<time>\d{2}:\d{2}:\d{2})(?:,\d+)? (?P<level>[A-Z]+)\s+"
    r"(?P<logger>\S+) \[(?P<thread>[^\]]*)\] (?P<message>.*)$"
)
LEVEL_WORDS = {"DEBUG": "Detail", "INFO": "Info", "WARNING": "Warning", "ERROR": "Error", "CRITICAL": "Error"}
LEVEL_NUMBERS = {"DEBUG": 10, "INFO": 20, "WARNING": 30, "ERROR": 40, "CRITICAL": 50}
MAX_BYTES = 2 * 1024 * 1024
BACKUP_COUNT = 5


@dataclass(frozen=True)
class LogLine:
    """One log record, both as support reads it (``raw``, the file's format) and as a person does."""

    date: str
    time: str
    level: str  # DEBUG, INFO, WARNING, ERROR, CRITICAL
    message: str  # the first line of the message
    raw: str  # the whole record as written to the file (with a traceback, if any)

    @property
    def level_number(self) -> int:
        return LEVEL_NUMBERS.get(self.level, logging.INFO)

    @property
    def has_details(self) -> bool:
        return "\n" in self.raw

    def for_people(self, today: str = "") -> str:
        """ "09:16:05  Warning  Problem with …": no logger or thread name; tracebacks stay in the raw log."""
        when = self.time if not self.date or self.date == today else f"{self.date} {self.time}"
        text = f"{when}  {LEVEL_WORDS.get(self.level, self.level.title()):<7}  {self.message}"
        return f"{text}  (details in the raw log)" if self.has_details else text


def log_line(raw: str) -> LogLine:
    """A formatted record (LOG_FORMAT) as a LogLine; text in another shape is kept whole as an Info line."""
    first, _, _rest = raw.partition("\n")
    match = _LINE.match(first)
    if match is None:
        return LogLine("", "", "INFO", first, raw)
    return LogLine(match["date"], match["time"], match["level"], match["message"], raw)


def parse_log(lines: Iterable[str]) -> list[LogLine]:
    """A log file's lines as records: a line that starts no record (a traceback) joins the one before."""
    records: list[list[str]] = []
    for line in lines:
        if _LINE.match(line) or not records:
            records.append([line])
        else:
            records[-1].append(line)
    return [log_line("\n".join(parts)) for parts in records]


_ATTACHED = "_ledgerbridge_handler"


class PrivateRotatingFileHandler(logging.handlers.RotatingFileHandler):
    """The rotating log file, created 0600 (POSIX), that never prints a traceback when it cannot write.

    Why: customer names end up in the log; other local users must not read it. And a full disk or a
    read-only log folder must not flood the console with "--- Logging error ---" tracebacks on every line:
    it is said once, and the sync carries on without its log.
    """

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self._complained = False

    def _open(self) -> io.TextIOWrapper:
        flags = (
            os.O_WRONLY | os.O_CREAT | os.O_APPEND | getattr(os, "O_BINARY", 0)
        )  # the text layer translates
        descriptor = os.open(self.baseFilename, flags, 0o600)
        make_private(Path(self.baseFilename))
        return os.fdopen(descriptor, "a", encoding=self.encoding, errors=self.errors)

    def handleError(self, record: logging.LogRecord) -> None:
        if self._complained:
            return
        self._complained = True
        error = sys.exc_info()[1]
        reason = getattr(error, "strerror", None) or type(error).__name__
        with contextlib.suppress(Exception):
            sys.stderr.write(
                f"LedgerBridge cannot write its log file {self.baseFilename} ({reason}); it carries on "
                "without it. Free some disk space or fix the folder's permissions.\n"
            )


def remove_handlers() -> None:
    """Detach and close the handlers ``setup_logging`` attached (before re-configuring; after a test)."""
    root = logging.getLogger()
    for handler in list(root.handlers):
        if getattr(handler, _ATTACHED, False):
            root.removeHandler(handler)
            handler.close()


def setup_logging(paths: AppPaths, *, console: bool = False, level: int = logging.INFO) -> Path:
    """Send the ``ledgerbridge`` (and root) log to a rotating file (5 x 2 MB); returns the file's path.

    Calling it again replaces the handlers it added before, so a test or a second run in the same process
    never writes each line twice.
    """
    ensure_private_dir(paths.log_dir)
    log_file = paths.log_file
    root = logging.getLogger()
    remove_handlers()
    formatter = logging.Formatter(LOG_FORMAT)
    file_handler = PrivateRotatingFileHandler(
        log_file, maxBytes=MAX_BYTES, backupCount=BACKUP_COUNT, encoding="utf-8", delay=True
    )
    handlers: list[logging.Handler] = [file_handler]
    if console:
        handlers.append(logging.StreamHandler(sys.stderr))
    for handler in handlers:
        handler.setFormatter(formatter)
        handler.addFilter(SecretScrubber())
        handler.setLevel(level)
        setattr(handler, _ATTACHED, True)
        root.addHandler(handler)
    root.setLevel(level)
    # urllib3 logs full URLs at DEBUG; keep it at INFO unless debugging was asked for explicitly.
    if level > logging.DEBUG:
        logging.getLogger("urllib3").setLevel(logging.INFO)
    return log_file

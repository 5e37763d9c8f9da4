"""The one secret scrubber: every text that may leave the process (log line, error, bundle) passes here.

Why one: the Halo client, the connectors and the log file each had their own copy, with different minimum
lengths and patterns, so a value one of them redacted could survive another. Here there is one registry of
secret values (filled as secrets are read from the keyring), one minimum length and one set of patterns for
credentials whose value was never registered (a bearer token, ``client_secret=``, ``PWD=``).
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Iterable

from core.errors import LedgerBridgeError

__all__ = ["MIN_SECRET_LENGTH", "REDACTED", "SecretScrubber", "register_secret", "scrub", "scrub_error"]

REDACTED = "***"
MIN_SECRET_LENGTH = 4  # shorter values would redact ordinary words; such a "secret" protects nothing anyway

# Fragments that carry credentials whatever their value (the value may never have been registered).
_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"(?i)(\bbearer\s+)[A-Za-z0-9\-._~+/=]+"), r"\1" + REDACTED),
    (re.compile(r"(?i)(\bauthorization['\"]?\s*[:=]\s*['\"]?)(?!bearer\b)[^\s'\",}]+"), r"\1" + REDACTED),
    (
        # A name glued on with "_" (HALO_CLIENT_SECRET=..., source_password: ...) carries a secret too.
        re.compile(
            r"(?i)((?<![A-Za-z0-9])(?:client_secret|access_token|refresh_token|password|pwd)\b['\"]?\s*[=:]\s*)"
            r"(\{[^}]*\}|'[^']*'|\"[^\"]*\"|[^;&\s,'\"}]+)"
        ),
        r"\1" + REDACTED,
    ),
)

_registered: set[str] = set()
_registered_lock = threading.Lock()


def register_secret(value: str | None) -> None:
    """Make ``value`` redacted from every scrubbed text from now on (log filters need no restart)."""
    if value and len(value) >= MIN_SECRET_LENGTH:
        with _registered_lock:
            _registered.add(value)


def scrub(text: str, extra_secrets: Iterable[str] = ()) -> str:
    """``text`` with registered (and ``extra_secrets``) values and credential-shaped fragments as ***."""
    with _registered_lock:
        values = set(_registered)
    values.update(value for value in extra_secrets if value and len(value) >= MIN_SECRET_LENGTH)
    for secret in sorted(values, key=len, reverse=True):
        for _ in range(len(text) // len(secret) + 1):  # repeat: a secret of '*'s could re-form from ***
            if secret not in text:
                break
            text = text.replace(secret, REDACTED)
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return text


def scrub_error(error: LedgerBridgeError, extra_secrets: Iterable[str] = ()) -> LedgerBridgeError:
    """``error`` with message, action, detail and args scrubbed (servers and drivers echo what they got)."""
    secrets = tuple(extra_secrets)
    error.message = scrub(error.message, secrets)
    error.action = scrub(error.action, secrets)
    error.detail = scrub(error.detail, secrets)
    error.args = tuple(scrub(arg, secrets) if isinstance(arg, str) else arg for arg in error.args)
    return error


class SecretScrubber(logging.Filter):
    """Rewrites each record's message, arguments and traceback text before any handler formats it."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a bad format string must not lose the record (nor leak its arguments)
            message = str(record.msg)
        record.msg = scrub(message)
        record.args = None
        if record.exc_info and record.exc_info[0] is not None:
            # Format the traceback now, scrubbed; the handler then uses exc_text and not exc_info.
            record.exc_text = scrub(logging.Formatter().formatException(record.exc_info))
            record.exc_info = None
        elif record.exc_text:
            record.exc_text = scrub(record.exc_text)
        if record.stack_info:
            record.stack_info = scrub(record.stack_info)
        return True

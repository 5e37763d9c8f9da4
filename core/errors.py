"""One error hierarchy, grouped by what the caller does about it.

- ConfigError: stop the run; the user must fix a setting (wrong URL, no such DSN, unknown tenant).
- AuthError: stop the run; ask the user to reconnect (secret rejected, password wrong, permission missing).
- TransientError: back off and try again later (timeouts, 429, 5xx, a locked company file).
- RecordError: skip this record, report it, carry on with the rest.

Every message is written for the person who has to act on it and says what to do. Nothing here may carry a
secret: messages are built from settings and server answers, never from credentials.
"""

from __future__ import annotations


class LedgerBridgeError(Exception):
    """Base of every error the engine reports to a person."""

    def __init__(self, message: str, *, action: str = "", detail: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.action = action  # what the user should do, e.g. "Re-enter it in Settings > Halo."
        self.detail = detail  # technical detail for the log (status code, SQLSTATE, server text)

    def __str__(self) -> str:
        return f"{self.message} {self.action}".strip()


class ConfigError(LedgerBridgeError):
    """A setting is wrong or missing: stop and fix settings."""


class AuthError(LedgerBridgeError):
    """Credentials or permissions were refused: ask the user to reconnect."""


class TransientError(LedgerBridgeError):
    """Try again later; ``retry_after`` seconds when the server said so.

    ``maybe_written`` is True when a write may have reached the server before the failure (a timeout after
    the request was sent): the caller must reconcile before sending it again, never blind-retry a create.
    """

    def __init__(
        self,
        message: str,
        *,
        action: str = "",
        detail: str = "",
        retry_after: float | None = None,
        maybe_written: bool = False,
    ) -> None:
        super().__init__(message, action=action, detail=detail)
        self.retry_after = retry_after
        self.maybe_written = maybe_written


class RecordError(LedgerBridgeError):
    """This one record was refused: skip it, report it, carry on."""

    def __init__(self, message: str, *, action: str = "", detail: str = "", field: str = "") -> None:
        super().__init__(message, action=action, detail=detail)
        self.field = field


class CancelledError(LedgerBridgeError):
    """The user cancelled the run; everything confirmed so far is kept."""


def error_kind(error: BaseException) -> str:
    """The RunSummary.error_kind for an error that stopped a run (see sync.events.ErrorKind)."""
    if isinstance(error, ConfigError):
        return "config"
    if isinstance(error, AuthError):
        return "auth"
    if isinstance(error, LedgerBridgeError):
        return "transient"
    return "bug"

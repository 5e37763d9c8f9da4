"""The wire between the app and the helper: one JSON object per line, UTF-8, in each direction.

Request:  ``{"id": 7, "op": "post", "args": {...}}``
Reply:    ``{"id": 7, "ok": true, "result": ...}`` or
          ``{"id": 7, "ok": false, "error": {"kind": ..., "message": ..., "action": ..., "detail": ...,
          "maybe_written": false}}``

Why lines of JSON: both ends are Python and the pipe is private, so the simplest framing that survives a
crash half-way (a partial last line is simply not a reply) is the right one. Money travels as decimal text,
dates as ISO text, so nothing is rounded on the way.
"""

from __future__ import annotations

import json
from typing import Any, Final

OPS: Final = (
    "open",
    "find_posted",
    "post",
    "has_customer",
    "create_customer",
    "has_item",
    "create_item",
    "close",
)
# The requests that write to the books: when their fate is unknown the caller must look before retrying.
WRITES: Final = frozenset({"post", "create_customer", "create_item"})
# What the app does about an error (core.errors); "bug" is anything the helper did not expect.
KINDS: Final = ("record", "transient", "config", "auth", "bug")


class HelperError(Exception):
    """An error the helper reports to the app, already sorted by what the app should do about it."""

    def __init__(
        self,
        kind: str,
        message: str,
        *,
        action: str = "",
        detail: str = "",
        field: str = "",
        maybe_written: bool = False,
    ) -> None:
        super().__init__(message)
        if kind not in KINDS:
            raise ValueError(f"unknown error kind {kind!r}")
        self.kind = kind
        self.message = message
        self.action = action
        self.detail = detail
        self.field = field
        self.maybe_written = maybe_written

    def as_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "message": self.message,
            "action": self.action,
            "detail": self.detail,
            "field": self.field,
            "maybe_written": self.maybe_written,
        }


def encode(message: dict[str, Any]) -> bytes:
    """One line: ASCII-only JSON (no console code page can mangle it) and a newline."""
    return json.dumps(message, ensure_ascii=True, separators=(",", ":")).encode("ascii") + b"\n"


def decode(line: bytes) -> dict[str, Any]:
    """One received line as a JSON object; ValueError when it is not one."""
    value = json.loads(line.decode("utf-8"))
    if not isinstance(value, dict):
        raise ValueError("a message must be a JSON object")
    return value

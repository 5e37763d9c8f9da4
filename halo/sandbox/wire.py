"""The sandbox's JSON on the wire: request bodies read, and answers written, as the standard library would.

Why not just ``json``: a first sync sends ~11 MB of records through here and the sandbox's CPU is on the
sync's critical path (each request waits for its answer). msgspec reads the same values about twice as
fast, but it accepts only a subset of what ``json.loads`` accepts; whatever it refuses is read again by
``json.loads``, so what the sandbox accepts, what it makes of it, and its error message stay the stdlib's
(tests/test_sandbox_wire.py holds the two to that).
"""

from __future__ import annotations

import json
from typing import Any

import msgspec

_DECODER = msgspec.json.Decoder()


def decode_body(body: bytes) -> Any:
    """``json.loads(body.decode("utf-8"))``, its values and its errors, mostly by way of msgspec.

    msgspec refuses NaN and Infinity, numbers beyond a float's range (which ``json.loads`` makes infinite),
    lone surrogate escapes and very deep nesting, and agrees on everything else it takes; those few bodies
    take the stdlib's road, which also gives the error (UnicodeDecodeError or JSONDecodeError) of a bad one.
    """
    try:
        return _DECODER.decode(body)
    except (msgspec.DecodeError, RecursionError):
        return json.loads(body.decode("utf-8"))

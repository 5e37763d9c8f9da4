"""The sandbox's JSON on the wire: request bodies read, and answers written, as the standard library would.

Why not just ``json``: a first sync sends ~11 MB of records through here and gets ~14 MB back, and the
sandbox's CPU is on the sync's critical path (each request waits for its answer). msgspec reads the same
values about twice as fast and writes them about seven times as fast, but it accepts only a subset of what
``json.loads`` accepts, and writes NaN and infinities as null. So whatever it refuses is read again by
``json.loads`` (what the sandbox accepts, what it makes of it, and its error messages stay the stdlib's),
and it writes only *plain* values, whose JSON content is json.dumps' (tests/test_sandbox_wire.py holds
the two roads to that).
"""

from __future__ import annotations

import json
import math
from typing import Any

import msgspec

_DECODER = msgspec.json.Decoder()
_ENCODER = msgspec.json.Encoder()
_PLAIN_SCALARS = frozenset({str, int, bool, type(None)})


def decode_body(body: bytes | str) -> tuple[Any, bool]:
    """``json.loads`` of the body (bytes as UTF-8), its values and its errors; and whether they are plain.

    msgspec refuses NaN and Infinity, numbers beyond a float's range (which ``json.loads`` makes infinite),
    lone surrogate escapes and very deep nesting, and agrees on everything else it takes, which is plain by
    construction; those few bodies take the stdlib's road, which also gives the error (UnicodeDecodeError
    or JSONDecodeError) of a bad one.
    """
    try:
        return _DECODER.decode(body), True
    except (msgspec.DecodeError, RecursionError):
        value = json.loads(body.decode("utf-8") if isinstance(body, bytes) else body)
        return value, is_plain(value)


def encode_answer(payload: Any, plain: bool) -> bytes:
    """``json.dumps(payload, ensure_ascii=False)`` as UTF-8, or, for a ``plain`` payload, msgspec's bytes:
    the same JSON content (the same values, keys and order) without json.dumps' spaces."""
    if plain:
        return _ENCODER.encode(payload)
    return json.dumps(payload, ensure_ascii=False).encode("utf-8")


def is_plain(value: object) -> bool:
    """Whether ``value`` is made only of what msgspec writes with json.dumps' content: dicts with text keys,
    lists, text, whole numbers, booleans, nulls and finite floats (exact types, no subclasses)."""
    if type(value) in _PLAIN_SCALARS:
        return True
    if type(value) is float:
        return math.isfinite(value)
    if type(value) is list:
        return all(is_plain(item) for item in value)
    if type(value) is dict:
        return all(type(key) is str and is_plain(item) for key, item in value.items())
    return False

"""The sandbox's fast JSON road (halo/sandbox/wire.py) reads every body exactly as json.loads does: the same
values of the same types, and for a bad body the same exception with the same message."""

from __future__ import annotations

import json
import random

import pytest

from halo.sandbox.wire import decode_body

# Bodies at the edges of JSON, and of where msgspec and the stdlib part ways (each either way round).
EDGE_BODIES = [
    b"[]",
    b'[{"name": "Acme", "id": 1, "inactive": false, "x": null}]',
    b'{"a": 1, "b": 2, "a": 3}',  # a repeated key: the last value, at the first one's place
    b"-0",
    b"-0.0",
    b"0e0",
    b"-0e0",
    b"1e5",
    b"1E+5",
    b"1e-400",
    b"1.5e-400",
    b"4.9e-324",
    b"2.2250738585072011e-308",
    b"1.7976931348623157e308",
    b"1.7976931348623157e309",
    b"1E400",
    b"-1e400",
    b"NaN",
    b"-Infinity",
    b"[Infinity]",
    b"0.1",
    b"12.50",
    b"123456789.123456789e10",
    b"9223372036854775807",
    b"9223372036854775808",
    b"18446744073709551616",
    b"-9223372036854775809",
    b"123456789012345678901234567890",
    b'"\\u00e9\\u2028\\/\\"\\\\\\b\\f\\n\\r\\t"',
    b'"\\uD83D\\uDE00"',
    b'"\\ud800"',
    b'"\\udc00\\ud800"',
    b'"\\ud83d"x',
    b'"\\u0000"',
    b'"a\x7fb"',
    b'"a\x01b"',
    '"caf\u00e9 \U0001f600"'.encode(),
    b'"\xff"',
    b'"\xc0\x80"',
    b'"\xed\xa0\x80"',
    b'"\xf4\x90\x80\x80"',
    b"\xef\xbb\xbf[]",
    b"\t[\r\n1 ]\n",
    b" \x0c1",
    b"\xc2\xa01",
    b"",
    b"  ",
    b"\x00",
    b"[1,]",
    b'{"a":1,}',
    b"[1] x",
    b"01",
    b"1.e5",
    b".5",
    b"+1",
    b"0x10",
    b"-",
    b"tru",
    b"True",
    b"nulls",
    b"[null,true,false]",
    b'{"a": [1, {"b": [2.5, "c"]}]}',
    b'"\\x41"',
    b"[" * 100 + b"]" * 100,
    b"[" * 5000 + b"]" * 5000,
]


def _stdlib(body: bytes) -> tuple[str, object]:
    try:
        return ("value", json.loads(body.decode("utf-8")))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as error:
        return (type(error).__name__, str(error))


def _fast(body: bytes) -> tuple[str, object]:
    try:
        return ("value", decode_body(body))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as error:
        return (type(error).__name__, str(error))


def _typed(value: object) -> object:
    """The value with every scalar tagged by its exact type and repr (so 1 != 1.0 != True, nan == nan)."""
    if isinstance(value, dict):
        return [("key", key, _typed(item)) for key, item in value.items()]
    if isinstance(value, list):
        return [_typed(item) for item in value]
    return (type(value).__name__, repr(value))


def _same(body: bytes) -> None:
    expected, got = _stdlib(body), _fast(body)
    assert got[0] == expected[0], body
    if expected[0] == "value":
        assert _typed(got[1]) == _typed(expected[1]), body
    else:
        assert got[1] == expected[1], body


@pytest.mark.parametrize("body", EDGE_BODIES, ids=lambda body: repr(body[:30]))
def test_edge_bodies_read_as_the_stdlib_reads_them(body: bytes) -> None:
    _same(body)


def test_numbers_read_as_the_stdlib_reads_them() -> None:
    """Random number-like text (the alphabet of JSON numbers): msgspec's float parsing is the stdlib's."""
    rng = random.Random(16)
    alphabet = "0123456789.eE+-"
    for _ in range(10_000):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randint(1, 26)))
        _same(text.encode())
    for _ in range(3_000):  # well-formed ones, most of them not round trips of a float
        mantissa = str(rng.randint(0, 10 ** rng.randint(1, 25)))
        point = rng.randint(0, len(mantissa))
        text = f"{'-' if rng.random() < 0.5 else ''}{mantissa[:point] or '0'}.{mantissa[point:] or '0'}"
        _same(f"{text}e{rng.randint(-330, 330)}".encode())
        _same(text.encode())


def test_mutated_records_read_as_the_stdlib_reads_them() -> None:
    """A record body with a byte dropped, doubled or replaced: accepted or refused alike, same message."""
    rng = random.Random(7)
    record = {
        "name": "Caf\u00e9 \U0001f600 Ltd",
        "id": 12,
        "inactive": False,
        "lines": [{"net_amount": 10.5, "qty_order": 3, "unit_price": -0.1, "comment_1": None}],
        "notes": 'a "quoted" \\ back\nslash',
    }
    body = json.dumps([record], ensure_ascii=False).encode("utf-8")
    replacements = b'0123456789.eE+-"\\[]{},: \t\nnultrfas\x00\x7f\xc3\xa9\xff'
    for _ in range(5_000):
        at = rng.randrange(len(body))
        kind = rng.randrange(3)
        if kind == 0:
            mutated = body[:at] + body[at + 1 :]
        elif kind == 1:
            mutated = body[:at] + body[at : at + 1] * 2 + body[at + 1 :]
        else:
            mutated = body[:at] + bytes([rng.choice(replacements)]) + body[at + 1 :]
        _same(mutated)

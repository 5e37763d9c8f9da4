"""The sandbox's fast JSON road (halo/sandbox/wire.py) reads every body exactly as json.loads does (the same
values of the same types, and for a bad body the same exception with the same message), and writes plain
answers with json.dumps' content; anything not plain (a NaN, an infinity) keeps json.dumps' own road."""

from __future__ import annotations

import json
import math
import random
import struct
from pathlib import Path

import pytest
import requests

from halo.sandbox.server import HaloSandbox
from halo.sandbox.wire import decode_body, encode_answer, is_plain

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
        value, plain = decode_body(body)
        assert plain == is_plain(value)
        return ("value", value)
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


# ------------------------------------------------------------------------------------------ answers


def _random_value(rng: random.Random, depth: int = 0) -> object:
    roll = rng.randrange(12 if depth < 4 else 8)
    if roll == 0:
        return None
    if roll == 1:
        return rng.random() < 0.5
    if roll == 2:
        return rng.randint(-(2**70), 2**70) if rng.random() < 0.2 else rng.randint(-1000, 10**9)
    if roll == 3:  # any finite float, from its bits
        value = struct.unpack("<d", rng.getrandbits(64).to_bytes(8, "little"))[0]
        return value if math.isfinite(value) else 0.5
    if roll == 4:
        return round(rng.uniform(-1e6, 1e6), rng.randint(0, 4))
    if roll == 5:
        return rng.choice([0.0, -0.0, 1e16, 1e-5, 5e-05, 1e22, 123456789012.5, 0.1, 1e308, 5e-324])
    if roll in (6, 7):
        alphabet = "ab \"\\/\b\f\n\r\t\x00\x1f\x7f\u00e9\u2028\u2029\U0001f600<>&'"
        return "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 12)))
    if roll in (8, 9):
        return [_random_value(rng, depth + 1) for _ in range(rng.randint(0, 4))]
    return {str(_random_value(rng, 4)): _random_value(rng, depth + 1) for _ in range(rng.randint(0, 5))}


def test_plain_answers_have_json_dumps_content() -> None:
    """msgspec's bytes (no spaces, 1e16 for 1e+16) read back as json.dumps' do: same values, keys, order."""
    rng = random.Random(5)
    for _ in range(3_000):
        value = _random_value(rng)
        assert is_plain(value)
        fast, stdlib = encode_answer(value, plain=True), encode_answer(value, plain=False)
        assert stdlib == json.dumps(value, ensure_ascii=False).encode("utf-8")
        assert _typed(json.loads(fast)) == _typed(json.loads(stdlib)), value


@pytest.mark.parametrize(
    "value",
    [math.nan, math.inf, -math.inf, [1, {"a": math.nan}], {1: "key not text"}, (1, 2), 1.5j],
)
def test_what_is_not_plain(value: object) -> None:
    assert not is_plain(value)


def test_a_subclass_is_not_plain() -> None:
    class Text(str):
        pass

    assert not is_plain(Text("x"))
    assert not is_plain({"a": [Text("x")]})


def _signed_in(sandbox: HaloSandbox) -> requests.Session:
    session = requests.Session()
    form = {"grant_type": "client_credentials", "client_id": sandbox.client_id, "scope": "all"}
    answer = session.post(
        f"{sandbox.url}/auth/token", data={**form, "client_secret": sandbox.client_secret}, timeout=10
    )
    session.headers["Authorization"] = f"Bearer {answer.json()['access_token']}"
    return session


def _post_raw(api: requests.Session, url: str, body: bytes) -> requests.Response:
    return api.post(url, data=body, headers={"Content-Type": "application/json"}, timeout=10)


def test_a_nan_body_is_answered_as_json_dumps_writes_it(halo_sandbox) -> None:
    """Python's json takes NaN and writes it back; msgspec would write null: the store is no longer plain."""
    with _signed_in(halo_sandbox) as api:
        first = _post_raw(api, f"{halo_sandbox.url}/api/Tax", b'[{"name": "Zero", "value": 0}]')
        assert first.status_code == 201
        assert b'"name":"Zero"' in first.content  # plain so far: msgspec wrote it
        answer = _post_raw(api, f"{halo_sandbox.url}/api/Tax", b'[{"name": "Odd", "value": NaN}]')
        assert answer.status_code == 201
        assert b'"value": NaN' in answer.content
        listed = api.get(f"{halo_sandbox.url}/api/Tax", timeout=10)
        assert b'"value": NaN' in listed.content
        assert b'"value": 0' in listed.content
    assert math.isnan(halo_sandbox.records("Tax")[1]["value"])


def test_an_invoice_total_that_overflows_is_written_as_json_dumps_writes_it(halo_sandbox) -> None:
    halo_sandbox.seed("Client", {"name": "Acme"})
    with _signed_in(halo_sandbox) as api:
        body = b'[{"client_id": 1, "lines": [{"net_amount": 1e308}, {"net_amount": 1e308}]}]'
        answer = _post_raw(api, f"{halo_sandbox.url}/api/Invoice", body)
        assert answer.status_code == 201
        assert b'"total": Infinity' in answer.content


def test_numbers_as_text_that_overflow_are_written_as_json_dumps_writes_them(halo_sandbox) -> None:
    halo_sandbox.faults.update({"numbers_as_text": True})
    with _signed_in(halo_sandbox) as api:
        body = json.dumps([{"name": "Huge", "value": "9" * 400 + ".5"}]).encode()
        answer = _post_raw(api, f"{halo_sandbox.url}/api/Tax", body)
        assert answer.status_code == 201
        assert b'"value": "inf"' in answer.content  # numbers_as_text writes every number as its text
    assert halo_sandbox.records("Tax")[0]["value"] == math.inf


def test_a_seeded_nan_is_answered_as_json_dumps_writes_it(halo_sandbox) -> None:
    halo_sandbox.seed("Tax", {"name": "Odd", "value": math.nan})
    with _signed_in(halo_sandbox) as api:
        assert b'"value": NaN' in api.get(f"{halo_sandbox.url}/api/Tax/1", timeout=10).content


def test_a_nan_kept_in_the_data_file_is_answered_as_json_dumps_writes_it(tmp_path: Path) -> None:
    db = tmp_path / "halo.sqlite3"
    with HaloSandbox(db_path=db) as sandbox:
        sandbox.seed("Tax", {"name": "Odd", "value": math.nan})
    with HaloSandbox(db_path=db) as sandbox, _signed_in(sandbox) as api:
        assert b'"value": NaN' in api.get(f"{sandbox.url}/api/Tax", timeout=10).content

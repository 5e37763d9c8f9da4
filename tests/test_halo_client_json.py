"""Reading a JSON answer: msgspec's quick road gives what ``response.json()`` gives, or hands the body over.

Why: the client reads answers with msgspec first (halo/client.py ``_json_or_none``) because it is several
times faster; these hold the two roads to one result on random JSON and on the bodies msgspec refuses.
"""

from __future__ import annotations

import json
import math
from typing import Any

import pytest
import requests
from hypothesis import given, settings
from hypothesis import strategies as st

from halo.client import _json_or_none

_scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**30), max_value=10**30)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text()
)
_values = st.recursive(
    _scalars,
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=8), inner, max_size=5),
    max_leaves=20,
)


def _response(body: bytes, content_type: str = "application/json; charset=utf-8") -> requests.Response:
    response = requests.Response()
    response.status_code = 200
    response._content = body
    response.headers["Content-Type"] = content_type
    response.encoding = requests.utils.get_encoding_from_headers(response.headers)
    return response


def _reference(response: requests.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None


@settings(max_examples=300, deadline=None)
@given(_values)
def test_random_json_reads_as_the_standard_library_reads_it(value: object) -> None:
    body = json.dumps(value, ensure_ascii=False).encode("utf-8", "surrogatepass")
    response = _response(body)
    assert _json_or_none(response) == _reference(response)


def test_bodies_msgspec_refuses_are_read_as_before() -> None:
    bom = _response(b"\xef\xbb\xbf[1, 2]")
    assert _json_or_none(bom) == _reference(bom)
    nan = _json_or_none(_response(b'{"total": NaN}'))
    assert isinstance(nan, dict) and math.isnan(nan["total"])
    assert _json_or_none(_response(b'"\\ud800"')) == "\ud800"
    assert _json_or_none(_response(b"[1e400]")) == [math.inf]
    assert _json_or_none(_response(b"not json")) is None
    assert _json_or_none(_response(b"   ")) is None
    assert _json_or_none(_response(b"<html>[1]</html>", "text/html")) is None


def test_a_body_in_another_declared_charset_is_decoded_in_that_charset() -> None:
    body = '{"name": "Café"}'.encode("latin-1")
    response = _response(body, "application/json; charset=ISO-8859-1")
    assert _json_or_none(response) == {"name": "Café"}
    # Bytes that are valid UTF-8 but declared Latin-1 read as Latin-1, as requests reads them.
    declared = _response('{"name": "Café"}'.encode(), "application/json; charset=ISO-8859-1")
    assert _json_or_none(declared) == _reference(declared) == {"name": "CafÃ©"}


@settings(max_examples=300, deadline=None)
@given(_values)
def test_a_body_is_written_as_the_standard_library_writes_it(value: object) -> None:
    """The same JSON values (not bytes: msgspec leaves out spaces) on both roads."""
    from halo.client import _json_bytes, _reference_json_bytes

    try:
        reference = _reference_json_bytes(value)
    except (TypeError, ValueError):
        reference = None
    if reference is None:
        with pytest.raises((TypeError, ValueError)):
            _json_bytes(value)
        return
    assert json.loads(_json_bytes(value)) == json.loads(reference)


def test_what_json_refuses_is_refused_as_before() -> None:
    from decimal import Decimal

    from halo.client import _json_bytes

    with pytest.raises(ValueError):
        _json_bytes([{"total": math.nan}])
    with pytest.raises(ValueError):
        _json_bytes([{"total": math.inf}])
    with pytest.raises(ValueError):
        _json_bytes([{"total": Decimal("NaN")}])
    assert json.loads(_json_bytes({"total": Decimal("19.99"), "qty": Decimal("3")})) == {
        "total": 19.99,
        "qty": 3,
    }
    assert json.loads(_json_bytes({"note": None, "name": "Café"})) == {"note": None, "name": "Café"}
    assert json.loads(_json_bytes({"big": 10**30})) == {"big": 10**30}

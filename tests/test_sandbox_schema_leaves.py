"""The sandbox's own check of a field (RecordValidator._leaf, and the types it passes unlooked) gives
jsonschema's verdict on every leaf schema of Halo's OpenAPI extract, for every kind of JSON value, and so
does its check of whole records: the speed-up changes nothing the sandbox refuses."""

from __future__ import annotations

import json
import math
import uuid
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from halo.sandbox.schemas import (
    _FORMATS,
    RecordValidator,
    _HaloValidator,
    _int_range,
    load_schema_document,
    shared_validator,
)


def leaf_schemas() -> list[dict[str, Any]]:
    """Every distinct leaf schema reachable from the resources the sandbox serves."""
    document = load_schema_document()
    definitions = document["$defs"]
    seen_refs: set[str] = set()
    leaves: dict[str, dict[str, Any]] = {}

    def walk(schema: dict[str, Any]) -> None:
        if "$ref" in schema and set(schema) <= {"$ref", "$defs"}:
            name = schema["$ref"].removeprefix("#/$defs/")
            if name not in seen_refs:
                seen_refs.add(name)
                walk(definitions[name])
            return
        keys = set(schema)
        if keys == {"type", "properties", "additionalProperties"} and schema["additionalProperties"] is False:
            for sub in schema["properties"].values():
                walk(sub)
            return
        if keys == {"type", "items"} and schema["type"] in ("array", ["array", "null"]):
            walk(schema["items"])
            return
        leaves[json.dumps(schema, sort_keys=True)] = schema

    for name in document["x-resources"].values():
        walk({"$ref": f"#/$defs/{name}"})
    return list(leaves.values())


LEAVES = leaf_schemas()
VALUES: list[object] = [
    None,
    True,
    False,
    0,
    1,
    -1,
    2**31 - 1,
    2**31,
    -(2**31) - 1,
    2**63,
    -(2**64),
    1.0,
    1.5,
    -0.0,
    1e308,
    -1e308,
    math.inf,
    -math.inf,
    math.nan,
    "",
    "x",
    "a" * 300,
    "12",
    "2026-01-01T10:00:00Z",
    "2026-01-01T10:00:00.123+01:00",
    "2026-01-01",
    "2026-13-01T00:00:00",
    "not a date",
    str(uuid.UUID(int=7)),
    "{" + str(uuid.UUID(int=7)) + "}",
    [],
    [1],
    {},
    {"a": 1},
]


def test_the_extract_has_the_leaves_the_fast_check_is_for():
    assert len(LEAVES) > 20
    kinds = {json.dumps(leaf.get("type")) for leaf in LEAVES}
    assert '["integer", "null"]' in kinds and '["string", "null"]' in kinds
    assert any("minimum" in leaf for leaf in LEAVES) and any(
        leaf.get("format") == "date-time" for leaf in LEAVES
    )


def edges(leaf: dict[str, Any]) -> list[object]:
    """The leaf's own limits and their neighbours: where a wrong comparison would show."""
    found: list[object] = []
    for bound in (leaf.get("minimum"), leaf.get("maximum")):
        if isinstance(bound, int | float):
            found += [bound, bound - 1, bound + 1, float(bound), bound - 0.5, bound + 0.5]
    if isinstance(leaf.get("maxLength"), int):
        found += ["x" * (leaf["maxLength"] + n) for n in (-1, 0, 1)]
    return found


@pytest.mark.parametrize("leaf", LEAVES, ids=lambda leaf: json.dumps(leaf, sort_keys=True)[:60])
def test_every_leaf_gives_the_library_verdict(leaf):
    validator = RecordValidator("Client")
    fast = validator._leaf(leaf)
    library = _HaloValidator({**leaf, "$defs": validator._defs}, format_checker=_FORMATS).is_valid
    for value in [*VALUES, *edges(leaf)]:
        assert fast(value) == library(value), (leaf, value)


scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats()
    | st.text(max_size=40)
    | st.datetimes().map(lambda moment: moment.isoformat())
    | st.uuids().map(str)
)


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(LEAVES), st.lists(scalars, min_size=1, max_size=10))
def test_random_values_get_the_library_verdict(leaf, values):
    validator = RecordValidator("Invoice")
    fast = validator._leaf(leaf)
    library = _HaloValidator({**leaf, "$defs": validator._defs}, format_checker=_FORMATS).is_valid
    for value in values:
        assert fast(value) == library(value), (leaf, value)


@pytest.mark.parametrize("leaf", LEAVES, ids=lambda leaf: json.dumps(leaf, sort_keys=True)[:60])
def test_the_types_a_leaf_passes_unlooked_get_the_library_verdict(leaf):
    """A record's field whose value's type is in _passing_kinds is taken without a call: the library must
    take every such value (values at the leaf's edges included)."""
    validator = RecordValidator("Client")
    passing = validator._passing_kinds(leaf)
    library = _HaloValidator({**leaf, "$defs": validator._defs}, format_checker=_FORMATS).is_valid
    for value in [*VALUES, *edges(leaf)]:
        if type(value) in passing:
            assert library(value), (leaf, value)


@pytest.mark.parametrize("leaf", LEAVES, ids=lambda leaf: json.dumps(leaf, sort_keys=True)[:60])
def test_the_range_a_leaf_puts_on_whole_numbers_gets_the_library_verdict(leaf):
    """A whole number is judged by _int_range's bounds alone where the leaf has them: the library's verdict
    on every whole number among the values and the leaf's edges."""
    bounds = _int_range(leaf)
    if bounds is None:
        return
    library = _HaloValidator({**leaf, "$defs": RecordValidator("Client")._defs}, format_checker=_FORMATS)
    for value in [*VALUES, *edges(leaf), -(2**200), 2**200]:
        if type(value) is int:
            assert (bounds[0] <= value <= bounds[1]) == library.is_valid(value), (leaf, value)


def test_plain_text_number_and_flag_fields_pass_unlooked():
    """The speed-up is real only if the common leaves have passing types."""
    validator = RecordValidator("Client")
    assert validator._passing_kinds({"type": ["string", "null"]}) == {str, type(None)}
    assert validator._passing_kinds({"format": "double", "type": ["number", "null"]}) == {
        int,
        float,
        type(None),
    }
    assert validator._passing_kinds({"type": "integer", "minimum": 0}) == set()
    assert validator._passing_kinds({"type": "string", "format": "date-time"}) == set()
    assert _int_range({"format": "int32", "maximum": 2**31 - 1, "minimum": -(2**31), "type": "integer"}) == (
        -(2**31),
        2**31 - 1,
    )
    assert _int_range({"type": ["string", "null"]}) is None


_TAKEN: dict[str, list[object]] = {}


def _taken_values(validator: RecordValidator, schema: dict[str, Any]) -> list[object]:
    """The VALUES the library takes for this field (so that random records are valid now and then)."""
    key = json.dumps(schema, sort_keys=True)
    if key not in _TAKEN:
        library = _HaloValidator({**schema, "$defs": validator._defs}, format_checker=_FORMATS).is_valid
        _TAKEN[key] = [value for value in VALUES if library(value)]
    return _TAKEN[key]


@settings(max_examples=300, deadline=None)
@given(st.data())
def test_whole_records_get_the_library_verdict(data):
    """A record of known fields (and now and then an unknown one) with mostly fitting values, invoice lines
    too: the compiled check (its passing types and leaf checks) and jsonschema agree."""
    resource = data.draw(st.sampled_from(["Client", "Site", "Item", "Tax", "Invoice", "InvoicePayment"]))
    validator = shared_validator(resource)
    definitions = load_schema_document()["$defs"]

    def record_of(schema_name: str, unknown: str) -> dict[str, object]:
        properties = definitions[schema_name]["properties"]
        names = data.draw(st.lists(st.sampled_from(sorted(properties)), max_size=8, unique=True))
        record: dict[str, object] = {}
        for name in names:
            taken = _taken_values(validator, properties[name])
            fitting = taken and data.draw(st.integers(0, 9)) > 0
            record[name] = data.draw(st.sampled_from(taken) if fitting else st.sampled_from(VALUES) | scalars)
        if data.draw(st.integers(0, 9)) == 0:
            record[unknown] = data.draw(st.sampled_from(VALUES))
        return record

    record = record_of(validator.schema_name, "not_a_halo_field")
    if resource == "Invoice" and data.draw(st.booleans()):
        record["lines"] = [record_of("InvoiceDetail", "nope") for _ in range(data.draw(st.integers(0, 3)))]
    assert validator._is_valid(record) == validator._validator.is_valid(record), record


@pytest.mark.parametrize(
    "resource", ["Client", "Site", "Item", "Tax", "Invoice", "InvoicePayment", "Supplier"]
)
def test_every_field_of_a_record_gets_the_library_verdict_at_its_edges(resource):
    """Each leaf field of the record (and of an invoice line) alone, with every value and the leaf's own
    edges: the record check's shortcuts (passing types, whole-number ranges) and jsonschema agree."""
    validator = shared_validator(resource)
    definitions = load_schema_document()["$defs"]

    def wrapped(schema_name: str) -> list[tuple[dict[str, Any], Any]]:
        fields = []
        for name, schema in definitions[schema_name]["properties"].items():
            if "$ref" not in schema and "items" not in schema and "properties" not in schema:
                fields.append((schema, lambda value, name=name: {name: value}))
        return fields

    cases = wrapped(validator.schema_name)
    if resource == "Invoice":
        cases += [
            (schema, lambda value, f=f: {"lines": [f(value)]}) for schema, f in wrapped("InvoiceDetail")
        ]
    for schema, make in cases:
        for value in [*VALUES, *edges(schema)]:
            record = make(value)
            assert validator._is_valid(record) == validator._validator.is_valid(record), record

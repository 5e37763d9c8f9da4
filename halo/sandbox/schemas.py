"""Validate POSTed records against Halo's own schemas, the way Halo refuses a bad request.

A field Halo does not know, or a value of the wrong JSON type, is refused with a message naming the record
and the field, so payload mistakes show up in tests instead of being silently dropped by a lenient stand-in.
Validators are built once per resource: the benchmark pushes ~100,000 records through here.
"""

from __future__ import annotations

import json
import math
import re
import threading
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from importlib import resources
from typing import Any

from jsonschema import Draft202012Validator, FormatChecker, ValidationError, validators

SCHEMA_FILE = "halo_schemas.json"


@dataclass(frozen=True)
class RecordProblem(Exception):
    """One refused record: which element of the array, which field, and a readable reason."""

    record_index: int
    field: str
    message: str

    def __str__(self) -> str:
        return self.message


def _is_strict_integer(_checker: Any, instance: object) -> bool:
    # JSON Schema counts 1.0 as an integer and Python counts True as one; .NET's int32 accepts neither.
    return isinstance(instance, int) and not isinstance(instance, bool)


def _is_date_time(instance: object) -> bool:
    if not isinstance(instance, str):
        return True
    try:
        datetime.fromisoformat(instance.replace("z", "Z"))
    except ValueError:
        return False
    return True


def _is_uuid(instance: object) -> bool:
    if not isinstance(instance, str):
        return True
    try:
        uuid.UUID(instance)
    except ValueError:
        return False
    return True


_HaloValidator: type[Draft202012Validator] = validators.extend(  # type: ignore[no-untyped-call]  # untyped in its stubs
    Draft202012Validator,
    type_checker=Draft202012Validator.TYPE_CHECKER.redefine("integer", _is_strict_integer),
)

_FORMATS = FormatChecker(formats=())
_FORMATS.checks("date-time")(_is_date_time)
_FORMATS.checks("uuid")(_is_uuid)

# What RecordValidator._leaf judges itself: the keywords of Halo's leaf schemas (readOnly only annotates).
_FAST_LEAF_KEYS = frozenset({"type", "format", "minimum", "maximum", "maxLength", "readOnly"})
# What json.loads makes, bar dicts and lists.
_SCALAR_KINDS: frozenset[type] = frozenset({str, int, float, bool, type(None)})
# JSON type name -> the Python types json.loads gives it (integer: no bool, no 1.0, as _is_strict_integer).
_JSON_KINDS: dict[str, tuple[type, ...]] = {
    "string": (str,),
    "integer": (int,),
    "number": (int, float),
    "boolean": (bool,),
    "null": (type(None),),
}
_FORMAT_CHECKS: dict[str, Callable[[object], bool]] = {"date-time": _is_date_time, "uuid": _is_uuid}


@cache
def load_schema_document() -> dict[str, Any]:
    """The generated schema file shipped inside the package (see extract_schemas.py)."""
    text = resources.files("halo.sandbox").joinpath(SCHEMA_FILE).read_text(encoding="utf-8")
    document: dict[str, Any] = json.loads(text)
    return document


@cache
def shared_validator(resource: str) -> RecordValidator:
    """One validator per resource for the whole process: they are thread-safe and costly to warm up."""
    return RecordValidator(resource)


class RecordValidator:
    """Checks one POST body (a list of records) for one resource; thread-safe once built."""

    def __init__(self, resource: str, schema_document: dict[str, Any] | None = None) -> None:
        document = schema_document if schema_document is not None else load_schema_document()
        self.resource = resource
        self.schema_name = document["x-resources"][resource]
        self._defs: dict[str, Any] = document["$defs"]
        root = {"$ref": f"#/$defs/{self.schema_name}", "$defs": self._defs}
        self._validator = _HaloValidator(root, format_checker=_FORMATS)
        self._compiled: dict[str, Callable[[object], bool]] = {}
        self._compile_lock = threading.Lock()
        self._is_valid = self._compile(root)

    def check(self, index: int, record: object) -> None:
        """Raise RecordProblem for the first thing Halo would refuse in ``record`` (element ``index``)."""
        if not isinstance(record, dict):
            raise RecordProblem(
                index,
                "",
                f"Record {index}: each element of the array must be a JSON object (a {self.resource} "
                f"record), not {_json_type(record)}.",
            )
        if self._is_valid(record):
            return
        error = min(self._validator.iter_errors(record), key=_error_rank)
        raise self._describe(index, record, error)

    def _compile(self, schema: dict[str, Any]) -> Callable[[object], bool]:
        """A fast yes/no check with exactly the full validator's verdict.

        Halo's objects are closed (``additionalProperties: false``) with hundreds of properties; walking the
        record's few keys instead of the schema's many is what keeps 100,000 records affordable. Leaf
        schemas still go through jsonschema, so types and formats are judged by the library.
        """
        if set(schema) == {"$ref"} or set(schema) == {"$ref", "$defs"}:
            name = schema["$ref"].removeprefix("#/$defs/")
            compiled = self._compiled

            def check_ref(value: object) -> bool:
                check = compiled.get(name)
                if check is None:
                    with self._compile_lock:
                        check = compiled.get(name)
                        if check is None:
                            check = compiled[name] = self._compile(self._defs[name])
                return check(value)

            return check_ref
        keys = set(schema)
        if keys == {"type", "properties", "additionalProperties"} and schema["additionalProperties"] is False:
            checks = {field: self._compile(sub) for field, sub in schema["properties"].items()}
            # Per field, the value types its leaf takes whatever the value ("string or null", say): most
            # fields of a record are decided by one set look-up instead of a call (_passing_kinds).
            passing = {field: self._passing_kinds(sub) for field, sub in schema["properties"].items()}
            # And the range a whole number must be in, where that is all its leaf asks of one (int32 ids).
            int_ranges = {
                field: bounds
                for field, sub in schema["properties"].items()
                if (bounds := _int_range(sub)) is not None
            }
            nullable_object: bool = schema["type"] == ["object", "null"]

            def check_object(value: object) -> bool:
                if value is None:
                    return nullable_object
                if not isinstance(value, dict):
                    return False
                for field, item in value.items():
                    kinds = passing.get(field)
                    if kinds is None:
                        return False  # not a field of this object
                    kind = type(item)
                    if kind in kinds:
                        continue
                    if kind is int and (bounds := int_ranges.get(field)) is not None:
                        if bounds[0] <= item <= bounds[1]:
                            continue
                        return False
                    if not checks[field](item):
                        return False
                return True

            return check_object
        if keys == {"type", "items"} and schema["type"] in ("array", ["array", "null"]):
            check_item = self._compile(schema["items"])
            nullable_array: bool = schema["type"] == ["array", "null"]

            def check_array(value: object) -> bool:
                if value is None:
                    return nullable_array
                return isinstance(value, list) and all(check_item(item) for item in value)

            return check_array
        return self._leaf(schema)

    def _leaf(self, schema: dict[str, Any]) -> Callable[[object], bool]:
        """A leaf schema (a field's type, format, range, length) as a plain check, jsonschema's verdict.

        Why: jsonschema's ``is_valid`` costs ~15 us per field, most of the sandbox's time in a first sync
        (100 records x 20 fields per POST). The leaves Halo's schemas use (``_FAST_LEAF_KEYS``) are judged
        here for the JSON scalars json.loads makes, exactly as the library judges them (the integer rule
        is ``_is_strict_integer``'s; only the date-time and uuid formats are checked, as ``_FORMATS`` has
        no other); any other value, or any other keyword (``enum``), goes to the library itself
        (tests/test_sandbox_schema_leaves.py holds the two to the same verdict on every leaf).
        """
        library = _HaloValidator({**schema, "$defs": self._defs}, format_checker=_FORMATS).is_valid
        terms = _leaf_terms(schema)
        if terms is None:
            return library
        allowed, minimum, maximum, max_length, format_check = terms

        def check_leaf(value: object) -> bool:
            kind = type(value)
            if kind not in _SCALAR_KINDS:
                return library(value)  # an object, an array, or not a JSON value at all
            if allowed is not None and kind not in allowed:
                return False
            if kind is int or kind is float:
                number: float = value  # type: ignore[assignment]  # int or float, as just checked
                if (minimum is not None and number < minimum) or (maximum is not None and number > maximum):
                    return False
            elif kind is str:
                text: str = value  # type: ignore[assignment]  # a str, as just checked
                if max_length is not None and len(text) > max_length:
                    return False
                if format_check is not None and not format_check(text):
                    return False
            return True

        return check_leaf

    def _passing_kinds(self, schema: dict[str, Any]) -> frozenset[type]:
        """The JSON scalar types of which ``_leaf(schema)`` takes every value, without looking at it: the
        declared types that no bound, length or checked format narrows. Empty for any other schema
        (tests/test_sandbox_schema_leaves.py holds every leaf to the library's verdict on these too)."""
        terms = _leaf_terms(schema)
        if terms is None:
            return frozenset()
        allowed, minimum, maximum, max_length, format_check = terms
        kinds: set[type] = set(_SCALAR_KINDS if allowed is None else allowed)
        if minimum is not None or maximum is not None:
            kinds -= {int, float}
        if max_length is not None or format_check is not None:
            kinds.discard(str)
        return frozenset(kinds)

    def _describe(self, index: int, record: dict[str, Any], error: ValidationError) -> RecordProblem:
        path = list(error.absolute_path)
        if error.validator == "additionalProperties":
            instance = error.instance if isinstance(error.instance, dict) else {}
            allowed = error.schema.get("properties", {}) if isinstance(error.schema, Mapping) else {}
            unknown = sorted(key for key in instance if key not in allowed)
            name = unknown[0] if unknown else "?"
            field = _field_path([*path, name])
            owner = self.schema_name if not path else f"at {_field_path(path)}"
            return RecordProblem(
                index,
                field,
                f"Record {index}: {field!r} is not a field of Halo's {self.resource} record ({owner}); "
                "remove it or check its spelling against Halo's API.",
            )
        field = _field_path(path)
        value = error.instance
        if error.validator == "type":
            expected = error.validator_value
            expected_text = " or ".join(expected) if isinstance(expected, list) else str(expected)
            got = "null" if value is None else f"{_json_type(value)} {_short(value)}"
            reason = f"must be {expected_text}, got {got}"
        elif error.validator == "format":
            reason = f"must be a valid {error.validator_value}, got {_short(value)}"
        elif error.validator in ("minimum", "maximum"):
            reason = f"is out of range ({error.validator} {error.validator_value}), got {_short(value)}"
        elif error.validator == "maxLength":
            reason = f"is longer than Halo allows ({error.validator_value} characters)"
        else:
            reason = error.message
        return RecordProblem(index, field, f"Record {index}: field {field!r} {reason}.")


_LeafTerms = tuple[
    frozenset[type] | None, float | None, float | None, int | None, Callable[[object], bool] | None
]


def _leaf_terms(schema: dict[str, Any]) -> _LeafTerms | None:
    """(allowed types or None for any, minimum, maximum, maxLength, format check) of a leaf schema that
    RecordValidator judges itself; None for one only the library judges (another keyword, an object)."""
    if not set(schema) <= _FAST_LEAF_KEYS:
        return None
    declared = schema.get("type")
    allowed: frozenset[type] | None = None  # None: any type
    if declared is not None:
        names = declared if isinstance(declared, list) else [declared]
        if not set(names) <= set(_JSON_KINDS):
            return None
        allowed = frozenset(kind for name in names for kind in _JSON_KINDS[name])
    format_check = _FORMAT_CHECKS.get(schema.get("format") or "")
    return allowed, schema.get("minimum"), schema.get("maximum"), schema.get("maxLength"), format_check


def _int_range(schema: dict[str, Any]) -> tuple[float, float] | None:
    """(minimum, maximum) that a whole number must be within for the leaf ``schema`` to take it, when that
    is all the leaf asks of one (as check_leaf judges it); None otherwise."""
    terms = _leaf_terms(schema)
    if terms is None:
        return None
    allowed, minimum, maximum, _max_length, _format_check = terms
    if allowed is not None and int not in allowed:
        return None
    return (-math.inf if minimum is None else minimum, math.inf if maximum is None else maximum)


def _error_rank(error: ValidationError) -> tuple[int, str]:
    # Report the shallowest problem first and unknown fields before type problems: that is what to fix first.
    return (
        len(error.absolute_path),
        "0" if error.validator == "additionalProperties" else str(error.validator),
    )


def _field_path(path: list[Any]) -> str:
    text = ""
    for part in path:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else str(part)
    return text


def _json_type(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


def _short(value: object) -> str:
    text = json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= 60 else text[:57] + "..."


_NUMBER_TEXT = re.compile(r"-?\d+(\.\d+)?")


def _numeric_kind(prop: dict[str, Any]) -> str:
    types = prop.get("type")
    kinds = types if isinstance(types, list) else [types]
    if "integer" in kinds:
        return "integer"
    return "number" if "number" in kinds else ""


def coerce_numeric_text(resource: str, record: object) -> object:
    """``record`` with numbers sent as text ("12.50") turned into numbers where Halo's schema has a number.

    Halo is a .NET service and may accept what a strict JSON Schema refuses; the sandbox's
    ``numbers_as_text`` mode does too, so a client that sent text would not be told it is wrong here only.
    """
    document = load_schema_document()
    return _coerce(document["$defs"], document["x-resources"][resource], record)


def _coerce(defs: dict[str, Any], name: str, value: object) -> object:
    if not isinstance(value, dict):
        return value
    props = defs.get(name, {}).get("properties", {})
    out: dict[str, Any] = {}
    for key, item in value.items():
        prop = props.get(key, {})
        kind = _numeric_kind(prop)
        if kind and isinstance(item, str) and _NUMBER_TEXT.fullmatch(item.strip()):
            text = item.strip()
            out[key] = int(text) if kind == "integer" and "." not in text else float(text)
        elif isinstance(item, list) and isinstance(prop.get("items"), dict) and "$ref" in prop["items"]:
            ref = prop["items"]["$ref"].removeprefix("#/$defs/")
            out[key] = [_coerce(defs, ref, element) for element in item]
        else:
            out[key] = item
    return out

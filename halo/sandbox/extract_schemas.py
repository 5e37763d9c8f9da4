"""Cut Halo's record schemas out of its OpenAPI description into ``halo_schemas.json``.

The shipped app has no ``shared/`` folder, yet the sandbox must validate POSTed records the way Halo does.
So this script keeps only the component schemas the sandbox needs (and everything they ``$ref``), already
converted from OpenAPI 3.0 into JSON Schema 2020-12, and records where they came from.

Run: ``python -m halo.sandbox.extract_schemas [path/to/halo-openapi.json]``.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_SPEC = REPO_ROOT.parent / "shared" / "reference" / "halo-openapi.json"
OUTPUT_PATH = Path(__file__).with_name("halo_schemas.json")

SOURCE_NOTE = (
    "Component schemas from Halo's OpenAPI 3.0.1 description 'Halo API v2', as published in "
    "covenanttechnologysolutions/halopsa-rest generator/spec/swagger.json (MIT licence, Copyright Covenant "
    "Technology Solutions); converted to JSON Schema 2020-12 by halo/sandbox/extract_schemas.py."
)

# Sandbox resource -> the schema of one element of that endpoint's POST body (halo-api.md §2.3).
RESOURCE_SCHEMAS: dict[str, str] = {
    "Client": "Area",
    "Site": "Site",
    "Item": "Item",
    "Tax": "Tax",
    "Invoice": "InvoiceHeader",
    "InvoicePayment": "InvoicePayment_List",
    "Supplier": "Company",
}

INTEGER_RANGES: dict[str, tuple[int, int]] = {
    "int32": (-(2**31), 2**31 - 1),
    "int64": (-(2**63), 2**63 - 1),
}

_OPENAPI_REF_PREFIX = "#/components/schemas/"


def _ref_closure(components: dict[str, Any], roots: list[str]) -> list[str]:
    """Every component reachable from ``roots`` through ``$ref``, sorted so the output is stable."""
    seen: set[str] = set()
    pending = list(roots)
    while pending:
        name = pending.pop()
        if name in seen:
            continue
        if name not in components:
            raise KeyError(f"The OpenAPI file has no component schema named {name!r}.")
        seen.add(name)
        pending.extend(_refs_in(components[name]))
    return sorted(seen)


def _refs_in(node: Any) -> list[str]:
    found: list[str] = []
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str) and value.startswith(_OPENAPI_REF_PREFIX):
                found.append(value[len(_OPENAPI_REF_PREFIX) :])
            else:
                found.extend(_refs_in(value))
    elif isinstance(node, list):
        for value in node:
            found.extend(_refs_in(value))
    return found


def openapi_to_json_schema(node: dict[str, Any]) -> dict[str, Any]:
    """Convert one OpenAPI 3.0 schema object into JSON Schema 2020-12.

    ``nullable: true`` becomes a ``null`` member of ``type`` (and of ``enum``), refs point into ``$defs``,
    and int32/int64 formats become numeric bounds so an out-of-range id is refused like .NET would.
    """
    if "$ref" in node:
        ref = node["$ref"]
        if not ref.startswith(_OPENAPI_REF_PREFIX):
            raise ValueError(f"Unsupported $ref {ref!r}: only component schemas are expected.")
        return {"$ref": "#/$defs/" + ref[len(_OPENAPI_REF_PREFIX) :]}
    result: dict[str, Any] = {}
    nullable = bool(node.get("nullable", False))
    for key, value in node.items():
        if key == "nullable":
            continue
        if key == "properties":
            result[key] = {name: openapi_to_json_schema(sub) for name, sub in value.items()}
        elif key == "items" or (key == "additionalProperties" and isinstance(value, dict)):
            result[key] = openapi_to_json_schema(value)
        elif key in ("allOf", "anyOf", "oneOf"):
            result[key] = [openapi_to_json_schema(sub) for sub in value]
        else:
            result[key] = value
    if node.get("type") == "integer" and node.get("format") in INTEGER_RANGES:
        result["minimum"], result["maximum"] = INTEGER_RANGES[node["format"]]
    if nullable:
        if "type" in result:
            result["type"] = [result["type"], "null"]
        if "enum" in result and None not in result["enum"]:
            result["enum"] = [*result["enum"], None]
    return result


def build_schema_document(spec: dict[str, Any]) -> dict[str, Any]:
    """The content of ``halo_schemas.json`` for a given OpenAPI document (pure, so a test can compare)."""
    components = spec["components"]["schemas"]
    names = _ref_closure(components, list(RESOURCE_SCHEMAS.values()))
    return {
        "x-source": SOURCE_NOTE,
        "x-spec-title": spec.get("info", {}).get("title", ""),
        "x-spec-version": spec.get("info", {}).get("version", ""),
        "x-resources": dict(RESOURCE_SCHEMAS),
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$defs": {name: openapi_to_json_schema(components[name]) for name in names},
    }


def render(document: dict[str, Any]) -> str:
    """Stable text form, so regenerating an unchanged spec gives a byte-identical file."""
    return json.dumps(document, indent=1, sort_keys=False, ensure_ascii=False) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("spec", nargs="?", default=str(DEFAULT_SPEC), help="path to halo-openapi.json")
    parser.add_argument("--output", default=str(OUTPUT_PATH), help="where to write halo_schemas.json")
    args = parser.parse_args(argv)
    spec_path = Path(args.spec)
    if not spec_path.is_file():
        print(
            f"Cannot find Halo's OpenAPI file at {spec_path}. Pass its path as the first argument.",
            file=sys.stderr,
        )
        return 2
    spec = json.loads(spec_path.read_text(encoding="utf-8"))
    document = build_schema_document(spec)
    Path(args.output).write_text(render(document), encoding="utf-8")
    print(f"Wrote {len(document['$defs'])} schemas to {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

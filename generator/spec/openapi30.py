"""Read an OpenAPI 3.0 document as 3.1, the version the model is written for.

Vendors publish 3.0.x. The differences that change what a schema accepts are in the Schema Object
(3.1 adopted JSON Schema 2020-12), so the upgrade rewrites schemas and nothing else, as the OpenAPI
Initiative's migration guide lists: `nullable: true` becomes a `"null"` type (and a `null` in an
`enum`), or, beside no `type` (an `allOf: [$ref]` or `$ref` wrapper), `anyOf: [the schema, {type:
"null"}]`; boolean `exclusiveMinimum`/`exclusiveMaximum` become the numbers they qualified; a
schema's `example` becomes `examples: [value]`. Media-type and parameter `example`s are valid 3.1
and stay. What moved is returned, in the file's own places, so lint places each problem in the
user's file. (No maintained Python converter exists: openapi-spec-validator validates either
version but converts nothing.)
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from .model import escape

__all__ = ["SWAGGER_HINT", "upgrade"]

SWAGGER_HINT = (
    "Swagger 2.0 is not read: convert the file to OpenAPI 3 first "
    "(`npx swagger2openapi FILE --yaml --outfile openapi.yaml`), then lint the result"
)

# Keywords whose value is a schema, a list of schemas or a mapping of names to schemas (3.0 allows
# fewer; the 2020-12 ones are listed so a 3.0 file that borrowed them is still walked).
_ONE = ("items", "additionalProperties", "not", "if", "then", "else", "contains", "propertyNames")
_LIST = ("allOf", "anyOf", "oneOf", "prefixItems")
_MAP = ("properties", "patternProperties", "$defs")
# Parts of the document that hold data, not OpenAPI objects: an example may contain a `schema` key.
_DATA = ("example", "examples", "default", "enum", "const")


def upgrade(document: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, str]]:
    """A 3.1 copy of the 3.0 `document`, and the pointers it moved (new -> where the file has it)."""
    upgraded: dict[str, Any] = copy.deepcopy(dict(document))
    upgraded["openapi"] = "3.1.0"
    moved: dict[str, str] = {}
    _objects(upgraded, "", moved)
    return upgraded, moved


def _objects(node: Any, at: str, moved: dict[str, str]) -> None:
    """Walk OpenAPI objects: every `schema` and every component schema is upgraded."""
    if isinstance(node, list):
        for index, item in enumerate(node):
            _objects(item, f"{at}/{index}", moved)
        return
    if not isinstance(node, dict):
        return
    for key, value in node.items():
        where = f"{at}/{escape(key)}"
        if key in _DATA or key.startswith("x-"):
            continue
        if key == "schema" or (at == "/components" and key == "schemas"):
            if key == "schemas" and isinstance(value, dict):
                for name, schema in value.items():
                    _schema(schema, f"{where}/{escape(name)}", moved)
            else:
                _schema(value, where, moved)
        else:
            _objects(value, where, moved)


def _schema(schema: Any, at: str, moved: dict[str, str], was: str | None = None) -> None:
    """Upgrade the schema found at `at` in the upgraded document and at `was` in the file."""
    was = at if was is None else was
    if not isinstance(schema, dict):
        return
    if schema.get("nullable") is True and not isinstance(schema.get("type"), str):
        # No type to add "null" to (an `allOf`/`$ref` wrapper, an `enum`): null or the schema.
        inner = {key: value for key, value in schema.items() if key != "nullable"}
        schema.clear()
        schema["anyOf"] = [inner, {"type": "null"}]
        at, schema = f"{at}/anyOf/0", inner
        moved[at] = was
    if "$ref" in schema:
        return
    if schema.pop("nullable", False) is True:
        schema["type"] = [schema["type"], "null"]
        moved[f"{at}/type/1"] = f"{was}/nullable"
        if isinstance(schema.get("enum"), list) and None not in schema["enum"]:
            schema["enum"].append(None)
    for bound in ("Minimum", "Maximum"):
        exclusive = schema.get(f"exclusive{bound}")
        if isinstance(exclusive, bool):
            limit = schema.get(bound.lower())
            del schema[f"exclusive{bound}"]
            if exclusive and limit is not None:
                schema[f"exclusive{bound}"] = schema.pop(bound.lower())
                moved[f"{at}/exclusive{bound}"] = f"{was}/{bound.lower()}"
    if "example" in schema and "examples" not in schema:
        schema["examples"] = [schema.pop("example")]
        moved[f"{at}/examples/0"] = f"{was}/example"
    for key in _ONE:
        _schema(schema.get(key), f"{at}/{key}", moved, f"{was}/{key}")
    for key in _LIST:
        for index, sub in enumerate(schema.get(key) or ()):
            _schema(sub, f"{at}/{key}/{index}", moved, f"{was}/{key}/{index}")
    for key in _MAP:
        if isinstance(schema.get(key), dict):
            for name, sub in schema[key].items():
                _schema(sub, f"{at}/{key}/{escape(name)}", moved, f"{was}/{key}/{escape(name)}")

"""The requests a vendor's file documents for an operation, as its reference page shows them.

A request example (`example` / `examples` of the request media type) is taken as written. A file
without one documents its request by the examples of its fields: the body a reference renderer
(ReDoc, Swagger UI) shows is sampled from the schema, taking each field's `example`, `default`,
`const` or first `enum` value; a field is included when the schema requires it or when it, or a
field inside it, carries a documented value. Required header and query parameters get their
documented value the same way.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from ingestspec.generator.spec.model import Operation

_NOTHING = object()


@dataclass(frozen=True)
class DocumentedRequest:
    name: str
    body: Any
    headers: dict[str, str] = field(default_factory=dict)
    params: dict[str, str] = field(default_factory=dict)  # the query's


def documented_value(schema: Mapping[str, Any]) -> Any:
    """The value a schema documents for itself, or `_NOTHING`."""
    for key in ("const", "default"):
        if key in schema:
            return schema[key]
    if schema.get("examples"):
        return schema["examples"][0]
    if "example" in schema:
        return schema["example"]
    if schema.get("enum"):
        return schema["enum"][0]
    return _NOTHING


def sample(schema: Mapping[str, Any], required: bool = True) -> Any:
    """A value of `schema` built from its documented values; `_NOTHING` for an optional part that
    documents none. A required value with nothing documented is a placeholder of its type."""
    value = documented_value(schema)
    if value is not _NOTHING:
        return value
    if "properties" in schema:
        # Branches beside the properties only require some of them (Intercom's `anyOf` of `required`
        # lists): the first branch's (and every allOf part's) fields are required too.
        constraints = [*schema.get("allOf", ()), *[b[0] for k in ("anyOf", "oneOf") if (b := schema.get(k))]]
        needed = set(schema.get("required", ())).union(*(part.get("required", ()) for part in constraints))
        members = {name: sample(part, name in needed) for name, part in schema["properties"].items()}
        found = {name: value for name, value in members.items() if value is not _NOTHING}
        return found if found or required else _NOTHING
    for branches in ("allOf", "anyOf", "oneOf"):
        if schema.get(branches):
            parts = [sample(b, required) for b in schema[branches]] if branches == "allOf" else []
            if branches != "allOf":
                parts = [sample(schema[branches][0], required)]
            merged = [p for p in parts if p is not _NOTHING]
            if all(isinstance(p, dict) for p in merged) and merged:
                return {k: v for p in merged for k, v in p.items()}
            return merged[0] if merged else _NOTHING
    types = schema.get("type")
    kind = types if isinstance(types, str) else next((t for t in types or () if t != "null"), None)
    if kind == "object" or "properties" in schema:
        needed = set(schema.get("required", ()))
        members = {name: sample(part, name in needed) for name, part in schema.get("properties", {}).items()}
        found = {name: value for name, value in members.items() if value is not _NOTHING}
        return found if found or required else _NOTHING
    if kind == "array":
        item = sample(schema.get("items", {}), required)
        return [item] if item is not _NOTHING else ([] if required else _NOTHING)
    if not required:
        return _NOTHING
    return {"string": "string", "integer": 0, "number": 0, "boolean": True}.get(str(kind))


def documented_requests(operation: Operation) -> Iterator[DocumentedRequest]:
    """The operation's request examples, or the one request its fields' examples document."""
    found: dict[str, dict[str, str]] = {"header": {}, "query": {}}
    for parameter in operation.parameters:
        if parameter.location in found and parameter.required:
            value = documented_value(parameter.schema)
            if value is not _NOTHING:
                found[parameter.location][parameter.name] = str(value)
    headers, params = found["header"], found["query"]
    if operation.request_examples:
        for example in operation.request_examples:
            yield DocumentedRequest(example.name, example.value, headers, params)
    else:
        body = sample(operation.request_schema)
        yield DocumentedRequest("sampled from the fields' examples", body, headers, params)

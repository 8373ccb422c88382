"""Catalogue defaults: the errors every server answers, filled in when a block leaves them out.

A step with a `default` in `spec.STEPS` (a missing key, a wrong media type, a body too large, bad
JSON, the store failing, an unknown route...) gets its default entry when the block's catalogue lacks
the key it names; the connection's own limits (`CONNECTION_DEFAULTS`) get theirs only when the
operation documents their status, as they change what the server answers. A default entry's body is
derived from the spec's own error schema (the response documenting its status, a range or `default`
counts): every required member the envelope does not place gets a constant (a string the entry's
key, a number its status), so the block lists only what differs.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import replace
from typing import Any

from .model import (
    CONNECTION_DEFAULTS,
    STEPS,
    ErrorEntry,
    ErrorEnvelope,
    Ingest,
    Response,
    object_fields,
    pointer_of,
    pointer_parts,
    schema_types,
)

Documented = Callable[[int], Response | None]


def complete(ingest: Ingest, documented: Documented) -> Ingest:
    """`ingest` with the default entries its catalogue lacks, and its status written as the schema says."""
    errors = ingest.errors
    wanted = {step.error(ingest): step.default for step in STEPS if step.defaults(ingest)}
    wanted |= {key: value for key, value in CONNECTION_DEFAULTS.items() if documented(value[0])}
    errors = replace(errors, status_as_text=_status_as_text(errors, documented, wanted.values()))
    catalogue = dict(errors.catalogue)
    for key, default in wanted.items():
        if key and default and key not in catalogue:
            status, message = default
            fields = constants(errors, key, status, error_schema(errors, documented(status)))
            catalogue[key] = ErrorEntry(key, status, message, fields, default=True)
    return replace(ingest, errors=replace(errors, catalogue=catalogue))


def error_schema(errors: ErrorEnvelope, response: Response | None) -> Mapping[str, Any]:
    """The schema of an error response in the envelope's media type (empty otherwise)."""
    if response is None or response.media_type != errors.media_type:
        return {}
    return response.schema or {}


def schema_at(schema: Mapping[str, Any], pointer: str) -> Mapping[str, Any]:
    """The schema of the member at `pointer` of an instance of `schema` (empty when it says nothing)."""
    node: Any = schema
    for part in pointer_parts(pointer):
        if not isinstance(node, Mapping):
            return {}
        node = node.get("items") if part.isdigit() else object_fields(node).properties.get(part)
    return node if isinstance(node, Mapping) else {}


def _status_as_text(
    errors: ErrorEnvelope, documented: Documented, defaults: Iterable[tuple[int, str] | None]
) -> bool:
    """Whether the error schema types the repeated status as a string (JSON:API's "400")."""
    if not errors.status_pointer:
        return False
    statuses = {e.status for e in errors.catalogue.values()} | {d[0] for d in defaults if d}
    for status in sorted(statuses):
        types = schema_types(schema_at(error_schema(errors, documented(status)), errors.status_pointer))
        if types:
            return "string" in types and not types & {"integer", "number"}
    return False


def constants(errors: ErrorEnvelope, key: str, status: int, schema: Mapping[str, Any]) -> dict[str, Any]:
    """A constant for every required member of the error schema the envelope does not place."""
    placed = {errors.message_pointer, errors.status_pointer, errors.details_pointer, errors.path_pointer}
    found: dict[str, Any] = {}

    def walk(node: Mapping[str, Any], pointer: str) -> None:
        if pointer in placed:
            return
        types = schema_types(node)
        choices = [node["const"]] if "const" in node else list(node.get("enum") or ())
        if choices:
            found[pointer] = key if key in choices else choices[0]
        elif "default" in node:  # the schema's own value (RFC 7807's `type`: about:blank)
            found[pointer] = node["default"]
        elif "object" in types or "properties" in node or "allOf" in node:
            fields = object_fields(node)  # members an `allOf` part requires, as vendors write them
            for name in fields.required:
                walk(fields.properties.get(name) or {}, pointer + pointer_of(name))
        elif "array" in types:
            if any(p and p.startswith(pointer + "/0/") for p in placed):
                walk(node.get("items") or {}, pointer + "/0")
        elif "string" in types:
            # A URI member (RFC 7807's `instance`) gets a URI naming the entry, not its bare key.
            found[pointer] = f"urn:error:{key}" if node.get("format") in ("uri", "iri") else key
        elif types & {"integer", "number"}:
            found[pointer] = status
        elif "boolean" in types:
            found[pointer] = False

    walk(schema, "")
    found.pop("", None)  # a body that is no object: the schema says nothing the envelope can place
    return found

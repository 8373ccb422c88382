"""Compare two JSON Schemas (Draft 2020-12, `$ref`s resolved) keyword by keyword.

Requests and responses vary in opposite directions: a request schema that accepts less breaks
clients, one that accepts more breaks servers; a response that may carry more breaks clients, one
that promises more than OLD delivered breaks servers. Every keyword of the 2020-12 vocabulary is
compared: the ones with a direction (bounds, enum, type, required, additional and unevaluated
properties, uniqueItems) are judged by it, the ones holding subschemas are compared recursively,
and any other that differs is a change breaking both sides.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, Literal

from ..spec.model import pointer_of
from .model import BOTH, CLIENTS, NEITHER, SERVERS, Collector, Impact

__all__ = ["Side", "compare_schemas", "plain"]

Side = Literal["request", "response"]
Verdict = Literal["narrowed", "widened", "changed"]

# (breaking for clients, breaking for servers) of a schema that accepts less, more, or something else.
IMPACT: dict[Side, dict[Verdict, Impact]] = {
    "request": {"narrowed": CLIENTS, "widened": SERVERS, "changed": BOTH},
    "response": {"narrowed": SERVERS, "widened": CLIENTS, "changed": BOTH},
}

# Keywords that document a schema without constraining it: edits to them are not changes.
DESCRIPTIVE = frozenset(
    {
        "description",
        "title",
        "summary",
        "examples",
        "example",
        "default",
        "$comment",
        "deprecated",
        "externalDocs",
        "$defs",  # reached through the `$ref`s that use them, already resolved
        "definitions",
        "$id",
        "$schema",
        "$anchor",
        "$dynamicAnchor",
        "xml",
    }
)
# Annotations a validator does not enforce but that tell a client what to send or read.
ANNOTATIONS = ("readOnly", "writeOnly", "discriminator")
UPPER_BOUNDS = ("maxLength", "maximum", "exclusiveMaximum", "maxItems", "maxProperties", "maxContains")
LOWER_BOUNDS = ("minLength", "minimum", "exclusiveMinimum", "minItems", "minProperties", "minContains")
EXACT = ("format", "pattern", "const", "contentMediaType", "contentEncoding", "multipleOf")
# Subschemas whose change in either direction is judged as a change of the whole.
COMPOSITION = (
    "oneOf",
    "anyOf",
    "allOf",
    "not",
    "if",
    "then",
    "else",
    "dependentRequired",
    "dependentSchemas",
)
CLOSING = ("additionalProperties", "unevaluatedProperties", "unevaluatedItems")
_HANDLED = frozenset(
    {
        "type",
        "enum",
        "properties",
        "required",
        "items",
        "prefixItems",
        "contains",
        "propertyNames",
        "patternProperties",
        "contentSchema",
        "uniqueItems",
        *ANNOTATIONS,
        *UPPER_BOUNDS,
        *LOWER_BOUNDS,
        *EXACT,
        *COMPOSITION,
        *CLOSING,
    }
)


def compare_schemas(
    old: Any, new: Any, where: str, side: Side, out: Collector, path: str = "", at: str | None = None
) -> None:
    """Compare two (resolved) schemas found at `path` below `where`, recursing into subschemas.

    `at` is the schema's JSON pointer in NEW's document (through `$ref`s, which the locator
    follows), so a change is annotated where it is written; without it, where the comparison is.
    """
    previous = out.pointer
    out.pointer = at if at is not None else previous
    try:
        _compare(old, new, where, side, out, path)
    finally:
        out.pointer = previous


def _compare(old: Any, new: Any, where: str, side: Side, out: Collector, path: str) -> None:
    if not isinstance(old, Mapping) or not isinstance(new, Mapping):
        if plain(old) != plain(new):
            impact = _boolean_schema(old, new, side)
            out.add("schema-changed", _at(where, path), old, new, impact, f"{_what(side, path)} changed")
        return
    _type(old, new, where, path, side, out)
    _enum(old, new, where, path, side, out)
    for keyword in UPPER_BOUNDS + LOWER_BOUNDS:
        _bound(keyword, old.get(keyword), new.get(keyword), keyword in UPPER_BOUNDS, where, path, side, out)
    for keyword in EXACT:
        _exact(keyword, old, new, where, path, side, out)
    if bool(old.get("uniqueItems")) != bool(new.get("uniqueItems")):
        verdict: Verdict = "narrowed" if new.get("uniqueItems") else "widened"
        message = f"{_what(side, path)}: uniqueItems {verdict}"
        out.add(
            f"unique-items-{verdict}",
            _at(where, path),
            old.get("uniqueItems"),
            new.get("uniqueItems"),
            IMPACT[side][verdict],
            message,
        )
    for keyword in COMPOSITION:
        if _branches(old.get(keyword)) != _branches(new.get(keyword)):
            out.add(
                f"{kebab(keyword)}-changed",
                _at(where, path),
                old.get(keyword),
                new.get(keyword),
                BOTH,
                f"{_what(side, path)}: {keyword} changed",
            )
    for keyword in ANNOTATIONS:
        if plain(old.get(keyword)) != plain(new.get(keyword)):
            out.add(
                f"{kebab(keyword)}-changed",
                _at(where, path),
                old.get(keyword),
                new.get(keyword),
                NEITHER,
                f"{_what(side, path)}: {keyword} changed from {show(old.get(keyword))} to "
                f"{show(new.get(keyword))}",
            )
    _properties(old, new, where, path, side, out)
    for keyword in CLOSING:
        _closing(keyword, old, new, where, path, side, out)
    for keyword, suffix in (
        ("items", "[]"),
        ("contains", "[contains]"),
        ("propertyNames", "{name}"),
        ("contentSchema", "{content}"),
    ):
        if keyword in old or keyword in new:
            compare_schemas(
                old.get(keyword, True),
                new.get(keyword, True),
                where,
                side,
                out,
                path + suffix,
                _below(out, keyword),
            )
    _prefix_items(old, new, where, path, side, out)
    _pattern_properties(old, new, where, path, side, out)
    for keyword in sorted((set(old) | set(new)) - _HANDLED - DESCRIPTIVE):
        if keyword.startswith("x-") or plain(old.get(keyword)) == plain(new.get(keyword)):
            continue
        out.add(
            f"{kebab(keyword)}-changed",
            _at(where, path),
            old.get(keyword),
            new.get(keyword),
            BOTH,
            f"{_what(side, path)}: {keyword} changed from {show(old.get(keyword))} to "
            f"{show(new.get(keyword))}",
        )


def _boolean_schema(old: Any, new: Any, side: Side) -> Impact:
    """`true` accepts anything, `false` nothing: between them (or a schema) the direction is known."""
    if new is False or old is True:
        return IMPACT[side]["narrowed"]
    if old is False or new is True:
        return IMPACT[side]["widened"]
    return BOTH


def _closed(schema: Mapping[str, Any]) -> bool:
    """Whether the schema refuses members it does not list."""
    return schema.get("additionalProperties") is False or schema.get("unevaluatedProperties") is False


def _properties(
    old: Mapping[str, Any], new: Mapping[str, Any], where: str, path: str, side: Side, out: Collector
) -> None:
    old_props: Mapping[str, Any] = old.get("properties") or {}
    new_props: Mapping[str, Any] = new.get("properties") or {}
    old_required = set(old.get("required") or ())
    new_required = set(new.get("required") or ())
    removed = [name for name in old_props if name not in new_props]
    added = [name for name in new_props if name not in old_props]
    renamed = _renames(removed, added, old_props, new_props)
    for before, after in renamed.items():
        out.add(
            "field-renamed",
            _at(where, _join(path, before)),
            before,
            after,
            BOTH,
            f"{side} field {_join(path, before)!r} was renamed to {_join(path, after)!r}",
        )
    for name in removed:
        if name in renamed:
            continue
        was_required = name in old_required
        if side == "request":
            # Old clients still send it: NEW refuses it if it refuses unknown members; a server built
            # from OLD still demands it of NEW clients if it was required.
            impact: Impact = (_closed(new), was_required)
        else:
            # Clients read it: they could rely on it only if it was promised.
            impact = (was_required, False)
        out.add(
            "field-removed",
            _at(where, _join(path, name)),
            name,
            None,
            impact,
            f"{'required' if was_required else 'optional'} {_what(side, _join(path, name))} was removed",
        )
    renamed_to = set(renamed.values())
    for name in added:
        if name in renamed_to:
            continue
        required = name in new_required
        # A request: old clients do not send it, and a server built from OLD refuses it if it refuses
        # unknown members. A response: old clients that refuse unknown members break on it, and old
        # servers never send a promised one.
        impact = (required, _closed(old)) if side == "request" else (_closed(old), required)
        out.add(
            "field-added",
            _at(where, _join(path, name)),
            None,
            name,
            impact,
            f"{'required' if required else 'optional'} {_what(side, _join(path, name))} was added",
        )
    # `required` may also name fields that `properties` does not list (e.g. inside oneOf branches).
    reported = set(removed) | set(added) | set(renamed) | renamed_to
    for name in sorted((old_required ^ new_required) - reported):
        became_required = name in new_required
        # A request that demands a member accepts less; a response that promises one carries less
        # variety, which old servers may not deliver.
        impact = IMPACT[side]["narrowed" if became_required else "widened"]
        out.add(
            "field-required" if became_required else "field-optional",
            _at(where, _join(path, name)),
            name in old_required,
            became_required,
            impact,
            f"{_what(side, _join(path, name))} became {'required' if became_required else 'optional'}",
        )
    for name in old_props:
        if name in new_props:
            compare_schemas(
                old_props[name],
                new_props[name],
                where,
                side,
                out,
                _join(path, name),
                _below(out, "properties", name),
            )


def _renames(
    removed: list[str], added: list[str], old_props: Mapping[str, Any], new_props: Mapping[str, Any]
) -> dict[str, str]:
    """Removed fields paired with added ones of the same schema, when the pairing is unambiguous."""
    pairs: dict[str, str] = {}
    for before in removed:
        matches = [after for after in added if plain(new_props[after]) == plain(old_props[before])]
        rivals = [
            other for other in removed if matches and plain(old_props[other]) == plain(old_props[before])
        ]
        if len(matches) == 1 and len(rivals) == 1:
            pairs[before] = matches[0]
    return pairs


def _type(
    old: Mapping[str, Any], new: Mapping[str, Any], where: str, path: str, side: Side, out: Collector
) -> None:
    before, after = _types(old.get("type")), _types(new.get("type"))
    if before == after:
        return
    verdict = _containment(before, after)
    out.add(
        f"type-{verdict}",
        _at(where, path),
        old.get("type"),
        new.get("type"),
        IMPACT[side][verdict],
        f"{_what(side, path)}: type {verdict} from {show(old.get('type'))} to {show(new.get('type'))}",
    )


def _types(value: Any) -> frozenset[str] | None:
    if value is None:
        return None  # any type
    names = {value} if isinstance(value, str) else set(value)
    if "number" in names:
        names.add("integer")  # every integer is a number
    return frozenset(names)


def _enum(
    old: Mapping[str, Any], new: Mapping[str, Any], where: str, path: str, side: Side, out: Collector
) -> None:
    before = None if "enum" not in old else frozenset(map(key_of, old["enum"]))
    after = None if "enum" not in new else frozenset(map(key_of, new["enum"]))
    if before == after:
        return
    verdict = _containment(before, after)
    out.add(
        f"enum-{verdict}",
        _at(where, path),
        old.get("enum"),
        new.get("enum"),
        IMPACT[side][verdict],
        f"{_what(side, path)}: enum {verdict} from {show(old.get('enum'))} to {show(new.get('enum'))}",
    )


def _containment(before: frozenset[str] | None, after: frozenset[str] | None) -> Verdict:
    """Whether the allowed set shrank, grew, or moved (None means "anything")."""
    if after is None or (before is not None and before <= after):
        return "widened"
    if before is None or after <= before:
        return "narrowed"
    return "changed"


def _bound(
    keyword: str, before: Any, after: Any, upper: bool, where: str, path: str, side: Side, out: Collector
) -> None:
    if before == after:
        return
    if after is None:
        verdict: Verdict = "widened"
    elif before is None:
        verdict = "narrowed"
    else:
        tighter = after < before if upper else after > before
        verdict = "narrowed" if tighter else "widened"
    if before is None or after is None:
        shown = show(before if after is None else after)
        how = f"{keyword} {'removed' if after is None else 'added'} ({shown})"
    else:
        how = f"{keyword} {'lowered' if after < before else 'raised'} from {before} to {after}"
    out.add(
        f"{kebab(keyword)}-{verdict}",
        _at(where, path),
        before,
        after,
        IMPACT[side][verdict],
        f"{_what(side, path)}: {how}",
    )


def _exact(
    keyword: str,
    old: Mapping[str, Any],
    new: Mapping[str, Any],
    where: str,
    path: str,
    side: Side,
    out: Collector,
) -> None:
    if old.get(keyword) == new.get(keyword) and (keyword in old) == (keyword in new):
        return
    verdict: Verdict = "narrowed" if keyword not in old else "widened" if keyword not in new else "changed"
    out.add(
        f"{kebab(keyword)}-{verdict}",
        _at(where, path),
        old.get(keyword),
        new.get(keyword),
        IMPACT[side][verdict],
        f"{_what(side, path)}: {keyword} {verdict} from {show(old.get(keyword))} to {show(new.get(keyword))}",
    )


def _closing(
    keyword: str,
    old: Mapping[str, Any],
    new: Mapping[str, Any],
    where: str,
    path: str,
    side: Side,
    out: Collector,
) -> None:
    """additionalProperties, unevaluatedProperties, unevaluatedItems: false closes, a schema restricts."""
    before, after = old.get(keyword, True), new.get(keyword, True)
    if isinstance(before, Mapping) and isinstance(after, Mapping):
        compare_schemas(before, after, where, side, out, f"{path}.*" if path else "*", _below(out, keyword))
        return
    if plain(before) == plain(after):
        return
    verdict: Verdict = (
        "narrowed"
        if after is False or before is True
        else "widened"
        if before is False or after is True
        else "changed"
    )
    out.add(
        f"{kebab(keyword)}-{verdict}",
        _at(where, path),
        before,
        after,
        IMPACT[side][verdict],
        f"{_what(side, path)}: {keyword} {verdict} from {show(before)} to {show(after)}",
    )


def _prefix_items(
    old: Mapping[str, Any], new: Mapping[str, Any], where: str, path: str, side: Side, out: Collector
) -> None:
    before, after = old.get("prefixItems") or [], new.get("prefixItems") or []
    for index in range(max(len(before), len(after))):
        was = before[index] if index < len(before) else True
        now = after[index] if index < len(after) else True
        compare_schemas(was, now, where, side, out, f"{path}[{index}]", _below(out, "prefixItems", index))


def _pattern_properties(
    old: Mapping[str, Any], new: Mapping[str, Any], where: str, path: str, side: Side, out: Collector
) -> None:
    before: Mapping[str, Any] = old.get("patternProperties") or {}
    after: Mapping[str, Any] = new.get("patternProperties") or {}
    for pattern in sorted(set(before) | set(after)):
        at = _below(out, "patternProperties", pattern)
        compare_schemas(
            before.get(pattern, True), after.get(pattern, True), where, side, out, f"{path}{{{pattern}}}", at
        )


def _branches(value: Any) -> Any:
    """oneOf, anyOf and allOf are sets of subschemas (their order decides nothing); others as written."""
    if isinstance(value, list):
        return sorted(key_of(plain(v)) for v in value)
    return plain(value)


def _below(out: Collector, *tokens: object) -> str:
    """The pointer of a subschema of the schema being compared."""
    return out.pointer + pointer_of(*tokens)


def plain(value: Any) -> Any:
    """A schema without its documentation keywords, for comparing what it constrains."""
    if isinstance(value, Mapping):
        return {k: plain(v) for k, v in value.items() if k not in DESCRIPTIVE and not str(k).startswith("x-")}
    if isinstance(value, list):
        return [plain(v) for v in value]
    return value


def key_of(value: Any) -> str:
    """A value as a stable text, for comparing sets of JSON values."""
    return json.dumps(value, sort_keys=True, default=str)


def _join(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


def _at(where: str, path: str) -> str:
    return f"{where}.{path}" if path else where


def _what(side: Side, path: str) -> str:
    return f"{side} field {path!r}" if path else f"the {side} body"


def kebab(keyword: str) -> str:
    """`maxLength` -> `max-length`: a keyword as part of a rule id."""
    return "".join(f"-{c.lower()}" if c.isupper() else c for c in keyword.lstrip("$")).lstrip("-")


def show(value: Any) -> str:
    return "none" if value is None else json.dumps(value, default=str)

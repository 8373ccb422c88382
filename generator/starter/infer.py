"""The x-ingest block proposed for an operation of a vendor's file, read from the spec model.

`candidates` picks the operations that look like event ingest (POSTs whose body has an event-like,
contact-like or batch field); `select` picks them by operationId or `METHOD /path`; `propose` infers
the block: the request's fields (`fields.py`), the answers and errors (`answers.py`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..spec.model import Operation, Spec, field_pointer, schemas_at
from . import answers, fields
from .proposal import Block, Guess, plain, todo

# Words in a path that say an operation takes events.
INGEST_WORDS = (
    "track",
    "event",
    "import",
    "batch",
    "identify",
    "ingest",
    "capture",
    "collect",
    "upload",
    "page",
)


class UnknownOperation(LookupError):
    """`--operation` named something the file does not have, or an operation that has its block."""


def candidates(spec: Spec) -> list[Operation]:
    """The operations that look like event ingest: POSTs of events, and profile updates (a PUT or
    PATCH of a contact's attributes), which are served as events of one name."""
    return [
        op
        for op in spec.operations
        if op.method in ("POST", *fields.UPDATES)
        and op.ingest is None
        and op.read is None
        and _looks_like_ingest(op)
    ]


def _looks_like_ingest(op: Operation) -> bool:
    array, bare = fields.batch_array(op.request_schema)
    item = _item_schema(op, array, bare)
    found = fields.members(item)
    named = {fields.normal(f.name) for f in found}
    in_body = bool(named & set(fields.IDENTITY_KINDS))
    from_path = fields.path_identity(op)
    if op.method in fields.UPDATES:  # a profile update: the attributes of the contact it names
        # `PUT /customers/{identifier}`, not `PUT /customers/{identifier}/settings`.
        named_by_path = from_path is not None and op.path.rstrip("/").endswith(f"{{{from_path[0].name}}}")
        return (in_body or named_by_path) and bool(found or op.request_schema.get("additionalProperties"))
    words = any(word in op.path.lower() for word in INGEST_WORDS)
    events = bool(named & set(fields.EVENT_NAMES)) or (words and bool(found))
    return events and (in_body or from_path is not None or words)


def select(spec: Spec, wanted: tuple[str, ...]) -> list[Operation]:
    """The operations named (operationId or `METHOD /path`), or the ingest candidates by default."""
    if not wanted:
        return candidates(spec)
    by_name = {op.operation_id: op for op in spec.operations}
    by_name |= {f"{op.method} {op.path}": op for op in spec.operations}
    unknown = [name for name in wanted if name not in by_name and _route(name) not in by_name]
    if unknown:
        known = ", ".join(sorted(op.operation_id for op in spec.operations))
        raise UnknownOperation(f"no operation {', '.join(map(repr, unknown))} in the file (it has: {known})")
    chosen = {op.pointer: op for op in (by_name.get(name) or by_name[_route(name)] for name in wanted)}
    blocked = [op.operation_id for op in chosen.values() if op.ingest is not None or op.read is not None]
    if blocked:
        raise UnknownOperation(
            f"{', '.join(blocked)} already has an x-ingest block (or x-ingest-read): edit it instead"
        )
    return list(chosen.values())


def _route(name: str) -> str:
    method, _, path = name.partition(" ")
    return f"{method.upper()} {path.strip()}"


def _item_schema(op: Operation, array: fields.Field | None, bare: bool) -> Mapping[str, Any]:
    if bare:
        items = op.request_schema.get("items")
        return items if isinstance(items, Mapping) else {}
    if array is not None:
        return array.schema["items"]  # type: ignore[no-any-return]
    return op.request_schema


def _item_examples(op: Operation, array: fields.Field | None, bare: bool) -> list[Any]:
    values = [e.value for e in op.request_examples]
    if bare:
        return [v[0] for v in values if isinstance(v, list) and v]
    if array is not None:
        return [
            v[array.name][0]
            for v in values
            if isinstance(v, Mapping) and isinstance(v.get(array.name), list) and v[array.name]
        ]
    return values


def propose(op: Operation) -> tuple[Block, str]:
    """The block inferred for `op`, and a note on how its key travels (for a comment above it)."""
    array, bare = fields.batch_array(op.request_schema)
    item = _item_schema(op, array, bare)
    found = fields.members(item)
    block: Block = {"version": Guess(2)}
    block.update(fields.event(found, op))
    credential, note = fields.credential(fields.members(op.request_schema, depth=1), op, found)
    block.update(credential)
    block.update(fields.occurred_at(found, _item_examples(op, array, bare)))
    taken = {
        field_pointer(str(v.value))
        for v in block.values()
        if isinstance(v, Guess) and isinstance(v.value, str)
    }
    key = fields.dedupe_key(found, op, taken)
    if key is not None and key.value["in"] == "body":
        taken.add(field_pointer(key.value["name"]))
    block["identity"] = fields.identity(found, op, taken)
    block["payload"] = fields.payload(found, whole=fields.profile_update(op) is not None)
    texts = [op.description, op.summary, *(r.description for r in op.responses.values())]
    block["payload_limit"] = {"default_bytes": fields.size_limit(texts)}
    kinds = _kinds(item, block)
    if kinds:
        block["kinds"] = kinds
    response, batch_answer = answers.success(op, batch=bool(array or bare))
    if key is not None:
        block["dedupe"] = {
            "key": key,
            "scope": Guess("project"),
            "replay": {k: Guess(v.value) for k, v in response.items() if isinstance(v, Guess)},
        }
    if 429 in op.responses:
        reason = "the file documents a 429 but no numbers: a guess, set your limit"
        block["rate_limit"] = {"requests": Guess(100, reason), "per_seconds": Guess(1)}
    if array is not None or bare:
        batch_block = fields.batch(array) if array else _bare(op)
        batch_block["acceptance"] = Guess("all_or_nothing", "the documented answer names no refused item")
        if batch_answer is None:
            status = plain(response).get("status", 200)
            reason = "the documented success has no body, which a batch answer cannot be yet"
            batch_block["response"] = todo(reason, {"status": status, "fields": {}})
        else:
            batch_block["response"] = batch_answer
        block["batch"] = batch_block
    block["response"] = response
    errors, model = answers.envelope(op)
    used = ["authenticate", "media_type", "size", "json", "identity_missing", "envelope", "payload", "store"]
    used += ["route", "method"] + (["rate_limit"] if "rate_limit" in block else [])
    identity = block["identity"]
    if (
        isinstance(identity, dict)
        and isinstance(identity["mode"], Guess)
        and identity["mode"].value == "exactly_one"
    ):
        used.append("identity_conflict")
    catalogue, answered = answers.catalogue(op, model, used)
    if catalogue:
        errors["catalogue"] = catalogue
    block["errors"] = errors
    unanswered = [s for s in op.responses if s >= 400 and s not in answered]
    if unanswered:
        block["documented_only"] = Guess(
            unanswered, "documented, but no error of this block answers them: something in front answers them"
        )
    return block, note


def _bare(op: Operation) -> Block:
    limit = op.request_schema.get("maxItems")
    return {
        "items_field": Guess("", "the body is itself the array of events: the empty JSON Pointer"),
        "max_items": Guess(
            limit if isinstance(limit, int) else fields.DEFAULT_MAX_ITEMS, "the array's maxItems"
        ),
    }


def _kinds(item: Mapping[str, Any], block: Block) -> Block | None:
    """Items of several kinds: the item schema's discriminator and each branch's event and payload."""
    discriminator = item.get("discriminator")
    branches = [b for b in item.get("oneOf") or item.get("anyOf") or () if isinstance(b, Mapping)]
    if not isinstance(discriminator, Mapping) or not branches:
        return None
    name = str(discriminator.get("propertyName", ""))
    payload = block["payload"]
    assert isinstance(payload, dict)
    by_value: dict[str, Any] = {}
    for branch in branches:
        values = [s.get("const") for s in schemas_at(branch, field_pointer(name))]
        value = next((v for v in values if isinstance(v, str)), None)
        if value is None:
            continue
        members = fields.members(branch)
        event = fields.best(members, fields.EVENT_NAMES, lambda f: f.scalar)
        rules: dict[str, Any] = {"event_field": event.written} if event else {"event_name": value}
        own = fields.payload(members)["field"]
        if isinstance(own, Guess) and not own.todo and own.value != plain(payload)["field"]:
            rules["payload"] = {"field": own.value}
        by_value[value] = rules
    if not by_value:
        return None
    return {"by_value": Guess(by_value, f"the item schema's discriminator {name!r}: each branch's event")}

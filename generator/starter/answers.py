"""What an operation answers, guessed from its documented responses: the success body, the error
envelope, and the catalogue entries whose default status the file does not document.

Every error the block does not list gets its catalogue default (`spec/defaults.py`, its body derived
from the error schema), so the proposal lists only: an entry for each documented error example (the
body the file shows, so the server answers it), an entry whose default status is not documented
(moved to a status the file does document, with the constants the error schema requires); and says
in `documented_only` which documented statuses nothing of the block answers.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..spec.defaults import constants
from ..spec.model import (
    CONNECTION_DEFAULTS,
    STEPS,
    ErrorEnvelope,
    Operation,
    Response,
    leaves,
    object_fields,
    pointer_get,
    pointer_of,
    schema_types,
)
from .fields import Field, normal
from .proposal import Block, Guess, todo

ACCEPTED = (
    "accepted",
    "eventsingested",
    "numrecordsimported",
    "successcount",
    "count",
    "ingested",
    "received",
)
REJECTED = ("rejected", "failcount", "failed", "failedcount", "errorscount")
ID_NAMES = ("id", "eventid", "uuid")
MESSAGE_NAMES = ("message", "detail", "error", "msg", "errormessage", "description", "title", "reason")
STATUS_NAMES = ("status", "statuscode", "code", "httpstatus")
DETAIL_PATHS = ("field", "path", "pointer", "loc", "property", "name")
DETAIL_MESSAGES = ("message", "reason", "msg", "detail", "error")
# Where an error whose default status is not documented goes instead, in order of preference.
FALLBACKS = {401: (403, 400), 413: (400,), 415: (400,), 422: (400,), 503: (500,)}


def _text(media_type: str) -> bool:
    return ErrorEnvelope(media_type, "", {}).text


def success(op: Operation, batch: bool) -> tuple[Block, Block | None]:
    """The `response` shape, and for a batch its `batch.response`: the counts it documents, the
    constant text it answers (`200 OK`); None when the success has no body, which a batch answer
    cannot be yet."""
    statuses = sorted(s for s in op.responses if 200 <= s < 300)
    if not statuses:
        return {"status": todo("the file documents no 2xx answer: the status answered", 200)}, None
    status = statuses[0]
    response = op.responses[status]
    said = f"the documented {status}"
    if response.media_type is None:
        return {"status": Guess(status, f"{said}, with no body")}, None
    if _text(response.media_type):
        # A text body is the example as written: `OK`, or Mixpanel's `1` (a YAML integer).
        example = next((e.value for e in response.examples if isinstance(e.value, str | int)), None)
        text = (
            Guess(str(example), f"{said}'s example ({response.media_type})")
            if example is not None and not isinstance(example, bool)
            else Guess("OK", "a guess: the text answered")
        )
        types = schema_types(response.schema or {})
        if types and "string" not in types:
            said_types = " or ".join(sorted(types))
            reason = f"the documented schema types the text as {said_types}, which a text body never is"
            text = todo(reason, text.value)
        shape: Block = {"status": Guess(status, said), "text": text}
        return shape, dict(shape) if batch else None
    documented: Mapping[str, Any] = next(
        (e.value for e in response.examples if isinstance(e.value, Mapping)), {}
    )
    fields, counts = _fields(response.schema or {}, documented, status)
    why = "from the documented schema and example" if fields or counts else ""
    shape = {"status": Guess(status, f"{said} ({response.media_type})")}
    if not batch:  # one event: a count of accepted events is 1
        one = {name: {"const": int(count["source"] == "accepted")} for name, count in counts.items()}
        shape["fields"] = Guess({**fields, **one}, why)
        return shape, None
    shape["fields"] = Guess(fields, why)
    answer: Block = {"status": Guess(status, said), "fields": Guess({**fields, **counts}, why)}
    return shape, answer


def _fields(
    schema: Mapping[str, Any], example: Mapping[str, Any], status: int
) -> tuple[dict[str, Any], dict[str, Any]]:
    """A success body's members as x-ingest fields (a source or a constant), and a batch's counts."""
    described = object_fields(schema)
    fields: dict[str, Any] = {}
    counts: dict[str, Any] = {}
    for name, sub in described.properties.items():
        sub = sub if isinstance(sub, Mapping) else {}
        key, types, value = normal(name), schema_types(sub), example.get(name)
        if key in ACCEPTED and types & {"integer", "number"}:
            counts[name] = {"source": "accepted"}
        elif key in REJECTED and types & {"integer", "number"}:
            counts[name] = {"source": "rejected"}
        elif "const" in sub and isinstance(sub["const"], str | int | bool):
            fields[name] = {"const": sub["const"]}
        elif key in ID_NAMES and "string" in types:
            fields[name] = {"source": "id"}
        elif isinstance(value, str | int | bool) and not isinstance(value, float):
            fields[name] = {"const": value}
        elif sub.get("enum") and isinstance(sub["enum"][0], str | int | bool):
            fields[name] = {"const": sub["enum"][0]}
        elif name in described.required and "boolean" in types:
            fields[name] = {"const": True}
        elif name in described.required and types & {"integer", "number"}:
            fields[name] = {"const": status}
        elif name in described.required:
            fields[name] = {"const": "TODO"}
    return fields, counts


def error_response(op: Operation) -> Response | None:
    """The response documenting a bad request: 400 first, then any 4xx, a 4XX range, `default`."""
    own = [op.responses[s] for s in sorted(op.responses, key=lambda s: (s != 400, s)) if 400 <= s < 500]
    ranged = [op.ranges[k] for k in ("4XX", "default") if k in op.ranges]
    return next((r for r in own + ranged if r.media_type), None)


def envelope(op: Operation) -> tuple[Block, ErrorEnvelope | None]:
    """The `errors` block's envelope (no catalogue yet) and its model, to derive entries' constants."""
    response = error_response(op)
    if response is None:
        reason = "the file documents no error body: the media type and where the message goes"
        return {"media_type": todo(reason, "application/json")}, None
    media = response.media_type or "application/json"
    said = f"the documented {response.name} ({media})"
    if _text(media):
        return {"media_type": Guess(media, f"{said}: the body is the message")}, ErrorEnvelope(media, "", {})
    found = _members(response.schema or {})
    # The message and status are the body's own, or its first error's (JSON:API), not a detail's.
    own = [f for f in found if _in_errors(f)]
    message = _best(own, MESSAGE_NAMES, {"string"})
    block: Block = {"media_type": Guess(media, said)}
    if message is None:
        block["message"] = todo(
            "no string member is named like the message (message, detail, error)", "/TODO"
        )
        return block, None
    block["message"] = Guess(message.pointer, f"a string named like the message ({message.name})")
    status = _best(own, STATUS_NAMES, {"integer", "number"}) or _jsonapi_status(own)
    if status:
        block["status"] = Guess(status.pointer, "the status repeated in the body")
    path = next((f for f in found if f.parts[-2:] == ("source", "pointer")), None)
    if path:
        block["path"] = Guess(path.pointer, "JSON:API's source.pointer: the failing value")
    details = _details(found)
    if details:
        where, item = details
        block["details"] = Guess(where.pointer, "an array of failing fields")
        block["detail_item"] = Guess(item, "its items' members")
    model = ErrorEnvelope(
        media,
        message.pointer,
        {},
        status_pointer=status.pointer if status else None,
        details_pointer=details[0].pointer if details else None,
        path_pointer=path.pointer if path else None,
    )
    return block, model


def _members(schema: Mapping[str, Any], prefix: str = "", depth: int = 4) -> list[Field]:
    """Members of an error schema, through objects and the first item of arrays (`/errors/0/detail`)."""
    found = []
    described = object_fields(schema)
    for name, sub in described.properties.items():
        if not isinstance(sub, Mapping):
            continue
        field = Field(prefix + pointer_of(name), sub, name in described.required)
        found.append(field)
        if depth > 1 and field.is_object:
            found += _members(sub, field.pointer, depth - 1)
        elif depth > 1 and "array" in field.types and isinstance(sub.get("items"), Mapping):
            found += _members(sub["items"], field.pointer + "/0", depth - 1)
    return found


def _in_errors(field: Field) -> bool:
    """Whether the member is the body's own or its first error's (arrays named error/errors only)."""
    parts = field.parts
    return all(
        normal(parts[i - 1]) in ("errors", "error") for i, part in enumerate(parts) if part == "0" and i
    )


def _best(found: list[Field], names: tuple[str, ...], types: set[str]) -> Field | None:
    ranked = [
        (names.index(normal(f.name)), len(f.parts), f)
        for f in found
        if normal(f.name) in names and f.types & types
    ]
    return min(ranked, key=lambda r: r[:2])[2] if ranked else None


def _jsonapi_status(found: list[Field]) -> Field | None:
    return next((f for f in found if f.parts[-1] == "status" and f.parts[-2:-1] == ("0",)), None)


def _details(found: list[Field]) -> tuple[Field, dict[str, str]] | None:
    for field in found:
        items = field.schema.get("items")
        if "array" not in field.types or not isinstance(items, Mapping) or field.parts[-1] == "errors":
            continue
        names = list(object_fields(items).properties)
        where = next((n for n in names if normal(n) in DETAIL_PATHS), None)
        what = next((n for n in names if normal(n) in DETAIL_MESSAGES), None)
        if where and what:
            return field, {"path": where, "message": what}
    return None


# Words in an error example's code or message that say which failure it documents, by catalogue key.
_CLUES = (
    ("malformed_json", ("json", "parse", "malformed", "syntax")),
    ("unauthorized", ("auth", "api key", "apikey", "credential", "token", "forbidden")),
    ("payload_too_large", ("too large", "too_large", "toolarge", "size", "larger")),
    ("unsupported_media_type", ("media type", "media_type", "content-type", "content type")),
    ("rate_limited", ("rate", "too many", "throttl")),
    ("storage_unavailable", ("unavailable", "retry later", "internal")),
    ("identity_missing", ("identity", "user_id", "userid", "distinct_id", "anonymous", "missing_user")),
)
# The key an example of a status documents when its words say nothing.
_BY_STATUS = {
    400: "invalid_request",
    401: "unauthorized",
    403: "unauthorized",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "payload_invalid",
    429: "rate_limited",
    503: "storage_unavailable",
}


def example_entries(op: Operation, model: ErrorEnvelope | None, keys: set[str]) -> dict[str, Guess]:
    """A catalogue entry for each documented error example, so the server answers the body the file
    shows: its status, message and constants, under the key its words (or its status) point to."""
    found: dict[str, Guess] = {}
    if model is None:
        return found
    if model.text:  # the body is the message (RudderStack's `Invalid request`)
        for status, response in op.responses.items():
            texts = [e for e in response.examples if isinstance(e.value, str) and e.value]
            if status < 400 or response.media_type != model.media_type or not texts:
                continue
            words = texts[0].value.lower()
            key = next((k for k, clues in _CLUES if any(c in words for c in clues)), _BY_STATUS.get(status))
            if key is not None and key in keys and key not in found:
                said = {"status": status, "message": texts[0].value}
                found[key] = Guess(said, f"the documented {status} example {texts[0].name!r}")
        return found
    placed = {
        p
        for p in (model.message_pointer, model.status_pointer, model.details_pointer, model.path_pointer)
        if p
    }
    for status, response in op.responses.items():
        if status < 400 or response.media_type != model.media_type:
            continue
        for example in response.examples:
            body = example.value
            message = pointer_get(body, model.message_pointer) if isinstance(body, Mapping) else None
            if not isinstance(message, str):
                continue
            fields = {p: v for p, v in leaves(body, walk=model.arrays()).items() if p not in placed}
            words = " ".join([message, *map(str, fields.values())]).lower()
            key = next((k for k, clues in _CLUES if any(c in words for c in clues)), _BY_STATUS.get(status))
            if key is None or key not in keys or key in found:
                continue
            entry: dict[str, Any] = {"status": status, "message": message}
            if fields:
                entry["fields"] = fields
            found[key] = Guess(entry, f"the documented {status} example {example.name!r}")
    return found


def catalogue(op: Operation, model: ErrorEnvelope | None, used: list[str]) -> tuple[Block, set[int]]:
    """Entries for the used errors: from the documented error examples, or where the default status
    is not documented; and every status the block's errors answer. `used` names the steps taken."""
    steps = [step for step in STEPS if step.name in used and step.default is not None]
    keys = {str(step.fixed_key or step.default_key) for step in steps}
    block: Block = dict(example_entries(op, model, keys))
    answered = {entry.value["status"] for entry in block.values() if isinstance(entry, Guess)}
    for step in steps:
        key = str(step.fixed_key or step.default_key)
        assert step.default is not None
        status, message = step.default
        if key in block:
            continue
        if step.role == "routing":
            if step.name == "method":
                answered.add(status)  # a documented path asked with another method
            continue  # answered outside every operation: lint asks no response of it
        if op.documented(status) is not None:
            answered.add(status)
            continue
        moved = next((s for s in FALLBACKS.get(status, ()) if op.documented(s) is not None), None)
        entry: dict[str, Any] = {"status": moved or status, "message": message}
        if model is not None and not model.text:
            response = op.documented(moved or status)
            schema = response.schema if response and response.media_type == model.media_type else None
            fields = constants(model, key, moved or status, schema or {})
            if fields:
                entry["fields"] = fields
        if moved:
            answered.add(moved)
            block[key] = Guess(entry, f"the file documents no {status}: answered {moved}, which it documents")
        else:
            reason = f"the file documents no {status} (nor a range or default): no documented status fits"
            block[key] = todo(reason, entry)
    answered |= {s for s, _ in CONNECTION_DEFAULTS.values() if op.documented(s) is not None}
    return block, answered

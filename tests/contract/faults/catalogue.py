"""Deliberate faults for the generated servers, one behaviour each, to prove the suite catches them.

A fault either rewrites replies (an ASGI middleware around the app: wrong status, missing field,
wrong envelope, ...) or replaces one function or constant of the generated modules before the app
is built (no dedupe, ignored auth, wrong resolution order, ...). Each says, from the spec model,
which APIs it applies to.
"""

from __future__ import annotations

import asyncio
import copy
import dataclasses
import importlib
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from types import ModuleType
from typing import Any

import jsonschema_rs
import orjson

from ingestspec.generator.spec.model import Ingest, Operation, item_get

Modules = dict[str, ModuleType]  # "app", "ingest", "errors", "config", "timestamps", ... of one server
Rewrite = Callable[[int, dict[str, str], bytes], tuple[int, dict[str, str], bytes]]


@dataclass(frozen=True)
class Fault:
    """One broken behaviour: what it breaks, where it applies, how it is installed."""

    name: str
    description: str
    applies: Callable[[Ingest], bool]
    patch: Callable[[Modules, Ingest], None] | None = None
    rewrite: Callable[[Ingest], Rewrite] | None = None
    patch_app: Callable[[Any, Modules, Ingest], None] | None = None
    # What the operation's request schema must declare for the fault to make a difference.
    fits: Callable[[Operation], bool] = lambda op: True

    def applies_to(self, op: Operation) -> bool:
        return op.ingest is not None and self.applies(op.ingest) and self.fits(op)


FAULTS: dict[str, Fault] = {}


def fault(
    description: str,
    applies: Callable[[Ingest], bool] = lambda ingest: True,
    *,
    kind: str = "patch",
    fits: Callable[[Operation], bool] = lambda op: True,
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    def register(func: Callable[..., Any]) -> Callable[..., Any]:
        FAULTS[func.__name__] = Fault(func.__name__, description, applies, fits=fits, **{kind: func})
        return func

    return register


def _replace(value: Any, **changes: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return dataclasses.replace(value, **changes)
    return value._replace(**changes)


def _wrap(module: ModuleType, name: str, make: Callable[[Any], Any]) -> None:
    setattr(module, name, make(getattr(module, name)))


def _with_limit(m: Modules, change: Callable[[int], int]) -> None:
    """The body read up to `change(limit)` instead of the limit: by `read_body`, or where the key is
    in the body (no `read_body`) by each step of `Body.read`."""
    if hasattr(m["ingest"], "read_body"):

        def make(original: Any) -> Any:
            async def read_body(request: Any, limit: int) -> bytes:
                return bytes(await original(request, change(limit)))

            return read_body

        _wrap(m["ingest"], "read_body", make)
        return
    body = m["ingest"].Body
    read = body.read

    async def read_changed(self: Any, limit: int, stop: int | None = None) -> bytes:
        return bytes(await read(self, change(limit), stop))

    body.read = read_changed


def _dedupe(ingest: Ingest) -> bool:
    return ingest.dedupe is not None


# -- faults in the code -------------------------------------------------------------------------


@fault("any or no API key is taken as the first project's")
def ignored_auth(m: Modules, ingest: Ingest) -> None:
    original = m["ingest"].Ingest.authenticate

    def authenticate(self: Any, request: Any) -> Any:
        try:
            return original(self, request)
        except m["errors"].ApiError:
            return self.config.projects[0]

    m["ingest"].Ingest.authenticate = authenticate


@fault("payloads of defined events are not validated", lambda i: True)
def no_schema_validation(m: Modules, ingest: Ingest) -> None:
    def make(original: Any) -> Any:
        def check_payload(project: Any, event_name: str, payload: Any) -> None:
            try:
                original(project, event_name, payload)
            except m["errors"].ApiError as error:
                if error.key != ingest.payload.mismatch_error:
                    raise

        return check_payload

    _wrap(m["ingest"], "check_payload", make)


@fault("events the project does not define are accepted", lambda i: i.payload.validation == "required")
def undefined_event_accepted(m: Modules, ingest: Ingest) -> None:
    def make(original: Any) -> Any:
        def check_payload(project: Any, event_name: str, payload: Any) -> None:
            if event_name in project.events:
                original(project, event_name, payload)

        return check_payload

    _wrap(m["ingest"], "check_payload", make)


@fault("a body that is not JSON crashes the handler (500)")
def server_error_on_bad_json(m: Modules, ingest: Ingest) -> None:
    def make(original: Any) -> Any:
        def reading(*args: Any, **kwargs: Any) -> Any:
            try:
                return original(*args, **kwargs)
            except m["errors"].ApiError as error:
                if error.key == "malformed_json":
                    raise RuntimeError("unparsed body") from None
                raise

        return reading

    # Where the ingest module reads its body: parse_exact, or exact where the key is in the body.
    for name in ("exact", "parse_exact"):
        if hasattr(m["ingest"], name):
            _wrap(m["ingest"], name, make)


@fault("the body-size limit is not enforced")
def oversize_accepted(m: Modules, ingest: Ingest) -> None:
    _with_limit(m, lambda limit: limit * 8)
    # A key in the body is read after the body, which is then held to its project's limit: that
    # limit is lifted too.
    authenticate = m["ingest"].Ingest.authenticate

    def lifted(self: Any, *args: Any) -> Any:
        project = authenticate(self, *args)
        return _replace(project, payload_limit=project.payload_limit * 8)

    m["ingest"].Ingest.authenticate = lifted


@fault("a body of exactly the limit is refused (off by one)")
def limit_off_by_one(m: Modules, ingest: Ingest) -> None:
    def make(original: Any) -> Any:
        async def read_body(request: Any, limit: int) -> bytes:
            raw = bytes(await original(request, limit))
            if len(raw) >= limit:
                raise m["errors"].ApiError(ingest.payload_limit.error, {"limit": limit})
            return raw

        return read_body

    _wrap(m["ingest"], "read_body", make)


@fault(
    "several identity fields are accepted where exactly one is allowed",
    lambda i: i.identity.mode == "exactly_one",
)
def identity_conflict_accepted(m: Modules, ingest: Ingest) -> None:
    def make(original: Any) -> Any:
        def choose_identity(body: dict[str, Any]) -> Any:
            present = ingest.items.kinds[0].identity_of(body)
            if present is None:
                return original(body)
            field, value = present
            return field.kind, value, field.normalize == "lowercase"

        return choose_identity

    _wrap(m["ingest"], "choose_identity", make)


@fault("identity fields are resolved in reverse order", lambda i: i.identity.mode == "first_present")
def wrong_resolution_order(m: Modules, ingest: Ingest) -> None:
    def make(original: Any) -> Any:
        def choose_identity(body: dict[str, Any]) -> Any:
            for field in reversed(ingest.identity.fields):
                value = item_get(body, field.pointer)
                if value is not None:
                    return field.kind, value, field.normalize == "lowercase"
            return original(body)

        return choose_identity

    _wrap(m["ingest"], "choose_identity", make)


@fault("identities are not lower-cased", lambda i: any(f.normalize == "lowercase" for f in i.identity.fields))
def no_email_normalisation(m: Modules, ingest: Ingest) -> None:
    def make(original: Any) -> Any:
        def choose_identity(body: dict[str, Any]) -> Any:
            kind, value, _ = original(body)
            return kind, value, False

        return choose_identity

    _wrap(m["ingest"], "choose_identity", make)


@fault("reserved event names are accepted", lambda i: i.reserved is not None)
def accepting_reserved_names(m: Modules, ingest: Ingest) -> None:
    setattr(m["ingest"], "check_reserved", lambda event_name: None)  # noqa: B010


@fault("event ids after the prefix are of another format (UUIDv1 for uuid4, else UUIDv4)")
def wrong_id_format(m: Modules, ingest: Ingest) -> None:
    other = uuid.uuid1 if ingest.id_format == "uuid4" else uuid.uuid4
    setattr(m["ingest"], "new_id", lambda: ingest.id_prefix + str(other()))  # noqa: B010


@fault("the malformed-JSON message differs from the catalogue")
def wrong_error_message(m: Modules, ingest: Ingest) -> None:
    # CATALOGUE: key -> (status, the body with its message template at MESSAGE_AT).
    status, body = m["errors"].CATALOGUE["malformed_json"]
    body = copy.deepcopy(body)
    *parents, last = m["errors"].MESSAGE_AT
    node = body
    for part in parents:
        node = node[part]
    node[last] = "Bad JSON."
    m["errors"].CATALOGUE["malformed_json"] = (status, body)


@fault("the payload-mismatch error answers 400 instead of its status")
def wrong_error_status(m: Modules, ingest: Ingest) -> None:
    key = ingest.payload.mismatch_error
    _, body = m["errors"].CATALOGUE[key]
    m["errors"].CATALOGUE[key] = (400, body)


@fault(
    "a project's reject policy for reused keys is ignored",
    lambda i: bool(i.dedupe and i.dedupe.mismatch_error),
)
def mismatched_key_replayed(m: Modules, ingest: Ingest) -> None:
    original = m["ingest"].Ingest.authenticate

    def authenticate(self: Any, request: Any) -> Any:
        return _replace(original(self, request), idempotency_mismatch="replay")

    m["ingest"].Ingest.authenticate = authenticate


@fault("a replay reports the time of the replay, not the original occurred_at", _dedupe)
def replay_new_occurred_at(m: Modules, ingest: Ingest) -> None:
    def make(original: Any) -> Any:
        def replayed(event: Any) -> Any:
            return original(_replace(event, occurred_at=m["timestamps"].now()))

        return replayed

    _wrap(m["ingest"], "replayed", make)


# -- faults in storage --------------------------------------------------------------------------


@fault("idempotency keys are ignored: every request creates an event", _dedupe, kind="patch_app")
def no_dedupe(app: Any, m: Modules, ingest: Ingest) -> None:
    storage = app.state.storage
    original = storage.submit

    def submit(new: Any, *args: Any, **kwargs: Any) -> Any:
        return original(_replace(new, idempotency_key=None), *args, **kwargs)

    storage.submit = submit


@fault("idempotency keys are shared across projects", _dedupe, kind="patch_app")
def dedupe_across_projects(app: Any, m: Modules, ingest: Ingest) -> None:
    storage = app.state.storage
    original = storage.submit
    seen: dict[str, Any] = {}

    async def submit(new: Any, *args: Any, **kwargs: Any) -> Any:
        key = new.idempotency_key
        if key is not None and key in seen and seen[key].project_id != new.project_id:
            return seen[key], False
        stored, created = await original(new, *args, **kwargs)
        if key is not None:
            seen.setdefault(key, stored)
        return stored, created

    storage.submit = submit


@fault("dedupe checks, then inserts: concurrent requests with one key race", _dedupe, kind="patch_app")
def check_then_insert_race(app: Any, m: Modules, ingest: Ingest) -> None:
    storage = app.state.storage
    original = storage.submit
    seen: dict[tuple[str, str], Any] = {}

    async def submit(new: Any, *args: Any, **kwargs: Any) -> Any:
        key = new.idempotency_key
        if key is None:
            return await original(new, *args, **kwargs)
        found = seen.get((new.project_id, key))
        if found is not None:
            return found, False
        await asyncio.sleep(0.05)  # the window between the check and the insert
        stored, created = await original(_replace(new, idempotency_key=None), *args, **kwargs)
        seen[(new.project_id, key)] = stored
        return stored, created

    storage.submit = submit


# -- faults in the replies ----------------------------------------------------------------------


def _json(body: bytes) -> Any:
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError:
        return None


@fault("new events answer 200 instead of the documented success status", kind="rewrite")
def wrong_success_status(ingest: Ingest) -> Rewrite:
    wrong = 201 if ingest.response.status == 200 else 200

    def rewrite(status: int, headers: dict[str, str], body: bytes) -> tuple[int, dict[str, str], bytes]:
        replay = ingest.dedupe.replay.header if ingest.dedupe else None
        if status == ingest.response.status and not (replay and replay.lower() in headers):
            status = wrong
        return status, headers, body

    return rewrite


@fault("the success body lacks its last field", kind="rewrite")
def missing_response_field(ingest: Ingest) -> Rewrite:
    def rewrite(status: int, headers: dict[str, str], body: bytes) -> tuple[int, dict[str, str], bytes]:
        data = _json(body)
        if status == ingest.response.status and isinstance(data, dict):
            fields = ingest.response.unwrap(data)
            if isinstance(fields, dict):
                fields.pop(ingest.response.fields[-1].name, None)
                body = orjson.dumps(data)
        return status, headers, body

    return rewrite


@fault("errors use another envelope", kind="rewrite")
def wrong_error_envelope(ingest: Ingest) -> Rewrite:
    def rewrite(status: int, headers: dict[str, str], body: bytes) -> tuple[int, dict[str, str], bytes]:
        data = _json(body)
        if status >= 400 and isinstance(data, dict):
            message = ingest.errors.message_of(data)
            body = orjson.dumps({"error": {"code": status, "message": message}})
        return status, headers, body

    return rewrite


@fault("errors are sent with another media type", kind="rewrite")
def wrong_error_media_type(ingest: Ingest) -> Rewrite:
    wrong = "text/plain" if ingest.errors.media_type == "application/json" else "application/json"

    def rewrite(status: int, headers: dict[str, str], body: bytes) -> tuple[int, dict[str, str], bytes]:
        if status >= 400:
            headers["content-type"] = wrong
        return status, headers, body

    return rewrite


@fault("401 lacks the documented WWW-Authenticate header", kind="rewrite")
def missing_www_authenticate(ingest: Ingest) -> Rewrite:
    def rewrite(status: int, headers: dict[str, str], body: bytes) -> tuple[int, dict[str, str], bytes]:
        if status == 401:
            headers.pop("www-authenticate", None)
        return status, headers, body

    return rewrite


@fault("replays lack the replay header", lambda i: bool(i.dedupe and i.dedupe.replay.header), kind="rewrite")
def replay_without_header(ingest: Ingest) -> Rewrite:
    assert ingest.dedupe is not None and ingest.dedupe.replay.header
    header = ingest.dedupe.replay.header.lower()

    def rewrite(status: int, headers: dict[str, str], body: bytes) -> tuple[int, dict[str, str], bytes]:
        headers.pop(header, None)
        return status, headers, body

    return rewrite


@fault("a valid event takes a second to answer (the suite's --request-timeout is shorter)")
def slow_answers(m: Modules, ingest: Ingest) -> None:
    def make(original: Any) -> Any:
        def judge(*args: Any) -> Any:
            event = original(*args)
            time.sleep(1.0)
            return event

        return judge

    _wrap(m["ingest"], "judge", make)


# -- request constraints left unchecked (the constraint phase catches these) ----------------------


def _loosen(m: Modules, change: Callable[[dict[str, Any]], None]) -> None:
    """Validate requests against a copy of the request schema that `change` loosened."""
    generated = importlib.import_module(f"{m['ingest'].__package__}.schema")
    schema = copy.deepcopy(generated.REQUEST_SCHEMA)
    change(schema)
    m["ingest"]._request_validator = jsonschema_rs.validator_for(schema, validate_formats=True)  # type: ignore[attr-defined]


def _property(op: Operation, name: str | None) -> dict[str, Any]:
    found = (op.request_schema.get("properties") or {}).get(name) if name else None
    return dict(found) if isinstance(found, dict) else {}


def _payload_required(op: Operation) -> bool:
    assert op.ingest is not None
    return op.ingest.payload.field in (op.request_schema.get("required") or ())


def _formatted_time(op: Operation) -> bool:
    assert op.ingest is not None
    return "format" in _property(op, op.ingest.occurred_at_field)


def _constrained_identity(op: Operation) -> bool:
    assert op.ingest is not None
    return any({"format", "pattern"} & set(_property(op, name)) for name in op.ingest.identity.names)


@fault("a request without its required payload field is taken (as an empty payload)", fits=_payload_required)
def payload_missing_accepted(m: Modules, ingest: Ingest) -> None:
    def change(schema: dict[str, Any]) -> None:
        schema["required"] = [n for n in schema.get("required") or () if n != ingest.payload.field]

    _loosen(m, change)


@fault("an occurred-at value that is not a date-time is taken (as the receive time)", fits=_formatted_time)
def bad_timestamp_accepted(m: Modules, ingest: Ingest) -> None:
    def change(schema: dict[str, Any]) -> None:
        schema["properties"][ingest.occurred_at_field].pop("format", None)

    _loosen(m, change)

    def make(original: Any) -> Any:
        def occurred_at(body: Any, received_at: str) -> str:
            try:
                return str(original(body, received_at))
            except m["errors"].ApiError:
                return received_at

        return occurred_at

    _wrap(m["ingest"], "occurred_at", make)


@fault("identity values are not checked against their format or pattern", fits=_constrained_identity)
def identity_format_unchecked(m: Modules, ingest: Ingest) -> None:
    def change(schema: dict[str, Any]) -> None:
        for name in ingest.identity.names:
            field = schema["properties"].get(name) or {}
            field.pop("format", None)
            field.pop("pattern", None)

    _loosen(m, change)


# Faults about the wire, not the contract: tests use them with options of their own.
TRANSPORT_FAULTS = {"slow_answers"}


def applicable(ingest: Ingest) -> list[Fault]:
    """The faults that make sense for an operation's behaviour."""
    return [f for f in FAULTS.values() if f.applies(ingest)]

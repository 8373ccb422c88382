"""The suite's own checks: each asserts one property of one reply, and all share one signature.

    check(ctx, reply, probe) -> None     raises `Mismatch` when the property does not hold

Preconditions are tiny decorators (`expects_error`, `expects_success`, ...): a check whose
precondition does not hold for a probe is simply not run. `CHECKS` is the one registry, keyed by
function name; the scenarios run every check in it, the fuzzer runs the ones that need no expectation.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from functools import wraps
from typing import Any

import orjson

from ingestspec.generator.lint.validate import is_json
from ingestspec.generator.spec.model import ROUTING_ERRORS, Operation

from .catalogue import (
    declared_undocumented,
    error_content,
    identify,
    match_entry,
    operation_errors,
    without_details,
)
from .credentials import HTTP_KINDS
from .exchange import NOT_JSON, Probe, Reply
from .payloads import first_error
from .target import Target


class Mismatch(AssertionError):
    """A reply does not have the property a check asserts."""


@dataclass(frozen=True)
class CheckContext:
    """What every check may read: the target and the operation the probe was sent to."""

    target: Target
    op: Operation


@dataclass(frozen=True)
class Failure:
    """A failed check, as data: which check, on which probe, and why."""

    check: str
    message: str


Check = Callable[[CheckContext, Reply, Probe], None]
CHECKS: dict[str, Check] = {}
# Checks that need no expectation, so they also judge fuzzed requests.
GENERAL: set[str] = set()


def check(func: Check) -> Check:
    """Register a check under its function name."""
    CHECKS[func.__name__] = func
    return func


def general(func: Check) -> Check:
    """Mark a registered check as one that judges any reply, expected or not."""
    GENERAL.add(func.__name__)
    return func


def _guard(condition: Callable[[CheckContext, Reply, Probe], bool]) -> Callable[[Check], Check]:
    def decorator(func: Check) -> Check:
        @wraps(func)
        def guarded(ctx: CheckContext, reply: Reply, probe: Probe) -> None:
            if condition(ctx, reply, probe):
                func(ctx, reply, probe)

        return guarded

    return decorator


expects_status = _guard(lambda ctx, reply, probe: probe.expect is not None)
expects_error = _guard(lambda ctx, reply, probe: probe.expect is not None and probe.expect.error is not None)
expects_success = _guard(
    lambda ctx, reply, probe: probe.expect is not None and probe.expect.shape is not None
)
is_error_reply = _guard(lambda ctx, reply, probe: reply.status >= 400)
is_documented_status = _guard(lambda ctx, reply, probe: ctx.op.documented(reply.status) is not None)


def run_checks(ctx: CheckContext, probe: Probe, names: set[str] | None = None) -> list[Failure]:
    """Every registered check (or those in `names`) on the probe's reply; the failures, in order."""
    assert probe.reply is not None
    failures = []
    for name, func in CHECKS.items():
        if names is not None and name not in names:
            continue
        try:
            func(ctx, probe.reply, probe)
        except Mismatch as exc:
            failures.append(Failure(name, str(exc)))
    return failures


# -- status -------------------------------------------------------------------------------------


@check
@expects_status
def status_code_expected(ctx: CheckContext, reply: Reply, probe: Probe) -> None:
    assert probe.expect is not None
    if reply.status != probe.expect.status:
        wanted = f" ({probe.expect.error})" if probe.expect.error else ""
        raise Mismatch(
            f"expected status {probe.expect.status}{wanted}, got {reply.status}: {_excerpt(reply)}"
        )


@check
@general
def status_code_documented(ctx: CheckContext, reply: Reply, probe: Probe) -> None:
    """Any status the operation answers is one of its documented responses, its own or a range's
    (`4XX`, `default`), a routing error, or an error answered with a status x-ingest declares
    undocumented (`errors.undocumented`)."""
    if ctx.op.documented(reply.status) is not None or declared_undocumented(ctx.op, reply):
        return
    ingest = ctx.op.ingest
    elsewhere = probe.method != ctx.op.method or probe.url != ctx.target.url(ctx.op)
    if ingest and elsewhere and identify(ingest, reply.status, error_content(ingest, reply), ROUTING_ERRORS):
        return
    raise Mismatch(f"status {reply.status} is not documented for {ctx.op.operation_id}: {_excerpt(reply)}")


# -- errors -------------------------------------------------------------------------------------


@check
@expects_error
def error_body_exact(ctx: CheckContext, reply: Reply, probe: Probe) -> None:
    """The error body is the catalogue entry, message placeholders filled; only details may be added."""
    assert probe.expect is not None and probe.expect.error is not None and ctx.op.ingest is not None
    if reply.status != probe.expect.status:
        return  # status_code_expected reports it; the body of another error says nothing more
    errors = ctx.op.ingest.errors
    wanted = errors.render(probe.expect.error, probe.expect.params)
    body = error_content(ctx.op.ingest, reply)
    if errors.text:
        if body != wanted:
            expected = probe.expect.error
            raise Mismatch(f"error body differs from the catalogue's {expected!r}: expected {wanted!r}")
        return
    if not isinstance(body, Mapping):
        raise Mismatch(f"error body is not a JSON object: {_excerpt(reply)}")
    got = without_details(ctx.op.ingest, body)
    if got != wanted:
        raise Mismatch(
            f"error body differs from the catalogue's {probe.expect.error!r}: expected {wanted}, got {got}"
        )
    details = errors.details_of(body)
    item = errors.detail_item
    if details is not None and not (
        isinstance(details, list)
        and all(isinstance(d, Mapping) and item.path in d and item.message in d for d in details)
    ):
        raise Mismatch(
            f"{errors.details_pointer} is not a list of {{{item.path}, {item.message}}} objects: {details!r}"
        )


@check
@general
@is_error_reply
def error_media_type(ctx: CheckContext, reply: Reply, probe: Probe) -> None:
    assert ctx.op.ingest is not None
    wanted = ctx.op.ingest.errors.media_type
    if reply.media_type != wanted.partition(";")[0].strip().lower():
        raise Mismatch(f"error response Content-Type is {reply.media_type or 'missing'}, expected {wanted}")


@check
@general
@is_error_reply
def error_body_in_catalogue(ctx: CheckContext, reply: Reply, probe: Probe) -> None:
    """Any error body is an instance of a catalogue entry the operation can answer, with its status."""
    assert ctx.op.ingest is not None
    keys = operation_errors(ctx.op) + ROUTING_ERRORS
    if not identify(ctx.op.ingest, reply.status, error_content(ctx.op.ingest, reply), keys):
        raise Mismatch(f"error body is not any catalogue error for status {reply.status}: {_excerpt(reply)}")


# -- success ------------------------------------------------------------------------------------


@check
@expects_success
def success_body_shape(ctx: CheckContext, reply: Reply, probe: Probe) -> None:
    """The body has exactly the fields of the spec's response shape, constants and known values equal."""
    assert probe.expect is not None and probe.expect.shape is not None
    if reply.status != probe.expect.status:
        return
    shape = probe.expect.shape
    if shape.kind != "json":
        # A constant text (`OK`, `1`) or no body at all (a 204): exactly that, byte for byte.
        wanted = (shape.text or "").encode()
        if reply.content != wanted:
            raise Mismatch(
                f"success body is {_excerpt(reply) or 'empty'}, expected {wanted.decode() or 'no body'!r}"
            )
        return
    body = reply.json()
    fields = shape.unwrap(body) if isinstance(body, Mapping) else None
    if not isinstance(fields, Mapping):
        raise Mismatch(
            f"success body is not a JSON object{' under ' + shape.envelope if shape.envelope else ''}"
        )
    if shape.envelope and set(body) != {shape.envelope}:
        raise Mismatch(f"success body keys are {sorted(body)}, expected only {shape.envelope!r}")
    names = {f.name for f in shape.fields}
    if set(fields) != names:
        raise Mismatch(f"success fields are {sorted(fields)}, expected {sorted(names)}")
    for f in shape.fields:
        value = fields[f.name]
        if f.source is None:
            if value != f.const:
                raise Mismatch(f"{f.name} is {value!r}, expected the constant {f.const!r}")
        elif f.source == "identity_type" and probe.expect.identity_types:
            if value not in probe.expect.identity_types:
                raise Mismatch(f"{f.name} is {value!r}, expected one of {list(probe.expect.identity_types)}")
        elif f.source in probe.expect.values:
            wanted = probe.expect.values[f.source]
            if f.source in ("occurred_at", "received_at") and _same_instant(value, wanted):
                continue
            if value != wanted and not _same_text(value, wanted):
                raise Mismatch(f"{f.name} is {value!r}, expected {wanted!r}")
        elif f.source in ("occurred_at", "received_at") and not _is_datetime(value):
            raise Mismatch(f"{f.name} is {value!r}, not a date-time with a time zone")


@check
@expects_success
def event_id_format(ctx: CheckContext, reply: Reply, probe: Probe) -> None:
    """Ids are the spec's `id_prefix` followed by an id of its `id_format`."""
    assert probe.expect is not None and probe.expect.shape is not None and ctx.op.ingest is not None
    if reply.status != probe.expect.status:
        return
    body = reply.json()
    fields = probe.expect.shape.unwrap(body) if isinstance(body, Mapping) else None
    for f in probe.expect.shape.fields:
        if f.source == "id" and isinstance(fields, Mapping):
            problem = event_id_problem(fields.get(f.name), ctx.op.ingest.id_prefix, ctx.op.ingest.id_format)
            if problem:
                raise Mismatch(f"{f.name} {fields.get(f.name)!r} {problem}")


@check
@expects_success
def replay_header_on_replay_only(ctx: CheckContext, reply: Reply, probe: Probe) -> None:
    """The replay header marks replays, and only them."""
    assert probe.expect is not None and ctx.op.ingest is not None
    dedupe = ctx.op.ingest.dedupe
    if dedupe is None or not dedupe.replay.header or reply.status != probe.expect.status:
        return
    present = reply.header(dedupe.replay.header)
    if probe.expect.shape == dedupe.replay and present is None:
        raise Mismatch(f"a replay lacks the {dedupe.replay.header} header")
    if probe.expect.shape != dedupe.replay and present is not None:
        raise Mismatch(f"a new event carries the replay header {dedupe.replay.header}: {present}")


# -- documentation ------------------------------------------------------------------------------


@check
@general
@is_documented_status
def documented_response_schema(ctx: CheckContext, reply: Reply, probe: Probe) -> None:
    """The body matches the documented schema of its status (formats included)."""
    response = ctx.op.documented(reply.status)
    if response is None or response.schema is None:
        return
    if response.media_type and not is_json(response.media_type):
        # A text answer (text/plain `OK`) is judged as the string it is.
        error = first_error(response.schema, reply.content.decode("utf-8", "replace"))
        if error is not None:
            raise Mismatch(f"{reply.status} body does not match its documented schema {error}")
        return
    body = error_content(ctx.op.ingest, reply) if ctx.op.ingest and reply.status >= 400 else reply.json()
    if body is NOT_JSON:
        raise Mismatch(f"{reply.status} body is not JSON: {_excerpt(reply)}")
    error = first_error(response.schema, body)
    if error is not None:
        raise Mismatch(f"{reply.status} body does not match its documented schema {error}")


@check
@general
@is_documented_status
def documented_media_type(ctx: CheckContext, reply: Reply, probe: Probe) -> None:
    response = ctx.op.documented(reply.status)
    wanted = response.media_type if response else None
    if wanted and reply.media_type != wanted.lower():
        raise Mismatch(f"{reply.status} Content-Type is {reply.media_type or 'missing'}, documented {wanted}")


@check
@general
@is_documented_status
def documented_headers(ctx: CheckContext, reply: Reply, probe: Probe) -> None:
    """Every header the answer must carry is there (a documented header that is optional may not be)."""
    for name in required_headers(ctx, reply.status):
        if reply.header(name) is None:
            raise Mismatch(f"{reply.status} lacks its documented {name} header")


def required_headers(ctx: CheckContext, status: int) -> list[str]:
    """The documented headers of a status a server must send: those marked `required: true`, plus
    those the behaviour promises (RFC 9110: a 401 to an HTTP auth scheme carries WWW-Authenticate;
    the rate limit's error carries Retry-After)."""
    ingest = ctx.op.ingest
    promised: set[str] = set()
    if ingest is not None:
        entry = ingest.errors.catalogue.get("unauthorized")
        if entry and entry.status == status and any(s.kind in HTTP_KINDS for s in ctx.op.schemes):
            promised.add("www-authenticate")
        limit = ingest.rate_limit
        if (
            limit
            and limit.error in ingest.errors.catalogue
            and ingest.errors.catalogue[limit.error].status == status
        ):
            promised.add("retry-after")
    response = ctx.op.documented(status)
    assert response is not None
    found = []
    for name, header in response.header_objects.items():
        required = isinstance(header, Mapping) and header.get("required") is True
        if required or name.lower() in promised:
            found.append(name)
    return found


# -- helpers ------------------------------------------------------------------------------------


def is_uuid7(value: Any) -> bool:
    """Whether `value` is a UUIDv7 in canonical (lower-case, hyphenated) text."""
    return _is_uuid(value, 7)


def _is_uuid(value: Any, version: int) -> bool:
    """Whether `value` is a UUID of `version` in canonical (lower-case, hyphenated) text."""
    if not isinstance(value, str):
        return False
    try:
        parsed = uuid.UUID(value)
    except ValueError:
        return False
    return str(parsed) == value and parsed.version == version and parsed.variant == uuid.RFC_4122


# Crockford's base 32; a ULID's first character is at most 7 (its 26 characters hold 128 bits).
_ULID = re.compile(r"[0-7][0-9A-HJKMNP-TV-Z]{25}")

# Each `x-ingest.id_format`: what it is called in a message, and whether a text (after the prefix) is one.
ID_FORMATS: dict[str, tuple[str, Callable[[str], bool]]] = {
    "uuid7": ("a UUIDv7", is_uuid7),
    "uuid4": ("a UUIDv4", lambda value: _is_uuid(value, 4)),
    "ulid": ("a ULID", lambda value: _ULID.fullmatch(value) is not None),
}


def event_id_problem(value: Any, prefix: str, id_format: str) -> str | None:
    """Why `value` is not `prefix` followed by an id of `id_format` (None when it is)."""
    name, valid = ID_FORMATS[id_format]
    if not isinstance(value, str) or not value.startswith(prefix):
        return f"does not start with the id prefix {prefix!r}" if prefix else f"is not {name}"
    if not valid(value.removeprefix(prefix)):
        return f"is not {name} after the prefix {prefix!r}" if prefix else f"is not {name}"
    return None


def uuid7_millis(value: str) -> int:
    """The Unix time in milliseconds a UUIDv7 carries."""
    return uuid.UUID(value).int >> 80


def parse_datetime(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else None


def _is_datetime(value: Any) -> bool:
    return parse_datetime(value) is not None


def _same_instant(a: Any, b: Any) -> bool:
    left, right = parse_datetime(a), parse_datetime(b)
    return left is not None and right is not None and abs((left - right).total_seconds()) < 0.001


def _same_text(value: Any, wanted: Any) -> bool:
    """A number answered where its stored text was expected (an integer identity reported as the
    number the documented schema wants) is the same value."""
    if isinstance(wanted, str) and isinstance(value, int | float) and not isinstance(value, bool):
        return orjson.dumps(value).decode() == wanted
    return False


def _excerpt(reply: Reply, limit: int = 300) -> str:
    text = reply.content.decode("utf-8", errors="replace")
    return text if len(text) <= limit else text[:limit] + "…"


def catalogue_match(ctx: CheckContext, key: str, reply: Reply) -> dict[str, str] | None:
    """Placeholder values when the reply is an instance of catalogue entry `key`."""
    assert ctx.op.ingest is not None
    entry = ctx.op.ingest.errors.catalogue[key]
    return match_entry(ctx.op.ingest, entry, reply.status, error_content(ctx.op.ingest, reply))


@check
@general
def max_response_time(ctx: CheckContext, reply: Reply, probe: Probe) -> None:
    """With --max-response-time, no reply takes longer."""
    limit = ctx.target.transport.max_response_time
    if limit is not None and reply.elapsed > limit:
        raise Mismatch(f"the reply took {reply.elapsed:.3f} s, more than --max-response-time {limit} s")

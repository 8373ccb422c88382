"""The documented scenarios, each a small function registered by `@scenario`, derived from the model.

A scenario reads the operation's `x-ingest` block, its documented responses and the deployment's
configuration, sends a few probes through a `Session`, and leaves any failure on it. Its
precondition (`requires=`) says, from the model alone, whether it applies; when it does not,
the scenario is skipped with that reason. Nothing here names a vendor, a field or a message.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from ingestspec.generator.spec.model import (
    ROUTING_ERRORS,
    STEPS,
    Operation,
    field_pointer,
    item_get,
    item_pop,
    object_fields,
    placed,
    pointer_of,
    pointer_parts,
)

from .bodies import KEY_SLOT
from .catalogue import identify, match_entry, rate_limit_wait
from .credentials import for_schemes, needs_key, sendable_schemes, unaccepted_scheme
from .exchange import Expectation, Probe, encoded, form_content, json_bytes, send, send_together, takes_form
from .payloads import is_valid, minimal_value, violations, with_marker
from .session import Session, Skip
from .target import MARK, Target

Precondition = Callable[[Target, Operation], "str | None"]
# Requests of `ids_increase` are this far apart, so each falls in a later millisecond.
ID_GAP_SECONDS = 0.003
# How many requests `concurrent_same_key` sends at once.
CONCURRENT_REQUESTS = 8
# The most requests `rate_limited` may send to reach a limit; a higher limit is skipped.
MAX_RATE_LIMIT_REQUESTS = 200


@dataclass(frozen=True)
class Scenario:
    """A named scenario: what it does, and when it applies."""

    name: str
    run: Callable[[Session], None]
    requires: tuple[Precondition, ...] = ()
    doc: str = ""
    # Whether it is about the request as a whole, so a batch operation answers it like a single
    # event (sent as a batch of one item); the others are about one event's content.
    batch: bool = False

    def skip_reason(self, target: Target, op: Operation) -> str | None:
        first = () if self.batch else (single_events,)
        for condition in (*first, *self.requires):
            reason = condition(target, op)
            if reason:
                return reason
        return None


SCENARIOS: dict[str, Scenario] = {}


def scenario(
    *requires: Precondition, batch: bool = False
) -> Callable[[Callable[[Session], None]], Callable[[Session], None]]:
    """Register a scenario under its function name, with its preconditions; `batch`: it also runs
    for a batch operation (a request-level scenario)."""

    def decorator(func: Callable[[Session], None]) -> Callable[[Session], None]:
        doc = (func.__doc__ or "").strip().splitlines()[0] if func.__doc__ else ""
        SCENARIOS[func.__name__] = Scenario(func.__name__, func, requires, doc, batch)
        return func

    return decorator


def applicable(target: Target, op: Operation) -> list[tuple[Scenario, str | None]]:
    """Every scenario with its skip reason (None when it applies) for this operation."""
    return [(s, s.skip_reason(target, op)) for s in SCENARIOS.values()]


# -- preconditions ------------------------------------------------------------------------------


def single_events(target: Target, op: Operation) -> str | None:
    assert op.ingest is not None
    if op.ingest.batch is not None:
        return (
            "a batch operation (items judged one by one): this scenario is about one event's content; "
            "batches get the request-level scenarios, batch_partial_acceptance and fuzzing"
        )
    return None


def batch_operation(target: Target, op: Operation) -> str | None:
    assert op.ingest is not None
    return None if op.ingest.batch is not None else "not a batch operation"


def secured(target: Target, op: Operation) -> str | None:
    return None if needs_key(op) else "the operation declares no security requirement"


def exactly_one_identity(target: Target, op: Operation) -> str | None:
    assert op.ingest is not None
    identity = op.ingest.identity
    if identity.mode != "exactly_one" or not identity.conflict_error or len(identity.fields) < 2:
        return "identity.mode is not exactly_one with a conflict error"
    return None


def first_present_identity(target: Target, op: Operation) -> str | None:
    assert op.ingest is not None
    if op.ingest.identity.mode != "first_present":
        return "identity.mode is not first_present"
    if op.ingest.identity.always_named:
        return "the contact is read from a path parameter: no request leaves it out"
    sources = {f.source for f in op.ingest.response.fields}
    if not {"identity_type", "identity_value"} & sources:
        return "the success body does not report the resolved identity"
    return None


def identity_may_be_missing(target: Target, op: Operation) -> str | None:
    assert op.ingest is not None
    if op.ingest.identity.always_named:
        return "the contact is read from a path parameter: every request names one"
    return None


def lowercased_identity(target: Target, op: Operation) -> str | None:
    assert op.ingest is not None
    if not any(f.normalize == "lowercase" for f in op.ingest.identity.fields):
        return "no identity field is normalised to lower case"
    if "identity_value" not in {f.source for f in op.ingest.response.fields}:
        return "the success body does not report the resolved identity value"
    return None


def named_events(target: Target, op: Operation) -> str | None:
    assert op.ingest is not None
    if op.ingest.event_field is None:
        return f"every event of the operation is named {op.ingest.event_name!r}: no request names another"
    return None


def reserved(target: Target, op: Operation) -> str | None:
    assert op.ingest is not None
    return None if op.ingest.reserved else "the spec reserves no event-name prefix"


def dedupe(target: Target, op: Operation) -> str | None:
    assert op.ingest is not None
    return None if op.ingest.dedupe else "the spec defines no idempotency key"


def second_key(target: Target, op: Operation) -> str | None:
    if len(target.keys_for(op)) > 1:
        return None
    what = "project token" if op.ingest is not None and op.ingest.project_field else "key"
    return f"needs a second --api-key (another project), and its {what} for this operation"


def keyless(target: Target, op: Operation) -> str | None:
    assert op.ingest is not None
    return None if op.ingest.project_field else "not a keyless collector (x-ingest project_field)"


def project_scope(target: Target, op: Operation) -> str | None:
    assert op.ingest is not None
    if op.ingest.dedupe and op.ingest.dedupe.scope != "project":
        return f"idempotency is scoped to {op.ingest.dedupe.scope}, not the project"
    return None


def time_ordered_ids(target: Target, op: Operation) -> str | None:
    assert op.ingest is not None
    ordered = ("uuid7", "ulid")
    return None if op.ingest.id_format in ordered else f"ids are {op.ingest.id_format}, not time-ordered"


def rate_limit(target: Target, op: Operation) -> str | None:
    assert op.ingest is not None
    limit = op.ingest.rate_limit
    if limit is None:
        return "the spec sets no rate limit"
    if limit.requests >= MAX_RATE_LIMIT_REQUESTS:
        return (
            f"the limit ({limit.requests} requests per {limit.per_seconds:g} s) is beyond the "
            f"{MAX_RATE_LIMIT_REQUESTS} requests the suite may send to reach it"
        )
    return None


def content_codings(target: Target, op: Operation) -> str | None:
    return None if op.content_codings else "the operation declares no request content coding"


def request_examples(target: Target, op: Operation) -> str | None:
    return None if op.request_examples else "the operation documents no request example"


def routing_error(key: str) -> Precondition:
    def condition(target: Target, op: Operation) -> str | None:
        assert op.ingest is not None
        return None if key in op.ingest.errors.catalogue else f"the error catalogue has no {key!r}"

    condition.__name__ = f"has_{key}"
    return condition


# -- helpers ------------------------------------------------------------------------------------


def _accepted_event(s: Session, project_index: int = 0) -> Any:
    project = s.target.projects[project_index]
    event = s.bodies.accepted_event(project)
    if event is None:
        raise Skip(f"project {project.id} defines no event a valid payload can be built for")
    return event


def _send_accepted(s: Session, body: dict[str, Any], key: str | None = None) -> dict[str, Any] | None:
    """Send a body that must create an event; the stored values it reports, or None if it did not."""
    item = s.probe(body, key=key or s.key, expect=s.accepted(body))
    reply = s.send(item)
    if reply.status != s.ingest.response.status:
        return None
    return s.values(s.ingest.response, reply)


def _request(s: Session, *items: dict[str, Any]) -> dict[str, Any]:
    """A request body: the one event itself, or a batch wrapping `items` (the wrapper's other
    required fields with their simplest values; a credential field is added when sent)."""
    batch = s.ingest.batch
    if batch is None:
        assert len(items) == 1
        return items[0]
    wrapper: dict[str, Any] = {}
    items_at = field_pointer(batch.items_field)
    fields = object_fields(s.op.request_schema)
    credential = s.bodies.rules.credential
    holders = {pointer_parts(p)[0] for p in (items_at, credential) if p}
    for name in fields.required:
        if name not in holders and name in fields.properties:
            ok, value = minimal_value(fields.properties[name])
            if ok:
                wrapper[name] = value
    # A batch item carries its idempotency key in its body, if anywhere; the items may be deeper
    # than the top level (`/data/events`), under objects of their own.
    return placed(wrapper, items_at, [{k: v for k, v in item.items() if k != KEY_SLOT} for item in items])


def _valid_request(s: Session) -> dict[str, Any]:
    """A valid request of the first project's accepted event (a batch of one for a batch operation)."""
    return _request(s, s.bodies.valid(_accepted_event(s)))


# -- scenarios ----------------------------------------------------------------------------------


@scenario()
def success(s: Session) -> None:
    """A valid request is accepted with the documented status and body shape."""
    for index, (key, project) in enumerate(s.projects()):
        event = s.bodies.accepted_event(project)
        if event is None:
            if index == 0:
                raise Skip(f"project {project.id} defines no event a valid payload can be built for")
            continue
        _send_accepted(s, s.bodies.valid(event), key)


@scenario(identity_may_be_missing)
def missing_identity(s: Session) -> None:
    """A request naming no contact gets the identity-missing error."""
    body = s.bodies.without_identity(s.bodies.valid(_accepted_event(s)))
    s.send(s.probe(body, expect=s.error(s.ingest.identity.missing_error)))


@scenario(exactly_one_identity)
def identity_conflict(s: Session) -> None:
    """A request naming the contact in several ways, when exactly one is allowed, gets the conflict error."""
    assert s.ingest.identity.conflict_error is not None
    # A field read from the path is always there: the body's fields conflict with it.
    identity = {f.name: s.bodies.identity_value(f) for f in s.ingest.identity.in_body}
    body = s.bodies.valid(_accepted_event(s), identity=identity)
    s.send(s.probe(body, expect=s.error(s.ingest.identity.conflict_error)))


@scenario(secured, batch=True)
def missing_api_key(s: Session) -> None:
    """A request without an API key is refused with the unauthorized error."""
    body = _valid_request(s)
    s.send(s.probe(body, key=None, expect=s.error("unauthorized")))


@scenario(secured, batch=True)
def invalid_api_key(s: Session) -> None:
    """An unknown API key by each scheme, or a valid one by a scheme not accepted, gets unauthorized."""
    body = _valid_request(s)
    unknown = f"{MARK}-unknown-key-{s.target.run_id}"
    if s.ingest.credential_field or s.ingest.project_field:
        s.send(s.probe(body, key=unknown, expect=s.error("unauthorized")))
    if s.ingest.project_field:
        # A secret is no public token: a given API key sent as the token names no project.
        secret = next((k for k in s.target.api_keys if k not in s.keys), None)
        if secret is not None:
            s.send(s.probe(body, key=secret, expect=s.error("unauthorized")))
        if s.ingest.batch is not None:
            # One unknown token among the items refuses the whole batch.
            items = [s.with_item_key(s.bodies.valid(_accepted_event(s)), k) for k in (s.key, unknown)]
            s.send(s.probe(_request(s, *items), key=None, expect=s.error("unauthorized")))
    for scheme in sendable_schemes(s.op):
        creds = for_schemes((scheme,), unknown)
        s.send(s.probe(body, creds=creds, expect=s.error("unauthorized")))
        user, colon, _ = s.key.partition(":")
        if scheme.kind == "basic" and scheme.basic_key == "both" and colon:
            # The secret part is always checked: the known user name with another password is unknown.
            creds = for_schemes((scheme,), f"{user}:{unknown}")
            s.send(s.probe(body, creds=creds, expect=s.error("unauthorized")))
    other = unaccepted_scheme(s.op)
    if other is not None:
        s.send(s.probe(body, creds=for_schemes((other,), s.key), expect=s.error("unauthorized")))


@scenario(named_events)
def undefined_event(s: Session) -> None:
    """An event the project does not define: refused when definitions are required, accepted otherwise."""
    assert s.ingest.event_field is not None
    project = s.target.project
    name = s.bodies.undefined_event_name(project)
    event = _accepted_event(s)
    body = s.bodies.with_field(s.bodies.valid(event), s.ingest.event_field, name)
    body = s.bodies.with_payload(body, {"contract_test": s.target.run_id}) or body
    s.bodies.fill_required(body)  # what the request schema requires inside the new payload
    if s.ingest.payload.validation == "required":
        assert s.ingest.payload.undefined_event_error is not None
        s.send(s.probe(body, expect=s.error(s.ingest.payload.undefined_event_error, event=name)))
    else:
        s.send(s.probe(body, expect=s.accepted(body)))


@scenario()
def payload_schema_mismatch(s: Session) -> None:
    """A payload its event definition refuses gets the mismatch error (one probe per way of breaking it)."""
    sent = 0
    for key, project in s.projects():
        for event in s.bodies.defined_events(project):
            assert event.definition is not None
            # A way of breaking it the request schema refuses too is the invalid request's (Intercom's
            # `metadata` takes string values only: a number there is refused before any definition).
            field = s.bodies.schema_of(s.bodies.payload_at)
            ways = [payload for _, payload in violations(event.definition.schema, event.payload)]
            for payload in [p for p in ways if is_valid(field, p)][:3]:
                body = s.bodies.with_payload(s.bodies.valid(event), payload)
                if body is None:
                    continue  # the item's other fields live inside the payload, which this breaks
                s.send(
                    s.probe(body, key=key, expect=s.error(s.ingest.payload.mismatch_error, event=event.name))
                )
                sent += 1
    if not sent:
        raise Skip("no event definition of the given projects can be violated by a JSON object")


@scenario(reserved, named_events)
def reserved_prefix(s: Session) -> None:
    """An event name under a reserved prefix is refused with the reserved-name error."""
    assert s.ingest.reserved is not None and s.ingest.event_field is not None
    event = _accepted_event(s)
    sent = 0
    for prefix in s.ingest.reserved.prefixes:
        name = s.bodies.reserved_name(prefix)
        if name is None:
            continue
        body = s.bodies.with_field(s.bodies.valid(event), s.ingest.event_field, name)
        s.send(s.probe(body, expect=s.error(s.ingest.reserved.error, prefix=prefix)))
        sent += 1
    if not sent:
        raise Skip("no name under a reserved prefix satisfies the event field's schema")


@scenario(request_examples)
def documented_request_examples(s: Session) -> None:
    """Each documented request example the first project can take is accepted as documented (with a
    fresh idempotency key, and the suite's marker in its payload when the definition allows one)."""
    sent, reasons = 0, []
    project = s.target.project
    for example in s.op.request_examples:
        body = dict(example.value) if isinstance(example.value, Mapping) else None
        reason = None if body is not None else "not a JSON object"
        if body is not None and not is_valid(s.op.request_schema, s.with_key(body)):
            reason = "it breaks the request schema (lint warns of it)"
        name = s.ingest.event_of(body) if body is not None else None
        definition = project.events.get(name) if isinstance(name, str) else None
        payload = item_get(body, s.bodies.payload_at) if body is not None else None
        if reason is None and (not isinstance(name, str) or s.bodies.reserved_prefix(name)):
            reason = f"its event {name!r} is not one a project can accept"
        elif reason is None and definition is None and s.ingest.payload.validation == "required":
            reason = f"project {project.id} does not define {name!r}"
        elif reason is None and definition is not None and not is_valid(definition.schema, payload):
            reason = f"its payload does not match project {project.id}'s definition of {name!r}"
        if reason is not None or body is None:
            reasons.append(f"{example.name}: {reason}")
            continue
        if definition is not None and isinstance(payload, dict):
            marked = with_marker(s.bodies.payload_schema(definition), payload, s.target.run_id)
            body = s.bodies.with_field(body, s.bodies.payload_at, marked)
        if s.ingest.dedupe:
            # The documented key was surely used before: a fresh one makes the example a new event.
            body = s.bodies.with_dedupe_key(body, s.bodies.fresh_key())
        if len(json_bytes(s.with_key(body))) > s.bodies.limit(project):
            reasons.append(f"{example.name}: larger than project {project.id}'s limit")
            continue
        _send_accepted(s, body)
        sent += 1
    if not sent:
        raise Skip("no documented request example can be sent: " + "; ".join(reasons))


@scenario(rate_limit)
def rate_limited(s: Session) -> None:
    """Past the rate limit, a key is refused with the rate-limit error and a Retry-After header."""
    limit = s.ingest.rate_limit
    assert limit is not None
    status = s.ingest.errors.catalogue[limit.error].status
    # One body sent again and again (replays after the first): every request counts toward the limit.
    s.creating()
    body = s.bodies.valid(_accepted_event(s))
    for _ in range(MAX_RATE_LIMIT_REQUESTS):
        item = s.probe(body)
        reply = send(s.client, item)
        if reply.status != status:
            continue
        after = reply.header("retry-after")
        item.expect = s.error(limit.error, retry_after=after or "")
        s.judge(item)
        # Not judged: how many were admitted first (earlier scenarios' requests count in the window).
        if after is None or not after.isdigit():
            s.fail("rate_limited", f"the {status} answer has no Retry-After in seconds: {after!r}", item)
        # Later scenarios use the same key: let the window pass.
        time.sleep(rate_limit_wait(s.ingest, reply) or 0)
        return
    s.fail("rate_limited", f"{MAX_RATE_LIMIT_REQUESTS} requests in a row were never refused with {status}")


@scenario(batch=True)
def oversize_body(s: Session) -> None:
    """A body of exactly the project's limit is accepted; one byte more gets the payload-limit error."""
    for index, (key, project) in enumerate(s.projects()):
        limit = s.bodies.limit(project)
        event = s.bodies.accepted_event(project)
        if event is None:
            if index == 0:
                raise Skip(f"project {project.id} defines no event a valid payload can be built for")
            continue
        body = _request(s, s.bodies.valid(event))
        raw = json_bytes(s.with_key(body, key))
        if len(raw) <= limit and _fits_the_form(s, raw, limit):
            # JSON allows trailing whitespace: the same request, padded to the byte.
            at_limit = s.probe(
                content=raw + b" " * (limit - len(raw)), key=key, expect=s.accepted(body), carrier=body
            )
            s.send(at_limit)
        over = _request(s, s.bodies.valid(event))
        over_raw = json_bytes(s.with_key(over, key))
        content = over_raw + b" " * max(0, limit + 1 - len(over_raw))
        expect = s.error(s.ingest.payload_limit.error, limit=limit)
        s.send(s.probe(content=content, key=key, expect=expect, carrier=over))


def _fits_the_form(s: Session, document: bytes, limit: int) -> bool:
    """Whether a document padded to `limit` bytes still fits the read cap once in a form's field:
    the document is held to its project's limit, but the form around it is read, before the token
    names the project, up to the largest limit the configuration gives (the at-limit probe of the
    project with that limit is not sent: its form is larger than any limit)."""
    if not takes_form(s.op):
        return True
    largest = max(s.bodies.limit(p) for p in s.target.config.projects)
    return len(form_content(s.op, document + b" " * (limit - len(document)))) <= largest


@scenario(batch=True)
def malformed_json(s: Session) -> None:
    """A body that is not JSON gets the malformed-JSON error."""
    content = b'{"' + s.ingest.payload.field.encode() + b'": "' + MARK.encode()
    s.send(s.probe(content=content, expect=s.error("malformed_json")))


@scenario(batch=True)
def wrong_content_type(s: Session) -> None:
    """A valid body sent as another media type gets the unsupported-media-type error."""
    body = _valid_request(s)
    s.send(
        s.probe(content=json_bytes(body), media_type="text/plain", expect=s.error("unsupported_media_type"))
    )


@scenario(content_codings, batch=True)
def encoded_body(s: Session) -> None:
    """A valid request in each content coding the spec declares is accepted, as if sent as is."""
    for coding in s.op.content_codings:
        body = _valid_request(s)
        content = encoded(json_bytes(s.with_key(body)), coding)
        item = s.probe(content=content, expect=s.accepted(body), carrier=body)
        item.headers["Content-Encoding"] = coding
        s.send(item)


@scenario()
def invalid_envelope(s: Session) -> None:
    """A body missing the event field, or with an undeclared top-level field, gets invalid_request."""
    body = s.bodies.valid(_accepted_event(s))
    # A required member other than one holding an identity (whose absence is the identity error,
    # not this one) or the key.
    holders = {pointer_parts(p)[0] for p in (*s.bodies.identity_pointers(), s.bodies.rules.credential) if p}
    required = [pointer_of(n) for n in object_fields(s.op.request_schema).required if n not in holders]
    dropped = s.bodies.kind.event or next(iter(required), None)
    if dropped is None and s.op.request_schema.get("additionalProperties") is not False:
        raise Skip("the request schema requires no field and allows any other")
    if dropped is not None:
        missing = copy.deepcopy(body)
        item_pop(missing, dropped)
        s.send(s.probe(missing, expect=s.error("invalid_request")))
    if s.op.request_schema.get("additionalProperties") is False:
        s.send(
            s.probe({**body, f"{MARK.replace('-', '_')}_undeclared": 1}, expect=s.error("invalid_request"))
        )


@scenario(first_present_identity)
def identity_resolution_order(s: Session) -> None:
    """With several identity fields present, the first in the spec's order wins (normalised)."""
    event = _accepted_event(s)
    fields = s.ingest.identity.fields
    for start in range(len(fields)):
        identity = {f.name: s.bodies.identity_value(f) for f in fields[start:]}
        _send_accepted(s, s.bodies.valid(event, identity=identity))


@scenario(lowercased_identity)
def email_normalisation(s: Session) -> None:
    """An identity normalised to lower case is reported lower-cased."""
    event = _accepted_event(s)
    for field in s.ingest.identity.in_body:
        value = s.bodies.identity_value(field)
        if field.normalize == "lowercase" and isinstance(value, str):
            mixed = "".join(c.upper() if i % 2 else c for i, c in enumerate(value))
            _send_accepted(s, s.bodies.valid(event, identity={field.name: mixed}))


@scenario(dedupe)
def replay_same_body(s: Session) -> None:
    """The same request again replays the stored event: same id, original time, the replay shape."""
    body = s.bodies.valid(_accepted_event(s))
    original = _send_accepted(s, body)
    if original is None:
        raise AssertionError(
            "the first request was not accepted, so its replay cannot be judged:\n" + s.report()
        )
    time.sleep(0.01)
    s.send(s.probe(body, expect=s.replayed(body, original)))


@scenario(dedupe)
def reused_key_different_body(s: Session) -> None:
    """A reused key with another body follows the project's policy: replay the original, or refuse."""
    assert s.ingest.dedupe is not None
    dedupe_spec = s.ingest.dedupe
    event = _accepted_event(s)
    for key, project in s.projects():
        event = s.bodies.accepted_event(project) or event
        idem = s.bodies.fresh_key()
        first = s.bodies.valid(event, dedupe_key=idem)
        original = _send_accepted(s, first, key)
        if original is None:
            continue
        other_time = s.bodies.timestamp(datetime(2001, 2, 3, 4, 5, 6, 789000, UTC))
        second = s.bodies.with_field(first, s.bodies.rules.occurred_at, other_time)
        policy = project.idempotency_mismatch or dedupe_spec.on_body_mismatch
        if policy == "reject" and dedupe_spec.mismatch_error:
            expect = s.error(dedupe_spec.mismatch_error, key=idem)
        else:
            expect = s.replayed(first, original)
        s.send(s.probe(second, key=key, expect=expect))


@scenario(dedupe, second_key, project_scope)
def dedupe_scoped_to_project(s: Session) -> None:
    """The same idempotency key in another project creates a new event there."""
    assert s.other is not None
    other_key, other_project = s.other
    event = _accepted_event(s)
    other_event = s.bodies.accepted_event(other_project)
    if other_event is None:
        raise Skip(f"project {other_project.id} defines no event a valid payload can be built for")
    idem = s.bodies.fresh_key()
    mine = s.bodies.valid(event, dedupe_key=idem)
    first = _send_accepted(s, mine)
    theirs = s.bodies.valid(other_event, dedupe_key=idem)
    second = _send_accepted(s, theirs, other_key)
    if first and second and first.get("id") == second.get("id"):
        s.fail(
            "dedupe_scoped_to_project", f"both projects got event {first.get('id')} for one key", s.probes[-1]
        )
    if first:
        s.send(s.probe(mine, expect=s.replayed(mine, first)))


@scenario(dedupe)
def concurrent_same_key(s: Session) -> None:
    """Concurrent requests with one idempotency key create one event: one new, the rest replays."""
    assert s.ingest.dedupe is not None
    replay = s.ingest.dedupe.replay
    body = s.bodies.valid(_accepted_event(s))
    items = [s.probe(body) for _ in range(CONCURRENT_REQUESTS)]
    s.creating()
    send_together(items, s.target.transport)
    for item in items:
        s.settle(item)
    if replay.status == s.ingest.response.status and not replay.header:
        # A replay is answered exactly as a new event: only the one id below tells them apart.
        first = next((p.reply for p in items if p.reply and p.reply.status == replay.status), None)
        original = s.values(replay, first) if first else {}
        for item in items:
            item.expect = s.replayed(body, original)
            s.judge(item)
    else:
        created = [
            p
            for p in items
            if p.reply is not None
            and p.reply.status == s.ingest.response.status
            and not (replay.header and p.reply.header(replay.header))
        ]
        if len(created) != 1:
            s.fail(
                "one_event_per_key",
                f"{len(created)} of {len(items)} concurrent requests created an event",
                items[0],
            )
        original = s.values(s.ingest.response, created[0].reply) if created and created[0].reply else {}
        for item in items:
            item.expect = s.accepted(body) if created and item is created[0] else s.replayed(body, original)
            s.judge(item)
    ids = {s.event_id(p.reply, p.expect.shape if p.expect else None) for p in items if p.reply}
    if len(ids) != 1:
        s.fail(
            "one_event_per_key",
            f"concurrent requests with one key got {len(ids)} ids: {sorted(map(str, ids))}",
        )


@scenario(time_ordered_ids)
def ids_increase(s: Session) -> None:
    """Time-ordered event ids (UUIDv7, ULID) increase with time."""
    from .checks import event_id_problem

    event = _accepted_event(s)
    ids: list[str] = []
    last: Probe | None = None
    for _ in range(4):
        values = _send_accepted(s, s.bodies.valid(event))
        last = s.probes[-1]
        if values and not event_id_problem(values.get("id"), s.ingest.id_prefix, s.ingest.id_format):
            ids.append(str(values["id"]))
        time.sleep(ID_GAP_SECONDS)
    if ids != sorted(set(ids)):
        s.fail("ids_increase", f"ids sent {ID_GAP_SECONDS * 1000:.0f} ms apart do not increase: {ids}", last)


@scenario(second_key)
def definitions_per_project(s: Session) -> None:
    """An event defined only in another project is not defined in this one."""
    assert s.other is not None
    _, other_project = s.other
    mine = s.target.project
    foreign = [e for e in s.bodies.defined_events(other_project) if e.name not in mine.events]
    if not foreign:
        raise Skip(f"project {other_project.id} defines no event that {mine.id} lacks")
    event = foreign[0]
    body = s.bodies.valid(event)
    if s.ingest.payload.validation == "required":
        assert s.ingest.payload.undefined_event_error is not None
        s.send(s.probe(body, expect=s.error(s.ingest.payload.undefined_event_error, event=event.name)))
        return
    assert event.definition is not None
    broken = next(iter(violations(event.definition.schema, event.payload)), None)
    if broken is not None:
        body = s.bodies.with_payload(body, broken[1]) or body
    s.send(s.probe(body, expect=s.accepted(body)))


@scenario(routing_error("route_not_found"), batch=True)
def unknown_route(s: Session) -> None:
    """A path the API does not have gets the route-not-found error in the API's envelope."""
    body = _valid_request(s)
    url = s.target.url(s.op).rstrip("/") + f"/{MARK}-unknown"
    s.send(s.probe(body, url=url, expect=s.error("route_not_found")))


@scenario(routing_error("method_not_allowed"), batch=True)
def method_not_allowed(s: Session) -> None:
    """A method the path does not have gets the method-not-allowed error in the API's envelope."""
    declared = {op.method for op in s.target.spec.operations if op.path == s.op.path}
    method = next(m for m in ("GET", "PUT", "PATCH", "DELETE") if m not in declared)
    s.send(s.probe(method=method, expect=s.error("method_not_allowed")))


@scenario(batch_operation, identity_may_be_missing, batch=True)
def batch_partial_acceptance(s: Session) -> None:
    """A batch of a valid item and one naming no contact: the batch's status, the valid item stored,
    the other refused in its result with the identity-missing error body; with `acceptance:
    all_or_nothing`, the whole request refused with that error."""
    batch = s.ingest.batch
    assert batch is not None
    event = _accepted_event(s)
    refused = s.bodies.without_identity(s.bodies.valid(event))
    body = _request(s, s.bodies.valid(event), refused)
    if batch.acceptance == "all_or_nothing":
        s.send(s.probe(body, expect=s.error(s.ingest.identity.missing_error)))
        return
    expect = Expectation(batch.response.status, shape=batch.response, values={"accepted": 1, "rejected": 1})
    item = s.probe(body, expect=expect)
    reply = s.send(item)
    if reply.status != batch.response.status or batch.result is None:
        return
    results = s.values(batch.response, reply).get("results")
    if not isinstance(results, list) or len(results) != 2:
        s.fail("batch_results", f"expected one result per item (2), got {results!r}", item)
        return
    error = s.ingest.identity.missing_error
    entry = s.ingest.errors.catalogue[error]
    outcomes = [(results[0], s.ingest.response.status, None), (results[1], entry.status, error)]
    for index, (found, status, key) in enumerate(outcomes):
        problem = _result_problem(s, found, index, status, key)
        if problem:
            s.fail("batch_results", f"result {index}: {problem}: {found!r}", item)


@scenario(batch_operation, keyless, second_key, batch=True)
def batch_two_projects(s: Session) -> None:
    """A batch whose items name two projects by their tokens is refused whole (invalid_request): one
    request never reaches another project's data."""
    assert s.other is not None
    other_key, other_project = s.other
    theirs = s.bodies.accepted_event(other_project)
    if theirs is None:
        raise Skip(f"project {other_project.id} defines no event a valid payload can be built for")
    mine = s.with_item_key(s.bodies.valid(_accepted_event(s)))
    body = _request(s, mine, s.with_item_key(s.bodies.valid(theirs), other_key))
    s.send(s.probe(body, key=None, expect=s.error("invalid_request")))


def _result_problem(s: Session, found: Any, index: int, status: int, error: str | None) -> str | None:
    """What is wrong with one item's result: for a stored item its index, status and id; for a
    refused one its status, no id, and the exact catalogue body of `error`."""
    assert s.ingest.batch is not None and s.ingest.batch.result is not None
    if not isinstance(found, Mapping):
        return "not a JSON object"
    for f in s.ingest.batch.result.fields:
        value = found.get(f.name)
        if f.source == "index" and value != index:
            return f"{f.name} is {value!r}, expected {index}"
        if f.source == "status" and value != status:
            return f"{f.name} is {value!r}, expected {status}"
        if f.source == "id" and (value is None) != (error is not None):
            return f"{f.name} is {value!r}, expected {'none' if error else 'the stored event id'}"
        if f.source == "error" and error is None and value is not None:
            return f"{f.name} is set on an accepted item"
        if f.source == "error" and error is not None:
            entry = s.ingest.errors.catalogue[error]
            if match_entry(s.ingest, entry, entry.status, value) is None:
                return f"{f.name} is not the catalogue body of {error!r}"
    return None


# -- documented error examples ------------------------------------------------------------------


def provokers(op: Operation) -> dict[str, tuple[str, ...]]:
    """For each catalogue key the operation can answer, the scenarios that provoke it, in the order
    of `generator.spec.STEPS` (whose `scenario` column names them)."""
    assert op.ingest is not None
    table: dict[str, tuple[str, ...]] = {}
    for step in STEPS:
        key = step.error(op.ingest)
        if key and step.scenario in SCENARIOS:
            table[key] = (*table.get(key, ()), step.scenario)
    return table


def producers(op: Operation) -> dict[str, str]:
    """For each catalogue key the operation can answer, the first scenario that provokes it."""
    return {key: names[0] for key, names in provokers(op).items()}


def example_candidates(op: Operation, status: int, value: Any) -> list[str]:
    """The catalogue keys a documented error example is an instance of."""
    assert op.ingest is not None
    keys = op.ingest.used_errors() + op.ingest.server_errors() + ROUTING_ERRORS
    return identify(op.ingest, status, value, keys, more=True)

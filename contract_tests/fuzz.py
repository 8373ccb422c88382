"""Schemathesis fuzzing of every operation, in positive and negative mode, with trustworthy verdicts.

Cases come from Schemathesis's own Python API (`APIOperation.as_strategy`) and are judged by its
built-in checks plus the suite's general checks (`checks.GENERAL`). Positive cases are then made
valid for the deployment, not just for the spec: the event is one the project defines, its payload
is drawn from the definition's JSON Schema (`payloads.payload_strategy`), the identity follows the
`x-ingest` identity rule, the idempotency key is fresh and marked, and the body fits the project's
size limit. So a positive case must get the documented success status, and any other answer is a
real finding rather than a false alarm.
"""

from __future__ import annotations

import copy
import json
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import cache, partial
from pathlib import Path
from typing import Any

import hypothesis
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.config._checks import NEGATIVE_DATA_REJECTION_EXPECTED_STATUSES
from schemathesis.core.failures import Failure as SchemathesisFailure
from schemathesis.core.failures import FailureGroup
from schemathesis.core.parameters import ParameterLocation
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    ignored_auth,
    negative_data_rejection,
    response_schema_conformance,
    status_code_conformance,
)

from ingestspec.generator.config import Project
from ingestspec.generator.spec.model import Batch, Operation, field_pointer, item_get, placed, pointer_set

from .bodies import KEY_SLOT, Bodies, representable_time
from .catalogue import declared_undocumented, rate_limit_wait
from .checks import GENERAL, Failure
from .credentials import credentials
from .exchange import NoAnswer, Probe, Reply, cause, form_value, takes_form
from .payloads import MARKER_PROPERTY, interoperable, is_valid, payload_strategy, with_marker
from .records import Record, Recorder
from .session import RATE_LIMIT_RETRIES, Session
from .target import Target

# The Schemathesis checks every fuzzed reply goes through, by the name reports use.
SCHEMATHESIS_CHECKS: dict[str, Callable[..., Any]] = {
    "not_a_server_error": not_a_server_error,
    "status_code_conformance": status_code_conformance,
    "content_type_conformance": content_type_conformance,
    "response_schema_conformance": response_schema_conformance,
    "ignored_auth": ignored_auth,
}
NEGATIVE_ONLY = {"negative_data_rejection": negative_data_rejection}
MODES = {"positive": GenerationMode.POSITIVE, "negative": GenerationMode.NEGATIVE}
# Invalid data may rightly be refused for its size before its content is read (the payload limit,
# 413), besides Schemathesis's own list (which has 429 already).
REJECTIONS = [*NEGATIVE_DATA_REJECTION_EXPECTED_STATUSES, "413"]


@dataclass
class FuzzResult:
    """What one fuzzing run of one operation in one mode saw."""

    cases: int = 0
    statuses: dict[int, int] = field(default_factory=dict)
    failures: list[tuple[Probe, Failure]] = field(default_factory=list)

    def distinct(self) -> list[tuple[Probe, Failure]]:
        """The first failure of each kind (check and the first line of its message, minus values)."""
        seen: dict[tuple[str, str], tuple[Probe, Failure]] = {}
        for item, failure in self.failures:
            kind = (failure.check, failure.message.split(":")[0].splitlines()[0][:80])
            seen.setdefault(kind, (item, failure))
        return list(seen.values())


@cache
def load_schema(path: Path, base_url: str) -> Any:
    """The spec as a Schemathesis schema pointed at the target's base URL (loaded once per process)."""
    config = schemathesis.Config.from_dict(
        {"checks": {"negative_data_rejection": {"expected-statuses": REJECTIONS}}}
    )
    schema = schemathesis.openapi.from_path(path, config=config)
    schema.config.update(base_url=base_url)
    return schema


def skip_reason(target: Target, op: Operation, mode: str) -> str | None:
    """Why a mode cannot run for an operation (positive needs a project that can accept an event)."""
    if mode == "positive" and op.ingest is not None and not _usable_projects(target, op):
        return "no given project defines an event a valid payload can be built for"
    return None


def _usable_projects(target: Target, op: Operation) -> list[tuple[str, Project]]:
    bodies = Bodies(target, op)
    return [
        (key, project)
        for key, project in zip(target.keys_for(op), target.projects, strict=False)
        if bodies.accepted_event(project) is not None
    ]


def fuzz(
    target: Target,
    op: Operation,
    mode: str,
    recorder: Recorder | None = None,
    progress: Callable[[FuzzResult], None] | None = None,
) -> FuzzResult:
    """Fuzz one operation in one mode (`positive` or `negative`) for `target.max_examples` cases;
    `progress` is told how far it got every `PROGRESS_EVERY` cases."""
    schema = load_schema(target.spec.path, target.base_url)
    api_op = schema[op.path][op.method.lower()]
    recorder = recorder or Recorder(None)
    # Operations without an x-ingest block get Schemathesis's checks only.
    session = Session(target, op, f"fuzz:{mode}", recorder=recorder) if op.ingest is not None else None
    result = FuzzResult()
    strategy = api_op.as_strategy(generation_mode=MODES[mode])
    if mode == "positive" and session is not None:
        cases = strategy.flatmap(lambda case: _valid_for_deployment(session, case))
    else:
        first = next(iter(target.keys_for(op)), None)
        cases = strategy.map(lambda case: (case, first))
    checks = dict(SCHEMATHESIS_CHECKS, **(NEGATIVE_ONLY if mode == "negative" else {}))
    if op.ingest is not None and op.ingest.batch is not None:
        # Partial acceptance: a batch answers its success status with invalid items refused one by one.
        checks.pop("negative_data_rejection", None)

    transport = target.transport
    http = transport.session()

    @settings(
        max_examples=target.max_examples,
        deadline=None,
        database=None,
        phases=[Phase.generate],
        suppress_health_check=list(HealthCheck),
        report_multiple_bugs=False,
    )
    @hypothesis.given(cases)
    def run(item: tuple[Any, str | None]) -> None:
        case, key = item
        creds = credentials(op, key)
        headers = {**transport.headers, **creds.headers}
        if target.no_create and _valid_body(case):
            # Negated outside the body, it may rightly be stored: not under --no-create.
            return
        form = takes_form(op)
        if session is not None and mode == "negative" and _valid_body(case) and not form:
            # Negated elsewhere (a header, the query): a lenient server stores the body, so it is marked.
            case.body = session.bodies.marked(case.body)
        if _judges_the_body(case):
            # The case's own (generated) credentials would end it at 401 before the body is read; the
            # body is sent as is, so a generated Content-Encoding (gzip) would mislabel it.
            generated = {k: v for k, v in (case.headers or {}).items() if k.lower() != "content-encoding"}
            case.headers = {**generated, **headers}
            if creds.query:
                case.query = {**(case.query or {}), **creds.query}
            # A negative form's field holds no document the key could go into: sent as generated.
            keyed = case.body if form and mode == "negative" else creds.into(case.body)
            if mode == "negative" and keyed != case.body and is_valid(op.request_schema, keyed):
                # The key (or a keyless collector's token) written where it goes mended the negation.
                return
            case.body = keyed
        document = case.body
        if form and mode == "positive" and isinstance(document, Mapping):
            # The valid document travels in the form's field, as the scenarios send it.
            assert op.form is not None
            case.body = {op.form.name: form_value(op, sent_bytes(document))}
        sending = {
            "base_url": target.base_url,
            "headers": headers,
            "session": http,
            **transport.requests_options(),
        }
        response = _call(case, sending)
        for _ in range(RATE_LIMIT_RETRIES):
            # The spec's rate limit refusing a case is legitimate: the case is sent again after the wait.
            wait = _rate_limited(op, response)
            if wait is None:
                break
            time.sleep(wait)
            response = _call(case, sending)
        probe = _probe(op, session, case, response, mode, document)
        result.cases += 1
        result.statuses[response.status_code] = result.statuses.get(response.status_code, 0) + 1
        failures = []
        for name, func in checks.items():
            try:
                case.validate_response(
                    response,
                    checks=[func],
                    headers=headers,
                    transport_kwargs=sending,
                )
            except FailureGroup as group:
                failures += [Failure(name, _describe(name, f)) for f in group.exceptions]
            except SchemathesisFailure as exc:
                failures.append(Failure(name, _describe(name, exc)))
        failures = [f for f in failures if target.judges(f.check)]
        if probe.reply is not None and declared_undocumented(op, probe.reply):
            # Schemathesis knows only the file: a status x-ingest declares undocumented, answered by
            # the error it belongs to, is the deployment's declared answer (checks.status_code_documented).
            failures = [f for f in failures if f.check != "status_code_conformance"]
        if session is not None:
            session.probes.clear()
            session.failures.clear()
            failures = session.judge(probe, None if mode == "positive" else GENERAL, failures)
        else:
            curl = probe.curl() if failures else None
            outcome = "success" if response.status_code < 400 else "error"
            recorder.add(
                Record(
                    op.operation_id,
                    f"fuzz:{mode}",
                    response.status_code,
                    outcome,
                    [(f.check, f.message) for f in failures],
                    curl,
                )
            )
        result.failures += [(probe, f) for f in failures]
        if progress is not None and result.cases % PROGRESS_EVERY == 0:
            progress(result)

    hypothesis.seed(target.seed)(run)()
    return result


def _call(case: Any, sending: dict[str, Any]) -> Any:
    """Send a case; `NoAnswer` (with the cause) when no reply comes."""
    try:
        return case.call(**sending)
    except requests.RequestException as exc:
        raise NoAnswer(cause(exc)) from exc


def sent_bytes(body: Any) -> bytes:
    """A JSON body as Schemathesis sends it (requests' `json=`): `json.dumps` with its default
    spacing and ASCII escapes, so a non-ASCII character takes up to 12 bytes (a surrogate pair).
    Positive cases are measured this way against the size limit, not as compact UTF-8."""
    return json.dumps(body, allow_nan=False).encode()


def _rate_limited(op: Operation, response: Any) -> float | None:
    if op.ingest is None:
        return None
    headers = {k: ", ".join(v) if isinstance(v, list) else v for k, v in response.headers.items()}
    return rate_limit_wait(op.ingest, Reply(response.status_code, headers, response.content or b""))


def _valid_body(case: Any) -> bool:
    """Whether a negative case's body is left valid (its negation is in a header or the query)."""
    meta = case.meta
    negated = meta is None or meta.is_negative_at(ParameterLocation.BODY)
    return isinstance(case.body, dict) and not negated


def _judges_the_body(case: Any) -> bool:
    """Whether a case is about its body (all positive cases; negative ones with a negated body)."""
    meta = case.meta
    return meta is None or not meta.generation.mode.is_negative or meta.is_negative_at(ParameterLocation.BODY)


def _describe(check: str, failure: SchemathesisFailure) -> str:
    text = " ".join(f"{failure.title}: {failure.message}".strip().rstrip(":").split())[:500]
    if check == "ignored_auth":
        # The check re-sends the case without credentials; the curl line shows the case as sent.
        text += " (reproduce: the request below without its Authorization header, or with another key)"
    return text


# Transport headers that say nothing about the case; left out of curl lines.
_NOISE_HEADERS = {
    "user-agent",
    "accept-encoding",
    "accept",
    "connection",
    "content-length",
    "x-schemathesis-testcaseid",
}


def _probe(
    op: Operation, session: Session | None, case: Any, response: Any, mode: str, document: Any
) -> Probe:
    """The probe a fuzzed case was, with its reply; `document` is the JSON body the case stands for
    (the case's body, or the document its form field carries)."""
    request = response.request
    content = request.body or b""
    if isinstance(content, str):
        content = content.encode()
    probe = Probe(
        f"fuzz:{mode}",
        op,
        str(request.method),
        str(request.url),
        {k: v for k, v in request.headers.items() if k.lower() not in _NOISE_HEADERS},
        content,
    )
    headers = {k: ", ".join(v) if isinstance(v, list) else v for k, v in response.headers.items()}
    probe.reply = Reply(response.status_code, headers, response.content or b"", response.elapsed)
    if mode == "positive" and session is not None and isinstance(document, Mapping):
        probe.expect = session.accepted(document)
    return probe


# -- positive cases that the deployment must accept ---------------------------------------------


def _valid_for_deployment(session: Session, case: Any) -> st.SearchStrategy[tuple[Any, str]]:
    usable = _usable_projects(session.target, session.op)
    # A form's generated fields hold no document to start from: the document is built whole.
    form = takes_form(session.op)
    generated = case.body if isinstance(case.body, Mapping) and not form else {}
    batch = session.ingest.batch
    if batch is not None:
        return _valid_batch(session, case, usable, generated, batch)

    # Values x-ingest reads from path parameters are stored as text (no NUL, no `/` a route can
    # hold): positive cases send the parameter's simplest value, as the scenarios do.
    read = {name for _, name, _ in session.ingest.items.from_path()}
    stored = {name: value for name, value in session.path_values().items() if name in read}

    def finish(choice: tuple[str, dict[str, Any]]) -> tuple[Any, str]:
        key, body = choice
        slot = body.pop(KEY_SLOT, None)
        case.body = body
        if stored:
            case.path_parameters = {**(case.path_parameters or {}), **stored}
        if slot is not None:
            # The fresh idempotency key goes where the spec puts it (a header or the path).
            headers, path, query = session.parameters(slot)
            case.headers = {**(case.headers or {}), **headers}
            case.path_parameters = {**(case.path_parameters or {}), **path}
            case.query = {**(case.query or {}), **query}
        return case, key

    return (
        st.sampled_from(usable)
        .flatmap(lambda kp: _body(session, kp[1], generated, kp[0]).map(lambda body: (kp[0], body)))
        .map(finish)
    )


# How often (in cases) fuzzing reports its progress.
PROGRESS_EVERY = 25
# Items a positive batch case carries at most.
BATCH_ITEMS = 3


def _valid_batch(
    session: Session,
    case: Any,
    usable: list[tuple[str, Project]],
    generated: Mapping[str, Any],
    batch: Batch,
) -> st.SearchStrategy[tuple[Any, str]]:
    """A batch of items each valid for the deployment (so every one must be accepted)."""
    items_at = field_pointer(batch.items_field)
    raw = item_get(generated, items_at)
    samples = [item for item in raw if isinstance(item, Mapping)] if isinstance(raw, list) else []
    limit = min(BATCH_ITEMS, batch.max_items)

    def wrap(key: str, project: Project) -> st.SearchStrategy[tuple[str, dict[str, Any]]]:
        item = st.sampled_from(samples or [{}]).flatmap(
            lambda g: _body(session, project, g, key, in_batch=True)
        )
        items = st.lists(item, min_size=1, max_size=limit)

        def whole(parts: list[dict[str, Any]]) -> dict[str, Any]:
            # A batch item carries its idempotency key in its body, if anywhere.
            cleaned = [{k: v for k, v in part.items() if k != KEY_SLOT} for part in parts]
            wrapper = copy.deepcopy(dict(generated)) if isinstance(generated, Mapping) else {}
            return placed(wrapper, items_at, cleaned)

        def fits(body: dict[str, Any]) -> bool:
            # The key of a credential field goes in the wrapper only, never in an item. The
            # wrapper's own fields keep to interoperable numbers, as each item does.
            sent = session.with_key(body, key)
            limit_bytes = session.bodies.limit(project)
            small = interoperable(sent) and len(sent_bytes(sent)) <= limit_bytes
            return small and is_valid(session.op.request_schema, sent)

        return items.map(whole).filter(fits).map(lambda body: (key, body))

    def finish(choice: tuple[str, dict[str, Any]]) -> tuple[Any, str]:
        key, body = choice
        case.body = body
        return case, key

    return st.sampled_from(usable).flatmap(lambda kp: wrap(*kp)).map(finish)


def _body(
    session: Session, project: Project, generated: Mapping[str, Any], key: str, in_batch: bool = False
) -> st.SearchStrategy[dict[str, Any]]:
    """Valid bodies of one event (of one item when `in_batch`: without the key, which a credential
    field carries in the batch's wrapper)."""
    ingest = session.ingest
    bodies = session.bodies
    run_id = session.target.run_id
    limit = bodies.limit(project)
    events: list[st.SearchStrategy[tuple[str, Any]]] = []
    for name in sorted(project.events):
        if bodies.reserved_prefix(name) or not bodies.nameable(name):
            continue
        schema = bodies.payload_schema(project.events[name])
        payloads = payload_strategy(schema).map(partial(with_marker, schema, run_id=run_id))
        events.append(st.tuples(st.just(name), payloads))
    # The event the case names itself (the operation's constant name when it has one).
    rules, kind = bodies.rules, bodies.kind
    own_name = item_get(generated, kind.event) if kind.event else kind.event_name
    if own_name is None and kind.event and takes_form(session.op):
        own_name = bodies.undefined_event_name(project)  # a form's case: no document generated
    if (
        ingest.payload.validation == "when_defined"
        and isinstance(own_name, str)
        and own_name not in project.events
        and not bodies.reserved_prefix(own_name)
    ):
        own_payload = item_get(generated, bodies.payload_at, {MARKER_PROPERTY: run_id})
        events.append(st.just((own_name, own_payload)))
    # Identity fields the body carries; none when the path names the contact (it always does then).
    fields = kind.identity.in_body
    if kind.identity.always_named or not fields:
        chosen: st.SearchStrategy[list[Any]] = st.just([])
    elif kind.identity.mode == "exactly_one":
        chosen = st.sampled_from(fields).map(lambda f: [f])
    else:
        chosen = st.lists(st.sampled_from(fields), min_size=1, unique_by=lambda f: f.name)
    marked = bodies.marked_field()
    # Fields a server stores as text, which PostgreSQL cannot hold with a NUL character in it.
    stored_text = [p for p in (*bodies.identity_pointers(), kind.event, rules.dedupe_key) if p]

    def build(parts: tuple[tuple[str, Any], list[Any], bool]) -> dict[str, Any]:
        (name, payload), identity_fields, shout = parts
        body = bodies.without_identity(generated)
        if kind.event:
            pointer_set(body, kind.event, name)
        body = bodies.with_payload(body, payload) or bodies.with_field(body, bodies.payload_at, payload)
        for f in identity_fields:
            value = item_get(generated, f.pointer)
            # null names no one (a nullable identity field sent as null is absent).
            valid = value is not None and is_valid(bodies.schema_of(f.pointer), value)
            if marked is not None and f.name == marked.name or not valid:
                value = bodies.identity_value(f)
                if shout and f.normalize == "lowercase" and isinstance(value, str):
                    value = value.upper()
            pointer_set(body, f.pointer, value)
        if ingest.dedupe:
            body = bodies.with_dedupe_key(body, bodies.fresh_key())
        bodies.fill_required(body)
        if not bodies.is_marked(body) and marked is not None:
            body = bodies.with_field(
                bodies.without_identity(body), marked.pointer, bodies.identity_value(marked)
            )
        return body

    def fits(body: dict[str, Any]) -> bool:
        definition = project.events.get(ingest.event_of(body))
        keyed = session.with_item_key(body, key) if in_batch else session.with_key(body, key)
        sent = {k: v for k, v in keyed.items() if k != KEY_SLOT}
        if not interoperable(body) or len(sent_bytes(sent)) > limit:
            return False
        moment = item_get(body, rules.occurred_at)
        if moment is not None and not representable_time(moment, ingest.occurred_at_unit):
            return False
        if any("\x00" in str(item_get(body, pointer, "")) for pointer in stored_text):
            return False
        if not is_valid(bodies.schema, sent):
            return False
        return definition is None or is_valid(definition.schema, item_get(body, bodies.payload_at))

    return st.tuples(st.one_of(events), chosen, st.booleans()).map(build).filter(fits)

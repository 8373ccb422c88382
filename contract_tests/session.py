"""A scenario's working state for one operation: it sends probes, judges each reply with every check,
records it, and collects the failures.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote, urlencode

import httpx
import orjson

from ingestspec.generator.config import Project
from ingestspec.generator.spec.model import (
    ROUTING_ERRORS,
    IdentityField,
    Operation,
    ResponseShape,
    field_pointer,
    item_get,
)

from .bodies import KEY_SLOT, Bodies
from .catalogue import error_content, identify, rate_limit_wait
from .checks import CheckContext, Failure, run_checks
from .credentials import Credentials, credentials
from .exchange import Expectation, Probe, Reply, probe, send
from .payloads import minimal_value
from .records import Record, Recorder
from .target import Target

# How often a probe refused by the rate limit is sent again after waiting.
RATE_LIMIT_RETRIES = 3
# Sentinel: "use the target's first key".
_FIRST_KEY: Any = object()


class Skip(Exception):
    """The scenario cannot run against this spec and configuration; the message says why."""


class Session:
    """Sends the probes of one scenario for one operation and keeps what went wrong."""

    def __init__(
        self,
        target: Target,
        op: Operation,
        scenario: str,
        client: httpx.Client | None = None,
        recorder: Recorder | None = None,
    ) -> None:
        assert op.ingest is not None
        self.target = target
        self.op = op
        self.ingest = op.ingest
        self.scenario = scenario
        self.bodies = Bodies(target, op)
        # What names each given project on this operation: an API key, or a keyless collector's token.
        self.keys = target.keys_for(op)
        self.ctx = CheckContext(target, op)
        self.client = client or target.transport.client(headers=dict(target.transport.headers))
        self.recorder = recorder or Recorder(None)
        self.probes: list[Probe] = []
        self.failures: list[tuple[Probe | None, Failure]] = []

    # -- building -------------------------------------------------------------------------------

    def probe(
        self,
        body: Any = None,
        *,
        key: str | None = _FIRST_KEY,
        expect: Expectation | None = None,
        content: bytes | None = None,
        media_type: str | None = None,
        method: str | None = None,
        url: str | None = None,
        creds: Credentials | None = None,
        carrier: Mapping[str, Any] | None = None,
    ) -> Probe:
        """A probe of `body` (or raw `content` made from the body `carrier`): an idempotency key kept
        in `KEY_SLOT` goes to its header or path parameter, required parameters get valid values."""
        source = body if isinstance(body, Mapping) else carrier
        slot = source.get(KEY_SLOT) if isinstance(source, Mapping) else None
        if isinstance(body, Mapping) and KEY_SLOT in body:
            body = {k: v for k, v in body.items() if k != KEY_SLOT}
        headers, path, query = self.parameters(slot)
        target_url = url or self.target.base_url + fill_path(self.op.path, path)
        if query:
            target_url += ("&" if "?" in target_url else "?") + urlencode(query)
        return probe(
            self.scenario,
            self.op,
            target_url,
            key=self.key if key is _FIRST_KEY else key,
            body=body,
            content=content,
            media_type=media_type,
            method=method,
            expect=expect,
            extra_headers=headers,
            creds=creds,
        )

    def parameters(self, key: Any) -> tuple[dict[str, str], dict[str, str], dict[str, str]]:
        """(headers, path values, query) for a request: the idempotency key where the spec puts it,
        and every other required parameter (and each path one) with its schema's simplest value.
        Parameters carrying the API key are left to the credentials."""
        found: dict[str, dict[str, str]] = {"header": {}, "path": {}, "query": {}}
        dedupe = self.ingest.dedupe
        secret = {(s.kind, (s.parameter or "").lower()) for s in self.op.schemes}
        for parameter in self.op.parameters:
            where = found.get(parameter.location)
            if where is None or (parameter.location, parameter.name.lower()) in secret:
                continue
            is_key = (
                dedupe is not None
                and dedupe.key.location == parameter.location
                and dedupe.key.name.lower() == parameter.name.lower()
            )
            if is_key and key is not None:
                where[parameter.name] = str(key)
            elif parameter.required or parameter.location == "path":
                ok, value = parameter_value(parameter.schema, parameter.location)
                if ok:
                    where[parameter.name] = value if isinstance(value, str) else json_text(value)
        if dedupe is not None and dedupe.key.location == "path" and key is not None:
            found["path"].setdefault(dedupe.key.name, str(key))
        return found["header"], found["path"], found["query"]

    def with_key(self, body: Any, key: str | None = _FIRST_KEY) -> Any:
        """`body` with the key in it, for operations that carry the key in a body field (for raw
        content built from a body; `probe` does this itself for JSON bodies). A body that is a
        batch's array of items is sent as it is."""
        if not isinstance(body, Mapping):
            return body
        creds = credentials(self.op, self.key if key is _FIRST_KEY else key)
        result: dict[str, Any] = creds.into({k: v for k, v in body.items() if k != KEY_SLOT})
        return result

    def with_item_key(self, item: dict[str, Any], key: str | None = _FIRST_KEY) -> dict[str, Any]:
        """One batch item with what its own body carries of the key (a keyless collector's token)."""
        result: dict[str, Any] = credentials(self.op, self.key if key is _FIRST_KEY else key).into_item(item)
        return result

    @property
    def key(self) -> str:
        """What names the first project on this operation (its API key, or its token)."""
        return self.keys[0]

    @property
    def other(self) -> tuple[str, Project] | None:
        """What names the second project on this operation, and that project, when given."""
        return (self.keys[1], self.target.projects[1]) if len(self.keys) > 1 else None

    def error(self, name: str, /, **params: object) -> Expectation:
        """Expect catalogue error `key` with its message placeholders filled from `params`."""
        return Expectation(self.ingest.errors.catalogue[name].status, error=name, params=params)

    def accepted(self, body: Mapping[str, Any]) -> Expectation:
        """Expect `body` to be stored as a new event: the success status and shape, with known values
        (for a batch: every item accepted)."""
        batch = self.ingest.batch
        if batch is not None:
            items = item_get(body, field_pointer(batch.items_field))
            count = len(items) if isinstance(items, list) else 0
            values = {"accepted": count, "rejected": 0}
            return Expectation(batch.response.status, shape=batch.response, values=values)
        return Expectation(self.ingest.response.status, shape=self.ingest.response, **self._known(body))

    def replayed(self, body: Mapping[str, Any], original: Mapping[str, Any]) -> Expectation:
        """Expect a replay of the event whose values (by source) were `original`."""
        assert self.ingest.dedupe is not None
        known = self._known(body)
        values = {**known["values"], **original}
        return Expectation(
            self.ingest.dedupe.replay.status,
            shape=self.ingest.dedupe.replay,
            values=values,
            identity_types=known["identity_types"],
        )

    def path_values(self) -> dict[str, str]:
        """The path parameters' values every probe of this session sends (their schema's simplest)."""
        return self.parameters(None)[1]

    def _known(self, body: Mapping[str, Any]) -> dict[str, Any]:
        values: dict[str, Any] = {"event": self.ingest.event_of(body, self.path_values())}
        moment = item_get(body, self.ingest.items.occurred_at)
        if moment is not None:
            values["occurred_at"] = as_rfc3339(moment, self.ingest.occurred_at_unit)
        resolved = self.resolved_identity(body)
        identity_types: tuple[str, ...] = ()
        if resolved is not None:
            field, value = resolved
            values["identity_value"] = value
            identity_types = tuple(dict.fromkeys((field.name, field.kind)))
        return {"values": values, "identity_types": identity_types}

    def resolved_identity(self, body: Mapping[str, Any]) -> tuple[IdentityField, Any] | None:
        """The identity field the spec says wins for `body` (read where the item rules locate it),
        and its value after normalisation."""
        read = self.ingest.items.read(body, self.path_values())
        if read is None or read.identity is None:
            return None
        field, value = read.identity
        if isinstance(value, str):
            return field, value.lower() if field.normalize == "lowercase" else value
        # A number is stored and answered as its text.
        return field, json_text(value)

    # -- sending --------------------------------------------------------------------------------

    def send(self, item: Probe) -> Reply:
        """Send a probe, judge its reply, record it. A rate-limited reply (the spec's 429 with
        Retry-After) to a probe that expects something else is a legitimate refusal: the probe is
        sent again once the wait is over, a few times at most."""
        expect = item.expect
        if expect is not None and expect.error is None and expect.status < 400:
            self.creating()
        send(self.client, item)
        reply = self.settle(item)
        self.judge(item)
        return reply

    def creating(self) -> None:
        """Say the scenario is about to send requests the deployment stores: under --no-create it is
        skipped instead."""
        if self.target.no_create:
            raise Skip("--no-create: this scenario needs a request the deployment would store")

    def settle(self, item: Probe) -> Reply:
        """The probe's reply once any unasked rate-limit refusal is waited out and the probe re-sent."""
        assert item.reply is not None
        for _ in range(RATE_LIMIT_RETRIES):
            wait = self.rate_limited(item)
            if wait is None:
                break
            time.sleep(wait)
            send(self.client, item)
        assert item.reply is not None
        return item.reply

    def rate_limited(self, item: Probe) -> float | None:
        """Seconds to wait when `item` got the spec's rate-limit error unasked, else None."""
        limit = self.ingest.rate_limit
        reply = item.reply
        if limit is None or reply is None or (item.expect and item.expect.error == limit.error):
            return None
        return rate_limit_wait(self.ingest, reply)

    def judge(
        self, item: Probe, names: set[str] | None = None, extra: Sequence[Failure] = ()
    ) -> list[Failure]:
        """Run every check (or those in `names`) on a probe that has its reply, and record it with
        any `extra` failures found elsewhere (by Schemathesis's checks)."""
        assert item.reply is not None
        self.probes.append(item)
        failures = [f for f in (*extra, *run_checks(self.ctx, item, names)) if self.target.judges(f.check)]
        self.failures += [(item, f) for f in failures]
        self.recorder.add(
            Record(
                operation=self.op.operation_id,
                source=self.scenario,
                status=item.reply.status,
                outcome=outcome(self.op, item),
                failures=[(f.check, f.message) for f in failures],
                curl=item.curl() if failures else None,
                expected=item.expect.error if item.expect else None,
            )
        )
        return failures

    def fail(self, check: str, message: str, item: Probe | None = None) -> None:
        """A failed property that spans several replies (same id, one id under concurrency, ...)."""
        self.failures.append((item, Failure(check, message)))
        if item is not None and item.reply is not None:
            self.recorder.add(
                Record(
                    self.op.operation_id,
                    self.scenario,
                    item.reply.status,
                    outcome(self.op, item),
                    [(check, message)],
                    item.curl(),
                    item.expect.error if item.expect else None,
                )
            )

    def values(self, shape: ResponseShape, reply: Reply) -> dict[str, Any]:
        """The stored event's values (by source) a success or replay body reports."""
        body = reply.json()
        fields = shape.unwrap(body) if isinstance(body, Mapping) else None
        if not isinstance(fields, Mapping):
            return {}
        return {f.source: fields.get(f.name) for f in shape.fields if f.source}

    def event_id(self, reply: Reply, shape: ResponseShape | None = None) -> Any:
        return self.values(shape or self.ingest.response, reply).get("id")

    # -- context --------------------------------------------------------------------------------

    def projects(self) -> list[tuple[str, Project]]:
        """Each given project with what names it on this operation (its key or token)."""
        return list(zip(self.keys, self.target.projects, strict=False))

    def report(self) -> str:
        lines = []
        for item, failure in self.failures:
            lines.append(f"[{failure.check}] {failure.message}")
            if item is not None:
                lines.append(f"    reproduce: {item.curl()}")
        return "\n".join(lines)


def outcome(op: Operation, item: Probe) -> str:
    """What a reply was, by the spec's names: a catalogue key, `success`, `replay`, or `unrecognised`."""
    assert op.ingest is not None and item.reply is not None
    reply, ingest = item.reply, op.ingest
    if reply.status < 400:
        dedupe = ingest.dedupe
        if (
            dedupe
            and reply.status == dedupe.replay.status
            and (
                reply.status != ingest.response.status
                or (dedupe.replay.header and reply.header(dedupe.replay.header))
            )
        ):
            return "replay"
        return "success" if reply.status == ingest.response.status else "unrecognised"
    expected = item.expect.error if item.expect else None
    keys = identify(ingest, reply.status, error_content(ingest, reply), ingest.used_errors() + ROUTING_ERRORS)
    if expected in keys:
        return str(expected)
    return keys[0] if keys else "unrecognised"


def parameter_value(schema: Mapping[str, Any], location: str) -> tuple[bool, Any]:
    """(True, the simplest value a parameter's schema accepts), or (False, None). A path one's is
    never empty: `/apps//custom_events` is no route (OneSignal's `app_id` is a bare `type: string`)."""
    ok, value = minimal_value(schema)
    if ok and location == "path" and value == "":
        ok, value = minimal_value({**schema, "minLength": 1})
    return ok, value


def fill_path(template: str, values: Mapping[str, str]) -> str:
    """The operation's path with its `{name}` slots filled (percent-encoded)."""
    for name, value in values.items():
        template = template.replace("{" + name + "}", quote(value, safe=""))
    return template


def json_text(value: Any) -> str:
    """A non-string value as text the way JSON writes it (`true`, `12`)."""
    return orjson.dumps(value).decode()


def as_rfc3339(value: Any, unit: str) -> Any:
    """An occurred-at value as RFC 3339, for comparing with the answered one; others unchanged."""
    if unit == "rfc3339" or isinstance(value, bool) or not isinstance(value, int | float):
        return value
    seconds = value / 1000 if unit == "milliseconds" else value
    try:
        return datetime.fromtimestamp(seconds, UTC).isoformat(timespec="milliseconds")
    except (ValueError, OverflowError, OSError):
        return value

"""A scenario's working state for one operation: it sends probes, judges each reply with every check,
records it, and collects the failures.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import httpx

from generator.config import Project
from generator.spec import ROUTING_ERRORS, IdentityField, Operation, ResponseShape

from .bodies import Bodies
from .catalogue import identify
from .checks import CheckContext, Failure, run_checks
from .credentials import Credentials, credentials
from .exchange import TIMEOUT, Expectation, Probe, Reply, probe, send
from .records import Record, Recorder
from .target import Target

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
        self.ctx = CheckContext(target, op)
        self.client = client or httpx.Client(timeout=TIMEOUT)
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
    ) -> Probe:
        return probe(
            self.scenario,
            self.op,
            url or self.target.url(self.op),
            key=self.target.key if key is _FIRST_KEY else key,
            body=body,
            content=content,
            media_type=media_type,
            method=method,
            expect=expect,
            creds=creds,
        )

    def with_key(self, body: dict[str, Any], key: str | None = _FIRST_KEY) -> dict[str, Any]:
        """`body` with the key in it, for operations that carry the key in a body field (for raw
        content built from a body; `probe` does this itself for JSON bodies)."""
        creds = credentials(self.op, self.target.key if key is _FIRST_KEY else key)
        result: dict[str, Any] = creds.into(body)
        return result

    def error(self, name: str, /, **params: object) -> Expectation:
        """Expect catalogue error `key` with its message placeholders filled from `params`."""
        return Expectation(self.ingest.errors.catalogue[name].status, error=name, params=params)

    def accepted(self, body: Mapping[str, Any]) -> Expectation:
        """Expect `body` to be stored as a new event: the success status and shape, with known values."""
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

    def _known(self, body: Mapping[str, Any]) -> dict[str, Any]:
        values: dict[str, Any] = {"event": self.ingest.event_of(body)}
        if self.ingest.occurred_at_field in body:
            values["occurred_at"] = body[self.ingest.occurred_at_field]
        resolved = self.resolved_identity(body)
        identity_types: tuple[str, ...] = ()
        if resolved is not None:
            field, value = resolved
            values["identity_value"] = value
            identity_types = tuple(dict.fromkeys((field.name, field.kind)))
        return {"values": values, "identity_types": identity_types}

    def resolved_identity(self, body: Mapping[str, Any]) -> tuple[IdentityField, str] | None:
        """The identity field the spec says wins for `body`, and its value after normalisation."""
        for field in self.ingest.identity.fields:
            value = body.get(field.name)
            if isinstance(value, str):
                return field, value.lower() if field.normalize == "lowercase" else value
        return None

    # -- sending --------------------------------------------------------------------------------

    def send(self, item: Probe) -> Reply:
        """Send a probe, judge its reply, record it."""
        reply = send(self.client, item)
        self.judge(item)
        return reply

    def judge(
        self, item: Probe, names: set[str] | None = None, extra: Sequence[Failure] = ()
    ) -> list[Failure]:
        """Run every check (or those in `names`) on a probe that has its reply, and record it with
        any `extra` failures found elsewhere (by Schemathesis's checks)."""
        assert item.reply is not None
        self.probes.append(item)
        failures = [*extra, *run_checks(self.ctx, item, names)]
        self.failures += [(item, f) for f in failures]
        self.recorder.add(
            Record(
                operation=self.op.operation_id,
                source=self.scenario,
                status=item.reply.status,
                outcome=outcome(self.op, item),
                failures=[(f.check, f.message) for f in failures],
                curl=item.curl() if failures else None,
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
        """Each given key with its project."""
        return list(zip(self.target.api_keys, self.target.projects, strict=True))

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
    keys = identify(ingest, reply.status, reply.json(), ingest.used_errors() + ROUTING_ERRORS)
    if expected in keys:
        return str(expected)
    return keys[0] if keys else "unrecognised"

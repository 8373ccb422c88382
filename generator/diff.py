"""Compare two versions of a spec and classify every change, for clients and for servers.

Works from the `Spec` model only: operations are paired by method and path, request and response
schemas are compared field by field, and the `x-ingest` blocks are compared behaviour by behaviour.

- **Breaking for clients**: a client written against OLD may fail against a server built from NEW
  (backward compatibility: upgrading the server breaks existing callers).
- **Breaking for servers**: a server still built from OLD mishandles what a client written against
  NEW sends or expects (forward compatibility: deploy the regenerated server before clients rely on
  the change).

Requests and responses vary in opposite directions: a request schema that accepts less breaks
clients, one that accepts more breaks servers; a response that may carry more breaks clients, one
that promises more than OLD delivered breaks servers.
"""

from __future__ import annotations

import json
import subprocess
import tempfile
from collections.abc import Callable, Iterable, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any, Literal

from .errors import SpecError
from .loader import load_spec
from .spec import ErrorEntry, Ingest, Operation, Spec

__all__ = [
    "Change",
    "SpecDiff",
    "diff_specs",
    "load_version",
    "render_json",
    "render_markdown",
    "render_text",
    "spec_at_revision",
]

Side = Literal["request", "response"]
Verdict = Literal["narrowed", "widened", "changed"]

# (breaking for clients, breaking for servers) of a schema that accepts less, more, or something else.
_IMPACT: dict[Side, dict[Verdict, tuple[bool, bool]]] = {
    "request": {"narrowed": (True, False), "widened": (False, True), "changed": (True, True)},
    "response": {"narrowed": (False, True), "widened": (True, False), "changed": (True, True)},
}

# Keywords that document a schema without constraining it: edits to them are not changes.
_DESCRIPTIVE = frozenset(
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
    }
)
_UPPER_BOUNDS = ("maxLength", "maximum", "exclusiveMaximum", "maxItems", "maxProperties")
_LOWER_BOUNDS = ("minLength", "minimum", "exclusiveMinimum", "minItems", "minProperties")
_EXACT = ("format", "pattern", "const", "contentMediaType")
_COMPOSITION = ("oneOf", "anyOf", "allOf", "not", "if", "then", "else", "dependentRequired")


@dataclass(frozen=True)
class Change:
    """One difference between two versions of a spec and whom it breaks."""

    kind: str
    location: str
    old: Any
    new: Any
    breaking_for_clients: bool
    breaking_for_servers: bool
    message: str

    @property
    def group(self) -> str:
        """The heading this change is listed under."""
        if self.breaking_for_clients and self.breaking_for_servers:
            return "breaking for clients and servers"
        if self.breaking_for_clients:
            return "breaking for clients"
        if self.breaking_for_servers:
            return "breaking for servers"
        return "not breaking"


GROUPS = ("breaking for clients and servers", "breaking for clients", "breaking for servers", "not breaking")


@dataclass(frozen=True)
class SpecDiff:
    """Every change between two labelled versions of a spec."""

    old: str
    new: str
    changes: tuple[Change, ...]

    @property
    def breaking_for_clients(self) -> tuple[Change, ...]:
        return tuple(c for c in self.changes if c.breaking_for_clients)

    @property
    def breaking_for_servers(self) -> tuple[Change, ...]:
        return tuple(c for c in self.changes if c.breaking_for_servers)

    def failing(self, fail_on: str) -> tuple[Change, ...]:
        """The changes that `--fail-on` (`breaking`, `server-breaking` or `any-breaking`) fails on."""
        if fail_on == "breaking":
            return self.breaking_for_clients
        if fail_on == "server-breaking":
            return self.breaking_for_servers
        if fail_on == "any-breaking":
            return tuple(c for c in self.changes if c.breaking_for_clients or c.breaking_for_servers)
        raise ValueError(f"unknown --fail-on value {fail_on!r}")

    def summary(self) -> str:
        """One line: how many changes and how many break each side."""
        if not self.changes:
            return "no changes"
        return (
            f"{len(self.changes)} change(s): {len(self.breaking_for_clients)} breaking for clients, "
            f"{len(self.breaking_for_servers)} breaking for servers"
        )


@dataclass
class _Collector:
    changes: list[Change] = field(default_factory=list)

    def add(
        self, kind: str, location: str, old: Any, new: Any, impact: tuple[bool, bool], message: str
    ) -> None:
        self.changes.append(Change(kind, location, old, new, impact[0], impact[1], message))


def diff_specs(old: Spec, new: Spec, old_label: str | None = None, new_label: str | None = None) -> SpecDiff:
    """Every change from OLD to NEW, classified for clients and for servers."""
    out = _Collector()
    if old.base_path != new.base_path:
        out.add(
            "base-path-changed",
            "servers[0].url",
            old.base_path,
            new.base_path,
            (True, True),
            f"every operation moved from {old.base_path or '/'} to {new.base_path or '/'}",
        )
    old_ops = {(op.method, op.path): op for op in old.operations}
    new_ops = {(op.method, op.path): op for op in new.operations}
    gone = [op for key, op in old_ops.items() if key not in new_ops]
    came = [op for key, op in new_ops.items() if key not in old_ops]
    for key, old_op in old_ops.items():
        if key in new_ops:
            _operation(old_op, new_ops[key], out)
    # An operation whose id survives at another method or path has moved, not vanished.
    came_by_id = {op.operation_id: op for op in came}
    for old_op in gone:
        moved = came_by_id.pop(old_op.operation_id, None)
        if moved is None:
            out.add(
                "operation-removed",
                old_op.operation_id,
                _endpoint(old_op),
                None,
                (True, False),
                f"operation {old_op.operation_id} ({_endpoint(old_op)}) was removed",
            )
            continue
        out.add(
            "operation-moved",
            old_op.operation_id,
            _endpoint(old_op),
            _endpoint(moved),
            (True, True),
            f"operation {old_op.operation_id} moved from {_endpoint(old_op)} to {_endpoint(moved)}",
        )
        _operation(old_op, moved, out)
    for new_op in came_by_id.values():
        out.add(
            "operation-added",
            new_op.operation_id,
            None,
            _endpoint(new_op),
            (False, True),
            f"operation {new_op.operation_id} ({_endpoint(new_op)}) was added",
        )
    return SpecDiff(old_label or str(old.path), new_label or str(new.path), tuple(out.changes))


def _endpoint(op: Operation) -> str:
    return f"{op.method} {op.path}"


def _operation(old: Operation, new: Operation, out: _Collector) -> None:
    where = new.operation_id
    if old.operation_id != new.operation_id:
        out.add(
            "operation-renamed",
            where,
            old.operation_id,
            new.operation_id,
            (True, False),
            f"{_endpoint(new)}: operationId {old.operation_id} was renamed to {new.operation_id}",
        )
    if old.request_media_types != new.request_media_types:
        out.add(
            "request-media-type-changed",
            f"{where} request",
            old.request_media_type,
            new.request_media_type,
            (True, True),
            f"the request body media type changed from {old.request_media_type} to {new.request_media_type}",
        )
    if old.secured != new.secured:
        out.add(
            "security-changed",
            where,
            old.secured,
            new.secured,
            (True, False) if new.secured else (False, True),
            "the operation now requires an API key"
            if new.secured
            else "the operation no longer needs an API key",
        )
    _schema(old.request_schema, new.request_schema, f"{where} request", "", "request", out)
    _responses(old, new, where, out)
    if old.ingest is None or new.ingest is None:
        if (old.ingest is None) != (new.ingest is None):
            out.add(
                "x-ingest-added" if old.ingest is None else "x-ingest-removed",
                f"{where} x-ingest",
                old.ingest is not None,
                new.ingest is not None,
                (True, True),
                f"the x-ingest block was {'added' if old.ingest is None else 'removed'}",
            )
        return
    _ingest(old.ingest, new.ingest, f"{where} x-ingest", out)


def _responses(old: Operation, new: Operation, where: str, out: _Collector) -> None:
    for status in sorted(set(old.responses) | set(new.responses)):
        location = f"{where} response[{status}]"
        before, after = old.responses.get(status), new.responses.get(status)
        if after is None:
            out.add(
                "status-removed",
                location,
                status,
                None,
                (True, True),
                f"status {status} is no longer documented",
            )
            continue
        if before is None:
            out.add(
                "status-added", location, None, status, (False, False), f"status {status} is now documented"
            )
            continue
        if before.media_type != after.media_type:
            out.add(
                "response-media-type-changed",
                location,
                before.media_type,
                after.media_type,
                (True, True),
                f"the {status} body media type changed from {before.media_type} to {after.media_type}",
            )
        _schema(before.schema or {}, after.schema or {}, location, "", "response", out)
        for header in before.headers:
            if header not in after.headers:
                out.add(
                    "header-removed",
                    f"{location}.headers",
                    header,
                    None,
                    (True, False),
                    f"the {status} response no longer documents the header {header}",
                )
        for header in after.headers:
            if header not in before.headers:
                out.add(
                    "header-added",
                    f"{location}.headers",
                    None,
                    header,
                    (False, True),
                    f"the {status} response now documents the header {header}",
                )


# --- schemas -------------------------------------------------------------------------------------


def _schema(old: Any, new: Any, where: str, path: str, side: Side, out: _Collector) -> None:
    """Compare two (resolved) schemas found at `path` below `where`, recursing into properties and items."""
    if not isinstance(old, Mapping) or not isinstance(new, Mapping):
        if old != new:
            out.add(
                "schema-changed", _at(where, path), old, new, (True, True), f"{_what(side, path)} changed"
            )
        return
    _type(old, new, where, path, side, out)
    _enum(old, new, where, path, side, out)
    bounds = [(keyword, True) for keyword in _UPPER_BOUNDS] + [(keyword, False) for keyword in _LOWER_BOUNDS]
    for keyword, upper in bounds:
        _bound(
            keyword,
            old.get(keyword),
            new.get(keyword),
            upper=upper,
            where=where,
            path=path,
            side=side,
            out=out,
        )
    for keyword in _EXACT:
        _exact(keyword, old, new, where, path, side, out)
    for keyword in _COMPOSITION:
        before, after = _plain(old.get(keyword)), _plain(new.get(keyword))
        if before != after:
            out.add(
                f"{_kebab(keyword)}-changed",
                _at(where, path),
                old.get(keyword),
                new.get(keyword),
                (True, True),
                f"{_what(side, path)}: {keyword} changed",
            )
    _properties(old, new, where, path, side, out)
    _additional(old, new, where, path, side, out)
    if isinstance(old.get("items"), Mapping) or isinstance(new.get("items"), Mapping):
        _schema(old.get("items") or {}, new.get("items") or {}, where, f"{path}[]", side, out)


def _properties(
    old: Mapping[str, Any], new: Mapping[str, Any], where: str, path: str, side: Side, out: _Collector
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
            (True, True),
            f"{side} field {_join(path, before)!r} was renamed to {_join(path, after)!r}",
        )
    for name in removed:
        if name in renamed:
            continue
        required = name in old_required
        out.add(
            "field-removed",
            _at(where, _join(path, name)),
            name,
            None,
            # Old clients still send (or read) it; a server built from OLD still demands it if required.
            (True, side == "request" and required),
            f"{_what(side, _join(path, name))} was removed",
        )
    renamed_to = set(renamed.values())
    for name in added:
        if name in renamed_to:
            continue
        required = name in new_required
        impact = (required, True) if side == "request" else (False, required)
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
        if side == "request":
            impact = (True, False) if became_required else (False, True)
        else:
            impact = (False, True) if became_required else (True, False)
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
            _schema(old_props[name], new_props[name], where, _join(path, name), side, out)


def _renames(
    removed: list[str], added: list[str], old_props: Mapping[str, Any], new_props: Mapping[str, Any]
) -> dict[str, str]:
    """Removed fields paired with added ones of the same schema, when the pairing is unambiguous."""
    pairs: dict[str, str] = {}
    for before in removed:
        matches = [after for after in added if _plain(new_props[after]) == _plain(old_props[before])]
        rivals = [
            other for other in removed if matches and _plain(old_props[other]) == _plain(old_props[before])
        ]
        if len(matches) == 1 and len(rivals) == 1:
            pairs[before] = matches[0]
    return pairs


def _type(
    old: Mapping[str, Any], new: Mapping[str, Any], where: str, path: str, side: Side, out: _Collector
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
        _IMPACT[side][verdict],
        f"{_what(side, path)}: type {verdict} from {_show(old.get('type'))} to {_show(new.get('type'))}",
    )


def _types(value: Any) -> frozenset[str] | None:
    if value is None:
        return None  # any type
    names = {value} if isinstance(value, str) else set(value)
    if "number" in names:
        names.add("integer")  # every integer is a number
    return frozenset(names)


def _enum(
    old: Mapping[str, Any], new: Mapping[str, Any], where: str, path: str, side: Side, out: _Collector
) -> None:
    before = None if "enum" not in old else frozenset(map(_key, old["enum"]))
    after = None if "enum" not in new else frozenset(map(_key, new["enum"]))
    if before == after:
        return
    verdict = _containment(before, after)
    out.add(
        f"enum-{verdict}",
        _at(where, path),
        old.get("enum"),
        new.get("enum"),
        _IMPACT[side][verdict],
        f"{_what(side, path)}: enum {verdict} from {_show(old.get('enum'))} to {_show(new.get('enum'))}",
    )


def _containment(before: frozenset[str] | None, after: frozenset[str] | None) -> Verdict:
    """Whether the allowed set shrank, grew, or moved (None means "anything")."""
    if after is None or (before is not None and before <= after):
        return "widened"
    if before is None or after <= before:
        return "narrowed"
    return "changed"


def _bound(
    keyword: str, before: Any, after: Any, *, upper: bool, where: str, path: str, side: Side, out: _Collector
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
        shown = _show(before if after is None else after)
        how = f"{keyword} {'removed' if after is None else 'added'} ({shown})"
    else:
        how = f"{keyword} {'lowered' if after < before else 'raised'} from {before} to {after}"
    out.add(
        f"{_kebab(keyword)}-{verdict}",
        _at(where, path),
        before,
        after,
        _IMPACT[side][verdict],
        f"{_what(side, path)}: {how}",
    )


def _exact(
    keyword: str,
    old: Mapping[str, Any],
    new: Mapping[str, Any],
    where: str,
    path: str,
    side: Side,
    out: _Collector,
) -> None:
    if old.get(keyword) == new.get(keyword) and (keyword in old) == (keyword in new):
        return
    verdict: Verdict = "narrowed" if keyword not in old else "widened" if keyword not in new else "changed"
    out.add(
        f"{_kebab(keyword)}-{verdict}",
        _at(where, path),
        old.get(keyword),
        new.get(keyword),
        _IMPACT[side][verdict],
        f"{_what(side, path)}: {keyword} {verdict}"
        f" from {_show(old.get(keyword))} to {_show(new.get(keyword))}",
    )


def _additional(
    old: Mapping[str, Any], new: Mapping[str, Any], where: str, path: str, side: Side, out: _Collector
) -> None:
    before, after = old.get("additionalProperties", True), new.get("additionalProperties", True)
    if isinstance(before, Mapping) and isinstance(after, Mapping):
        _schema(before, after, where, f"{path}.*" if path else "*", side, out)
        return
    if _plain(before) == _plain(after):
        return
    verdict: Verdict = "narrowed" if after is False else "widened" if before is False else "changed"
    out.add(
        f"additional-properties-{verdict}",
        _at(where, path),
        before,
        after,
        _IMPACT[side][verdict],
        f"{_what(side, path)}: additionalProperties {verdict} from {_show(before)} to {_show(after)}",
    )


def _plain(value: Any) -> Any:
    """A schema without its documentation keywords, for comparing what it constrains."""
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in value.items() if k not in _DESCRIPTIVE}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def _key(value: Any) -> str:
    return json.dumps(value, sort_keys=True, default=str)


def _join(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


def _at(where: str, path: str) -> str:
    return f"{where}.{path}" if path else where


def _what(side: Side, path: str) -> str:
    return f"{side} field {path!r}" if path else f"the {side} body"


def _kebab(keyword: str) -> str:
    return "".join(f"-{c.lower()}" if c.isupper() else c for c in keyword).lstrip("-")


def _show(value: Any) -> str:
    return "none" if value is None else json.dumps(value, default=str)


# --- x-ingest ------------------------------------------------------------------------------------

_BOTH = (True, True)


def _attributes(
    old: object, new: object, kinds: tuple[tuple[str, str], ...], where: str, label: str, out: _Collector
) -> None:
    """A change, breaking both sides, for each named attribute whose value differs."""
    for attr, kind in kinds:
        was, now = getattr(old, attr), getattr(new, attr)
        if was != now:
            out.add(
                kind, f"{where}.{attr}", was, now, _BOTH, f"{label}{attr} changed from {was!r} to {now!r}"
            )


def _ingest(old: Ingest, new: Ingest, where: str, out: _Collector) -> None:
    _attributes(
        old,
        new,
        (
            ("event_field", "event-field-changed"),
            ("event_name", "event-name-changed"),
            ("credential_field", "credential-field-changed"),
            ("occurred_at_field", "occurred-at-field-changed"),
            ("occurred_at_unit", "occurred-at-unit-changed"),
            ("id_format", "id-format-changed"),
            ("id_prefix", "id-prefix-changed"),
            ("rate_limit", "rate-limit-changed"),
        ),
        where,
        "",
        out,
    )
    _identity(old, new, where, out)
    _payload(old, new, where, out)
    _reserved(old, new, where, out)
    _dedupe(old, new, where, out)
    _shape(old.response, new.response, f"{where}.response", "success-response-changed", out)
    if old.retention_days != new.retention_days:
        lowered = new.retention_days < old.retention_days
        out.add(
            "retention-lowered" if lowered else "retention-raised",
            f"{where}.retention",
            old.retention_days,
            new.retention_days,
            (True, False) if lowered else (False, True),
            f"events are kept {new.retention_days} days instead of {old.retention_days}",
        )
    if old.processing != new.processing:
        # Attempts and backoff are the server's business: no request or response changes.
        was, now = asdict(old.processing), asdict(new.processing)
        moved = [f"{name} {was[name]} -> {now[name]}" for name in was if was[name] != now[name]]
        out.add(
            "processing-changed",
            f"{where}.processing",
            was,
            now,
            (False, False),
            "processing changed: " + ", ".join(moved),
        )
    _errors(old, new, where, out)


def _identity(old: Ingest, new: Ingest, where: str, out: _Collector) -> None:
    before, after = old.identity, new.identity
    location = f"{where}.identity"
    if before.mode != after.mode:
        out.add(
            "identity-mode-changed",
            f"{location}.mode",
            before.mode,
            after.mode,
            _BOTH,
            f"identity mode changed from {before.mode} to {after.mode}",
        )
    old_names, new_names = before.names, after.names
    if set(old_names) != set(new_names):
        widened, narrowed = set(new_names) - set(old_names), set(old_names) - set(new_names)
        out.add(
            "identity-fields-changed",
            f"{location}.fields",
            list(old_names),
            list(new_names),
            (bool(narrowed), bool(widened)),
            "identity fields changed"
            + (f"; added {sorted(widened)}" if widened else "")
            + (f"; removed {sorted(narrowed)}" if narrowed else ""),
        )
    else:
        common = [n for n in old_names if n in new_names]
        reordered = common != [n for n in new_names if n in old_names]
        # Under exactly_one the order never decides anything; under first_present it picks the contact.
        if reordered and "first_present" in (before.mode, after.mode):
            out.add(
                "identity-order-changed",
                f"{location}.fields",
                list(old_names),
                list(new_names),
                _BOTH,
                f"identity resolution order changed from {' > '.join(old_names)} to {' > '.join(new_names)}",
            )
    old_fields = {f.name: f for f in before.fields}
    for f in after.fields:
        was = old_fields.get(f.name)
        if was is not None and (was.kind, was.normalize) != (f.kind, f.normalize):
            out.add(
                "identity-normalize-changed",
                f"{location}.fields.{f.name}",
                {"kind": was.kind, "normalize": was.normalize},
                {"kind": f.kind, "normalize": f.normalize},
                _BOTH,
                f"identity field {f.name!r} is now {f.kind} normalised {f.normalize}"
                f" (was {was.kind} normalised {was.normalize})",
            )
    _error_use(old, new, before.missing_error, after.missing_error, f"{location}.missing_error", out)
    _error_use(old, new, before.conflict_error, after.conflict_error, f"{location}.conflict_error", out)


def _payload(old: Ingest, new: Ingest, where: str, out: _Collector) -> None:
    before, after = old.payload, new.payload
    if before.field != after.field:
        out.add(
            "payload-field-changed",
            f"{where}.payload.field",
            before.field,
            after.field,
            _BOTH,
            f"the payload moved from {before.field!r} to {after.field!r}",
        )
    if before.validation != after.validation:
        stricter = after.validation == "required"
        out.add(
            "payload-validation-narrowed" if stricter else "payload-validation-widened",
            f"{where}.payload.validation",
            before.validation,
            after.validation,
            (True, False) if stricter else (False, True),
            f"payload validation changed from {before.validation} to {after.validation}"
            + (" (undefined events are now refused)" if stricter else " (undefined events are now accepted)"),
        )
    _error_use(old, new, before.mismatch_error, after.mismatch_error, f"{where}.payload.mismatch_error", out)
    _error_use(
        old,
        new,
        before.undefined_event_error,
        after.undefined_event_error,
        f"{where}.payload.undefined_event_error",
        out,
    )
    cap_before, cap_after = old.payload_limit.default_bytes, new.payload_limit.default_bytes
    if cap_before != cap_after:
        lowered = cap_after < cap_before
        out.add(
            "payload-limit-lowered" if lowered else "payload-limit-raised",
            f"{where}.payload_limit.default_bytes",
            cap_before,
            cap_after,
            (True, False) if lowered else (False, True),
            f"the default payload cap was {'lowered' if lowered else 'raised'}"
            f" from {cap_before} to {cap_after} bytes",
        )
    _error_use(
        old, new, old.payload_limit.error, new.payload_limit.error, f"{where}.payload_limit.error", out
    )


def _reserved(old: Ingest, new: Ingest, where: str, out: _Collector) -> None:
    before = set(old.reserved.prefixes) if old.reserved else set()
    after = set(new.reserved.prefixes) if new.reserved else set()
    location = f"{where}.reserved_prefixes"
    if after - before:
        out.add(
            "reserved-prefix-added",
            location,
            sorted(before),
            sorted(after),
            (True, False),
            f"event names starting with {', '.join(sorted(after - before))} are now refused",
        )
    if before - after:
        out.add(
            "reserved-prefix-removed",
            location,
            sorted(before),
            sorted(after),
            (False, True),
            f"event names starting with {', '.join(sorted(before - after))} are now accepted",
        )
    if old.reserved and new.reserved:
        _error_use(old, new, old.reserved.error, new.reserved.error, f"{location}.error", out)


def _dedupe(old: Ingest, new: Ingest, where: str, out: _Collector) -> None:
    before, after = old.dedupe, new.dedupe
    location = f"{where}.dedupe"
    if before is None or after is None:
        if before is not after:
            out.add(
                "dedupe-added" if before is None else "dedupe-removed",
                location,
                None if before is None else before.key.name,
                None if after is None else after.key.name,
                _BOTH,
                "requests are now deduplicated" if before is None else "requests are no longer deduplicated",
            )
        return
    _attributes(
        before,
        after,
        (
            ("key", "dedupe-key-changed"),
            ("scope", "dedupe-scope-changed"),
            ("window_seconds", "dedupe-window-changed"),
            ("on_body_mismatch", "dedupe-mismatch-changed"),
        ),
        location,
        "dedupe ",
        out,
    )
    _error_use(old, new, before.mismatch_error, after.mismatch_error, f"{location}.mismatch_error", out)
    _shape(before.replay, after.replay, f"{location}.replay", "dedupe-replay-changed", out)


def _shape(before: Any, after: Any, location: str, kind: str, out: _Collector) -> None:
    if before.status != after.status:
        out.add(
            f"{kind.rsplit('-', 1)[0]}-status-changed",
            f"{location}.status",
            before.status,
            after.status,
            _BOTH,
            f"answers {after.status} instead of {before.status}",
        )
    was = {k: v for k, v in asdict(before).items() if k != "status"}
    now = {k: v for k, v in asdict(after).items() if k != "status"}
    if was != now:
        out.add(
            kind,
            location,
            was,
            now,
            _BOTH,
            "the body built from the stored event changed (fields, envelope or header)",
        )


def _error_use(
    old: Ingest, new: Ingest, before: str | None, after: str | None, location: str, out: _Collector
) -> None:
    """A behaviour now answers with another catalogue entry (a key rename with the same body is no change)."""
    if before == after:
        return  # the same entry: edits to it are reported from the catalogue
    was = _entry(old, before)
    now = _entry(new, after)
    if was == now:
        return
    out.add(
        "error-use-changed",
        location,
        before,
        after,
        _BOTH,
        f"now answers error {after!r} ({_entry_text(now)}) instead of {before!r} ({_entry_text(was)})",
    )


def _entry(ingest: Ingest, key: str | None) -> tuple[int, str, str] | None:
    entry = ingest.errors.catalogue.get(key) if key else None
    return None if entry is None else (entry.status, _key(dict(entry.fields)), entry.message)


def _entry_text(entry: tuple[int, str, str] | None) -> str:
    return "none" if entry is None else f"{entry[0]} {entry[2]!r}"


def _errors(old: Ingest, new: Ingest, where: str, out: _Collector) -> None:
    before, after = old.errors, new.errors
    location = f"{where}.errors"
    for attr in ("media_type", "status_pointer", "message_pointer", "details_pointer", "detail_item"):
        was, now = getattr(before, attr), getattr(after, attr)
        if was != now:
            out.add(
                "error-envelope-changed",
                f"{location}.{attr}",
                was,
                now,
                _BOTH,
                f"error bodies: {attr} changed from {was!r} to {now!r}",
            )
    removed = [k for k in before.catalogue if k not in after.catalogue]
    added = [k for k in after.catalogue if k not in before.catalogue]
    # A key is the spec's own name for an entry; renaming it with the same body changes nothing on the wire.
    for key in list(removed):
        twin = next((k for k in added if _same(before.catalogue[key], after.catalogue[k])), None)
        if twin is not None:
            removed.remove(key)
            added.remove(twin)
            out.add(
                "error-key-renamed",
                f"{location}.catalogue.{key}",
                key,
                twin,
                (False, False),
                f"catalogue key {key!r} renamed to {twin!r}; the body is unchanged",
            )
    for key in removed:
        entry = before.catalogue[key]
        out.add(
            "error-removed",
            f"{location}.catalogue.{key}",
            _entry_value(entry),
            None,
            _BOTH,
            f"error {key!r} ({entry.status}) was removed from the catalogue",
        )
    for key in added:
        entry = after.catalogue[key]
        out.add(
            "error-added",
            f"{location}.catalogue.{key}",
            None,
            _entry_value(entry),
            (False, True),
            f"error {key!r} ({entry.status}) was added to the catalogue",
        )
    for key, was_entry in before.catalogue.items():
        now_entry = after.catalogue.get(key)
        if now_entry is None:
            continue
        entry_at = f"{location}.catalogue.{key}"
        if was_entry.status != now_entry.status:
            out.add(
                "error-status-changed",
                f"{entry_at}.status",
                was_entry.status,
                now_entry.status,
                _BOTH,
                f"error {key!r} answers {now_entry.status} instead of {was_entry.status}",
            )
        if dict(was_entry.fields) != dict(now_entry.fields):
            out.add(
                "error-name-changed",
                f"{entry_at}.fields",
                dict(was_entry.fields),
                dict(now_entry.fields),
                _BOTH,
                f"error {key!r}: its constant fields changed from {_show(dict(was_entry.fields))}"
                f" to {_show(dict(now_entry.fields))}",
            )
        if was_entry.message != now_entry.message:
            out.add(
                "error-message-changed",
                f"{entry_at}.message",
                was_entry.message,
                now_entry.message,
                _BOTH,
                f"error {key!r}: message changed from {was_entry.message!r} to {now_entry.message!r}",
            )


def _same(a: ErrorEntry, b: ErrorEntry) -> bool:
    return (a.status, dict(a.fields), a.message) == (b.status, dict(b.fields), b.message)


def _entry_value(entry: ErrorEntry) -> dict[str, Any]:
    return {"status": entry.status, "fields": dict(entry.fields), "message": entry.message}


# --- reading a version from git ------------------------------------------------------------------


def load_version(value: str, locate: Callable[[str], Path]) -> tuple[Spec, str]:
    """A spec version and its label: `REV:path` (or `REV:api`) read from git, else what `locate` finds."""
    if ":" in value and not Path(value).exists():
        revision, _, name = value.partition(":")
        return spec_at_revision(revision or "HEAD", name), value
    path = locate(value)
    return load_spec(path), _relative(path)


def _relative(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def spec_at_revision(revision: str, path: str, cwd: str | Path | None = None) -> Spec:
    """The spec at `path` as committed at git `revision` (`path` may also be an API name)."""
    candidates = [path]
    if "/" not in path and not PurePosixPath(path).suffix:
        candidates.append(f"openapi/{path}.yaml")
    problems = []
    for candidate in candidates:
        result = subprocess.run(
            ["git", "show", f"{revision}:{candidate}"], cwd=cwd, capture_output=True, check=False
        )
        if result.returncode == 0:
            with tempfile.TemporaryDirectory(prefix="ingestspec-diff-") as tmp:
                copy = Path(tmp) / PurePosixPath(candidate).name
                copy.write_bytes(result.stdout)
                return load_spec(copy)
        problems.append(
            result.stderr.decode(errors="replace").strip() or f"git show {revision}:{candidate} failed"
        )
    raise SpecError(f"{revision}:{path}", problems)


# --- output --------------------------------------------------------------------------------------

_COLOURS = {
    "breaking for clients and servers": "red",
    "breaking for clients": "red",
    "breaking for servers": "yellow",
    "not breaking": "green",
}


_LEGEND = (
    "Breaking for clients: a client written against OLD may fail against a server built from NEW.\n"
    "Breaking for servers: a server still built from OLD mishandles clients written against NEW."
)


def _grouped(diff: SpecDiff) -> Iterable[tuple[str, list[Change]]]:
    for group in GROUPS:
        members = [c for c in diff.changes if c.group == group]
        if members:
            yield group, members


def render_text(diff: SpecDiff, style: Any = None) -> str:
    """Changes grouped by whom they break; `style` is `click.style` for colour, or None for plain text."""
    paint = style or (lambda text, **_: text)
    lines = [paint(f"{diff.old} -> {diff.new}: {diff.summary()}", bold=True)]
    for group, members in _grouped(diff):
        lines.append("")
        lines.append(paint(f"{group.capitalize()} ({len(members)})", fg=_COLOURS[group], bold=True))
        for change in members:
            lines.append(f"  {paint(change.kind, fg=_COLOURS[group])}  {change.location}")
            lines.append(f"      {change.message}")
    if diff.changes:
        lines += ["", paint(_LEGEND, dim=True)]
    return "\n".join(lines)


def render_json(diff: SpecDiff) -> str:
    """The diff as a JSON document: labels, counts and every change."""
    document = {
        "old": diff.old,
        "new": diff.new,
        "summary": {
            "changes": len(diff.changes),
            "breaking_for_clients": len(diff.breaking_for_clients),
            "breaking_for_servers": len(diff.breaking_for_servers),
        },
        "changes": [asdict(change) for change in diff.changes],
    }
    return json.dumps(document, indent=2, default=str)


def render_markdown(diff: SpecDiff) -> str:
    """The diff as a Markdown section for a pull-request comment."""
    lines = [f"### `{diff.old}` → `{diff.new}`", "", f"**{diff.summary()}**"]
    if not diff.changes:
        return "\n".join(lines) + "\n"
    lines += ["", "| | change | where | clients | servers |", "| --- | --- | --- | --- | --- |"]
    marks = {
        "breaking for clients and servers": "🔴",
        "breaking for clients": "🔴",
        "breaking for servers": "🟡",
        "not breaking": "🟢",
    }
    for group, members in _grouped(diff):
        for c in members:
            lines.append(
                f"| {marks[group]} | {_cell(c.message)} | `{_cell(c.location)}` (`{c.kind}`) "
                f"| {_verdict(c.breaking_for_clients)} | {_verdict(c.breaking_for_servers)} |"
            )
    lines += ["", "<sub>" + _LEGEND.replace("\n", "<br>") + "</sub>"]
    return "\n".join(lines) + "\n"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _verdict(breaking: bool) -> str:
    return "**breaking**" if breaking else "ok"

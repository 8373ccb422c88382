"""Read an OpenAPI file into the `Spec` model: the only place that walks the raw document."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import asdict
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import jsonschema
import yaml

from .errors import SpecError, UnresolvedRef
from .migrate import upgrade, version_of
from .spec import (
    Batch,
    Dedupe,
    DetailItem,
    ErrorEntry,
    ErrorEnvelope,
    Example,
    Identity,
    IdentityField,
    Ingest,
    ItemKind,
    KeySource,
    Kinds,
    Operation,
    Parameter,
    PayloadLimit,
    PayloadRule,
    Processing,
    RateLimit,
    Read,
    ReservedPrefixes,
    Response,
    ResponseField,
    ResponseShape,
    SecurityScheme,
    Spec,
    field_pointer,
    item_schema,
    pointer_of,
    pointer_parts,
)

_DURATION = re.compile(r"P(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+)S)?)?")
HTTP_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")


@cache
def bundled_schema(name: str) -> dict[str, Any]:
    """A JSON Schema shipped in `generator/schemas/` (`x-ingest` or `config`)."""
    text = resources.files(__package__ or "").joinpath("schemas", f"{name}.schema.json").read_text()
    schema: dict[str, Any] = json.loads(text)
    return schema


def read_document(path: str | Path) -> tuple[dict[str, Any], bytes]:
    """The parsed YAML/JSON document and its raw bytes."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise SpecError(path, [f"cannot read the file: {exc.strerror}"]) from exc
    try:
        document = yaml.safe_load(raw)
    except yaml.YAMLError as exc:
        raise SpecError(path, [f"not valid YAML: {exc}"]) from exc
    if not isinstance(document, dict):
        raise SpecError(path, ["the document is not a mapping"])
    return document, raw


def resolve(document: Mapping[str, Any], node: Any, source: str | Path = "<spec>") -> Any:
    """`node` with every local `$ref` replaced by what it points at (recursively)."""

    def walk(value: Any, seen: tuple[str, ...]) -> Any:
        if isinstance(value, dict):
            ref = value.get("$ref")
            if isinstance(ref, str):
                if ref in seen:
                    raise SpecError(source, [f"recursive $ref {ref} is not supported"])
                target = walk(_pointer(document, ref, source), (*seen, ref))
                siblings = {k: walk(v, seen) for k, v in value.items() if k != "$ref"}
                return {**target, **siblings} if siblings else target
            return {k: walk(v, seen) for k, v in value.items()}
        if isinstance(value, list):
            return [walk(v, seen) for v in value]
        return value

    return walk(node, ())


def _pointer(document: Mapping[str, Any], ref: str, source: str | Path) -> Any:
    if not ref.startswith("#/"):
        raise UnresolvedRef(source, [f"only local references are supported, got {ref}"])
    node: Any = document
    for part in pointer_parts(ref[1:]):
        if not isinstance(node, Mapping) or part not in node:
            raise UnresolvedRef(source, [f"{ref} does not resolve"])
        node = node[part]
    return node


def load_spec(path: str | Path) -> Spec:
    """Load and check an ingest spec. Raises `SpecError` listing every problem found."""
    path = Path(path)
    document, raw = read_document(path)
    if not str(document.get("openapi", "")).startswith("3.1"):
        raise SpecError(path, ["only OpenAPI 3.1 documents are supported"])
    info = document.get("info") or {}
    operations = tuple(_operations(document, path))
    if not any(op.ingest for op in operations):
        raise SpecError(path, ["no operation carries an x-ingest block"])
    return Spec(
        name=path.stem,
        path=path,
        sha256=hashlib.sha256(raw).hexdigest(),
        title=str(info.get("title", path.stem)),
        version=str(info.get("version", "")),
        base_path=_base_path(document),
        operations=operations,
        document=document,
    )


def _base_path(document: Mapping[str, Any]) -> str:
    servers = document.get("servers") or [{"url": "/"}]
    return urlparse(str(servers[0].get("url", "/"))).path.rstrip("/")


def _operations(document: Mapping[str, Any], source: Path) -> list[Operation]:
    schemes = _security_schemes(document, source)
    result = []
    for path, raw_item in (document.get("paths") or {}).items():
        item = resolve(document, raw_item, source)
        for method in HTTP_METHODS:
            raw = (raw_item if "$ref" not in raw_item else item).get(method)
            if raw is None:
                continue
            op = resolve(document, raw, source)
            body = op.get("requestBody") or {}
            content = body.get("content") or {"application/json": {}}
            media_type, media = next(iter(content.items()))
            pointer = pointer_of("paths", path, method)
            result.append(
                Operation(
                    operation_id=op.get("operationId") or f"{method}_{path}",
                    method=method.upper(),
                    path=path,
                    summary=op.get("summary", ""),
                    description=op.get("description", ""),
                    request_schema=media.get("schema") or {},
                    request_media_types=tuple(content),
                    request_examples=_examples(media),
                    responses=_responses(raw.get("responses") or {}, op.get("responses") or {}),
                    security=_security(op.get("security", document.get("security") or []), schemes),
                    parameters=_parameters([*(item.get("parameters") or []), *(op.get("parameters") or [])]),
                    request_required=bool(body.get("required", False)) if body else False,
                    ingest=(
                        _ingest(op["x-ingest"], source, pointer, media.get("schema") or {})
                        if "x-ingest" in op
                        else None
                    ),
                    read=_read(op["x-ingest-read"], source, pointer) if "x-ingest-read" in op else None,
                    pointer=pointer,
                )
            )
    return result


def _security_schemes(document: Mapping[str, Any], source: Path) -> dict[str, SecurityScheme]:
    raw = resolve(document, (document.get("components") or {}).get("securitySchemes") or {}, source)
    schemes = {}
    for name, scheme in raw.items():
        kind, parameter = f"{scheme.get('type')}/{scheme.get('scheme', scheme.get('in', ''))}", None
        if scheme.get("type") == "http" and str(scheme.get("scheme", "")).lower() in ("bearer", "basic"):
            kind = str(scheme["scheme"]).lower()
        elif scheme.get("type") == "apiKey" and scheme.get("in") in ("header", "query"):
            kind, parameter = scheme["in"], str(scheme.get("name", ""))
        schemes[name] = SecurityScheme(name, kind, parameter)
    return schemes


def _security(
    requirements: list[Mapping[str, Any]], schemes: Mapping[str, SecurityScheme]
) -> tuple[tuple[SecurityScheme, ...], ...]:
    # A requirement naming an undeclared scheme is kept as such, so lint can point at it.
    return tuple(
        tuple(schemes.get(name) or SecurityScheme(name, "undeclared") for name in requirement)
        for requirement in requirements
    )


def _parameters(raw: list[Mapping[str, Any]]) -> tuple[Parameter, ...]:
    # Operation-level parameters override path-level ones with the same name and location.
    by_key = {(p.get("name"), p.get("in")): p for p in raw if isinstance(p, Mapping)}
    return tuple(
        Parameter(
            str(name), str(location), bool(p.get("required", location == "path")), p.get("schema") or {}
        )
        for (name, location), p in by_key.items()
    )


def _examples(media: Mapping[str, Any]) -> tuple[Example, ...]:
    if "example" in media:
        return (Example("example", media["example"]),)
    return tuple(
        Example(name, ex.get("value"), ex.get("summary"))
        for name, ex in (media.get("examples") or {}).items()
    )


def _responses(raw: Mapping[str, Any], resolved: Mapping[str, Any]) -> dict[int, Response]:
    responses = {}
    for status, response in resolved.items():
        if not str(status).isdigit():
            continue  # "default" and ranges document nothing the server promises
        content = response.get("content") or {}
        media_type, media = next(iter(content.items()), (None, {}))
        media = dict(media)
        raw_media: Mapping[str, Any] = next(iter((raw[status].get("content") or {}).values()), {})
        ref = (raw_media.get("schema") or {}).get("$ref")
        responses[int(status)] = Response(
            status=int(status),
            description=response.get("description", ""),
            media_type=media_type,
            schema=media.get("schema"),
            examples=_examples(media),
            headers=tuple(response.get("headers") or ()),
            schema_name=ref.rsplit("/", 1)[-1] if isinstance(ref, str) else None,
        )
    return dict(sorted(responses.items()))


def x_ingest_problems(raw: Any, where: str = "x-ingest") -> list[str]:
    """What is wrong with an x-ingest block of either version, against that version's schema."""
    version = version_of(raw) if isinstance(raw, Mapping) else 2
    schema = bundled_schema("x-ingest-v1" if version == 1 else "x-ingest")
    return [
        f"{where}{_path(e.absolute_path)}: {e.message}"
        for e in jsonschema.Draft202012Validator(schema).iter_errors(raw)
    ]


def _ingest(
    block: Mapping[str, Any], source: Path, pointer: str = "", request: Mapping[str, Any] | None = None
) -> Ingest:
    problems = x_ingest_problems(block, f"{pointer}/x-ingest" if pointer else "x-ingest")
    if problems:
        raise SpecError(source, problems)
    raw = upgrade(block)
    identity = _identity(raw["identity"])
    payload = _payload(raw["payload"])
    errors = raw["errors"]
    processing = raw.get("processing") or {}
    backoff = processing.get("backoff") or {}
    ingest = Ingest(
        version=version_of(block),
        event_field=raw.get("event_field"),
        event_name=raw.get("event_name"),
        credential_field=raw.get("credential_field"),
        occurred_at_field=raw["occurred_at_field"],
        occurred_at_unit=raw.get("occurred_at_unit", "rfc3339"),
        id_format=raw.get("id_format", "uuid7"),
        id_prefix=raw.get("id_prefix", ""),
        identity=identity,
        payload=payload,
        payload_limit=PayloadLimit(raw["payload_limit"]["default_bytes"], raw["payload_limit"]["error"]),
        response=_shape(raw["response"]),
        errors=ErrorEnvelope(
            media_type=errors["media_type"],
            message_pointer=errors["message"],
            status_pointer=errors.get("status"),
            details_pointer=errors.get("details"),
            detail_item=DetailItem(**(errors.get("detail_item") or {})),
            catalogue={
                key: ErrorEntry(key, entry["status"], entry["message"], dict(entry.get("fields") or {}))
                for key, entry in errors["catalogue"].items()
            },
        ),
        reserved=(
            ReservedPrefixes(tuple(raw["reserved_prefixes"]["prefixes"]), raw["reserved_prefixes"]["error"])
            if "reserved_prefixes" in raw
            else None
        ),
        dedupe=_dedupe(raw["dedupe"]) if "dedupe" in raw else None,
        rate_limit=RateLimit(**raw["rate_limit"]) if "rate_limit" in raw else None,
        batch=_batch(raw["batch"]) if "batch" in raw else None,
        kinds=(
            _kinds(raw["kinds"], raw, identity, payload, item_schema(request or {}, _items(raw)))
            if "kinds" in raw
            else None
        ),
        retention_days=(raw.get("retention") or {}).get("default_days", 90),
        documented_only=tuple(raw.get("documented_only") or ()),
        processing=Processing(
            max_attempts=processing.get("max_attempts", 5),
            backoff_initial_seconds=backoff.get("initial_seconds", 1.0),
            backoff_multiplier=backoff.get("multiplier", 2.0),
            backoff_max_seconds=backoff.get("max_seconds", 300.0),
        ),
    )
    missing = [key for key in ingest.used_errors() if key not in ingest.errors.catalogue]
    if missing:
        raise SpecError(
            source, [f"x-ingest refers to error {key!r}, which the catalogue lacks" for key in missing]
        )
    return ingest


def _identity(raw: Mapping[str, Any]) -> Identity:
    return Identity(
        mode=raw["mode"],
        fields=tuple(
            IdentityField(f["name"], f.get("kind", f["name"]), f.get("normalize", "none"))
            for f in raw["fields"]
        ),
        missing_error=raw["missing_error"],
        conflict_error=raw.get("conflict_error"),
    )


def _payload(raw: Mapping[str, Any]) -> PayloadRule:
    return PayloadRule(
        field=raw["field"],
        validation=raw["validation"],
        mismatch_error=raw["mismatch_error"],
        undefined_event_error=raw.get("undefined_event_error"),
    )


# A kind's rules and the keys that say them.
_KIND_RULES = (
    ("event", ("event_field", "event_name")),
    ("identity", ("identity",)),
    ("payload", ("payload",)),
)


def _items(raw: Mapping[str, Any]) -> str | None:
    return field_pointer(raw["batch"]["items_field"]) if "batch" in raw else None


def _kinds(
    raw: Mapping[str, Any],
    block: Mapping[str, Any],
    identity: Identity,
    payload: PayloadRule,
    item: Mapping[str, Any],
) -> Kinds:
    """Each kind's rules: what it says itself, the block's own rules for the rest."""
    openapi = item.get("discriminator") or {}
    # The x-ingest schema requires `discriminator` when the item schema names none; lint checks it.
    discriminator = raw.get("discriminator") or str(openapi.get("propertyName", ""))
    kinds = []
    for value, rules in raw["by_value"].items():
        event_field, event_name = block.get("event_field"), block.get("event_name")
        if "event_field" in rules or "event_name" in rules:
            event_field, event_name = rules.get("event_field"), rules.get("event_name")
        own_payload = {**asdict(payload), **(rules.get("payload") or {})}
        kinds.append(
            ItemKind(
                value=value,
                event_field=event_field,
                event_name=event_name,
                identity=_identity(rules["identity"]) if "identity" in rules else identity,
                payload=_payload(own_payload),
                pointer=pointer_of("kinds", "by_value", value),
                own=tuple(rule for rule, keys in _KIND_RULES if any(k in rules for k in keys)),
            )
        )
    return Kinds(discriminator, tuple(kinds))


def _batch(raw: Mapping[str, Any]) -> Batch:
    return Batch(
        items_field=raw["items_field"],
        max_items=raw["max_items"],
        response=_shape(raw["response"]),
        result=_shape(raw["result"]) if "result" in raw else None,
        acceptance=raw.get("acceptance", "per_item"),
    )


def _read(block: Mapping[str, Any], source: Path, pointer: str) -> Read:
    schema = bundled_schema("x-ingest-read")
    problems = [
        f"{pointer}/x-ingest-read{_path(e.absolute_path)}: {e.message}"
        for e in jsonschema.Draft202012Validator(schema).iter_errors(block)
    ]
    if problems:
        raise SpecError(source, problems)
    return Read(
        id_parameter=block["id_parameter"],
        response=_shape(block["response"]),
        not_found_error=block["not_found_error"],
    )


def _dedupe(raw: Mapping[str, Any]) -> Dedupe:
    return Dedupe(
        key=KeySource(raw["key"]["in"], raw["key"]["name"]),
        scope=raw["scope"],
        replay=_shape(raw["replay"]),
        on_body_mismatch=raw.get("on_body_mismatch", "replay"),
        mismatch_error=raw.get("mismatch_error"),
        window_seconds=duration_seconds(raw.get("window", "retention")),
    )


def duration_seconds(window: str) -> int | None:
    """Seconds in an ISO 8601 duration of days, hours, minutes and seconds; None for `retention`."""
    if window == "retention":
        return None
    match = _DURATION.fullmatch(window)
    assert match, window  # the schema's pattern admits nothing else
    days, hours, minutes, seconds = (int(g or 0) for g in match.groups())
    return ((days * 24 + hours) * 60 + minutes) * 60 + seconds


def _shape(raw: Mapping[str, Any]) -> ResponseShape:
    return ResponseShape(
        status=raw.get("status", 0),  # a batch item's result has none: its status is its own
        fields=tuple(
            ResponseField(name, f.get("source"), f.get("const")) for name, f in raw["fields"].items()
        ),
        envelope=raw.get("envelope"),
        header=raw.get("header"),
    )


def _path(parts: Any) -> str:
    return "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in parts)

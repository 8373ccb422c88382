"""Read an OpenAPI file into the `Spec` model: the only place that walks the raw document."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import jsonschema
import yaml

from .errors import SpecError, UnresolvedRef
from .spec import (
    Dedupe,
    ErrorEntry,
    ErrorEnvelope,
    Example,
    Identity,
    IdentityField,
    Ingest,
    Operation,
    PayloadLimit,
    PayloadRule,
    Processing,
    ReservedPrefixes,
    Response,
    ResponseField,
    ResponseShape,
    Spec,
)

HTTP_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")


@cache
def bundled_schema(name: str) -> dict[str, Any]:
    """A JSON Schema shipped in `generator/schemas/` (`x-ingest` or `config`)."""
    text = resources.files("generator.schemas").joinpath(f"{name}.schema.json").read_text()
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
    for part in ref[2:].split("/"):
        part = part.replace("~1", "/").replace("~0", "~")
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
    global_security = document.get("security") or []
    result = []
    for path, item in (document.get("paths") or {}).items():
        for method in HTTP_METHODS:
            raw = item.get(method)
            if raw is None:
                continue
            op = resolve(document, raw, source)
            body = op.get("requestBody") or {}
            media_type, media = next(iter((body.get("content") or {"application/json": {}}).items()))
            result.append(
                Operation(
                    operation_id=op.get("operationId") or f"{method}_{path}",
                    method=method.upper(),
                    path=path,
                    summary=op.get("summary", ""),
                    description=op.get("description", ""),
                    request_schema=media.get("schema") or {},
                    request_media_type=media_type,
                    request_examples=_examples(media),
                    responses=_responses(raw.get("responses") or {}, op.get("responses") or {}),
                    secured=bool(op.get("security", global_security)),
                    ingest=_ingest(op["x-ingest"], source) if "x-ingest" in op else None,
                )
            )
    return result


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


def _ingest(raw: Mapping[str, Any], source: Path) -> Ingest:
    problems = [
        f"x-ingest{_path(e.absolute_path)}: {e.message}"
        for e in jsonschema.Draft202012Validator(bundled_schema("x-ingest")).iter_errors(raw)
    ]
    if problems:
        raise SpecError(source, problems)
    identity = raw["identity"]
    payload = raw["payload"]
    errors = raw["errors"]
    processing = raw.get("processing") or {}
    backoff = processing.get("backoff") or {}
    ingest = Ingest(
        event_field=raw["event_field"],
        occurred_at_field=raw["occurred_at_field"],
        id_format=raw.get("id_format", "uuid7"),
        identity=Identity(
            mode=identity["mode"],
            fields=tuple(
                IdentityField(f["name"], f["kind"], f.get("normalize", "none")) for f in identity["fields"]
            ),
            missing_error=identity["missing_error"],
            conflict_error=identity.get("conflict_error"),
        ),
        payload=PayloadRule(
            field=payload["field"],
            validation=payload["validation"],
            mismatch_error=payload["mismatch_error"],
            undefined_event_error=payload.get("undefined_event_error"),
        ),
        payload_limit=PayloadLimit(raw["payload_limit"]["default_bytes"], raw["payload_limit"]["error"]),
        response=_shape(raw["response"]),
        errors=ErrorEnvelope(
            media_type=errors["media_type"],
            status_field=errors["status_field"],
            message_field=errors["message_field"],
            details_field=errors.get("details_field"),
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
        retention_days=(raw.get("retention") or {}).get("default_days", 90),
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


def _dedupe(raw: Mapping[str, Any]) -> Dedupe:
    return Dedupe(
        key_field=raw["key_field"],
        scope=raw["scope"],
        replay=_shape(raw["replay"]),
        on_body_mismatch=raw.get("on_body_mismatch", "replay"),
        mismatch_error=raw.get("mismatch_error"),
        window=raw.get("window", "retention"),
    )


def _shape(raw: Mapping[str, Any]) -> ResponseShape:
    return ResponseShape(
        status=raw["status"],
        fields=tuple(
            ResponseField(name, f.get("source"), f.get("const")) for name, f in raw["fields"].items()
        ),
        envelope=raw.get("envelope"),
        header=raw.get("header"),
    )


def _path(parts: Any) -> str:
    return "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in parts)

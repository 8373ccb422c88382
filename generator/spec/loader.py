"""Read an OpenAPI file into the `Spec` model: the only place that walks the raw document."""

from __future__ import annotations

import base64
import hashlib
import json
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import asdict
from functools import cache, partial
from importlib import resources
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlparse

import jsonschema
import yaml

from ..errors import LoadProblem, SpecError, UnresolvedRef
from ..lint.rules import describe
from ..lint.suggest import did_you_mean
from ..lint.validate import is_json
from . import openapi30
from .defaults import Documented, complete
from .migrate import upgrade, version_of
from .model import (
    BASIC_KEY,
    FORM_MEDIA_TYPE,
    Batch,
    Dedupe,
    DetailItem,
    ErrorEntry,
    ErrorEnvelope,
    Example,
    FormField,
    Identity,
    IdentityField,
    Ingest,
    ItemKind,
    KeySource,
    Kinds,
    Link,
    Operation,
    Parameter,
    PayloadLimit,
    PayloadRule,
    Processing,
    PropertyExample,
    RateLimit,
    Read,
    ReservedPrefixes,
    Response,
    ResponseField,
    ResponseShape,
    SecurityScheme,
    Spec,
    default_key,
    documented,
    escape,
    field_pointer,
    item_schema,
    pointer_of,
    pointer_parts,
)

# The rules a document breaks when it cannot be read into the model: each problem the loader finds
# carries one, so lint reports it as found.
YAML_SYNTAX = describe("yaml-syntax", "The file is valid YAML (JSON is YAML too).")
OPENAPI_VERSION = describe("openapi-version", "The document is OpenAPI 3.1, or 3.0 (read as 3.1).")
X_INGEST_SCHEMA = describe("x-ingest-schema", "x-ingest and x-ingest-read blocks match their JSON Schema.")
X_INGEST_KEY = describe("x-ingest-unknown-key", "x-ingest blocks use only the keys of their schema.")
REF_RESOLVES = describe("ref-resolves", "Every $ref is local and points at something.")
REF_RECURSIVE = describe("ref-not-recursive", "No $ref leads back to itself (recursive schemas are refused).")
CATALOGUE_KEY = describe("catalogue-has-key", "Every error x-ingest names is in its errors catalogue.")
HAS_INGEST = describe("has-ingest-operation", "At least one operation carries an x-ingest block.")
LOADS = describe("loads", "The document loads into the spec model.")

_RANGES = ("1XX", "2XX", "3XX", "4XX", "5XX", "default")
_DURATION = re.compile(r"P(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+)S)?)?")
HTTP_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")


@cache
def bundled_schema(name: str) -> dict[str, Any]:
    """A JSON Schema shipped in `generator/schemas/` (`x-ingest` or `config`)."""
    text = resources.files("ingestspec.generator").joinpath("schemas", f"{name}.schema.json").read_text()
    schema: dict[str, Any] = json.loads(text)
    return schema


_NOT_JSON = {"tag:yaml.org,2002:timestamp", "tag:yaml.org,2002:value"}

#: PyYAML's safe loader on libyaml's parser where PyYAML was built with it (its wheels are): about
#: ten times faster on a vendor's file. What a plain scalar means is decided by the same Python
#: resolver either way.
FastSafeLoader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

T = TypeVar("T")


def parsed(parse: Callable[..., T], text: bytes | str, fast: type, plain: type) -> T:
    """`parse(text, Loader=fast)`; on a YAML error, what `plain` makes of it: PyYAML's own parser
    says what is wrong more plainly than libyaml ("expected ',' or ']', but got ':'")."""
    try:
        return parse(text, Loader=fast)
    except yaml.YAMLError:
        return parse(text, Loader=plain)


class _JsonData:
    """PyYAML's safe loader without YAML 1.1's implicit timestamps and `=` (`value`) tag: OpenAPI's
    data model is JSON's, where a plain `2000-01-23T04:56:07Z` or `=` is a string (vendors write
    both unquoted; a datetime example broke the generated schema, `=` the whole file)."""

    yaml_implicit_resolvers = {
        first: [(tag, regexp) for tag, regexp in resolvers if tag not in _NOT_JSON]
        for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
    }


class JsonDataLoader(_JsonData, FastSafeLoader):  # type: ignore[valid-type,misc]
    pass


class _PlainJsonDataLoader(_JsonData, yaml.SafeLoader):
    pass


def load_yaml(raw: bytes | str) -> Any:
    """A YAML or JSON document as JSON data (see `_JsonData`)."""
    return parsed(yaml.load, raw, JsonDataLoader, _PlainJsonDataLoader)  # both safe-loader subclasses: safe


def read_document(path: str | Path) -> tuple[dict[str, Any], bytes]:
    """The parsed YAML/JSON document and its raw bytes."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise SpecError(path, [f"cannot read the file: {exc.strerror}"]) from exc
    try:
        document = load_yaml(raw)
    except yaml.YAMLError as exc:
        raise SpecError(path, [LoadProblem("", YAML_SYNTAX, f"not valid YAML: {exc}")]) from exc
    if not isinstance(document, dict):
        raise SpecError(path, ["the document is not a mapping"])
    return document, raw


def resolve(document: Mapping[str, Any], node: Any, source: str | Path = "<spec>", at: str = "") -> Any:
    """`node` (found at pointer `at`) with every local `$ref` replaced by what it points at."""

    def walk(value: Any, seen: tuple[str, ...], at: str) -> Any:
        if isinstance(value, dict):
            ref = value.get("$ref")
            if isinstance(ref, str):
                if ref in seen:
                    problem = LoadProblem(
                        f"{at}/$ref", REF_RECURSIVE, f"recursive $ref {ref} is not supported"
                    )
                    raise SpecError(source, [problem])
                target = walk(_pointer(document, ref, source, f"{at}/$ref"), (*seen, ref), ref[1:])
                siblings = {k: walk(v, seen, f"{at}/{escape(k)}") for k, v in value.items() if k != "$ref"}
                return {**target, **siblings} if siblings else target
            return {k: walk(v, seen, f"{at}/{escape(k)}") for k, v in value.items()}
        if isinstance(value, list):
            return [walk(v, seen, f"{at}/{i}") for i, v in enumerate(value)]
        return value

    return walk(node, (), at)


def _pointer(document: Mapping[str, Any], ref: str, source: str | Path, at: str) -> Any:
    if not ref.startswith("#/"):
        problem = LoadProblem(at, REF_RESOLVES, f"only local references are supported, got {ref}")
        raise UnresolvedRef(source, [problem])
    node: Any = document
    for part in pointer_parts(ref[1:]):
        if not isinstance(node, Mapping) or part not in node:
            hint = did_you_mean(part, node) if isinstance(node, Mapping) else ""
            raise UnresolvedRef(source, [LoadProblem(at, REF_RESOLVES, f"{ref} does not resolve{hint}")])
        node = node[part]
    return node


def load_spec(path: str | Path, ingest_required: bool = True) -> Spec:
    """Load and check an ingest spec. Raises `SpecError` listing every problem found.

    `ingest_required=False` reads an API that has no x-ingest block yet (a vendor's published file,
    which `ingestspec init --from` proposes a block for).
    """
    path = Path(path)
    document, raw = read_document(path)
    document, moved = _as_openapi31(document, path)
    info = document.get("info") or {}
    schemes = _security_schemes(document, path)
    operations = tuple(_operations(document, path, schemes))
    if ingest_required and not any(op.ingest for op in operations):
        raise SpecError(path, [LoadProblem("/paths", HAS_INGEST, "no operation carries an x-ingest block")])
    return Spec(
        name=path.stem,
        path=path,
        sha256=hashlib.sha256(raw).hexdigest(),
        title=str(info.get("title", path.stem)),
        version=str(info.get("version", "")),
        base_path=_base_path(document),
        operations=operations,
        document=document,
        moved=moved,
        webhooks=tuple(document.get("webhooks") or ()),
        property_examples=_property_examples(document, path),
        security_schemes=tuple(schemes.values()),
    )


def _property_examples(document: Mapping[str, Any], source: Path) -> tuple[PropertyExample, ...]:
    found = []
    for name, schema in ((document.get("components") or {}).get("schemas") or {}).items():
        try:
            resolved = resolve(document, schema, source)
        except SpecError:
            continue  # a recursive component no operation uses: nothing of it is served
        for prop, sub in (resolved.get("properties") or {}).items():
            for index, value in enumerate(sub.get("examples") or ()):
                where = pointer_of("components", "schemas", name, "properties", prop, "examples", index)
                found.append(PropertyExample(name, prop, sub, value, where))
    return tuple(found)


def _as_openapi31(document: dict[str, Any], path: Path) -> tuple[dict[str, Any], dict[str, str]]:
    """The document as OpenAPI 3.1 (a 3.0 one upgraded), and where the upgrade moved what it moved."""
    if "swagger" in document:
        raise SpecError(path, [LoadProblem("/swagger", OPENAPI_VERSION, openapi30.SWAGGER_HINT)])
    version = str(document.get("openapi", ""))
    if version.startswith("3.0"):
        return openapi30.upgrade(document)
    if not version.startswith("3.1"):
        message = "only OpenAPI 3.1 and 3.0 documents are supported"
        raise SpecError(path, [LoadProblem("/openapi", OPENAPI_VERSION, message)])
    return document, {}


def _base_path(document: Mapping[str, Any]) -> str:
    servers = document.get("servers") or [{"url": "/"}]
    return urlparse(str(servers[0].get("url", "/"))).path.rstrip("/")


def _operations(
    document: Mapping[str, Any], source: Path, schemes: Mapping[str, SecurityScheme]
) -> list[Operation]:
    result = []
    for path, raw_item in (document.get("paths") or {}).items():
        item = resolve(document, raw_item, source, pointer_of("paths", path))
        for method in HTTP_METHODS:
            raw = (raw_item if "$ref" not in raw_item else item).get(method)
            if raw is None:
                continue
            pointer = pointer_of("paths", path, method)
            op = resolve(document, raw, source, pointer)
            body = op.get("requestBody") or {}
            content = body.get("content") or {"application/json": {}}
            media_type, media = next(iter(content.items()))
            form = _form(content)
            carried = None  # the form field whose JSON an example (of the form itself) carries
            if form is not None and media_type.lower() == FORM_MEDIA_TYPE:
                # The document the form carries is the request; a JSON media type beside it says the same.
                json_media = next((m for t, m in content.items() if t.lower() != FORM_MEDIA_TYPE), None)
                carried = None if json_media else form
                media = json_media or {
                    **media,
                    "schema": _form_property(media, form.name).get("contentSchema"),
                }
            at_media = f"{pointer}/requestBody/content/{escape(media_type)}"
            owners = ((pointer_of("paths", path), item), (pointer, op))
            responses, ranges = _responses(raw.get("responses") or {}, op.get("responses") or {}, pointer)
            result.append(
                Operation(
                    operation_id=op.get("operationId") or f"{method}_{path}",
                    method=method.upper(),
                    path=path,
                    summary=op.get("summary", ""),
                    description=op.get("description", ""),
                    request_schema=media.get("schema") or {},
                    request_media_types=tuple(content),
                    request_examples=_carried(_examples(media, at_media), carried),
                    responses=responses,
                    ranges=ranges,
                    security=_security(op.get("security", document.get("security") or []), schemes),
                    parameters=_parameters(owners),
                    request_required=bool(body.get("required", False)) if body else False,
                    ingest=(
                        _ingest(
                            op["x-ingest"],
                            source,
                            pointer,
                            partial(documented, responses, ranges),
                            media.get("schema") or {},
                        )
                        if "x-ingest" in op
                        else None
                    ),
                    read=_read(op["x-ingest-read"], source, pointer) if "x-ingest-read" in op else None,
                    pointer=pointer,
                    form=form,
                    form_schema=_form_schema(content),
                    security_pointer=f"{pointer}/security" if "security" in op else "/security",
                    callbacks=tuple(op.get("callbacks") or ()),
                    servers=tuple(f"{owner}/servers" for owner, node in owners if node.get("servers")),
                    links=_links(op.get("responses") or {}),
                )
            )
    return result


def _form(content: Mapping[str, Any]) -> FormField | None:
    """The field of a form-encoded request body that carries a JSON document, if one is declared."""
    media = next((m for t, m in content.items() if t.lower() == FORM_MEDIA_TYPE), None)
    if media is None:
        return None
    properties = (media.get("schema") or {}).get("properties") or {}
    for name, schema in properties.items():
        if isinstance(schema, Mapping) and is_json(str(schema.get("contentMediaType", ""))):
            return FormField(str(name), schema.get("contentEncoding") == "base64")
    return None


def _form_schema(content: Mapping[str, Any]) -> Mapping[str, Any] | None:
    """The (resolved) schema of a form-encoded request media type, when the operation takes one."""
    media = next((m for t, m in content.items() if t.lower() == FORM_MEDIA_TYPE), None)
    if media is None:
        return None
    schema = media.get("schema")
    return schema if isinstance(schema, Mapping) else {}


def _form_property(media: Mapping[str, Any], name: str) -> Mapping[str, Any]:
    return ((media.get("schema") or {}).get("properties") or {}).get(name) or {}


def _security_schemes(document: Mapping[str, Any], source: Path) -> dict[str, SecurityScheme]:
    at = "/components/securitySchemes"
    raw = resolve(document, (document.get("components") or {}).get("securitySchemes") or {}, source, at)
    schemes = {}
    for name, scheme in raw.items():
        kind, parameter = f"{scheme.get('type')}/{scheme.get('scheme', scheme.get('in', ''))}", None
        if scheme.get("type") == "http" and str(scheme.get("scheme", "")).lower() in ("bearer", "basic"):
            kind = str(scheme["scheme"]).lower()
        elif scheme.get("type") == "apiKey" and scheme.get("in") in ("header", "query", "cookie"):
            kind, parameter = scheme["in"], str(scheme.get("name", ""))
        declared, prefix = str(scheme.get("type", "")), scheme.get("x-ingest-prefix")
        if declared in ("oauth2", "openIdConnect"):
            schemes[name] = SecurityScheme(
                name,
                "bearer",
                token_of=declared,
                declared_type=declared,
                prefix_written=prefix,
                description=str(scheme.get("description") or ""),
            )
            continue
        part = scheme.get(BASIC_KEY)
        schemes[name] = SecurityScheme(
            name,
            kind,
            parameter,
            prefix=str(prefix or ""),
            basic_key="" if part is None else str(part),
            declared_type=declared,
            prefix_written=prefix,
            description=str(scheme.get("description") or ""),
        )
    return schemes


def _security(
    requirements: list[Mapping[str, Any]], schemes: Mapping[str, SecurityScheme]
) -> tuple[tuple[SecurityScheme, ...], ...]:
    # A requirement naming an undeclared scheme is kept as such, so lint can point at it.
    return tuple(
        tuple(schemes.get(name) or SecurityScheme(name, "undeclared") for name in requirement)
        for requirement in requirements
    )


def _parameters(owners: tuple[tuple[str, Mapping[str, Any]], ...]) -> tuple[Parameter, ...]:
    """The parameters of the path item and the operation (`owners`, each with its pointer)."""
    # Operation-level parameters override path-level ones with the same name and location.
    by_key = {
        (p.get("name"), p.get("in")): (f"{at}/parameters/{index}", p)
        for at, owner in owners
        for index, p in enumerate(owner.get("parameters") or [])
        if isinstance(p, Mapping)
    }
    return tuple(
        Parameter(
            str(name),
            str(location),
            bool(p.get("required", location == "path")),
            p.get("schema") or {},
            pointer,
            "schema" in p,
        )
        for (name, location), (pointer, p) in by_key.items()
    )


def _examples(media: Mapping[str, Any], at: str) -> tuple[Example, ...]:
    """The examples of the media type object found at `at`, each with where its value is written."""
    if "example" in media:
        return (Example("example", media["example"], pointer=f"{at}/example"),)
    return tuple(
        Example(name, ex.get("value"), ex.get("summary"), f"{at}/examples/{escape(name)}/value")
        for name, ex in (media.get("examples") or {}).items()
    )


def _carried(examples: tuple[Example, ...], form: FormField | None) -> tuple[Example, ...]:
    """Examples of a form-encoded body as the JSON documents their `form` field carries (what the
    request schema judges); one whose field is not JSON (or base64 of it) stays as written."""
    if form is None:
        return examples
    found = []
    for example in examples:
        text = example.value.get(form.name) if isinstance(example.value, Mapping) else None
        try:
            raw = base64.b64decode(text, validate=True) if form.base64 and isinstance(text, str) else text
            document = json.loads(raw) if isinstance(raw, str | bytes) else example.value
        except ValueError:  # binascii.Error is one
            document = example.value
        pointer = (
            f"{example.pointer}/{escape(form.name)}" if document is not example.value else example.pointer
        )
        found.append(Example(example.name, document, example.summary, pointer))
    return tuple(found)


def _links(responses: Mapping[str, Any]) -> tuple[Link, ...]:
    return tuple(
        Link(str(status), str(name), link.get("operationId") if isinstance(link, Mapping) else None)
        for status, response in responses.items()
        if isinstance(response, Mapping)
        for name, link in (response.get("links") or {}).items()
    )


def _responses(
    raw: Mapping[str, Any], resolved: Mapping[str, Any], at: str
) -> tuple[dict[int, Response], dict[str, Response]]:
    """The documented responses by status, and those documenting a range (`4XX`) or `default` by key."""
    responses, ranges = {}, {}
    for status, response in resolved.items():
        key = str(status).upper() if str(status).lower() != "default" else "default"
        if not (key.isdigit() or key in _RANGES):
            continue  # OpenAPI's own rules name any other key
        content = response.get("content") or {}
        media_type, media = next(iter(content.items()), (None, {}))
        media = dict(media)
        raw_media: Mapping[str, Any] = next(iter((raw[status].get("content") or {}).values()), {})
        ref = (raw_media.get("schema") or {}).get("$ref")
        entry = Response(
            status=int(key) if key.isdigit() else 0,
            description=response.get("description", ""),
            media_type=media_type,
            schema=media.get("schema"),
            examples=_examples(media, f"{at}/responses/{escape(status)}/content/{escape(media_type or '')}"),
            headers=tuple(response.get("headers") or ()),
            schema_name=ref.rsplit("/", 1)[-1] if isinstance(ref, str) else None,
            range=None if key.isdigit() else str(status),
            media_types=tuple(content),
            header_objects=dict(response.get("headers") or {}),
        )
        if key.isdigit():
            responses[int(key)] = entry
        else:
            ranges[key] = entry
    return dict(sorted(responses.items())), ranges


def x_ingest_problems(raw: Any, at: str = "/x-ingest") -> list[LoadProblem]:
    """What is wrong with an x-ingest block of either version (found at `at`), against that
    version's schema."""
    version = version_of(raw) if isinstance(raw, Mapping) else 2
    return schema_problems(bundled_schema("x-ingest-v1" if version == 1 else "x-ingest"), raw, at)


def schema_problems(schema: Mapping[str, Any], raw: Any, at: str) -> list[LoadProblem]:
    """What is wrong with the block found at pointer `at` against its bundled JSON Schema: an unknown
    key by name (with the near known one), a missing one at where it belongs."""
    label = at.rsplit("/", 1)[-1]
    problems = []
    for error in jsonschema.Draft202012Validator(schema).iter_errors(raw):
        inner = pointer_of(*error.absolute_path)
        where = f"{label}{inner.replace('/', '.')}"
        if error.validator == "additionalProperties" and isinstance(error.instance, Mapping):
            known = error.schema.get("properties") or {}
            problems += [
                LoadProblem(
                    f"{at}{inner}/{escape(name)}",
                    X_INGEST_KEY,
                    f"{label}: unknown key {name!r}" + did_you_mean(str(name), known, listing=True),
                )
                for name in error.instance
                if name not in known
            ]
            continue
        pointer = at + inner
        if error.validator == "required" and isinstance(error.instance, Mapping):
            # Placed where the missing key belongs: a tool can tell which one is missing.
            missing = [n for n in error.validator_value if n not in error.instance]
            name = next((n for n in missing if error.message == f"{n!r} is a required property"), None)
            pointer += f"/{escape(name)}" if name is not None else ""
        problems.append(LoadProblem(pointer, X_INGEST_SCHEMA, f"{where}: {error.message}"))
    return problems


def _ingest(
    block: Mapping[str, Any],
    source: Path,
    pointer: str,
    documented: Documented,
    request: Mapping[str, Any] | None = None,
) -> Ingest:
    problems = x_ingest_problems(block, f"{pointer}/x-ingest")
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
        project_field=raw.get("project_field"),
        occurred_at_field=raw["occurred_at_field"],
        occurred_at_unit=raw.get("occurred_at_unit", "rfc3339"),
        id_format=raw.get("id_format", "uuid7"),
        id_prefix=raw.get("id_prefix", ""),
        identity=identity,
        payload=payload,
        payload_limit=PayloadLimit(
            raw["payload_limit"]["default_bytes"],
            raw["payload_limit"].get("error", default_key("size")),
        ),
        response=_shape(raw["response"]),
        errors=ErrorEnvelope(
            media_type=errors["media_type"],
            message_pointer=errors.get("message", ""),
            status_pointer=errors.get("status"),
            details_pointer=errors.get("details"),
            path_pointer=errors.get("path"),
            undocumented=tuple(errors.get("undocumented") or ()),
            detail_item=DetailItem(**(errors.get("detail_item") or {})),
            catalogue={
                key: ErrorEntry(key, entry["status"], entry["message"], dict(entry.get("fields") or {}))
                for key, entry in (errors.get("catalogue") or {}).items()
            },
        ),
        reserved=(
            ReservedPrefixes(
                tuple(raw["reserved_prefixes"]["prefixes"]),
                raw["reserved_prefixes"].get("error", default_key("reserved")),
            )
            if "reserved_prefixes" in raw
            else None
        ),
        dedupe=_dedupe(raw["dedupe"]) if "dedupe" in raw else None,
        rate_limit=RateLimit(**{"error": default_key("rate_limit"), **raw["rate_limit"]})
        if "rate_limit" in raw
        else None,
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
    ingest = complete(ingest, documented)
    missing = [key for key in ingest.used_errors() if key not in ingest.errors.catalogue]
    if missing:
        at = f"{pointer}/x-ingest"
        known = ((block.get("errors") or {}).get("catalogue")) or {}
        raise SpecError(
            source,
            [
                LoadProblem(
                    next(_scalars(block, at, key), at),
                    CATALOGUE_KEY,
                    f"x-ingest refers to error {key!r}, which the catalogue lacks" + did_you_mean(key, known),
                )
                for key in missing
            ],
        )
    return ingest


def _scalars(node: Any, at: str, value: str) -> Iterator[str]:
    """Pointers of the scalars equal to `value` in `node` (found at `at`), in document order."""
    if isinstance(node, Mapping):
        for key, child in node.items():
            yield from _scalars(child, f"{at}/{escape(key)}", value)
    elif isinstance(node, list):
        for index, child in enumerate(node):
            yield from _scalars(child, f"{at}/{index}", value)
    elif node == value:
        yield at


def _identity(raw: Mapping[str, Any]) -> Identity:
    return Identity(
        mode=raw["mode"],
        fields=tuple(
            IdentityField(f["name"], f.get("kind", f["name"]), f.get("normalize", "none"))
            for f in raw["fields"]
        ),
        missing_error=raw.get("missing_error", default_key("identity_missing")),
        conflict_error=raw.get("conflict_error")
        or (default_key("identity_conflict") if raw["mode"] == "exactly_one" else None),
    )


def _payload(raw: Mapping[str, Any]) -> PayloadRule:
    return PayloadRule(
        field=raw["field"],
        validation=raw["validation"],
        mismatch_error=raw.get("mismatch_error", default_key("payload")),
        undefined_event_error=raw.get("undefined_event_error")
        or (default_key("undefined_event") if raw["validation"] == "required" else None),
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
    problems = schema_problems(bundled_schema("x-ingest-read"), block, f"{pointer}/x-ingest-read")
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
            ResponseField(name, f.get("source"), f.get("const"))
            for name, f in (raw.get("fields") or {}).items()
        ),
        envelope=raw.get("envelope"),
        header=raw.get("header"),
        text=raw.get("text"),
        # Neither fields nor text: the answer has no body (a 204, an empty 202).
        has_body="fields" in raw or "text" in raw,
    )

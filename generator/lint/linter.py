"""`ingestspec lint`: is this OpenAPI file a sound ingest spec the generator can serve as declared?

Four layers: the OpenAPI 3.1 rules (openapi-spec-validator); the `x-ingest` block (its own JSON
Schema, through the loader); the spec's own consistency (`consistency.py`: every example matches its
schema, every error the behaviour can produce is documented with a matching body); and what the
generated server does not implement (`unsupported.py`), which is refused rather than ignored. Every
problem names its place (`file:line:column` and the JSON pointer), the id of its rule and its
severity (`rules.py` holds them all).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from openapi_spec_validator import OpenAPIV31SpecValidator
from openapi_spec_validator.schemas import openapi_v31_schema_validator
from referencing.exceptions import Unresolvable

from ..errors import SpecError
from ..spec.loader import bundled_schema, load_spec, read_document
from ..spec.locate import Locator, Problem
from ..spec.migrate import version_of
from ..spec.model import Spec, escape, pointer_get, pointer_of, pointer_parts
from . import consistency, unsupported
from .annotate import Annotation, github, sarif
from .rules import RULES, describe
from .suggest import did_you_mean
from .validate import short

__all__ = ["Problem", "lint"]

# The rule modules register their checks on import; lint runs them all.
_CHECKS = (consistency, unsupported)

READABLE = describe("readable", "The spec file can be read.")
YAML_SYNTAX = describe("yaml-syntax", "The file is valid YAML (JSON is YAML too).")
OPENAPI_SCHEMA = describe("openapi-schema", "The document is valid OpenAPI 3.1 (openapi-spec-validator).")
OPENAPI_VERSION = describe("openapi-version", "The document is OpenAPI 3.1.")
X_INGEST_SCHEMA = describe("x-ingest-schema", "x-ingest and x-ingest-read blocks match their JSON Schema.")
X_INGEST_KEY = describe("x-ingest-unknown-key", "x-ingest blocks use only the keys of their schema.")
REF_RESOLVES = describe("ref-resolves", "Every $ref is local and points at something.")
REF_RECURSIVE = describe("ref-not-recursive", "No $ref leads back to itself (recursive schemas are refused).")
CATALOGUE_KEY = describe("catalogue-has-key", "Every error x-ingest names is in its errors catalogue.")
HAS_INGEST = describe("has-ingest-operation", "At least one operation carries an x-ingest block.")
LOADS = describe("loads", "The document loads into the spec model.")

# The loader's x-ingest(-read) schema problems: "<operation pointer>/x-ingest.a.b[0]: message".
_X_INGEST_PROBLEM = re.compile(
    r"(?P<block>/\S*?/x-ingest(?:-read)?)(?P<path>(?:\.[^.\[\s:]+|\[\d+\])*): (?P<message>.*)", re.S
)
_UNEXPECTED = re.compile(r"Additional properties are not allowed \((?P<names>.*) (?:was|were) unexpected\)")
_REF_PROBLEM = re.compile(
    r"(?:recursive \$ref (?P<recursive>\S+)|got (?P<remote>\S+)$|(?P<missing>\S+) does not resolve)"
)
_CATALOGUE_LACKS = re.compile(r"x-ingest refers to error '(?P<key>[^']+)'")


def lint(path: str | Path) -> list[Problem]:
    """Every problem found in the spec at `path`, located; an empty list means it is sound."""
    path = Path(path)
    try:
        where = Locator.of(path)
    except OSError as exc:
        return [Problem(str(path), 1, 1, "", f"cannot read the file: {exc.strerror}", READABLE)]
    if where.syntax_error:
        return [where.syntax_error]
    try:
        document, _ = read_document(path)
    except SpecError as exc:
        return [where.problem("", message, LOADS) for message in exc.problems]
    problems = list(_openapi_problems(where, document))
    try:
        spec = load_spec(path)
    except SpecError as exc:
        return problems + [p for message in exc.problems for p in _loader_problems(where, document, message)]
    except (AttributeError, KeyError, TypeError, ValueError) as exc:
        # The loader trusts the document's shape, which OpenAPI's own rules (reported above) check.
        if problems:
            return problems
        return [
            where.problem("", f"the spec cannot be read into the model: {type(exc).__name__}: {exc}", LOADS)
        ]
    return problems + list(_checked(where, spec, bool(problems)))


def _checked(where: Locator, spec: Spec, malformed: bool) -> Iterator[Problem]:
    """Every registered rule's findings, located; a rule that cannot run on this spec is a problem."""
    for registered in RULES.values():
        if registered.check is None:
            continue
        try:
            found = list(registered.check(spec))
        except (AttributeError, KeyError, TypeError, ValueError, IndexError) as exc:
            if malformed:
                continue  # a malformed part that OpenAPI's rules name already
            found = [("", f"could not check this spec: {type(exc).__name__}: {exc}")]
        for pointer, message in found:
            yield where.problem(pointer, message, registered.id, registered.severity)


def errors_of(problems: list[Problem]) -> list[Problem]:
    """The problems that are errors (not warnings)."""
    return [p for p in problems if p.severity == "error"]


def _openapi_problems(where: Locator, document: Mapping[str, Any]) -> Iterator[Problem]:
    found = []
    try:
        for error in OpenAPIV31SpecValidator(document).iter_errors():
            found.append(
                where.problem(pointer_of(*error.path), f"OpenAPI: {short(error.message)}", OPENAPI_SCHEMA)
            )
    except (RecursionError, Unresolvable):
        # A `$ref` that leads back to itself sends the validator round for ever, and one that points
        # nowhere stops it: the loader names either, at the `$ref`.
        pass
    except (AttributeError, KeyError, TypeError):
        # The validator walks the document's shape before checking it: a malformed document stops
        # it. Its JSON Schema alone still says where the shape is wrong.
        for error in openapi_v31_schema_validator.iter_errors(document):
            found.append(
                where.problem(pointer_of(*error.path), f"OpenAPI: {short(error.message)}", OPENAPI_SCHEMA)
            )
    yield from dict.fromkeys(found)  # the validator may have reported some before it stopped


def _loader_problems(where: Locator, document: Mapping[str, Any], message: str) -> Iterator[Problem]:
    """The loader's message, located: it names an x-ingest path, a `$ref` or a catalogue key."""
    if match := _X_INGEST_PROBLEM.fullmatch(message):
        block = match["block"]
        tokens = re.findall(r"\.([^.\[]+)|\[(\d+)\]", match["path"])
        inner = pointer_of(*(name or index for name, index in tokens))
        text = match["message"]
        if unexpected := _UNEXPECTED.fullmatch(text):
            for name in re.findall(r"'([^']*)'", unexpected["names"]):
                yield where.problem(
                    f"{block}{inner}/{escape(name)}",
                    f"{block.rsplit('/', 1)[-1]}: unknown key {name!r}"
                    + _suggestion(document, block, inner, name),
                    X_INGEST_KEY,
                )
            return
        label = block.rsplit("/", 1)[-1] + inner.replace("/", ".")
        yield where.problem(block + inner, f"{label}: {text}", X_INGEST_SCHEMA)
    elif match := _REF_PROBLEM.search(message):
        ref = match["recursive"] or match["remote"] or match["missing"]
        pointer = next(where.members("$ref", ref), "")
        hint = _near_target(document, ref) if match["missing"] else ""
        yield where.problem(pointer, message + hint, REF_RECURSIVE if match["recursive"] else REF_RESOLVES)
    elif match := _CATALOGUE_LACKS.search(message):
        blocks = list(where.members("x-ingest"))
        pointer = next((p for block in blocks for p in where.scalars(block, match["key"])), "")
        block = next((b for b in blocks if pointer.startswith(b + "/")), "")
        known = pointer_get(document, block + "/errors/catalogue") if block else None
        hint = did_you_mean(match["key"], known if isinstance(known, Mapping) else ())
        yield where.problem(pointer, message + hint, CATALOGUE_KEY)
    elif "no operation carries an x-ingest block" in message:
        yield where.problem("/paths", message, HAS_INGEST)
    elif "OpenAPI 3.1" in message:
        yield where.problem("/openapi", message, OPENAPI_VERSION)
    else:
        yield where.problem("", message, LOADS)


def _near_target(document: Mapping[str, Any], ref: str) -> str:
    """A "did you mean" for a local `$ref` that points nowhere: the near name where it went astray."""
    if not ref.startswith("#/"):
        return ""
    node: Any = document
    for part in pointer_parts(ref[1:]):
        if not isinstance(node, Mapping):
            return ""
        if part not in node:
            return did_you_mean(part, node)
        node = node[part]
    return ""


def _suggestion(document: Mapping[str, Any], block: str, inner: str, name: str) -> str:
    """`" (did you mean 'event_field'?)"` for a misspelt x-ingest key, else the known keys."""
    raw = pointer_get(document, block)
    schema = bundled_schema(
        "x-ingest-v1" if isinstance(raw, Mapping) and version_of(raw) == 1 else "x-ingest"
    )
    if block.endswith("-read"):
        schema = bundled_schema("x-ingest-read")
    node: Any = schema
    for part in pointer_parts(inner):
        node = _deref(schema, node)
        if part in (node.get("properties") or {}):
            node = node["properties"][part]
        elif isinstance(node.get("items"), Mapping) and part.isdigit():
            node = node["items"]
        elif isinstance(node.get("additionalProperties"), Mapping):
            node = node["additionalProperties"]
        else:
            return ""
    return did_you_mean(name, _deref(schema, node).get("properties") or {}, listing=True)


def _deref(schema: Mapping[str, Any], node: Any) -> Mapping[str, Any]:
    ref = node.get("$ref") if isinstance(node, Mapping) else None
    return pointer_get(schema, ref[1:]) if isinstance(ref, str) and ref.startswith("#") else node


def rule_summaries() -> dict[str, tuple[str, str]]:
    """Every rule's id -> (severity, summary), for output formats that describe their rules."""
    return {rule_id: (found.severity, found.summary) for rule_id, found in RULES.items()}


def render(found: Mapping[Path, list[Problem]], output_format: str) -> str:
    """Problems of several specs as `text`, `json`, `sarif` or `github` output."""
    problems = [p for listed in found.values() for p in listed]
    if output_format == "json":
        return json.dumps([p.as_dict() for p in problems], indent=2)
    if output_format in ("sarif", "github"):
        annotations = [
            Annotation(p.file, p.line, p.column, p.rule, p.severity, p.message, p.pointer) for p in problems
        ]
        return sarif(annotations, rule_summaries()) if output_format == "sarif" else github(annotations)
    lines = []
    for path, listed in found.items():
        lines.append(f"{path}: ok" if not listed else f"{path}: {_counted(listed)}")
        lines += [f"  {problem}" for problem in listed]
    return "\n".join(lines) + "\n"


def _counted(problems: list[Problem]) -> str:
    errors = len(errors_of(problems))
    warnings = len(problems) - errors
    return ", ".join(
        f"{n} {word}{'s' if n != 1 else ''}" for n, word in ((errors, "error"), (warnings, "warning")) if n
    )

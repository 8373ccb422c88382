"""`ingestspec lint`: is this OpenAPI file a sound ingest spec the generator can serve as declared?

Four layers: OpenAPI's own rules (openapi-spec-validator, for the version the file declares: 3.1,
or 3.0, which the loader reads as 3.1); what the loader finds (the `x-ingest` block against its own
JSON Schema, `$ref`s, catalogue keys: each a `LoadProblem` carrying its pointer and rule); the spec's
own consistency (`consistency.py`: every example matches its schema, every error the behaviour can
produce is documented with a matching body); and what the
generated server does not implement (`unsupported.py`), which is refused rather than ignored. Every
problem names its place (`file:line:column` and the JSON pointer), the id of its rule and its
severity (`rules.py` holds them all).
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from openapi_spec_validator import OpenAPIV30SpecValidator, OpenAPIV31SpecValidator
from openapi_spec_validator.schemas import openapi_v30_schema_validator, openapi_v31_schema_validator
from referencing.exceptions import Unresolvable

from ..errors import SpecError
from ..spec.loader import LOADS, load_spec, read_document
from ..spec.locate import Locator, Problem
from ..spec.model import Spec, pointer_of
from . import consistency, unsupported
from .annotate import Annotation, github, sarif
from .rules import RULES, describe
from .validate import short

__all__ = ["Problem", "lint"]

# The rule modules register their checks on import; lint runs them all.
_CHECKS = (consistency, unsupported)

READABLE = describe("readable", "The spec file can be read.")
OPENAPI_SCHEMA = describe(
    "openapi-schema", "The document is valid OpenAPI 3.1, or 3.0 (openapi-spec-validator)."
)


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
        return [where.problem(p.pointer, p.message, p.rule) for p in exc.found]
    problems = list(_openapi_problems(where, document))
    try:
        spec = load_spec(path)
    except SpecError as exc:
        return problems + [where.problem(p.pointer, p.message, p.rule) for p in exc.found]
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
            yield where.problem(spec.source_pointer(pointer), message, registered.id, registered.severity)


def errors_of(problems: list[Problem]) -> list[Problem]:
    """The problems that are errors (not warnings)."""
    return [p for p in problems if p.severity == "error"]


def _openapi_problems(where: Locator, document: Mapping[str, Any]) -> Iterator[Problem]:
    """OpenAPI's own rules, of the version the file declares (the loader refuses any other)."""
    if "swagger" in document:
        return
    is_30 = str(document.get("openapi", "")).startswith("3.0")
    validator = OpenAPIV30SpecValidator if is_30 else OpenAPIV31SpecValidator
    found = []
    try:
        for error in validator(document).iter_errors():
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
        for error in (openapi_v30_schema_validator if is_30 else openapi_v31_schema_validator).iter_errors(
            document
        ):
            found.append(
                where.problem(pointer_of(*error.path), f"OpenAPI: {short(error.message)}", OPENAPI_SCHEMA)
            )
    yield from dict.fromkeys(found)  # the validator may have reported some before it stopped


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

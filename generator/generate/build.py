"""`ingestspec generate`: render a spec into a standalone Starlette server package.

The output is a pure function of the spec and the templates: no timestamps, sorted inputs, the same
bytes every time, so `--check` can tell stale committed output by comparing files.
"""

from __future__ import annotations

import ast
import difflib
import hashlib
import json
import os
import re
import subprocess
import sys
import tempfile
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from datamodel_code_generator import DataModelType, Formatter, InputFileType, LiteralType, PythonVersion
from datamodel_code_generator import Error as ModelsError
from datamodel_code_generator import generate as generate_models

from ..docs.page import docs_html
from ..errors import SpecError
from ..spec.loader import bundled_schema, load_spec
from ..spec.model import PLACEHOLDERS, Ingest, Operation, Spec
from . import context as server
from .packages import package_name  # noqa: F401  (cli and precommit import it from here)
from .render import environment, module_source

RUFF_OPTIONS = ("--line-length", "110", "--target-version", "py311", "--isolated")
RUFF_SORT_IMPORTS = ("check", "--fix-only", "--select", "I", *RUFF_OPTIONS)
RUFF_FORMAT = ("format", *RUFF_OPTIONS)

# Python modules rendered once from templates/<name>.jinja (or copied from templates/<name> when they
# need nothing from the spec), in the order a reader would open them.
TEMPLATED_MODULES = (
    "__init__.py",
    "__main__.py",
    "app.py",
    "bodies.py",
    "credentials.py",
    "parameters.py",
    "ratelimit.py",
    "errors.py",
    "config.py",
    "ids.py",
    "timestamps.py",
    "storage.py",
    "storage_sqlite.py",
    "storage_postgres.py",
    "worker.py",
    "metrics.py",
    "logs.py",
    "settings.py",
    "asgi.py",
    "deadletters.py",
    "protocol.py",
    "uuid7.py",
    "entropy.py",
)

# The generated package's project files: it installs alone from its own pyproject.toml.
PROJECT_FILES = ("pyproject.toml", "README.md")

# The user's own modules, rendered from templates/<name>.jinja once: written when absent, never
# overwritten, never reported stale (only when missing, which regenerating fixes).
USER_MODULES = ("handlers.py", "hooks.py")

# The spec the package was generated from (with its SHA-256), what the generator wrote (with each
# file's SHA-256) and which files are the user's, so a later run can tell a hand-edited generated
# file, a file it no longer generates and a file it never knew of. The spec's hash is here only, not
# in each file's header: a one-field edit of the spec changes the files it affects and this one.
MANIFEST = "manifest.json"


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


@dataclass(frozen=True)
class Output:
    """The files of a generated server, by name relative to its folder: `files` are the generator's
    and rewritten every run; `user_files` are written once and then belong to the user."""

    files: Mapping[str, str]
    user_files: Mapping[str, str]
    # The spec as the headers name it, and its SHA-256.
    spec: tuple[str, str] = ("", "")

    @property
    def manifest(self) -> str:
        listing = {
            "spec": {"path": self.spec[0], "sha256": self.spec[1]},
            "generated": {name: sha256(text) for name, text in self.files.items()},
            "user": sorted(self.user_files),
        }
        return json.dumps(listing, indent=2) + "\n"

    def expected(self) -> dict[str, str]:
        """Every file the generator owns, the manifest included."""
        return {**self.files, MANIFEST: self.manifest}

    def wanted(self) -> dict[str, str]:
        """Every file a generated package starts with: the generator's and the user's."""
        return {**self.expected(), **self.user_files}

    def write(self, out_dir: Path) -> list[str]:
        """Bring `out_dir` up to date (`stale` names what that takes: generated files written,
        missing user files created, what an earlier run generated and this one does not removed);
        returns those names."""
        out_dir.mkdir(parents=True, exist_ok=True)
        wanted = self.wanted()
        changed = self.stale(out_dir)
        for name in changed:
            if name in wanted:
                (out_dir / name).write_text(wanted[name])
            else:
                (out_dir / name).unlink()
        return changed

    def stale(self, out_dir: Path) -> list[str]:
        """Names of generated files that are missing or differ from what the spec gives, files an
        earlier run generated that this one does not, and missing user files. Files the generator
        never wrote (the user's own) are not its business."""
        names = [
            name
            for name, text in self.expected().items()
            if not (out_dir / name).exists() or (out_dir / name).read_text() != text
        ]
        names += self.leftovers(out_dir)
        names += [name for name in self.user_files if not (out_dir / name).exists()]
        return names

    def diff(self, out_dir: Path) -> str:
        """A unified diff from what is in `out_dir` to what the spec gives, for every stale file."""
        wanted = self.wanted()
        chunks = []
        for name in self.stale(out_dir):
            path = out_dir / name
            before = path.read_text().splitlines(keepends=True) if path.exists() else []
            after = wanted[name].splitlines(keepends=True) if name in wanted else []
            old, new = (
                f"a/{name}" if path.exists() else "/dev/null",
                f"b/{name}" if name in wanted else "/dev/null",
            )
            # An empty file added or removed has no hunk; its header still says what happens to it.
            chunks += list(difflib.unified_diff(before, after, old, new)) or [f"--- {old}\n", f"+++ {new}\n"]
        return "".join(line if line.endswith("\n") else line + "\n" for line in chunks)

    def edited(self, out_dir: Path) -> list[str]:
        """Generated files changed by hand since the generator wrote them (the manifest's hashes say)."""
        recorded = previous_manifest(out_dir).get("generated", {})
        return [
            name
            for name, digest in recorded.items()
            if name in self.files
            and (out_dir / name).exists()
            and sha256((out_dir / name).read_text()) != digest
        ]

    def leftovers(self, out_dir: Path) -> list[str]:
        """Files an earlier run generated (its manifest says) that this run does not."""
        recorded = previous_manifest(out_dir).get("generated", {})
        return sorted(name for name in recorded if name not in self.files and (out_dir / name).is_file())


def previous_manifest(out_dir: Path) -> dict[str, Any]:
    """The manifest an earlier run left in `out_dir`, or nothing."""
    try:
        listing = json.loads((out_dir / MANIFEST).read_text())
    except (OSError, ValueError):
        return {}
    return listing if isinstance(listing, dict) else {}


def package_version(spec: Spec) -> str:
    """The spec's info.version when it is a plain release number (PEP 440), else 0.0.0."""
    return spec.version if re.fullmatch(r"\d+(\.\d+)*", spec.version) else "0.0.0"


HEADER_WIDTH = 110
_FIRST = "# Generated by ingestspec from {} (its SHA-256 is in {})."
_COMMAND = "#   ingestspec generate {} --out {}"


def header_paths(spec_path: Path, out_dir: Path) -> tuple[str, str]:
    """The spec and output folder as headers name them: relative to the deepest folder holding
    both, so the text is the same wherever the command runs. With nothing in common but the
    filesystem root, the spec by its file name and the output by its folder name."""
    spec, out = spec_path.resolve(), out_dir.resolve()
    root = Path(os.path.commonpath([spec.parent, out]))
    if root == Path(root.anchor):
        return spec.name, out.name
    names = spec.relative_to(root).as_posix(), out.relative_to(root).as_posix() or "."
    # Generated code passes ruff at 110 columns: paths too long for the header's command line give
    # way to the bare names rather than to a line ruff refuses.
    if max(len(_FIRST.format(names[0], MANIFEST)), len(_COMMAND.format(*names))) > HEADER_WIDTH:
        return spec.name, out.name
    return names


def header(spec: Spec, out_dir: Path) -> str:
    spec_name, out_name = header_paths(spec.path, out_dir)
    return (
        _FIRST.format(spec_name, MANIFEST)
        + "\n# Do not edit: change the spec or templates/, then run\n"
        + _COMMAND.format(spec_name, out_name)
    )


def formatted(sources: Mapping[str, str]) -> dict[str, str]:
    """`sources` (by file name) with imports sorted and ruff's formatting, so generated code reads as
    hand-written code: one ruff run per step over every file (two runs per file cost seconds)."""
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch) / "generated"  # not the package's name: ruff would call it first-party
        folder.mkdir()
        paths = {name: folder / name for name in sources}
        for name, path in paths.items():
            path.write_text(sources[name], encoding="utf-8")
        for command in (RUFF_SORT_IMPORTS, RUFF_FORMAT):
            result = subprocess.run(
                [sys.executable, "-m", "ruff", *command, "--no-cache", *map(str, paths.values())],
                capture_output=True,
                text=True,
                check=False,
                cwd=scratch,
            )
            if result.returncode != 0:
                # ruff names the files relative to its working folder: by their own names, then.
                problem = result.stderr.strip().replace(f"{folder.name}{os.sep}", "")
                raise SpecError("generated code", [f"generated code does not pass ruff: {problem}"])
        return {name: path.read_text(encoding="utf-8") for name, path in paths.items()}


def first_ingest(spec: Spec) -> Ingest:
    """The x-ingest block whose spec-wide settings (errors, limits, ids...) every operation shares."""
    if not spec.ingest_operations:
        raise SpecError(spec.path, ["no operation has an x-ingest block"])
    ingest = spec.ingest_operations[0].ingest
    assert ingest is not None
    return ingest


def render_server(spec: Spec, out_dir: Path) -> Output:
    """Every file of the server for `spec`, as it would be written to `out_dir`."""
    ingest = first_ingest(spec)
    head = header(spec, out_dir)
    env = environment()
    modules = server.modules(spec)
    shared = {
        "header": head,
        "spec": spec,
        "ingest": ingest,
        "modules": modules,
        "read_modules": server.read_modules(spec),
        "endpoints": server.endpoints(spec),
        "package": out_dir.name,
        "config_schema": bundled_schema("config"),
        "placeholders": PLACEHOLDERS,
        "message_at": server.keys_of(ingest.errors.message_pointer),
        "details_at": server.keys_of(ingest.errors.details_pointer or ""),
        "path_at": server.keys_of(ingest.errors.path_pointer or ""),
        "mismatch_default": next(
            (
                op.ingest.dedupe.on_body_mismatch
                for op in spec.ingest_operations
                if op.ingest and op.ingest.dedupe
            ),
            "replay",
        ),
        # Whether any operation can refuse a reused key with another body (dedupe.mismatch_error).
        "mismatch_honoured": any(
            op.ingest and op.ingest.dedupe and op.ingest.dedupe.mismatch_error
            for op in spec.ingest_operations
        ),
    }
    sources = {name: module_source(env, name, shared) for name in TEMPLATED_MODULES}
    for op in spec.ingest_operations:
        module = modules[op.operation_id]
        context = {**shared, **operation_context(spec, op), "schema_module": module.schema}
        for template, name in (("ingest", module.name), ("schema", module.schema)):
            sources[f"{name}.py"] = env.get_template(f"{template}.py.jinja").render(context)
    for op in spec.read_operations:
        name = f"{server.read_modules(spec)[op.operation_id]}.py"
        sources[name] = env.get_template("read.py.jinja").render({**shared, **read_context(spec, op)})
    sources["models.py"] = models_source(spec, head)
    files = formatted(sources)
    # The package's own project files (not Python, so not formatted): its dependencies follow
    # what it imports, e.g. email-validator only when the models import EmailStr.
    project = {
        **shared,
        "uses_email": "EmailStr" in imported_names(files["models.py"]),
        "package_version": package_version(spec),
    }
    for name in PROJECT_FILES:
        files[name] = env.get_template(f"{name}.jinja").render(project)
    files["openapi.yaml"] = spec.path.read_text()
    files["docs.html"] = docs_html(spec, spec_url="/openapi.yaml", assets_url="/docs/assets", header=head)
    user_files = {name: env.get_template(f"{name}.jinja").render(shared) for name in USER_MODULES}
    spec_name = header_paths(spec.path, out_dir)[0]
    return Output(dict(sorted(files.items())), user_files, (spec_name, spec.sha256))


def imported_names(source: str) -> set[str]:
    """The names a module's `from ... import` statements bind (its comments and text do not count)."""
    return {
        alias.asname or alias.name
        for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.ImportFrom)
        for alias in node.names
    }


def read_context(spec: Spec, op: Operation) -> dict[str, Any]:
    """What the template of one read operation is given."""
    read = op.read
    assert read is not None
    route, slots = server.route(spec.base_path, op)
    schema, media_type = server.response_schema(op, read.response.status)
    return {
        "op": op,
        "read": read,
        "route": route,
        "id_slot": slots.get(read.id_parameter, ""),
        "parameters": server.parameters(op, slots),
        "schemes": server.schemes(op),
        "challenge": server.challenge(op, spec.title),
        "response_schema": schema,
        "media_type": media_type,
        "types": server.numeric_fields(read.response, schema),
    }


def operation_context(spec: Spec, op: Operation) -> dict[str, Any]:
    """What the templates of one ingest operation are given."""
    ingest = op.ingest
    assert ingest is not None
    route, slots = server.route(spec.base_path, op)
    success = ingest.batch.response if ingest.batch else ingest.response
    success_schema, success_media_type = server.response_schema(op, success.status)
    replay_schema, replay_media_type = (
        server.response_schema(op, ingest.dedupe.replay.status)
        if ingest.dedupe and not ingest.batch
        else ({}, "")
    )
    success_types = server.numeric_fields(ingest.response, success_schema) if not ingest.batch else {}
    replay_types = (
        server.numeric_fields(ingest.dedupe.replay, replay_schema)
        if ingest.dedupe and not ingest.batch
        else {}
    )
    batch = server.batch_schemas(op, success_schema) if ingest.batch else {}
    result = ingest.batch.result if ingest.batch else None
    result_types = server.numeric_fields(result, batch["result"]) if result else {}
    # Only a stored event's values are text that may be answered as a number.
    stored = [f.name for f in result.fields if f.source not in ("index", "status", "error")] if result else []
    return {
        "op": op,
        "ingest": ingest,
        "reads": server.item_reads(op),
        "checks": server.checks(op),
        "route": route,
        "parameters": server.parameters(op, slots),
        "key_slot": slots.get(ingest.dedupe.key.name) if ingest.dedupe else None,
        "schemes": server.schemes(op),
        "challenge": server.challenge(op, spec.title),
        "media_types": server.media_types(op),
        "content_codings": op.content_codings,
        "occurred_at_text": server.epoch_as_text(op),
        "success_schema": success_schema,
        "success_media_type": server.answer_media_type(success, success_media_type),
        "success_types": success_types,
        "success_constant": server.constant_body(success),
        "replay_schema": replay_schema,
        "replay_media_type": server.answer_media_type(ingest.dedupe.replay, replay_media_type)
        if ingest.dedupe and not ingest.batch
        else "",
        "replay_types": replay_types,
        "replay_constant": server.constant_body(ingest.dedupe.replay) if ingest.dedupe else None,
        "batch_schemas": batch,
        "result_types": result_types,
        "uses_answered": any(
            [*success_types.values(), *replay_types.values(), *(result_types[n] for n in stored)]
        ),
    }


def models_source(spec: Spec, head: str) -> str:
    """Pydantic v2 models for the spec's schemas, from datamodel-code-generator's Python API."""
    with warnings.catch_warnings():
        # It warns that UUID fields drop their `pattern`: the models never judge requests, so that is fine.
        warnings.simplefilter("ignore", UserWarning)
        source = _models(spec, head)
    return source


def _models(spec: Spec, head: str) -> str:
    try:
        return _generated_models(spec, head)
    except ModelsError as error:
        if "Models not found" not in str(error):
            raise
        # A file whose schemas are all inline (a vendor's, cut to its ingest operations) names none.
        return head + "\n#\n# The spec names no schema under components/schemas: no model to type.\n"


def _generated_models(spec: Spec, head: str) -> str:
    source = generate_models(
        spec.path.read_text(),
        input_file_type=InputFileType.OpenAPI,
        output_model_type=DataModelType.PydanticV2BaseModel,
        target_python_version=PythonVersion.PY_311,
        custom_file_header=head
        + "\n#\n# Typed models of the spec's schemas, for code that uses the API's types (a handler,"
        + "\n# a client). The server judges requests and its own answers against the spec itself"
        + "\n# (see schema.py): these unions accept both identities of an exactly-one-of, and"
        + "\n# EmailStr is stricter than `format: email`."
        + "\n# ruff: noqa: E501  (long lines are the spec's own descriptions)",
        disable_timestamp=True,
        formatters=[Formatter.BUILTIN],
        use_annotated=True,
        field_constraints=True,
        use_standard_collections=True,
        use_union_operator=True,
        use_schema_description=True,
        use_field_description=True,
        enum_field_as_literal=LiteralType.All,
    )
    assert isinstance(source, str)
    return source


def generate(spec_path: Path, out_dir: Path, check: bool = False) -> list[str]:
    """Generate (or with `check`, compare) the server for a spec; returns the files written or stale."""
    output = render(spec_path, out_dir)
    return output.stale(out_dir) if check else output.write(out_dir)


def render(spec_path: Path, out_dir: Path) -> Output:
    """The server for the spec at `spec_path`, as it would be written to `out_dir`."""
    return render_server(load_spec(spec_path), out_dir)

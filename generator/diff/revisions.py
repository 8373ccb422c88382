"""Read a version of a spec to compare: a file, an API name, or `REV:path` committed in git.

Any two revisions in a spec's history must compare. Version-1 `x-ingest` blocks are upgraded in
memory by the loader; a catalogue written before a fixed error became required (the first specs had
no `storage_unavailable`) is read as it was, without that entry, so the diff reports the entry as
added rather than refusing the old version.
"""

from __future__ import annotations

import dataclasses
import subprocess
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

import yaml

from ..errors import SpecError
from ..spec.loader import X_INGEST_SCHEMA, load_spec, load_yaml
from ..spec.model import FIXED_ERRORS, Spec, pointer_get, pointer_of, pointer_parts

__all__ = ["Version", "load_any", "load_version", "spec_at_revision"]


@dataclass(frozen=True)
class Version:
    """A loaded version: the spec, its label, and the file and text its annotations point into."""

    spec: Spec
    label: str
    file: str
    text: str


def load_version(value: str, locate: Callable[[str], Path]) -> Version:
    """`REV:path` (or `REV:api`) read from git, else the file or API name that `locate` finds."""
    if ":" in value and not Path(value).exists():
        revision, _, name = value.partition(":")
        spec, text, committed = _at_revision(revision or "HEAD", name)
        return Version(spec, value, committed, text)
    found = locate(value)
    label = _relative(found)
    return Version(load_any(found), label, label, found.read_text(encoding="utf-8", errors="replace"))


def _relative(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def spec_at_revision(revision: str, path: str, cwd: str | Path | None = None) -> Spec:
    """The spec at `path` as committed at git `revision` (`path` may also be an API name)."""
    return _at_revision(revision, path, cwd)[0]


def _at_revision(revision: str, path: str, cwd: str | Path | None = None) -> tuple[Spec, str, str]:
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
                return load_any(copy), result.stdout.decode(errors="replace"), candidate
        problems.append(
            result.stderr.decode(errors="replace").strip() or f"git show {revision}:{candidate} failed"
        )
    raise SpecError(f"{revision}:{path}", problems)


def _fixed_entry_lacking(document: Any, parts: tuple[str, ...]) -> bool:
    """Whether `parts` names a fixed error's catalogue entry that the document lacks."""
    catalogue = pointer_get(document, pointer_of(*parts[:-1]))
    return (
        parts[-4:-1] == ("x-ingest", "errors", "catalogue")
        and parts[-1] in FIXED_ERRORS
        and isinstance(catalogue, dict)
        and parts[-1] not in catalogue
    )


def load_any(path: Path) -> Spec:
    """The spec at `path`, read even when it predates a catalogue entry that later became required."""
    try:
        return load_spec(path)
    except (AttributeError, KeyError, TypeError, ValueError) as error:
        # A document of the wrong shape: lint locates what is wrong.
        raise SpecError(
            path, [f"cannot be read ({type(error).__name__}: {error}); `ingestspec lint` says where"]
        ) from error
    except SpecError as error:
        # The loader places a missing entry where it belongs: `<op>/x-ingest/errors/catalogue/<key>`.
        document = load_yaml(path.read_bytes())
        missing = [pointer_parts(p.pointer) for p in error.found if p.rule == X_INGEST_SCHEMA]
        if len(missing) != len(error.found) or not all(_fixed_entry_lacking(document, m) for m in missing):
            raise
    lacking: dict[str, set[str]] = {}
    for parts in missing:
        lacking.setdefault(pointer_of(*parts[:-4]), set()).add(parts[-1])
        pointer_get(document, pointer_of(*parts[:-1]))[parts[-1]] = {
            "status": 500,
            "message": "(not in this version)",
        }
    with tempfile.TemporaryDirectory(prefix="ingestspec-diff-") as tmp:
        patched = Path(tmp) / path.name
        patched.write_text(yaml.safe_dump(document, sort_keys=False), encoding="utf-8")
        spec = load_spec(patched)
    operations = tuple(_without(op, lacking.get(op.pointer, set())) for op in spec.operations)
    return dataclasses.replace(spec, path=path, operations=operations, document=_stripped(document, lacking))


def _without(op: Any, keys: set[str]) -> Any:
    if not keys or op.ingest is None:
        return op
    errors = op.ingest.errors
    catalogue = {k: v for k, v in errors.catalogue.items() if k not in keys}
    ingest = dataclasses.replace(op.ingest, errors=dataclasses.replace(errors, catalogue=catalogue))
    return dataclasses.replace(op, ingest=ingest)


def _stripped(document: dict[str, Any], lacking: Mapping[str, set[str]]) -> dict[str, Any]:
    for op, keys in lacking.items():
        catalogue = pointer_get(document, f"{op}/x-ingest/errors/catalogue")
        for key in keys:
            catalogue.pop(key, None)
    return document

"""Edited copies of the real specs, for tests that need a spec with one thing changed."""

from __future__ import annotations

import contextlib
import importlib
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import yaml

from ingestspec.generator.generate.build import generate
from ingestspec.generator.spec.loader import load_yaml
from tests.conftest import SPECS

Edit = Callable[[dict[str, Any]], object]
# libyaml's dumper where PyYAML has it: several hundred tests write an edited spec.
SafeDumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)


def write_yaml(path: Path, document: Any) -> None:
    path.write_text(yaml.dump(document, Dumper=SafeDumper, sort_keys=False))


def edited(tmp_path: Path, api: str, edit: Edit, label: str = "new") -> Path:
    """A copy of the API's spec with `edit` applied to its document, in `tmp_path/label/`."""
    document = load_yaml(SPECS[api].read_bytes())
    edit(document)
    folder = tmp_path / label
    folder.mkdir(exist_ok=True)
    path = folder / f"{api}.yaml"
    write_yaml(path, document)
    return path


def edited_file(tmp_path: Path, source: Path, edit: Edit) -> Path:
    """A copy of the spec file `source` with `edit` applied to its document, in `tmp_path`."""
    document = load_yaml(source.read_bytes())
    edit(document)
    path = tmp_path / source.name
    write_yaml(path, document)
    return path


def op(document: dict[str, Any]) -> dict[str, Any]:
    """The ingest operation of a spec document."""
    operation: dict[str, Any] = next(iter(document["paths"].values()))["post"]
    return operation


def x_ingest(document: dict[str, Any]) -> dict[str, Any]:
    block: dict[str, Any] = op(document)["x-ingest"]
    return block


@contextlib.contextmanager
def imported(spec: Path, folder: Path, package: str) -> Iterator[ModuleType]:
    """`spec` generated into `folder/package` and imported, for tests of its modules in process;
    the package and its modules are forgotten when the block ends."""
    generate(spec, folder / package)
    sys.path.insert(0, str(folder))
    try:
        yield importlib.import_module(package)
    finally:
        sys.path.remove(str(folder))
        for name in [name for name in sys.modules if name.split(".")[0] == package]:
            del sys.modules[name]

"""Edited copies of the real specs, for tests that need a spec with one thing changed."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from tests.conftest import SPECS

Edit = Callable[[dict[str, Any]], object]


def edited(tmp_path: Path, api: str, edit: Edit, label: str = "new") -> Path:
    """A copy of the API's spec with `edit` applied to its document, in `tmp_path/label/`."""
    document = yaml.safe_load(SPECS[api].read_text())
    edit(document)
    folder = tmp_path / label
    folder.mkdir(exist_ok=True)
    path = folder / f"{api}.yaml"
    path.write_text(yaml.safe_dump(document, sort_keys=False))
    return path


def edited_file(tmp_path: Path, source: Path, edit: Edit) -> Path:
    """A copy of the spec file `source` with `edit` applied to its document, in `tmp_path`."""
    document = yaml.safe_load(source.read_text())
    edit(document)
    path = tmp_path / source.name
    path.write_text(yaml.safe_dump(document, sort_keys=False))
    return path


def op(document: dict[str, Any]) -> dict[str, Any]:
    """The ingest operation of a spec document."""
    operation: dict[str, Any] = next(iter(document["paths"].values()))["post"]
    return operation


def x_ingest(document: dict[str, Any]) -> dict[str, Any]:
    block: dict[str, Any] = op(document)["x-ingest"]
    return block

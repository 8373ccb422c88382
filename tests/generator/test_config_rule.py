"""One duplicate-key rule for both configuration loaders: the tool's (generator/config.py) and the
generated server's (config.py rendered from templates/config.py.jinja) refuse the same files."""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import yaml

from ingestspec.generator.config import load_config
from ingestspec.generator.errors import ConfigError
from ingestspec.generator.generate.build import render
from tests.conftest import SPECS

KEY_A, KEY_B = "key_aaaaaaaa", "key_bbbbbbbb"
# name: ((id, API keys[, tokens]) of each project, what the refusal says or None)
CASES: dict[str, tuple[list[tuple[Any, ...]], str | None]] = {
    "distinct": ([("one", [KEY_A]), ("two", [KEY_B])], None),
    "a printable key with spaces inside": ([("one", ["Vendor-API-Key k_1 ~!"])], None),
    "a key twice in one project": ([("one", [KEY_A, KEY_A])], "an API key is listed twice"),
    "a key in two projects": ([("one", [KEY_A]), ("two", [KEY_A])], "an API key is listed twice"),
    "a project id twice": ([("one", [KEY_A]), ("one", [KEY_B])], "project id 'one' is used twice"),
    # Public tokens (keyless operations) name one project each, and are never a key.
    "tokens only": ([("one", [], ["tok_one"]), ("two", [], ["tok_two"])], None),
    "a token in two projects": ([("one", [], [KEY_A]), ("two", [], [KEY_A])], "a token is listed twice"),
    "a key as a token": ([("one", [KEY_A], ["tok_one"]), ("two", [KEY_B], [KEY_A])], "or is an API key"),
    "a token as a key": ([("one", [KEY_B], [KEY_A]), ("two", [KEY_A])], "an API key is listed twice"),
    "neither keys nor tokens": ([("one", [], [])], "projects"),
}


@pytest.fixture(scope="module")
def server_config(tmp_path_factory: pytest.TempPathFactory) -> ModuleType:
    """The generated server's config module, rendered from the template and imported on its own."""
    folder = tmp_path_factory.mktemp("server")
    source = render(SPECS["arsel"], folder / "arsel").files["config.py"]
    (folder / "config.py").write_text(source)
    spec = importlib.util.spec_from_file_location("rendered_config", folder / "config.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def write(tmp_path: Path, projects: list[tuple[Any, ...]]) -> Path:
    """A configuration of (id, API keys[, tokens]) projects; an empty list is left out."""
    listed = [
        {"id": i, **({"api_keys": keys} if keys else {}), **({"tokens": rest[0]} if rest and rest[0] else {})}
        for i, keys, *rest in projects
    ]
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump({"projects": listed}))
    return path


def loaders(server_config: ModuleType) -> dict[str, tuple[Callable[[Path], object], type[Exception]]]:
    return {"tool": (load_config, ConfigError), "server": (server_config.load, server_config.ConfigError)}


@pytest.mark.parametrize("side", ["tool", "server"])
@pytest.mark.parametrize("case", list(CASES))
def test_both_loaders_apply_the_same_rule(
    tmp_path: Path, server_config: ModuleType, side: str, case: str
) -> None:
    projects, refusal = CASES[case]
    load, error = loaders(server_config)[side]
    path = write(tmp_path, projects)
    if refusal is None:
        load(path)
        return
    with pytest.raises(error) as raised:
        load(path)
    assert refusal in str(raised.value)
    assert KEY_A not in str(raised.value)  # keys are secrets: never printed

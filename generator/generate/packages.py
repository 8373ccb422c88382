"""Finding a generated server package to run: a folder anywhere, or a reference server by name.

A generated package is standalone (relative imports only), so it is imported under its own folder
name with that folder's parent on `sys.path`, wherever it lives: the user's folder, the checkout's
generated_server/, or the installed tool's copy of it.
"""

from __future__ import annotations

import importlib
import re
import sys
from pathlib import Path
from types import ModuleType

SERVER_DIR = Path(__file__).resolve().parents[2] / "generated_server"


class NoPackage(LookupError):
    """Nothing generated is found where the user pointed."""


def is_package(folder: Path) -> bool:
    return (folder / "__init__.py").is_file() and (folder / "__main__.py").is_file()


def package_name(spec_path: Path) -> str:
    """The package a spec generates by default: its file name as a Python identifier (my-api.yaml
    gives my_api); a file named openapi.yaml takes its folder's name."""
    stem = spec_path.stem if spec_path.stem != "openapi" else spec_path.resolve().parent.name
    name = re.sub(r"\W", "_", stem.lower())
    return f"api_{name}" if not name or name[0].isdigit() else name


def find_package(api: str, spec_stem: str | None = None) -> Path:
    """The package folder `api` names: a path to a generated package, the package `generate SPEC`
    writes here when `api` is a spec file, else a reference server (`arsel`, or the stem of a
    shipped spec's path)."""
    given = Path(api)
    if is_package(given):
        return given.resolve()
    if given.is_file() and is_package(Path(package_name(given))):
        return Path(package_name(given)).resolve()
    for name in (api, spec_stem):
        if name and is_package(SERVER_DIR / name):
            return SERVER_DIR / name
    if given.is_dir():
        raise NoPackage(f"{api} is not a generated package (no __init__.py and __main__.py)")
    raise NoPackage(
        f"no generated package at {api!r} and no reference server named {api!r}; "
        f"run `ingestspec generate SPEC` and pass the folder it writes"
    )


def import_entry(folder: Path) -> ModuleType:
    """The package's `__main__` module, with the current folder importable too (for --handler)."""
    for entry in (str(folder.parent), str(Path.cwd())):
        if entry not in sys.path:
            sys.path.insert(0, entry)
    return importlib.import_module(f"{folder.name}.__main__")

"""`ingestspec init`: the starter files a new user begins from, written into their folder.

The files are package data beside this module: a commented spec with one ingest operation and a
deployment configuration for it, which lint, generate, serve and contract accept as they are.
`files()` says what is written; `write()` writes it, refusing to overwrite unless forced. Another
source of files (a spec inferred from a vendor's file) only needs its own `files()`-like function.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

STARTER = resources.files(__package__ or "")
SPEC = "openapi.yaml"
CONFIG = "config.yaml"


class Exists(FileExistsError):
    """A file init would write is already there (and `--force` was not given)."""


def files(spec_name: str = SPEC) -> dict[str, str]:
    """File name -> text: the starter spec under `spec_name`, and its configuration."""
    spec = STARTER.joinpath(SPEC).read_text(encoding="utf-8").replace(SPEC, spec_name)
    return {spec_name: spec, CONFIG: STARTER.joinpath(CONFIG).read_text(encoding="utf-8")}


def write(folder: Path, texts: dict[str, str], force: bool = False) -> list[Path]:
    """Write every file under `folder`; none at all when one exists and `force` is false."""
    paths = [folder / name for name in texts]
    taken = [path for path in paths if path.exists()]
    if taken and not force:
        names = ", ".join(str(path.relative_to(folder)) for path in taken)
        raise Exists(f"{names} already exist(s): nothing written (--force overwrites)")
    for path, text in zip(paths, texts.values(), strict=True):
        path.write_text(text, encoding="utf-8")
    return paths

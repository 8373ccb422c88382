"""How a spec is named on the command line: a path, or the name of an API shipped in `openapi/`."""

from __future__ import annotations

from pathlib import Path

from .failures import UsageProblem

REPO_ROOT = Path(__file__).resolve().parents[2]
SPEC_DIR = REPO_ROOT / "openapi"


def spec_path(value: str) -> Path:
    """A spec given as a path, or as an API name from `openapi/` (`arsel`, `sendrealm`)."""
    candidate = Path(value)
    if candidate.is_file():
        return candidate
    named = SPEC_DIR / f"{value}.yaml"
    if named.exists():
        return named
    raise UsageProblem(f"no spec at {value!r} and no API named {value!r} in {SPEC_DIR}")

"""What every `ingestspec` command shares: its two failure exits, and how a spec is named on the
command line. Both the generator's commands and `contract_tests/cli.py` import it, so neither
command module imports the other."""

from __future__ import annotations

from pathlib import Path

import click

from ..errors import IngestSpecError

REPO_ROOT = Path(__file__).resolve().parents[2]
SPEC_DIR = REPO_ROOT / "openapi"


class Failed(click.ClickException):
    """The command ran and found problems (exit 1)."""

    exit_code = 1


class UsageProblem(click.ClickException):
    """The command could not run: bad spec, bad config, unreachable URL (exit 2)."""

    exit_code = 2


def spec_path(value: str) -> Path:
    """A spec given as a path, or as an API name from `openapi/` (`arsel`, `sendrealm`)."""
    candidate = Path(value)
    if candidate.is_file():
        return candidate
    named = SPEC_DIR / f"{value}.yaml"
    if named.exists():
        return named
    raise UsageProblem(f"no spec at {value!r} and no API named {value!r} in {SPEC_DIR}")


def report(error: IngestSpecError) -> UsageProblem:
    """A loader or config error as a one-line usage problem."""
    return UsageProblem(f"{error.source}: " + "; ".join(error.problems))

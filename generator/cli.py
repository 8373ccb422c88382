"""The `ingestspec` command line: a thin Click group; each command parses flags and calls a plain function."""

from __future__ import annotations

from pathlib import Path

import click

from .errors import IngestSpecError

REPO_ROOT = Path(__file__).resolve().parent.parent
SPEC_DIR = REPO_ROOT / "openapi"
OUTPUT_DIR = REPO_ROOT / "generated_server"
EXAMPLE_CONFIG = REPO_ROOT / "examples" / "config.yaml"


class Failed(click.ClickException):
    """The command ran and found problems (exit 1)."""

    exit_code = 1


class UsageProblem(click.ClickException):
    """The command could not run: bad spec, bad config, unreachable URL (exit 2)."""

    exit_code = 2


def spec_path(value: str) -> Path:
    """A spec given as a path, or as an API name from `openapi/` (`arsel`, `sendrealm`)."""
    candidate = Path(value)
    if candidate.exists():
        return candidate
    named = SPEC_DIR / f"{value}.yaml"
    if named.exists():
        return named
    raise UsageProblem(f"no spec at {value!r} and no API named {value!r} in {SPEC_DIR}")


def report(error: IngestSpecError) -> UsageProblem:
    """A loader or config error as a one-line usage problem."""
    return UsageProblem(f"{error.source}: " + "; ".join(error.problems))


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="ingestspec")
def main() -> None:
    """Generate event-ingest servers and contract tests from OpenAPI specs."""


@main.command("lint")
@click.argument("specs", nargs=-1, required=True)
def lint_command(specs: tuple[str, ...]) -> None:
    """Check SPECS: OpenAPI 3.1 validity, the x-ingest block, every example, every documented error."""
    from .lint import lint

    failed = False
    for value in specs:
        path = spec_path(value)
        problems = lint(path)
        if problems:
            failed = True
            click.echo(f"{path}: {len(problems)} problem(s)")
            for problem in problems:
                click.echo(f"  - {problem}")
        else:
            click.echo(f"{path}: ok")
    if failed:
        raise Failed("lint found problems")


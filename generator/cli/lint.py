"""`ingestspec lint`: check specs and print every problem at its place."""

from __future__ import annotations

import click

from .failures import Failed
from .spec_names import spec_path


@click.command("lint")
@click.argument("specs", nargs=-1, required=True)
@click.option(
    "--format",
    "output_format",
    type=click.Choice(["text", "json", "sarif", "github"]),
    default="text",
    show_default=True,
    help="text for a terminal; json (a list of {file, line, column, pointer, rule, severity, message}); "
    "sarif (SARIF 2.1.0, for code scanning); github (workflow commands that annotate a pull request).",
)
@click.option(
    "--fail-on",
    type=click.Choice(["error", "warning"]),
    default="error",
    show_default=True,
    help="Exit 1 on errors only, or on warnings too.",
)
@click.option("--strict", is_flag=True, help="Warnings fail too (the same as --fail-on warning).")
def lint_command(specs: tuple[str, ...], output_format: str, fail_on: str, strict: bool) -> None:
    """Check SPECS: OpenAPI 3.1 validity, the x-ingest block, every example, every documented error,
    and nothing declared that the generated server does not implement. Each problem is located as
    file:line:column and the JSON pointer of what it is about, with its rule id and severity.
    """
    from ..lint.linter import lint, render

    found = {path: lint(path) for path in map(spec_path, specs)}
    click.echo(render(found, output_format), nl=output_format != "text")
    problems = [p for listed in found.values() for p in listed]
    fail_on = "warning" if strict else fail_on
    failing = [p for p in problems if fail_on == "warning" or p.severity == "error"]
    if failing:
        raise Failed(f"lint found {len(failing)} problem(s) at or above {fail_on}")

"""`ingestspec generate`: lint a spec, then render (or check) its server package."""

from __future__ import annotations

from pathlib import Path

import click

from ..errors import IngestSpecError
from .failures import Failed, UsageProblem, report
from .spec_names import spec_path


@click.command("generate")
@click.argument("spec")
@click.option(
    "--out",
    "out_dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="output folder (default: a package in the current folder named after SPEC's file: my-api.yaml "
    "gives ./my_api; a file named openapi.yaml takes its folder's name)",
)
@click.option("--check", is_flag=True, help="write nothing; exit 1 with a unified diff of every stale file")
def generate_command(spec: str, out_dir: Path | None, check: bool) -> None:
    """Generate the Starlette server (and its Pydantic models) for SPEC into a package folder.

    SPEC is linted first: if it has problems (anything the server would not serve as declared),
    they are printed with their locations and nothing is written (exit 2).

    Regenerating rewrites the generated files only. handlers.py (what happens to each stored event)
    and hooks.py (your checks before an event is stored) are yours: created once, never overwritten.
    manifest.json records which files are which, so --check ignores your files and any others the
    generator did not write.
    """
    from ..generate.build import package_name, render
    from ..lint.linter import errors_of, lint

    path = spec_path(spec)
    problems = lint(path)
    for problem in problems:
        click.echo(f"  {problem}", err=True)
    if errors_of(problems):
        raise UsageProblem(f"{path}: {len(errors_of(problems))} lint error(s); nothing was generated")
    out_dir = out_dir or Path(package_name(path))
    try:
        output = render(path, out_dir)
    except IngestSpecError as exc:
        raise report(exc) from exc
    if check:
        stale = output.stale(out_dir)
        if stale:
            click.echo(output.diff(out_dir), nl=False)
            raise Failed(f"{out_dir} is stale; regenerate it: {', '.join(stale)}")
        click.echo(f"{out_dir}: up to date")
        return
    for name in output.edited(out_dir):
        click.echo(
            f"warning: {out_dir / name} was edited by hand and is overwritten; keep your code in "
            "handlers.py or hooks.py (never overwritten)",
            err=True,
        )
    names = output.write(out_dir)
    click.echo(f"{out_dir}: wrote {len(names)} file(s)" + (f": {', '.join(names)}" if names else ""))

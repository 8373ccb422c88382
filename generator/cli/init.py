"""`ingestspec init`: the starter spec and config a new user begins from."""

from __future__ import annotations

from pathlib import Path

import click

from .failures import UsageProblem


@click.command("init")
@click.argument("spec_name", default="openapi.yaml", required=False)
@click.option("--force", is_flag=True, help="overwrite files that are already there")
def init_command(spec_name: str, force: bool) -> None:
    """Write a starter spec (SPEC_NAME, openapi.yaml by default) and its config.yaml into the current
    folder: one commented ingest operation that lint, generate, serve and contract accept as they are.
    Existing files are left alone (nothing is written) unless --force.
    """
    from .. import starter

    texts = starter.files(spec_name)
    try:
        written = starter.write(Path.cwd(), texts, force)
    except starter.Exists as exc:
        raise UsageProblem(str(exc)) from exc
    click.echo(f"wrote {', '.join(path.name for path in written)}; next: ingestspec lint {spec_name}")

"""`ingestspec migrate`: a spec's x-ingest blocks upgraded to the current version."""

from __future__ import annotations

import click

from .failures import UsageProblem
from .spec_names import spec_path


@click.command("migrate")
@click.argument("spec")
@click.option("--write", is_flag=True, help="rewrite SPEC in place instead of printing it")
def migrate_command(spec: str, write: bool) -> None:
    """Upgrade SPEC's x-ingest blocks to the current version (2).

    Only the text of each older block is replaced; the rest of the file keeps its formatting and
    comments. Prints the result, or with --write rewrites the file.
    """
    import yaml

    from ..spec.rewrite import migrate_text

    path = spec_path(spec)
    text = path.read_text(encoding="utf-8")
    try:
        migrated = migrate_text(text)
    except yaml.YAMLError as exc:
        raise UsageProblem(f"{path}: not valid YAML: {exc}") from exc
    if not write:
        click.echo(migrated, nl=False)
    elif migrated == text:
        click.echo(f"{path}: already current", err=True)
    else:
        path.write_text(migrated, encoding="utf-8")
        click.echo(f"{path}: x-ingest upgraded", err=True)

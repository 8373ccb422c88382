"""`ingestspec init`: the starter spec and config a new user begins from, or a vendor's published
file with a proposed x-ingest block (`--from`)."""

from __future__ import annotations

from pathlib import Path

import click

from ..errors import IngestSpecError
from .failures import UsageProblem, report


@click.command("init")
@click.argument("spec_name", required=False)
@click.option("--force", is_flag=True, help="overwrite files that are already there")
@click.option(
    "--from",
    "source",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="a vendor's published OpenAPI 3.0/3.1 file: propose the x-ingest block of its ingest operations",
)
@click.option(
    "--operation",
    "operations",
    multiple=True,
    metavar="ID",
    help="with --from: the operation to propose a block for, by operationId or 'METHOD /path' "
    "(repeatable; default: the POST operations that look like event ingest)",
)
@click.option(
    "-o",
    "--output",
    help="with --from: where the file with its blocks goes (default: NAME.ingest.yaml beside it; "
    "'-' prints it and writes no config)",
)
def init_command(
    spec_name: str | None, force: bool, source: Path | None, operations: tuple[str, ...], output: str | None
) -> None:
    """Write a starter spec (SPEC_NAME, openapi.yaml by default) and its config.yaml into the current
    folder: one commented ingest operation that lint, generate, serve and contract accept as they are.
    Existing files are left alone (nothing is written) unless --force.

    With --from FILE: FILE (a vendor's published OpenAPI file) unchanged, with an x-ingest block added
    to each ingest operation, every guess commented with its reason, and a config.yaml beside it.
    What cannot be guessed is a TODO that `ingestspec lint` names.
    """
    from .. import starter

    if source is not None:
        if spec_name is not None:
            raise UsageProblem("SPEC_NAME is not used with --from: name the output with -o")
        _from_vendor(source, operations, output, force)
        return
    if operations or output:
        raise UsageProblem("--operation and -o go with --from FILE")
    spec_name = spec_name or starter.SPEC
    texts = starter.files(spec_name)
    try:
        written = starter.write(Path.cwd(), texts, force)
    except starter.Exists as exc:
        raise UsageProblem(str(exc)) from exc
    click.echo(f"wrote {', '.join(path.name for path in written)}; next: ingestspec lint {spec_name}")


def _from_vendor(source: Path, operations: tuple[str, ...], output: str | None, force: bool) -> None:
    from .. import starter
    from ..starter import emit, infer, vendor

    target = vendor.output_path(source) if output is None else Path(output)
    try:
        proposed = vendor.propose_file(source, operations, None if output == "-" else target.name)
    except IngestSpecError as exc:
        raise report(exc) from exc
    except (infer.UnknownOperation, vendor.NothingToPropose, emit.CannotInsert) as exc:
        raise UsageProblem(str(exc)) from exc
    if output == "-":
        click.echo(proposed.spec_text, nl=False)
        return
    texts = {target.name: proposed.spec_text, starter.CONFIG: proposed.config_text}
    try:
        written = starter.write(target.parent, texts, force)
    except starter.Exists as exc:
        raise UsageProblem(str(exc)) from exc
    for proposal in proposed.proposals:
        op = proposal.operation
        click.echo(f"{op.operation_id} ({op.method} {op.path}): x-ingest proposed")
        for pointer, why in proposal.todos:
            click.echo(f"  #{pointer}: {why}")
        if "TODO" in proposal.note:  # outside the block: the security scheme's own extension
            click.echo(f"  {proposal.note}")
    click.echo(f"wrote {', '.join(str(path) for path in written)}; next: ingestspec lint {written[0]}")

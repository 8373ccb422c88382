"""`ingestspec deadletters`: a generated server's dead letters, listed and re-driven."""

from __future__ import annotations

from pathlib import Path

import click

from .failures import UsageProblem


@click.command(
    "deadletters", context_settings={"ignore_unknown_options": True, "allow_interspersed_args": False}
)
@click.argument("api")
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
def deadletters_command(api: str, args: tuple[str, ...]) -> None:
    """List, inspect and re-drive a generated server's dead letters: API is a package folder or a
    reference server name, ARGS are the package's own (`--db URL list|show ID|retry ID... |--all`);
    `ingestspec deadletters arsel --help` says more."""
    from ..generate.packages import NoPackage, find_package, import_entry

    try:
        folder = find_package(api, Path(api).stem)
    except NoPackage as exc:
        raise UsageProblem(str(exc)) from exc
    import_entry(folder).main(["deadletters", *args])

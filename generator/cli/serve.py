"""`ingestspec serve`: run a generated server package under uvicorn."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from .failures import UsageProblem
from .spec_names import REPO_ROOT

EXAMPLE_CONFIG = REPO_ROOT / "examples" / "config.yaml"


@click.command("serve")
@click.argument("api")
@click.option(
    "--config",
    "config_path",
    type=click.Path(exists=True, dir_okay=False),
    default=str(EXAMPLE_CONFIG),
    show_default=True,
    help="server configuration",
)
@click.option(
    "--db", default="sqlite:///var/{api}.db", show_default=True, help="sqlite:///PATH or postgresql://..."
)
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
@click.option("--workers", default=1, show_default=True, type=click.IntRange(min=1), help="worker processes")
@click.option("--handler", help="processing handler as module:attribute")
@click.option("--no-worker", is_flag=True, help="accept events but leave processing to another process")
@click.option("--no-access-log", is_flag=True)
def serve_command(
    api: str,
    config_path: str,
    db: str,
    host: str,
    port: int,
    workers: int,
    handler: str | None,
    no_worker: bool,
    no_access_log: bool,
) -> None:
    """Run a generated server under uvicorn. API is the folder of a package `ingestspec generate`
    wrote (./my_api), a spec file (the package `generate SPEC` wrote here), or the name of a
    reference server (arsel, sendrealm). --handler module:attr may name a module of the current
    folder.
    """
    from ..generate.packages import NoPackage, find_package, import_entry

    try:
        folder = find_package(api, Path(api).stem)
    except NoPackage as exc:
        raise UsageProblem(str(exc)) from exc
    server = import_entry(folder)
    argv = ["--config", config_path, "--db", db.format(api=folder.name), "--host", host, "--port", str(port)]
    argv += ["--workers", str(workers)]
    argv += ["--handler", handler] if handler else []
    argv += ["--no-worker"] if no_worker else []
    argv += ["--no-access-log"] if no_access_log else []
    # The package refuses a handler it cannot load in its own line (exit 1); checked here first, the
    # command refuses it as any other usage problem (exit 2, one line).
    worker = sys.modules[f"{folder.name}.worker"]
    if handler:
        try:
            worker.load_handler(handler)
        except worker.HandlerLoadError as exc:
            raise UsageProblem(str(exc)) from exc
    server.main(argv)

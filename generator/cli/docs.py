"""`ingestspec docs`: a spec's offline reference page."""

from __future__ import annotations

from pathlib import Path

import click

from ..errors import IngestSpecError
from .failures import report
from .spec_names import spec_path


@click.command("docs")
@click.argument("spec")
@click.option(
    "--out",
    "out_dir",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="folder to write index.html, openapi.yaml and assets/ to",
)
def docs_command(spec: str, out_dir: Path) -> None:
    """Write SPEC's reference page as static files that work offline.

    The page shows each operation with its request and response examples (Swagger UI, served from
    the swagger-ui-bundle-v2 package, never a CDN) and the body of every documented error.
    """
    from ..docs.page import write_docs
    from ..spec.loader import load_spec

    try:
        loaded = load_spec(spec_path(spec))
    except IngestSpecError as error:
        raise report(error) from error
    written = write_docs(loaded, out_dir)
    click.echo(f"{out_dir}: wrote {len(written)} file(s); open {out_dir / 'index.html'}")

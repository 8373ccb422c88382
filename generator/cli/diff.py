"""`ingestspec diff`: the changes between two versions of a spec, classified."""

from __future__ import annotations

import click

from ..errors import IngestSpecError
from .failures import Failed, report
from .spec_names import spec_path


@click.command("diff")
@click.argument("old")
@click.argument("new")
@click.option(
    "--format",
    "output_format",
    type=click.Choice(["text", "json", "markdown", "sarif", "github"]),
    default="text",
    show_default=True,
    help="text for a terminal, json for tools, markdown for a pull-request comment, sarif for code "
    "scanning, github for workflow commands annotating NEW's file.",
)
@click.option(
    "--fail-on",
    type=click.Choice(["breaking", "server-breaking", "any-breaking"]),
    default=None,
    help="Exit 1 when a change breaks clients (breaking), servers built from OLD (server-breaking), "
    "or either (any-breaking).",
)
def diff_command(old: str, new: str, output_format: str, fail_on: str | None) -> None:
    """List the changes from OLD to NEW, each classified as breaking or not for clients and for servers.

    OLD and NEW are spec paths, API names (arsel, sendrealm) or git revisions such as
    main:openapi/arsel.yaml or v0.1.0:arsel; older x-ingest versions are read as they were. Breaking
    for clients: a client written against OLD may fail against a server built from NEW. Breaking for
    servers: a server still built from OLD mishandles what a client written against NEW sends or
    expects. Each change's kind is its rule id.
    """
    from ..diff import (
        diff_specs,
        load_version,
        render_github,
        render_json,
        render_markdown,
        render_sarif,
        render_text,
    )

    try:
        before = load_version(old, spec_path)
        after = load_version(new, spec_path)
    except IngestSpecError as error:
        raise report(error) from error
    result = diff_specs(before.spec, after.spec, before.label, after.label)
    if output_format == "json":
        click.echo(render_json(result))
    elif output_format == "markdown":
        click.echo(render_markdown(result), nl=False)
    elif output_format == "sarif":
        click.echo(render_sarif(result, after.file, after.text))
    elif output_format == "github":
        click.echo(render_github(result, after.file, after.text))
    else:
        click.echo(render_text(result, style=click.style))
    failing = result.failing(fail_on) if fail_on else ()
    if fail_on and failing:
        raise Failed(f"{len(failing)} change(s) are {fail_on.removeprefix('any-')}")

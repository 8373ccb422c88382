"""The `ingestspec` command line: a thin Click group; each command parses flags and calls a plain function."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from ingestspec.contract_tests.cli import contract

from ..errors import IngestSpecError
from .extras import Commands
from .usage import REPO_ROOT, Failed, UsageProblem, report, spec_path

EXAMPLE_CONFIG = REPO_ROOT / "examples" / "config.yaml"


@click.group(cls=Commands, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="ingestspec")
def main() -> None:
    """Generate event-ingest servers and contract tests from OpenAPI specs."""


@main.command("init")
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


@main.command("lint")
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


@main.command("generate")
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


@main.command("migrate")
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


@main.command("serve")
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
    refused = getattr(sys.modules.get(f"{folder.name}.worker"), "HandlerLoadError", ValueError)
    try:
        server.main(argv)
    except refused as exc:
        raise UsageProblem(str(exc)) from exc


@main.command(
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


@main.command("diff")
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


main.add_command(contract)


@main.command("docs")
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

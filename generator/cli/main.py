"""The `ingestspec` command line: a thin Click group; each command is a module of this package that
parses its flags and calls plain functions of the generator."""

from __future__ import annotations

import click

from ingestspec.contract_tests.cli import contract

from . import deadletters, diff, docs, generate, init, lint, migrate, serve
from .extras import Commands


@click.group(cls=Commands, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="ingestspec")
def main() -> None:
    """Generate event-ingest servers and contract tests from OpenAPI specs."""


main.add_command(init.init_command)
main.add_command(lint.lint_command)
main.add_command(generate.generate_command)
main.add_command(migrate.migrate_command)
main.add_command(serve.serve_command)
main.add_command(deadletters.deadletters_command)
main.add_command(diff.diff_command)
main.add_command(docs.docs_command)
main.add_command(contract)

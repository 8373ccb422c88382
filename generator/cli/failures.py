"""The two ways an `ingestspec` command fails: it ran and found problems (exit 1), or it could not run
(exit 2). The generator's commands and `contract_tests/cli.py` both raise them, so neither command
module imports the other."""

from __future__ import annotations

import click

from ..errors import IngestSpecError


class Failed(click.ClickException):
    """The command ran and found problems (exit 1)."""

    exit_code = 1


class UsageProblem(click.ClickException):
    """The command could not run: bad spec, bad config, unreachable URL (exit 2)."""

    exit_code = 2


def report(error: IngestSpecError) -> UsageProblem:
    """A loader or config error as a one-line usage problem."""
    return UsageProblem(f"{error.source}: " + "; ".join(error.problems))

"""Which optional extra each command needs, and the one-line refusal when it is not installed.

The base install runs lint, migrate, diff and docs; the others pull stacks that not every user wants
(the contract suite without the server stack, neither with the pinned code generators).
"""

from __future__ import annotations

import importlib.util

import click

# command -> (extra, modules it imports that only that extra installs)
NEEDS: dict[str, tuple[str, tuple[str, ...]]] = {
    "generate": ("generate", ("datamodel_code_generator", "ruff")),
    "serve": ("server", ("starlette", "uvicorn", "uvloop", "httptools", "jsonschema_rs", "psycopg")),
    "deadletters": ("server", ("starlette", "uvicorn", "jsonschema_rs", "psycopg")),
    "contract": ("contract", ("schemathesis", "hypothesis", "pytest", "httpx", "orjson", "jsonschema_rs")),
}


class MissingExtra(click.ClickException):
    """A command's optional dependencies are not installed (exit 2)."""

    exit_code = 2


def missing(modules: tuple[str, ...]) -> list[str]:
    """The modules of `modules` that cannot be imported here."""
    return [name for name in modules if importlib.util.find_spec(name) is None]


def require(command: str) -> None:
    """Refuse `command` in one line naming its extra when that extra is not installed."""
    if command not in NEEDS:
        return
    extra, modules = NEEDS[command]
    absent = missing(modules)
    if absent:
        raise MissingExtra(
            f"`ingestspec {command}` needs the [{extra}] extra: pip install 'ingestspec[{extra}]'"
            f" (missing: {', '.join(absent)})"
        )


class Commands(click.Group):
    """The root group: before a command runs (not for its --help), refuse it if its extra is missing."""

    def resolve_command(
        self, ctx: click.Context, args: list[str]
    ) -> tuple[str | None, click.Command | None, list[str]]:
        name, command, rest = super().resolve_command(ctx, args)
        if name and not set(rest) & set(ctx.help_option_names):
            require(name)
        return name, command, rest

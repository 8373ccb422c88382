"""The Jinja2 environment the server templates are rendered with, and the filters they may use.

Logic lives here as plain functions; templates only loop and interpolate.
"""

from __future__ import annotations

import pprint
from typing import Any

import jinja2

# Loaded through the installed package (ingestspec.templates), so a wheel renders what a checkout does.
TEMPLATE_PACKAGE = "ingestspec.templates"


def pyrepr(value: Any, indent: int = 0) -> str:
    """A deterministic Python literal for JSON-like data, continued lines indented by `indent` spaces."""
    text = pprint.pformat(value, width=100 - indent, sort_dicts=False)
    return text.replace("\n", "\n" + " " * indent)


def pystr(value: str) -> str:
    """A Python string literal, double-quoted as ruff prefers."""
    text = repr(value)
    if text.startswith("'") and '"' not in value:
        text = '"' + text[1:-1].replace("\\'", "'") + '"'
    return text


FILTERS = {"pyrepr": pyrepr, "pystr": pystr}


def module_source(env: jinja2.Environment, name: str, context: dict[str, Any]) -> str:
    """The text of the generated module `name`: `templates/<name>.jinja` rendered, or, for a module
    that needs nothing from the spec, `templates/<name>` as it is (a real module that ruff and mypy
    check where it lives) under the generated header."""
    assert env.loader is not None
    try:
        plain, _, _ = env.loader.get_source(env, name)
    except jinja2.TemplateNotFound:
        return env.get_template(f"{name}.jinja").render(context)
    return f"{context['header']}\n{plain}"


def environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader(TEMPLATE_PACKAGE, "."),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
        autoescape=False,  # Python source, not HTML
    )
    env.filters.update(FILTERS)
    return env

"""Values against JSON Schemas, as the generated server judges them (Draft 2020-12, formats asserted)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

import jsonschema

from ..spec.model import pointer_of

__all__ = ["check_value", "is_json", "short", "validator"]


def validator(schema: Mapping[str, Any]) -> jsonschema.Draft202012Validator:
    """A Draft 2020-12 validator of `schema` that asserts formats, as the server does."""
    return jsonschema.Draft202012Validator(
        schema, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER
    )


def is_json(media_type: str) -> bool:
    """`application/json` or a `+json` type, parameters such as `charset` aside."""
    essence = media_type.split(";", 1)[0].strip().lower()
    return essence == "application/json" or (essence.startswith("application/") and essence.endswith("+json"))


def short(message: str, limit: int = 240) -> str:
    """A validator message without the whole instance it may quote: the first line, cut in the middle."""
    line = message.splitlines()[0] if message else message
    return line if len(line) <= limit else f"{line[: limit - 60]} ... {line[-50:]}"


def check_value(
    schema: Mapping[str, Any], value: Any, pointer: str, what: str, dive: bool = False
) -> Iterator[tuple[str, str]]:
    """Findings of `value` against `schema`; with `dive`, located at the failing part of `value`."""
    for error in validator(schema).iter_errors(value):
        at = pointer_of(*error.absolute_path)
        message = short(error.message)
        yield (pointer + at if dive else pointer), f"{what}: {'at ' + at + ': ' if at else ''}{message}"

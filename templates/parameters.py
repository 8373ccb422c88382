"""An operation's documented path, query and header parameters, checked against their schemas.

Parameters arrive as text: each value is first read as its schema's type (integer, number, boolean
or string, in the order the schema lists them), then validated. The keys of the security schemes
are not parameters here (credentials.py reads them).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import jsonschema_rs
from starlette.requests import Request

from .errors import ApiError


@dataclass(frozen=True)
class Parameter:
    location: str  # "path" | "query" | "header"
    name: str
    required: bool
    schema: dict[str, Any]
    slot: str  # the route's name for a path parameter

    @property
    def where(self) -> str:
        """How a failure names it: `path.message_id`, `query.limit`, `header.X-Foo`."""
        return f"{self.location}.{self.name}"


_INTEGER = re.compile(r"-?(0|[1-9][0-9]*)")
_NUMBER = re.compile(r"-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?")


class Parameters:
    """An operation's parameters, their schemas compiled once."""

    def __init__(self, *parameters: Parameter) -> None:
        self.parameters = parameters
        self.validators = tuple(
            jsonschema_rs.validator_for(p.schema, validate_formats=True) for p in parameters
        )

    def check(self, request: Request) -> None:
        """Check each documented parameter against its schema; failures raise invalid_request."""
        if not self.parameters:
            return  # most operations document none
        details: list[dict[str, str]] = []
        for parameter, validator in zip(self.parameters, self.validators, strict=True):
            text = _text(request, parameter)
            if text is None:
                if parameter.required:
                    message = f"{parameter.name!r} is a required {parameter.location} parameter"
                    details.append({"path": parameter.where, "message": message})
                continue
            value = typed(text, parameter.schema)
            for error in validator.iter_errors(value):
                details.append({"path": parameter.where, "message": error.message})
        if details:
            raise ApiError("invalid_request", details=details)


def _text(request: Request, parameter: Parameter) -> str | None:
    if parameter.location == "path":
        value = request.path_params.get(parameter.slot)
        return None if value is None else str(value)
    if parameter.location == "query":
        return request.query_params.get(parameter.name)
    return request.headers.get(parameter.name)


def typed(text: str, schema: dict[str, Any]) -> Any:
    """`text` read as the first of the schema's types it can be; as it is when none fits."""
    types = schema.get("type", "string")
    for kind in [types] if isinstance(types, str) else types:
        if kind == "string":
            return text
        if kind == "integer" and _INTEGER.fullmatch(text):
            return int(text)
        if kind == "number" and _NUMBER.fullmatch(text):
            return int(text) if _INTEGER.fullmatch(text) else float(text)
        if kind == "boolean" and text in ("true", "false"):
            return text == "true"
    return text

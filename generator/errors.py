"""Errors the toolkit reports to its users.

    IngestSpecError
    ├── SpecError            the OpenAPI file cannot be read or is not an ingest spec
    │   └── UnresolvedRef    a $ref points nowhere
    └── ConfigError          the server configuration file is invalid

Each carries the file it concerns and a list of problems, so the CLI can print them all at once.
A problem is data (`LoadProblem`: where in the document, the lint rule that names it, what is wrong), so
lint places it from its fields rather than by reading the message back.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class LoadProblem:
    """One problem found while reading a file: its JSON pointer, the id of the lint rule it breaks
    and the message for the user."""

    pointer: str
    rule: str
    message: str

    def __str__(self) -> str:
        return f"#{self.pointer}: {self.message}" if self.pointer else self.message


class IngestSpecError(Exception):
    """Base class: an expected failure with a message for the user."""

    def __init__(self, source: str | Path, problems: Sequence[str | LoadProblem]) -> None:
        self.source = str(source)
        # A bare message is a problem of the whole file (rule `loads`), placed at its start.
        self.found = [p if isinstance(p, LoadProblem) else LoadProblem("", "loads", p) for p in problems]
        self.problems = [str(p) for p in self.found]
        super().__init__(f"{self.source}: " + "; ".join(self.problems))


class SpecError(IngestSpecError):
    """The spec cannot be loaded into the model."""


class UnresolvedRef(SpecError):
    """A local $ref does not point at anything in the document."""


class ConfigError(IngestSpecError):
    """The server configuration does not match its schema."""

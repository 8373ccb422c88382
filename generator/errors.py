"""Errors the toolkit reports to its users.

    IngestSpecError
    ├── SpecError            the OpenAPI file cannot be read or is not an ingest spec
    │   └── UnresolvedRef    a $ref points nowhere
    └── ConfigError          the server configuration file is invalid

Each carries the file it concerns and a list of problems, so the CLI can print them all at once.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path


class IngestSpecError(Exception):
    """Base class: an expected failure with a message for the user."""

    def __init__(self, source: str | Path, problems: Sequence[str]) -> None:
        self.source = str(source)
        self.problems = list(problems)
        super().__init__(f"{self.source}: " + "; ".join(self.problems))


class SpecError(IngestSpecError):
    """The spec cannot be loaded into the model."""


class UnresolvedRef(SpecError):
    """A local $ref does not point at anything in the document."""


class ConfigError(IngestSpecError):
    """The server configuration does not match its schema."""

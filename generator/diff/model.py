"""What a diff is made of: changes, each with its rule id (`kind`), and whom it breaks.

- **Breaking for clients**: a client written against OLD may fail against a server built from NEW
  (backward compatibility: upgrading the server breaks existing callers).
- **Breaking for servers**: a server still built from OLD mishandles what a client written against
  NEW sends or expects (forward compatibility: deploy the regenerated server before clients rely on
  the change).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = ["BOTH", "GROUPS", "NEITHER", "Change", "Collector", "Impact", "SpecDiff"]

Impact = tuple[bool, bool]  # (breaking for clients, breaking for servers)
BOTH: Impact = (True, True)
NEITHER: Impact = (False, False)
CLIENTS: Impact = (True, False)
SERVERS: Impact = (False, True)

GROUPS = ("breaking for clients and servers", "breaking for clients", "breaking for servers", "not breaking")


@dataclass(frozen=True)
class Change:
    """One difference between two versions of a spec and whom it breaks.

    `kind` is the change's rule id (`field-added`, `status-removed`...); `pointer` is where it is in
    NEW's document (OLD's when NEW has no such place), for annotations.
    """

    kind: str
    location: str
    old: Any
    new: Any
    breaking_for_clients: bool
    breaking_for_servers: bool
    message: str
    pointer: str = ""

    @property
    def group(self) -> str:
        """The heading this change is listed under."""
        if self.breaking_for_clients and self.breaking_for_servers:
            return GROUPS[0]
        if self.breaking_for_clients:
            return GROUPS[1]
        if self.breaking_for_servers:
            return GROUPS[2]
        return GROUPS[3]


@dataclass(frozen=True)
class SpecDiff:
    """Every change between two labelled versions of a spec."""

    old: str
    new: str
    changes: tuple[Change, ...]

    @property
    def breaking_for_clients(self) -> tuple[Change, ...]:
        return tuple(c for c in self.changes if c.breaking_for_clients)

    @property
    def breaking_for_servers(self) -> tuple[Change, ...]:
        return tuple(c for c in self.changes if c.breaking_for_servers)

    def failing(self, fail_on: str) -> tuple[Change, ...]:
        """The changes that `--fail-on` (`breaking`, `server-breaking` or `any-breaking`) fails on."""
        if fail_on == "breaking":
            return self.breaking_for_clients
        if fail_on == "server-breaking":
            return self.breaking_for_servers
        if fail_on == "any-breaking":
            return tuple(c for c in self.changes if c.breaking_for_clients or c.breaking_for_servers)
        raise ValueError(f"unknown --fail-on value {fail_on!r}")

    def summary(self) -> str:
        """One line: how many changes and how many break each side."""
        if not self.changes:
            return "no changes"
        return (
            f"{len(self.changes)} change(s): {len(self.breaking_for_clients)} breaking for clients, "
            f"{len(self.breaking_for_servers)} breaking for servers"
        )


@dataclass
class Collector:
    """The changes found so far; `pointer` is where in the document the comparison is."""

    changes: list[Change] = field(default_factory=list)
    pointer: str = ""

    def add(self, kind: str, location: str, old: Any, new: Any, impact: Impact, message: str) -> None:
        self.changes.append(Change(kind, location, old, new, impact[0], impact[1], message, self.pointer))

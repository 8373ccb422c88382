"""A diff as text (grouped by whom it breaks), JSON, Markdown, SARIF or GitHub workflow commands."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import asdict
from typing import Any

from ..lint.annotate import Annotation, github, sarif
from ..spec.locate import Locator
from .model import GROUPS, Change, SpecDiff

__all__ = ["render_github", "render_json", "render_markdown", "render_sarif", "render_text"]

_COLOURS = {
    "breaking for clients and servers": "red",
    "breaking for clients": "red",
    "breaking for servers": "yellow",
    "not breaking": "green",
}


_LEGEND = (
    "Breaking for clients: a client written against OLD may fail against a server built from NEW.\n"
    "Breaking for servers: a server still built from OLD mishandles clients written against NEW."
)


def _grouped(diff: SpecDiff) -> Iterable[tuple[str, list[Change]]]:
    for group in GROUPS:
        members = [c for c in diff.changes if c.group == group]
        if members:
            yield group, members


def render_text(diff: SpecDiff, style: Any = None) -> str:
    """Changes grouped by whom they break; `style` is `click.style` for colour, or None for plain text."""
    paint = style or (lambda text, **_: text)
    lines = [paint(f"{diff.old} -> {diff.new}: {diff.summary()}", bold=True)]
    for group, members in _grouped(diff):
        lines.append("")
        lines.append(paint(f"{group.capitalize()} ({len(members)})", fg=_COLOURS[group], bold=True))
        for change in members:
            lines.append(f"  {paint(change.kind, fg=_COLOURS[group])}  {change.location}")
            lines.append(f"      {change.message}")
    if diff.changes:
        lines += ["", paint(_LEGEND, dim=True)]
    return "\n".join(lines)


def render_json(diff: SpecDiff) -> str:
    """The diff as a JSON document: labels, counts and every change."""
    document = {
        "old": diff.old,
        "new": diff.new,
        "summary": {
            "changes": len(diff.changes),
            "breaking_for_clients": len(diff.breaking_for_clients),
            "breaking_for_servers": len(diff.breaking_for_servers),
        },
        "changes": [asdict(change) for change in diff.changes],
    }
    return json.dumps(document, indent=2, default=str)


def render_markdown(diff: SpecDiff) -> str:
    """The diff as a Markdown section for a pull-request comment."""
    lines = [f"### `{diff.old}` → `{diff.new}`", "", f"**{diff.summary()}**"]
    if not diff.changes:
        return "\n".join(lines) + "\n"
    lines += ["", "| | change | where | clients | servers |", "| --- | --- | --- | --- | --- |"]
    marks = {
        "breaking for clients and servers": "🔴",
        "breaking for clients": "🔴",
        "breaking for servers": "🟡",
        "not breaking": "🟢",
    }
    for group, members in _grouped(diff):
        for c in members:
            lines.append(
                f"| {marks[group]} | {_cell(c.message)} | `{_cell(c.location)}` (`{c.kind}`) "
                f"| {_verdict(c.breaking_for_clients)} | {_verdict(c.breaking_for_servers)} |"
            )
    lines += ["", "<sub>" + _LEGEND.replace("\n", "<br>") + "</sub>"]
    return "\n".join(lines) + "\n"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _verdict(breaking: bool) -> str:
    return "**breaking**" if breaking else "ok"


def _level(change: Change) -> str:
    """Breaking for clients is an error, for servers only a warning (deploy order), else a note."""
    if change.breaking_for_clients:
        return "error"
    return "warning" if change.breaking_for_servers else "note"


def located(diff: SpecDiff, file: str, text: str) -> list[Annotation]:
    """Each change located in NEW's file (at the deepest part of its place that NEW still has)."""
    where = Locator(file, text)
    found = []
    for change in diff.changes:
        line, column = where.position(change.pointer)
        title = f"{change.kind} ({change.group})"
        found.append(
            Annotation(file, line, column, change.kind, _level(change), change.message, change.pointer, title)
        )
    return found


def render_sarif(diff: SpecDiff, file: str, text: str) -> str:
    """The diff as a SARIF 2.1.0 log, each change a result whose rule is its kind."""
    found = located(diff, file, text)
    rules = {a.rule: (a.level, a.rule.replace("-", " ")) for a in found}
    return sarif(found, rules)


def render_github(diff: SpecDiff, file: str, text: str) -> str:
    """The diff as GitHub workflow commands that annotate NEW's file in a pull request."""
    return github(located(diff, file, text))

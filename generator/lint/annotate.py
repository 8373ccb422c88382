"""Findings as CI reads them: SARIF 2.1.0 (code scanning) and GitHub Actions workflow commands.

Lint problems and diff changes both become `Annotation`s, so the two commands share one writer of
each format.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version

__all__ = ["Annotation", "github", "sarif"]

SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
_LEVELS = {"error": "error", "warning": "warning", "note": "note"}
_COMMANDS = {"error": "error", "warning": "warning", "note": "notice"}


@dataclass(frozen=True)
class Annotation:
    """One finding at a place in a file; `level` is `error`, `warning` or `note`."""

    file: str
    line: int
    column: int
    rule: str
    level: str
    message: str
    pointer: str = ""
    title: str = ""


def sarif(annotations: Iterable[Annotation], rules: Mapping[str, tuple[str, str]]) -> str:
    """A SARIF 2.1.0 log of one run of ingestspec; `rules` maps an id to (level, summary)."""
    found = list(annotations)
    used = sorted({a.rule for a in found} | set(rules))
    driver = {
        "name": "ingestspec",
        "version": _version(),
        "rules": [
            {
                "id": rule_id,
                "shortDescription": {"text": rules.get(rule_id, ("error", rule_id))[1]},
                "defaultConfiguration": {"level": _LEVELS.get(rules.get(rule_id, ("error", ""))[0], "error")},
            }
            for rule_id in used
        ],
    }
    index = {rule_id: i for i, rule_id in enumerate(used)}
    results = [
        {
            "ruleId": a.rule,
            "ruleIndex": index[a.rule],
            "level": _LEVELS.get(a.level, "error"),
            "message": {"text": a.message},
            "locations": [
                {
                    "physicalLocation": {
                        "artifactLocation": {"uri": a.file},
                        "region": {"startLine": a.line, "startColumn": a.column},
                    },
                    **(
                        {"logicalLocations": [{"fullyQualifiedName": a.pointer, "kind": "member"}]}
                        if a.pointer
                        else {}
                    ),
                }
            ],
        }
        for a in found
    ]
    log = {
        "$schema": SARIF_SCHEMA,
        "version": "2.1.0",
        "runs": [{"tool": {"driver": driver}, "results": results}],
    }
    return json.dumps(log, indent=2)


def github(annotations: Iterable[Annotation]) -> str:
    """One `::error file=...,line=...,col=...,title=...::message` workflow command per annotation."""
    lines = []
    for a in annotations:
        title = a.title or a.rule
        properties = f"file={_property(a.file)},line={a.line},col={a.column},title={_property(title)}"
        lines.append(f"::{_COMMANDS.get(a.level, 'error')} {properties}::{_data(a.message)}")
    return "\n".join(lines)


def _data(text: str) -> str:
    """A workflow command's message, escaped as the runner unescapes it."""
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _property(text: str) -> str:
    return _data(text).replace(":", "%3A").replace(",", "%2C")


def _version() -> str:
    try:
        return version("ingestspec")
    except PackageNotFoundError:
        return "0"

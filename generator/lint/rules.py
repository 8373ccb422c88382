"""The registry of lint rules: each has an id, a severity and a one-line summary.

A check is a function from the loaded spec to findings, `(pointer, message)` pairs naming the place
in the document, registered by `@rule` under its function's name in kebab case
(`json_request_bodies` is `json-request-bodies`). Problems found before there is a spec to check
(the YAML, OpenAPI itself, the x-ingest schema, `$ref`s) have ids too, registered by `describe`, so
every problem lint prints carries an id the SARIF output can describe.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Literal

from ..spec.model import Spec

__all__ = ["RULES", "Finding", "Rule", "Severity", "describe", "rule"]

Severity = Literal["error", "warning"]
Finding = tuple[str, str]
Check = Callable[[Spec], Iterator[Finding]]


@dataclass(frozen=True)
class Rule:
    """One lint rule: `check` is None for problems found before the spec is loaded."""

    id: str
    severity: Severity
    summary: str
    check: Check | None = None


RULES: dict[str, Rule] = {}


def describe(rule_id: str, summary: str, severity: Severity = "error") -> str:
    """Register a rule that has no check of its own (lint finds it while reading); returns its id."""
    RULES[rule_id] = Rule(rule_id, severity, summary)
    return rule_id


def rule(severity: Severity = "error") -> Callable[[Check], Check]:
    """Register a check; its docstring's first line is the rule's summary."""

    def register(check: Check) -> Check:
        rule_id = check.__name__.strip("_").replace("_", "-")
        summary = (check.__doc__ or rule_id).strip().splitlines()[0]
        RULES[rule_id] = Rule(rule_id, severity, summary, check)
        return check

    return register

"""The contract suite: judges any deployment of an ingest spec against the spec's documented behaviour.

Names are imported on first use: `ingestspec` imports this package on every start, for its
`contract` command, and should not pay for the suite's dependencies then.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

__all__ = ["Target", "TargetError", "load_target", "run_suite"]
_HOMES = {"Target": "target", "TargetError": "target", "load_target": "target", "run_suite": "cli"}


def __getattr__(name: str) -> Any:
    if name in _HOMES:
        return getattr(import_module(f"{__name__}.{_HOMES[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

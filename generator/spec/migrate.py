"""Upgrade an `x-ingest` block from version 1 (the first two specs' vocabulary) to the current one.

The loader reads version-1 blocks through `upgrade`, so old specs and old revisions keep linting,
generating and diffing; `ingestspec migrate` writes the upgraded block back into the file.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from .model import X_INGEST_VERSION, pointer_of


def version_of(block: Mapping[str, Any]) -> int:
    version = block.get("version", 1)
    return version if isinstance(version, int) else 0


def upgrade(block: Mapping[str, Any]) -> dict[str, Any]:
    """The block in the current vocabulary; a current block is returned as a copy, unchanged."""
    new = copy.deepcopy(dict(block))
    if version_of(new) != 1:
        return new
    new = {"version": X_INGEST_VERSION, **new}
    dedupe = new.get("dedupe")
    if isinstance(dedupe, dict) and "key_field" in dedupe:
        dedupe_items = list(dedupe.items())
        dedupe.clear()
        for name, value in dedupe_items:
            if name == "key_field":
                dedupe["key"] = {"in": "body", "name": value}
            else:
                dedupe[name] = value
    errors = new.get("errors")
    if isinstance(errors, dict):
        renamed = {"status_field": "status", "message_field": "message", "details_field": "details"}
        upgraded: dict[str, Any] = {}
        for name, value in errors.items():
            if name in renamed and isinstance(value, str):
                upgraded[renamed[name]] = pointer_of(value)
            elif name == "catalogue" and isinstance(value, dict):
                upgraded[name] = {key: _entry(entry) for key, entry in value.items()}
            else:
                upgraded[name] = value
        new["errors"] = upgraded
    return new


def _entry(entry: Any) -> Any:
    if isinstance(entry, dict) and isinstance(entry.get("fields"), dict):
        return {**entry, "fields": {pointer_of(k): v for k, v in entry["fields"].items()}}
    return entry

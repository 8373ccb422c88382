"""Reading error bodies back against the spec's error catalogue.

A catalogue message is a template (`No event named "{event}" ...`); a body matches an entry when
its status and constant fields are the entry's and its message is the template with the
placeholders filled by anything.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Iterator, Mapping
from functools import cache
from typing import Any

from ingestspec.generator.spec import (
    PLACEHOLDERS,
    ROUTING_ERRORS,
    ErrorEntry,
    Ingest,
    Operation,
    leaves,
    pointer_get,
    pointer_parts,
)

# A placeholder as `re.escape` writes it into a message template.
_PLACEHOLDER = re.compile(r"\\\{(" + "|".join(PLACEHOLDERS) + r")\\\}")


@cache
def _message_pattern(template: str) -> re.Pattern[str]:
    return re.compile(_PLACEHOLDER.sub(lambda m: f"(?P<{m.group(1)}>.+?)", re.escape(template)) + r"\Z", re.S)


def match_entry(ingest: Ingest, entry: ErrorEntry, status: int, body: Any) -> dict[str, str] | None:
    """The placeholder values if `body` (with `status`) is an instance of `entry`, else None."""
    errors = ingest.errors
    if status != entry.status or not isinstance(body, Mapping):
        return None
    members = leaves(body)
    if set(members) - errors.pointers(entry.key):
        return None
    if errors.status_pointer and members.get(errors.status_pointer) != entry.status:
        return None
    if any(members.get(pointer) != value for pointer, value in entry.fields.items()):
        return None
    message = errors.message_of(body)
    if not isinstance(message, str):
        return None
    found = _message_pattern(entry.message).match(message)
    return found.groupdict() if found else None


def identify(ingest: Ingest, status: int, body: Any, keys: tuple[str, ...] | None = None) -> list[str]:
    """The catalogue keys (among `keys`, default all) whose template `body` is an instance of."""
    candidates = keys if keys is not None else tuple(ingest.errors.catalogue)
    return [
        key
        for key in candidates
        if key in ingest.errors.catalogue
        and match_entry(ingest, ingest.errors.catalogue[key], status, body) is not None
    ]


def operation_errors(op: Operation) -> tuple[str, ...]:
    """The catalogue keys an operation can answer: those its behaviour uses."""
    assert op.ingest is not None
    return op.ingest.used_errors()


def routing_errors(ingest: Ingest) -> tuple[str, ...]:
    return tuple(key for key in ROUTING_ERRORS if key in ingest.errors.catalogue)


def documented_error_examples(op: Operation) -> Iterator[tuple[int, str, Any]]:
    """Every example of every documented error response the server answers: (status, example name,
    body). A status x-ingest lists in `documented_only` is the vendor's own, which no catalogue entry
    renders: its examples are exempt, as lint exempts them."""
    exempt = op.ingest.documented_only if op.ingest else ()
    for response in op.responses.values():
        if response.status >= 400 and response.status not in exempt:
            for example in response.examples:
                yield response.status, example.name, example.value


def without_details(ingest: Ingest, body: Mapping[str, Any]) -> dict[str, Any]:
    """An error body minus its optional details field (the only extra a server may add)."""
    details = ingest.errors.details_pointer
    if details is None or pointer_get(body, details) is None:
        return dict(body)
    trimmed = copy.deepcopy(dict(body))
    *parents, last = pointer_parts(details)
    parent = trimmed
    for part in parents:
        parent = parent[part]
    del parent[last]
    return trimmed


# The longest wait for a rate limit the suite accepts; past it, the 429 is judged as an answer.
MAX_RATE_LIMIT_WAIT = 5.0


def rate_limit_wait(ingest: Ingest, reply: Any) -> float | None:
    """Seconds to wait when `reply` is the spec's rate-limit error with a usable Retry-After."""
    limit = ingest.rate_limit
    if limit is None or limit.error not in ingest.errors.catalogue:
        return None
    if match_entry(ingest, ingest.errors.catalogue[limit.error], reply.status, reply.json()) is None:
        return None
    after = reply.header("retry-after") or ""
    if not after.isdigit() or int(after) > MAX_RATE_LIMIT_WAIT:
        return None
    return float(after) + 0.05

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

from ingestspec.generator.spec.model import (
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


def error_content(ingest: Ingest, reply: Any) -> Any:
    """What an error reply says: its text for a text envelope, else its JSON (NOT_JSON if none)."""
    if ingest.errors.text:
        return reply.content.decode("utf-8", errors="replace")
    return reply.json()


def match_entry(
    ingest: Ingest, entry: ErrorEntry, status: int, body: Any, more: bool = False
) -> dict[str, str] | None:
    """The placeholder values if `body` (with `status`) is an instance of `entry`, else None. With
    `more`, members the entry does not place are allowed (a documented example's per-request values,
    such as Intercom's `request_id`, which lint's `error-examples-match-the-catalogue` allows too)."""
    errors = ingest.errors
    if status != entry.status or not isinstance(body, str if errors.text else Mapping):
        return None
    members = {} if errors.text else leaves(body, walk=errors.arrays())
    if not more and set(members) - errors.pointers(entry.key):
        return None
    if errors.status_pointer and members.get(errors.status_pointer) != errors.status_value(entry):
        return None
    if any(members.get(pointer) != value for pointer, value in entry.fields.items()):
        return None
    message = errors.message_of(body)
    if not isinstance(message, str):
        return None
    found = _message_pattern(entry.message).match(message)
    return found.groupdict() if found else None


def identify(
    ingest: Ingest, status: int, body: Any, keys: tuple[str, ...] | None = None, more: bool = False
) -> list[str]:
    """The catalogue keys (among `keys`, default all) whose template `body` is an instance of (with
    `more`: members the entry does not place allowed, see `match_entry`)."""
    candidates = keys if keys is not None else tuple(ingest.errors.catalogue)
    return [
        key
        for key in candidates
        if key in ingest.errors.catalogue
        and match_entry(ingest, ingest.errors.catalogue[key], status, body, more) is not None
    ]


def declared_undocumented(op: Operation, reply: Any) -> bool:
    """Whether a reply's status, which the file does not document, is one x-ingest lists in
    `errors.undocumented` and the reply is the body of an error the operation answers with it."""
    ingest = op.ingest
    if ingest is None or reply.status not in ingest.errors.undocumented or op.documented(reply.status):
        return False
    keys = ingest.used_errors() + ingest.server_errors()
    return bool(identify(ingest, reply.status, error_content(ingest, reply), keys))


def operation_errors(op: Operation) -> tuple[str, ...]:
    """The catalogue keys an operation can answer: those its behaviour uses."""
    assert op.ingest is not None
    return op.ingest.used_errors()


def routing_errors(ingest: Ingest) -> tuple[str, ...]:
    return tuple(key for key in ROUTING_ERRORS if key in ingest.errors.catalogue)


def documented_error_examples(op: Operation) -> Iterator[tuple[int, str, Any]]:
    """Every example of every documented error response the server answers: (status, example name,
    body). An example of a range (`4XX`, `default`) is of the status of the entries it documents that
    it is an instance of. A status x-ingest lists in `documented_only` is the vendor's own, which no
    catalogue entry renders: its examples are exempt, as lint exempts them."""
    assert op.ingest is not None
    catalogue = op.ingest.errors.catalogue
    exempt = op.ingest.documented_only
    for response in (*op.responses.values(), *op.ranges.values()):
        if response.status >= 400 and response.status not in exempt:
            for example in response.examples:
                yield response.status, example.name, example.value
        elif response.range:
            covered = sorted({e.status for e in catalogue.values() if op.documented(e.status) is response})
            for example in response.examples:
                said = op.ingest.errors.said_status(example.value)
                if said is not None and said not in covered:
                    continue  # a status the server never answers (a gateway's 502), as lint reads it
                found = [s for s in covered if identify(op.ingest, s, example.value)]
                yield (found or ([said] if said else covered) or [0])[0], example.name, example.value


def without_details(ingest: Ingest, body: Mapping[str, Any]) -> dict[str, Any]:
    """An error body minus its optional members, the details and the first failing value's pointer
    (the only extras a server may add)."""
    trimmed = copy.deepcopy(dict(body))
    for pointer in ingest.errors.optional():
        if pointer_get(trimmed, pointer) is None:
            continue
        *parents, last = pointer_parts(pointer)
        parent: Any = trimmed
        for part in parents:
            parent = parent[int(part)] if isinstance(parent, list) else parent[part]
        del parent[int(last) if isinstance(parent, list) else last]
        _prune(trimmed, parents)
    return trimmed


def _prune(body: dict[str, Any], parents: list[str]) -> None:
    """Drop the objects left empty on the way to a removed member (`source` of `source.pointer`)."""
    for depth in range(len(parents), 0, -1):
        node: Any = body
        for part in parents[: depth - 1]:
            node = node[int(part)] if isinstance(node, list) else node[part]
        last = parents[depth - 1]
        child = node[int(last)] if isinstance(node, list) else node[last]
        if child or isinstance(node, list):
            return
        del node[last]


# The longest wait for a rate limit the suite accepts; past it, the 429 is judged as an answer.
MAX_RATE_LIMIT_WAIT = 5.0


def rate_limit_wait(ingest: Ingest, reply: Any) -> float | None:
    """Seconds to wait when `reply` is the spec's rate-limit error with a usable Retry-After."""
    limit = ingest.rate_limit
    if limit is None or limit.error not in ingest.errors.catalogue:
        return None
    body = error_content(ingest, reply)
    if match_entry(ingest, ingest.errors.catalogue[limit.error], reply.status, body) is None:
        return None
    after = reply.header("retry-after") or ""
    if not after.isdigit() or int(after) > MAX_RATE_LIMIT_WAIT:
        return None
    return float(after) + 0.05

"""A batch never acknowledges what it did not store, for every batch spec of the corpus.

Each spec's generated server is sent, from its own documented example, a batch of two valid items
around one that names no contact. Every item the answer counts as accepted must be in the store,
and every item it does not must be named: in its result (`acceptance: per_item`), or in the
refusal of the whole batch (`acceptance: all_or_nothing`, which then stores nothing).
"""

from __future__ import annotations

import copy
import sqlite3
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import httpx
import pytest

from ingestspec.contract_tests.credentials import credentials
from ingestspec.generator.generate.build import generate
from ingestspec.generator.spec.loader import load_spec
from ingestspec.generator.spec.model import Operation, item_get, placed, pointer_parts
from tests.corpus.cases import SERVED, Served
from tests.servers import running_server


def _batch_operation(case: Served) -> Operation | None:
    return next((op for op in load_spec(case.spec).ingest_operations if op.ingest and op.ingest.batch), None)


BATCHES = [case for case in SERVED if _batch_operation(case) is not None]


def _set(document: dict[str, Any], pointer: str, value: Any) -> None:
    *parents, last = pointer_parts(pointer)
    for part in parents:
        document = document[part]
    document[last] = value


def _drop(document: dict[str, Any], pointer: str) -> None:
    *parents, last = pointer_parts(pointer)
    for part in parents:
        document = document.get(part) or {}
    document.pop(last, None)


def _example(op: Operation) -> tuple[Any, dict[str, Any]]:
    """A documented request of the batch operation (an object, or the array of items itself when
    `items_field` is `""`) and its first item."""
    at = op.ingest.items.items if op.ingest else None
    assert at is not None
    for example in op.request_examples:
        items = item_get(example.value, at) if isinstance(example.value, Mapping) or not at else None
        if isinstance(items, list) and items:
            return copy.deepcopy(example.value), copy.deepcopy(items[0])
    pytest.fail(f"{op.operation_id} documents no example batch")


def _fresh(op: Operation, item: dict[str, Any]) -> dict[str, Any]:
    """A copy of `item` with a new deduplication key (when the items carry one)."""
    assert op.ingest is not None
    fresh = copy.deepcopy(item)
    if op.ingest.items.dedupe_key:
        _set(fresh, op.ingest.items.dedupe_key, str(uuid.uuid4()))
    return fresh


def _nameless(op: Operation, item: dict[str, Any]) -> dict[str, Any]:
    """A copy of `item` without any field that could name its contact."""
    assert op.ingest is not None
    kind = op.ingest.items.kind_of(item)
    assert kind is not None
    found = _fresh(op, item)
    for field in kind.identity.fields:
        _drop(found, field.pointer)
    return found


def _rows(db: Path) -> int:
    with sqlite3.connect(db) as conn:
        return int(conn.execute("SELECT count(*) FROM events").fetchone()[0])


@pytest.mark.parametrize("case", BATCHES, ids=lambda case: case.name)
def test_every_item_counted_as_accepted_is_stored_and_every_other_is_named(
    case: Served, tmp_path: Path
) -> None:
    op = _batch_operation(case)
    assert op is not None and op.ingest is not None and op.ingest.batch is not None
    batch, items_at = op.ingest.batch, op.ingest.items.items
    assert items_at is not None
    spec = load_spec(case.spec)
    generate(case.spec, tmp_path / case.package)
    request, item = _example(op)
    creds = credentials(op, case.keys()[0])
    db = tmp_path / "events.db"

    def send(items: list[dict[str, Any]]) -> httpx.Response:
        body = placed(copy.deepcopy(request) if isinstance(request, dict) else {}, items_at, items)
        url = creds.url(f"{server.base_url}{op.path}")
        return httpx.request(op.method, url, json=creds.into(body), headers=dict(creds.headers), timeout=10)

    with running_server(
        case.package, case.config, f"sqlite:///{db}", spec.base_path, log_dir=tmp_path, pythonpath=tmp_path
    ) as server:
        # The documented item is accepted on its own: the batch below fails only for its nameless item.
        control = send([_fresh(op, item)])
        assert control.status_code == batch.response.status, control.text
        assert _rows(db) == 1
        reply = send([_fresh(op, item), _nameless(op, item), _fresh(op, item)])
    if batch.acceptance == "all_or_nothing":
        assert reply.status_code == op.ingest.errors.catalogue[op.ingest.identity.missing_error].status, (
            reply.text
        )
        assert _rows(db) == 1, "a refused batch stored some of its items"
        details = op.ingest.errors.details_of(reply.json())
        if op.ingest.errors.details_pointer:  # the refusal names the item when the envelope can say where
            assert [d[op.ingest.errors.detail_item.path] for d in details] == [f"{items_at}/1"]
        return
    assert reply.status_code == batch.response.status, reply.text
    results = batch.response.unwrap(reply.json())[
        next(f.name for f in batch.response.fields if f.source == "results")
    ]
    assert batch.result is not None
    status = next(f.name for f in batch.result.fields if f.source == "status")
    accepted = [r for r in results if r[status] < 400]
    assert _rows(db) == 1 + len(accepted)
    assert [i for i, r in enumerate(results) if r[status] >= 400] == [1]

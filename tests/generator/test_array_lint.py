"""Lint of batches whose body is itself the array of events (x-ingest `items_field: ""`): accepted
where the request schema is an array, refused at its place otherwise
(tests/generated_server/specs/array.yaml, broken one thing at a time)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from ingestspec.generator.diff import diff_specs
from ingestspec.generator.lint.linter import lint
from ingestspec.generator.spec.loader import load_spec
from ingestspec.generator.spec.model import ItemRules, placed
from ingestspec.generator.starter.vendor import propose_file
from tests.generator.test_init_from import stripped
from tests.generator.test_lint import assert_refused_at
from tests.specs import edited_file

ARRAY = Path(__file__).parents[1] / "generated_server" / "specs" / "array.yaml"
IMPORT = "/paths/~1import/post"

Edit = Callable[[dict[str, Any]], None]


def block(document: dict[str, Any]) -> dict[str, Any]:
    found: dict[str, Any] = document["paths"]["/import"]["post"]["x-ingest"]
    return found


def named_field(document: dict[str, Any]) -> None:
    block(document)["batch"]["items_field"] = "events"


def not_a_batch(document: dict[str, Any]) -> None:
    del block(document)["batch"]


def an_object_body(document: dict[str, Any]) -> None:
    events = document["components"]["schemas"]["Events"]
    document["components"]["schemas"]["Events"] = {"type": "object", "properties": {"events": events}}


# name: (edit, where, what the message says)
BROKEN: dict[str, tuple[Edit, str, str]] = {
    "an array body read from a field": (
        named_field,
        f"{IMPORT}/x-ingest/batch/items_field",
        'the request body is itself the array, which the empty JSON Pointer names (`items_field: ""`)',
    ),
    "an array body without a batch": (
        not_a_batch,
        f"{IMPORT}/requestBody",
        "the request body is a JSON array, which only a batch reads",
    ),
    "the empty pointer on an object body": (
        an_object_body,
        f"{IMPORT}/x-ingest/batch/items_field",
        "batch items_field '' is not an array of the request schema",
    ),
}


def broken(tmp_path: Path, edit: Edit) -> Path:
    return edited_file(tmp_path, ARRAY, edit)


@pytest.mark.parametrize("case", sorted(BROKEN))
def test_lint_refuses_it_at_its_place(tmp_path: Path, case: str) -> None:
    edit, pointer, expected = BROKEN[case]
    assert_refused_at(broken(tmp_path, edit), expected, pointer)


def test_the_model_reads_the_body_as_the_items() -> None:
    """`""` names the body itself: the items are the array, each read by the item rules."""
    op = load_spec(ARRAY).operation("importEvents")
    rules: ItemRules = op.ingest.items  # type: ignore[union-attr]
    assert rules.items == ""
    assert op.item_schema["required"] == ["event", "properties"]
    body = placed({}, rules.items, [{"event": "Paid", "properties": {"distinct_id": "u1", "time": 1}}])
    assert isinstance(body, list)
    read = rules.read(body[0])
    assert read is not None and (read.event, read.identity[1] if read.identity else None) == ("Paid", "u1")
    assert placed({}, "/events", [1]) == {"events": [1]}


def test_diff_says_the_items_moved_to_the_body_itself(tmp_path: Path) -> None:
    """A batch whose events move from a field of an object body to the body itself breaks both sides."""
    wrapped = tmp_path / "wrapped.yaml"
    document = yaml.safe_load(ARRAY.read_text())
    an_object_body(document)
    block(document)["batch"]["items_field"] = "events"
    wrapped.write_text(yaml.safe_dump(document, sort_keys=False))
    found = diff_specs(load_spec(wrapped), load_spec(ARRAY)).changes
    changes = [c for c in found if c.kind.startswith("batch-")]
    assert [(c.kind, c.old, c.new, c.breaking_for_clients, c.breaking_for_servers) for c in changes] == [
        ("batch-items-field-changed", "events", "", True, True)
    ]
    assert "from 'events' to the body itself (an array)" in changes[0].message


def test_init_from_proposes_the_empty_pointer_for_an_array_body(tmp_path: Path) -> None:
    """`init --from` a file whose body is a bare array: `items_field: ""`, no TODO, and lint passes."""
    proposed = propose_file(stripped(ARRAY, tmp_path))
    assert not [p for each in proposed.proposals for p, _ in each.todos if p.endswith("/items_field")]
    out = tmp_path / "proposed.yaml"
    out.write_text(proposed.spec_text)
    ops = load_spec(out).ingest_operations
    assert [op.ingest.batch.items_field for op in ops if op.ingest and op.ingest.batch] == ["", ""]
    assert not [p for p in lint(out) if p.rule == "named-fields-exist"]

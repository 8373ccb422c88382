"""Lint of keyless collectors (x-ingest `project_field`) and of batches answered with a text: what
the server cannot serve as declared is refused at its place (tests/generated_server/specs/keyless.yaml,
broken one thing at a time)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from ingestspec.generator.errors import SpecError
from ingestspec.generator.spec.loader import load_spec
from tests.generator.test_lint import assert_refused_at
from tests.specs import edited_file

KEYLESS = Path(__file__).parents[1] / "generated_server" / "specs" / "keyless.yaml"
TRACK, BATCH = "/paths/~1track/post", "/paths/~1batch/post"

Edit = Callable[[dict[str, Any]], None]


def block(document: dict[str, Any], path: str) -> dict[str, Any]:
    found: dict[str, Any] = document["paths"][path]["post"]["x-ingest"]
    return found


def no_project_field(document: dict[str, Any]) -> None:
    del block(document, "/track")["project_field"]


def a_key_too(document: dict[str, Any]) -> None:
    document["components"]["securitySchemes"] = {"token": {"type": "http", "scheme": "bearer"}}
    document["paths"]["/track"]["post"]["security"] = [{"token": []}]


def an_undeclared_field(document: dict[str, Any]) -> None:
    block(document, "/batch")["project_field"] = "/properties/project"


def per_item(document: dict[str, Any]) -> None:
    block(document, "/batch")["batch"]["acceptance"] = "per_item"


def another_text(document: dict[str, Any]) -> None:
    block(document, "/batch")["batch"]["response"] = {"status": 200, "text": "Accepted"}


# name: (edit, where, what the message says)
BROKEN: dict[str, tuple[Edit, str, str]] = {
    "a keyless operation naming no project": (
        no_project_field,
        TRACK,
        "for a keyless collector, x-ingest project_field",
    ),
    "a project token and a key": (
        a_key_too,
        f"{TRACK}/x-ingest/project_field",
        "by x-ingest project_field and by security scheme 'token'",
    ),
    "a project field the item lacks": (
        an_undeclared_field,
        f"{BATCH}/x-ingest/project_field",
        "names request field '/properties/project'",
    ),
    "a text answer naming no refused item, per item": (
        per_item,
        f"{BATCH}/x-ingest/batch",
        "cannot say which items were refused",
    ),
    "a text answer its schema refuses": (
        another_text,
        f"{BATCH}/x-ingest/batch/response/text",
        "does not match the documented schema",
    ),
}


def broken(tmp_path: Path, edit: Edit) -> Path:
    return edited_file(tmp_path, KEYLESS, edit)


@pytest.mark.parametrize("case", sorted(BROKEN))
def test_lint_refuses_it_at_its_place(tmp_path: Path, case: str) -> None:
    edit, pointer, expected = BROKEN[case]
    assert_refused_at(broken(tmp_path, edit), expected, pointer)


def test_an_item_result_cannot_be_a_text(tmp_path: Path) -> None:
    def text_result(document: dict[str, Any]) -> None:
        block(document, "/batch")["batch"]["result"] = {"text": "OK"}

    with pytest.raises(SpecError) as raised:
        load_spec(broken(tmp_path, text_result))
    assert "/paths/~1batch/post/x-ingest/batch/result" in str(raised.value)


def test_the_model_reads_the_project_of_each_item() -> None:
    spec = load_spec(KEYLESS)
    rules = spec.operation("batch").ingest.items  # type: ignore[union-attr]
    assert rules.project == "/properties/token"
    assert ("/project_field", "/properties/token", None) in rules.locations()
    assert spec.operation("batch").ingest.batch.response.kind == "text"  # type: ignore[union-attr]

"""Form-encoded bodies carrying JSON in a field, over HTTP, as Mixpanel's SDK sends `data=<base64 JSON>`:
the form's media type beside application/json, the field declared by `contentMediaType` (and
`contentEncoding: base64`); the JSON inside is judged like a JSON body."""

from __future__ import annotations

import asyncio
import base64
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
import orjson
import pytest

from generated_server.sendrealm.storage import open_storage
from ingestspec.generator.generate.build import generate
from ingestspec.generator.lint.linter import lint
from ingestspec.generator.spec.loader import load_spec
from tests.conftest import EXAMPLE_CONFIG
from tests.generated_server.conftest import ACME_KEY
from tests.servers import RunningServer, running_server
from tests.specs import edited, op

FORM = "application/x-www-form-urlencoded"
BODY = {"event": "order.completed", "external_id": "c-9", "payload": {"order_id": "o-9"}}


def form_beside_json(document: dict[str, Any]) -> None:
    content = op(document)["requestBody"]["content"]
    content[FORM] = {
        "schema": {
            "type": "object",
            "required": ["data"],
            "properties": {
                "data": {
                    "type": "string",
                    "contentEncoding": "base64",
                    "contentMediaType": "application/json",
                    "contentSchema": {"$ref": "#/components/schemas/IngestEventRequest"},
                },
                "verbose": {"type": "string"},
            },
        }
    }


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[RunningServer, str]]:
    tmp = tmp_path_factory.mktemp("forms")
    spec = edited(tmp, "sendrealm", form_beside_json, "forms")
    assert lint(spec) == []
    generate(spec, tmp / "forms_api")
    db = f"sqlite:///{tmp / 'events.db'}"
    with running_server("forms_api", EXAMPLE_CONFIG, db, "", log_dir=tmp, pythonpath=tmp) as server:
        yield server, db


def post(server: RunningServer, content: bytes, media_type: str = FORM) -> httpx.Response:
    headers = {"Authorization": f"Bearer {ACME_KEY}", "Content-Type": media_type}
    return httpx.post(f"{server.base_url}/events", content=content, headers=headers, timeout=10)


async def fetch(url: str, event_id: str) -> Any:
    async with open_storage(url) as storage:
        return await storage.get("acme", event_id)


def test_the_json_in_the_form_field_is_the_request(served: tuple[RunningServer, str]) -> None:
    server, db = served
    data = base64.b64encode(orjson.dumps(BODY)).decode()
    for content, media_type in [
        (urlencode({"data": data, "verbose": "1"}).encode(), FORM),
        (urlencode({"data": data}).encode(), FORM + "; charset=utf-8"),
        (orjson.dumps(BODY), "application/json"),
    ]:
        answer = post(server, content, media_type)
        assert answer.status_code == 202, (media_type, answer.text)
        stored = asyncio.run(fetch(db, answer.json()["data"]["id"]))
        assert (stored.identity_value, orjson.loads(stored.payload)) == ("c-9", BODY["payload"])


def test_a_form_without_its_json_is_refused(served: tuple[RunningServer, str]) -> None:
    server, _ = served
    good = base64.b64encode(orjson.dumps(BODY)).decode()
    for content, path, status in [
        (b"verbose=1", "form.data", 400),
        (urlencode([("data", good), ("data", good)]).encode(), "form.data", 400),
        (b"data=not*base64", "form.data", 400),
        (
            urlencode({"data": base64.b64encode(orjson.dumps({**BODY, "extra": 1})).decode()}).encode(),
            "",
            400,
        ),
        (b"\xff\xfe", "form.data", 400),
    ]:
        answer = post(server, content)
        assert answer.status_code == status, (content, answer.text)
        assert answer.json()["errors"][0]["path"] == path, answer.text
    not_json = post(server, urlencode({"data": base64.b64encode(b"{nope").decode()}).encode())
    assert not_json.status_code == 400 and not_json.json()["detail"] == "The request body is not valid JSON."


def test_lint_wants_one_field_that_carries_json(tmp_path: Path) -> None:
    def no_carrier(document: dict[str, Any]) -> None:
        form_beside_json(document)
        del op(document)["requestBody"]["content"][FORM]["schema"]["properties"]["data"]["contentMediaType"]

    def other_schema(document: dict[str, Any]) -> None:
        form_beside_json(document)
        data = op(document)["requestBody"]["content"][FORM]["schema"]["properties"]["data"]
        data["contentSchema"] = {"type": "object"}

    where = "/paths/~1events/post/requestBody/content/application~1x-www-form-urlencoded"
    for edit, pointer, message in [
        (no_carrier, where, "give exactly one property `contentMediaType: application/json`"),
        (other_schema, where + "/schema/properties/data/contentSchema", "contentSchema differs"),
    ]:
        problems = lint(edited(tmp_path, "sendrealm", edit, edit.__name__))
        assert [(p.pointer, message in p.message) for p in problems] == [(pointer, True)], problems


def test_a_form_only_body_is_judged_by_its_content_schema(tmp_path: Path) -> None:
    def form_only(document: dict[str, Any]) -> None:
        form_beside_json(document)
        content = op(document)["requestBody"]["content"]
        del content["application/json"]

    spec = load_spec(edited(tmp_path, "sendrealm", form_only))
    operation = spec.ingest_operations[0]
    assert operation.form is not None and operation.form.base64
    assert operation.request_schema["properties"]["event"]["type"] == "string"
    assert operation.request_examples == ()

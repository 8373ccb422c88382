"""Batches whose body is itself the array of events (specs/array.yaml, x-ingest `items_field: ""`),
over HTTP against the generated server, on both stores.

`/import` is all or nothing and answers the text `1`; `/batch` stores the valid events and names
each refused one in `results`. The claims: every event of an array is stored whole; the limits
hold (more than `max_items` events, the body size); a body that is not an array is the documented
400 and stores nothing; an empty array stores nothing and says so; a refused event is named by
its index pointer in the request (`/3/properties/n`), or by its index in the answer's results.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from ingestspec.generator.generate.build import generate
from ingestspec.generator.lint.linter import lint
from tests.runtime.test_migrations import run_sql
from tests.servers import RunningServer, running_server

ARRAY = Path(__file__).parent / "specs" / "array.yaml"
KEY = "ar_key_alpha"
CONFIG = {
    "projects": [
        {
            "id": "alpha",
            "api_keys": [KEY],
            "events": {"Paid": {"schema": {"type": "object", "properties": {"n": {"type": "integer"}}}}},
        }
    ]
}


@pytest.fixture(scope="module")
def served(store_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[RunningServer, str]]:
    tmp = tmp_path_factory.mktemp("array")
    generate(ARRAY, tmp / "array_api")
    config = tmp / "config.yaml"
    config.write_text(yaml.safe_dump(CONFIG))
    with running_server("array_api", config, store_url, "/v1", log_dir=tmp, pythonpath=tmp) as server:
        yield server, store_url


def event(name: str = "Signed Up", **properties: Any) -> dict[str, Any]:
    own = {"distinct_id": "u1", "time": 1796536680, "$insert_id": uuid.uuid4().hex}
    return {"event": name, "properties": {**own, **properties}}


def post(server: RunningServer, path: str, body: Any, **headers: str) -> httpx.Response:
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    sent = {"Authorization": f"Bearer {KEY}", "Content-Type": "application/json", **headers}
    return httpx.post(f"{server.base_url}{path}", content=content, headers=sent, timeout=10)


def stored(store_url: str, *items: dict[str, Any]) -> list[tuple[str, Any]]:
    """(event, item) of the stored events carrying these items' `$insert_id`s, in their order."""
    keys = [item["properties"]["$insert_id"] for item in items]
    rows = run_sql(store_url, "SELECT event, item FROM events")
    found: list[tuple[str, Any]] = [
        (str(e), json.loads(i) if isinstance(i, str | bytes) else i) for e, i in rows
    ]
    mine = [row for row in found if row[1]["properties"].get("$insert_id") in keys]
    return sorted(mine, key=lambda row: keys.index(row[1]["properties"]["$insert_id"]))


def test_the_spec_lints_clean() -> None:
    assert [str(problem) for problem in lint(ARRAY)] == []


@pytest.mark.parametrize("path", ["/import", "/batch"])
def test_every_event_of_the_array_is_stored_whole(served: tuple[RunningServer, str], path: str) -> None:
    server, store_url = served
    items = [event(), event("Paid", n=3, plan={"tier": "pro", "seats": [1, 2]})]
    reply = post(server, path, items)
    assert reply.status_code == 200, reply.text
    if path == "/import":
        assert (reply.text, reply.headers["content-type"].split(";")[0]) == ("1", "text/plain")
    else:
        assert reply.json()["accepted"] == 2 and reply.json()["rejected"] == 0
    assert stored(store_url, *items) == [("Signed Up", items[0]), ("Paid", items[1])]


@pytest.mark.parametrize("path", ["/import", "/batch"])
def test_a_body_that_is_not_an_array_is_the_documented_400(
    served: tuple[RunningServer, str], path: str
) -> None:
    server, store_url = served
    one = event()
    for body in (one, {"events": [one]}, "1", None):
        reply = post(server, path, body)
        assert (reply.status_code, reply.json()["error"]) == (400, "some events failed validation"), body
        assert reply.json()["failed_records"] == [{"field": "", "message": "the body must be a JSON array"}]
    assert stored(store_url, one) == []


def test_an_empty_array_stores_nothing_and_says_so(served: tuple[RunningServer, str]) -> None:
    server, _ = served
    assert post(server, "/batch", []).json() == {"accepted": 0, "rejected": 0, "results": []}
    assert post(server, "/import", []).text == "1"


@pytest.mark.parametrize("path", ["/import", "/batch"])
def test_more_than_max_items_refuses_the_array(served: tuple[RunningServer, str], path: str) -> None:
    server, store_url = served
    items = [event() for _ in range(6)]
    reply = post(server, path, items)
    assert reply.status_code == 400, reply.text
    assert reply.json()["failed_records"][0]["field"] == ""
    assert stored(store_url, *items) == []


def test_a_body_past_the_size_limit_is_413(served: tuple[RunningServer, str]) -> None:
    server, store_url = served
    items = [event(padding="x" * 40000), event(padding="y" * 40000)]
    reply = post(server, "/import", items)
    assert (reply.status_code, reply.json()["error"]) == (413, "larger than 65536 bytes")
    assert stored(store_url, *items) == []


def test_all_or_nothing_names_the_refused_event_by_its_index(served: tuple[RunningServer, str]) -> None:
    server, store_url = served
    items = [event(), event(), event(), event("Paid", n="three")]
    reply = post(server, "/import", items)
    assert reply.status_code == 422, reply.text
    # The item's index, then where in its payload (a payload's failures are named within it).
    assert [r["field"] for r in reply.json()["failed_records"]] == ["/3/n"]
    # A number past what is stored as sent is named the same way, before any event is judged.
    raw = json.dumps([event(), event(), event(), event("Paid")]).encode()
    raw = raw[: raw.rindex(b"}}")] + b', "n": 1e400}}]'
    reply = post(server, "/import", raw)
    assert reply.status_code == 400, reply.text
    assert [r["field"] for r in reply.json()["failed_records"]] == ["/3/properties/n"]
    assert stored(store_url, *items) == []


def test_per_item_acceptance_stores_the_others_and_names_the_refused_one(
    served: tuple[RunningServer, str],
) -> None:
    server, store_url = served
    items = [event(), event(), event(), event("Paid", n="three"), event()]
    del items[1]["properties"]["distinct_id"]
    reply = post(server, "/batch", items)
    assert reply.status_code == 200, reply.text
    answer = reply.json()
    assert (answer["accepted"], answer["rejected"]) == (3, 2)
    results = answer["results"]
    assert [r["status"] for r in results] == [200, 400, 200, 422, 200]
    assert [r["field"] for r in results[3]["error"]["failed_records"]] == ["/n"]
    assert results[1]["error"]["error"] == "'properties.distinct_id' is missing"
    assert stored(store_url, *items) == [("Signed Up", items[i]) for i in (0, 2, 4)]

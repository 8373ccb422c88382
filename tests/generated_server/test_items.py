"""How items are read (specs/items.yaml), over HTTP against the generated server, on both stores.

- `/batch`: items of three kinds in one batch (`oneOf` + `discriminator: type`), each read by its
  own rules; a null `anonymousId` is absent; a constant `{"success": true}` answer, so one refused
  item refuses the batch (`acceptance: all_or_nothing`) and nothing of it is stored;
- `/import`: the same items at `/data/events`, answered per item (`acceptance: per_item`);
- `/track`: the identity, time, deduplication key and payload all below the top level.

Every stored event keeps the whole item as the client sent it.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from ingestspec.generator.lint.linter import lint
from tests.generated_server.conftest import ACME_KEY
from tests.generated_server.test_several_operations import SPECS, serve_spec
from tests.runtime.test_migrations import run_sql
from tests.servers import RunningServer

ITEMS = SPECS / "items.yaml"


@pytest.fixture(scope="module")
def items(store_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[RunningServer, str]]:
    for server in serve_spec(ITEMS, "items_api", store_url, tmp_path_factory.mktemp("items")):
        yield server, store_url


def post(server: RunningServer, path: str, body: Any) -> httpx.Response:
    return httpx.post(
        f"{server.base_url}{path}", json=body, headers={"Authorization": f"Bearer {ACME_KEY}"}, timeout=10
    )


def stored(store_url: str, *keys: str) -> dict[str, dict[str, Any]]:
    """The stored events with these idempotency keys, by key: their columns, JSON ones parsed."""
    listed = ", ".join(f"'{key}'" for key in keys)  # the tests' own uuids: nothing to escape
    rows = run_sql(
        store_url,
        "SELECT idempotency_key, event, identity_type, identity_value, payload, occurred_at, item "
        f"FROM events WHERE idempotency_key IN ({listed})",
    )
    names = ("event", "identity_type", "identity_value", "payload", "occurred_at", "item")
    found = {}
    for key, *values in rows:
        row: dict[str, Any] = dict(zip(names, values, strict=True))
        for name in ("payload", "item"):
            if isinstance(row[name], str | bytes):
                row[name] = json.loads(row[name])
        found[str(key)] = row
    return found


def key() -> str:
    return str(uuid.uuid4())


def test_the_spec_lints_clean() -> None:
    assert [str(problem) for problem in lint(ITEMS)] == []


def test_a_mixed_batch_stores_each_kind_by_its_own_rules(items: tuple[RunningServer, str]) -> None:
    server, store_url = items
    track: dict[str, Any] = {
        "type": "track",
        "messageId": key(),
        "userId": "u1",
        "anonymousId": None,
        "event": "Item Purchased",
        "properties": {"revenue": 14.99},
        "context": {"ip": "24.5.68.47"},
    }
    identify: dict[str, Any] = {
        "type": "identify",
        "messageId": key(),
        "anonymousId": "anon-7",
        "context": {"traits": {"plan": "pro"}, "library": {"name": "sdk"}},
    }
    page: dict[str, Any] = {
        "type": "page",
        "messageId": key(),
        "userId": "u2",
        "name": "Home",
        "properties": {"path": "/"},
    }
    reply = post(server, "/batch", {"batch": [track, identify, page], "sentAt": "2026-06-08T14:15:00Z"})
    assert (reply.status_code, reply.json()) == (200, {"success": True})
    rows = stored(store_url, track["messageId"], identify["messageId"], page["messageId"])
    assert [
        (rows[item["messageId"]]["event"], rows[item["messageId"]]["identity_value"])
        for item in (track, identify, page)
    ] == [("Item Purchased", "u1"), ("identify", "anon-7"), ("page", "u2")]
    assert rows[identify["messageId"]]["identity_type"] == "anonymous"
    assert rows[identify["messageId"]]["payload"] == {"plan": "pro"}  # identify's payload is /context/traits
    assert rows[page["messageId"]]["payload"] == {"path": "/"}
    # Nothing the client sent is lost: the whole item, null and context included.
    for item in (track, identify, page):
        assert rows[item["messageId"]]["item"] == item


def test_one_refused_item_refuses_a_batch_that_cannot_name_it(items: tuple[RunningServer, str]) -> None:
    server, store_url = items
    valid: dict[str, Any] = {"type": "track", "messageId": key(), "userId": "u1", "event": "Signed Up"}
    # null means absent: this item names no contact.
    nameless: dict[str, Any] = {"type": "page", "messageId": key(), "anonymousId": None}
    reply = post(server, "/batch", {"batch": [valid, nameless]})
    assert reply.status_code == 400
    assert reply.json()["code"] == "missing_identity"
    assert [d["path"] for d in reply.json()["details"]] == ["/batch/1"]
    assert stored(store_url, valid["messageId"], nameless["messageId"]) == {}


def test_an_item_of_an_unknown_kind_is_refused_at_its_discriminator(items: tuple[RunningServer, str]) -> None:
    server, store_url = items
    valid: dict[str, Any] = {"type": "track", "messageId": key(), "userId": "u1", "event": "Signed Up"}
    alias: dict[str, Any] = {"type": "alias", "messageId": key(), "userId": "u1", "previousId": "a"}
    reply = post(server, "/batch", {"batch": [valid, alias]})
    assert (reply.status_code, reply.json()["code"]) == (400, "invalid_request")
    assert [d["path"] for d in reply.json()["details"]] == ["/batch/1/type"]
    assert stored(store_url, valid["messageId"]) == {}


def test_an_item_breaking_its_kinds_schema_is_refused(items: tuple[RunningServer, str]) -> None:
    server, store_url = items
    # A track item must name its event: its branch of the oneOf requires it.
    eventless: dict[str, Any] = {"type": "track", "messageId": key(), "userId": "u1"}
    reply = post(server, "/batch", {"batch": [eventless]})
    assert (reply.status_code, reply.json()["code"]) == (400, "invalid_request")
    assert all(d["path"].startswith("/batch/0") for d in reply.json()["details"])
    assert stored(store_url, eventless["messageId"]) == {}


def test_per_item_results_name_every_refused_item(items: tuple[RunningServer, str]) -> None:
    server, store_url = items
    sent: list[dict[str, Any]] = [
        {"type": "track", "messageId": key(), "userId": "u1", "event": "Signed Up"},
        {"type": "track", "messageId": key(), "event": "Signed Up"},  # no contact
        {"type": "identify", "messageId": key(), "userId": "u3", "context": {"traits": {"a": 1}}},
        {"type": "screen", "messageId": key(), "userId": "u4"},  # a kind the spec does not take
    ]
    reply = post(server, "/import", {"data": {"events": sent}})
    assert reply.status_code == 200
    answer = reply.json()
    assert answer["accepted"] == 2
    assert [(r["index"], r["status"]) for r in answer["results"]] == [(0, 200), (1, 400), (2, 200), (3, 400)]
    rows = stored(store_url, *(item["messageId"] for item in sent))
    # Every item answered as accepted is stored, and only those.
    accepted = {sent[r["index"]]["messageId"] for r in answer["results"] if r["status"] == 200}
    assert set(rows) == accepted
    assert answer["results"][3]["error"]["details"][0]["path"] == "/type"


def test_fields_below_the_top_level_are_read_by_their_pointers(items: tuple[RunningServer, str]) -> None:
    server, store_url = items
    insert_id = key()
    body: dict[str, Any] = {
        "event": "Played",
        "properties": {"distinct_id": "p-1", "time": 1733461200, "$insert_id": insert_id},
    }
    first = post(server, "/track", body)
    assert (first.status_code, first.json()) == (200, {"success": True})
    again = post(server, "/track", body)  # the key below the top level deduplicates
    assert again.status_code == 200
    rows = stored(store_url, insert_id)
    assert list(rows) == [insert_id]
    row = rows[insert_id]
    assert (row["event"], row["identity_type"], row["identity_value"]) == ("Played", "person", "p-1")
    assert row["occurred_at"].startswith("2024-12-06T05:00:00")
    assert row["payload"] == body["properties"]
    assert row["item"] == body


def test_a_nested_identity_that_is_missing_is_refused(items: tuple[RunningServer, str]) -> None:
    server, _ = items
    reply = post(server, "/track", {"event": "Played", "properties": {"time": 1}})
    assert (reply.status_code, reply.json()["code"]) == (400, "missing_identity")

"""Values read from path parameters (specs/paths.yaml), over HTTP against the generated server, on
both stores: a profile update by PUT served as the constant event `profile_updated` of the person
in the path, its whole body the payload; an event of the person in the path, where a body naming
a user beside it is the conflict (`exactly_one`); an event named by the path.

The path's value (URL-decoded) is the stored identity or event name; the stored item is the body
as sent.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import httpx
import pytest

from ingestspec.generator.lint.linter import lint
from tests.generated_server.conftest import ACME_KEY
from tests.generated_server.test_several_operations import SPECS, serve_spec
from tests.runtime.test_migrations import run_sql
from tests.servers import RunningServer

PATHS = SPECS / "paths.yaml"


@pytest.fixture(scope="module")
def paths(store_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[RunningServer, str]]:
    for server in serve_spec(PATHS, "paths_api", store_url, tmp_path_factory.mktemp("paths")):
        yield server, store_url


def send(server: RunningServer, method: str, path: str, body: Any) -> httpx.Response:
    headers = {"Authorization": f"Bearer {ACME_KEY}"}
    return httpx.request(method, f"{server.base_url}{path}", json=body, headers=headers, timeout=10)


def stored(store_url: str, identity: str) -> list[dict[str, Any]]:
    """The stored events of one identity value: their columns, JSON ones parsed."""
    escaped = identity.replace("'", "''")
    rows = run_sql(
        store_url,
        "SELECT event, identity_type, identity_value, payload, occurred_at, item "
        f"FROM events WHERE identity_value = '{escaped}'",
    )
    names = ("event", "identity_type", "identity_value", "payload", "occurred_at", "item")
    found = []
    for values in rows:
        row: dict[str, Any] = dict(zip(names, values, strict=True))
        for name in ("payload", "item"):
            if isinstance(row[name], str | bytes):
                row[name] = json.loads(row[name])
        found.append(row)
    return found


def person() -> str:
    # An at sign and a space: SDKs URL-quote the person; the server stores it decoded.
    return f"a@b.example {uuid.uuid4()}"


def test_the_spec_lints_clean() -> None:
    assert [str(problem) for problem in lint(PATHS)] == []


def test_a_profile_update_by_put_is_the_constant_event_of_the_person_in_the_path(
    paths: tuple[RunningServer, str],
) -> None:
    server, store_url = paths
    who = person()
    attributes = {"email": "ada@example.com", "plan": "pro", "updated_at": "2026-06-08T14:15:00Z"}
    reply = send(server, "PUT", f"/people/{quote(who, safe='')}", attributes)
    assert (reply.status_code, reply.json()) == (200, {"success": True})
    [row] = stored(store_url, who)
    assert (row["event"], row["identity_type"], row["identity_value"]) == ("profile_updated", "person", who)
    assert row["payload"] == attributes  # the empty pointer: the whole body
    assert row["item"] == attributes
    assert row["occurred_at"].startswith("2026-06-08T14:15:00")


def test_the_person_in_the_path_names_the_contact_and_the_body_may_not_name_another(
    paths: tuple[RunningServer, str],
) -> None:
    server, store_url = paths
    who = person()
    event = {"event": "Played", "properties": {"track": 7}}
    reply = send(server, "POST", f"/people/{quote(who, safe='')}/events", event)
    assert (reply.status_code, reply.json()) == (200, {"success": True})
    [row] = stored(store_url, who)
    assert (row["event"], row["identity_type"], row["payload"], row["item"]) == (
        "Played",
        "person",
        {"track": 7},
        event,
    )
    conflicting = send(server, "POST", f"/people/{quote(who, safe='')}/events", {**event, "userId": "u1"})
    assert (conflicting.status_code, conflicting.json()["code"]) == (400, "identity_conflict")
    assert len(stored(store_url, who)) == 1


def test_the_event_named_by_the_path(paths: tuple[RunningServer, str]) -> None:
    server, store_url = paths
    user = f"u-{uuid.uuid4()}"
    reply = send(server, "POST", "/streams/page%20views/events", {"userId": user, "properties": {"n": 1}})
    assert reply.status_code == 200
    [row] = stored(store_url, user)
    assert (row["event"], row["identity_type"]) == ("page views", "user")


def test_a_path_value_its_parameter_schema_refuses_is_an_invalid_request(
    paths: tuple[RunningServer, str],
) -> None:
    server, store_url = paths
    too_long = "p" * 65
    reply = send(server, "PUT", f"/people/{too_long}", {"email": "x@example.com"})
    assert (reply.status_code, reply.json()["code"]) == (400, "invalid_request")
    assert reply.json()["details"][0]["path"] == "path.person"
    assert stored(store_url, too_long) == []

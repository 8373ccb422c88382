"""The generated Sendrealm server over HTTP: resolution order, dedupe, reserved names, limits."""

from __future__ import annotations

import concurrent.futures
import re
import uuid

import httpx
import pytest

from ingestspec.generator.spec.loader import load_spec
from tests.conftest import SPECS
from tests.servers import RunningServer

from .conftest import GLOBEX_KEY, client

OP = load_spec(SPECS["sendrealm"]).operation("ingestEvent")
UUID7 = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")
PROBLEM = "application/problem+json"


def send(server: RunningServer, body: object, key: str = "be_acme_test_key") -> httpx.Response:
    with client(key) as c:
        return c.post(server.base_url + "/events", json=body)


def key() -> str:
    return f"test-{uuid.uuid4()}"


@pytest.mark.parametrize("example", OP.request_examples, ids=lambda e: e.name)
def test_documented_examples_are_accepted(sendrealm: RunningServer, example: object) -> None:
    body = dict(example.value)  # type: ignore[attr-defined]
    body["idempotency_key"] = key()  # the documented keys would replay across runs of this module
    response = send(sendrealm, body)
    assert response.status_code == 202, response.text
    data = response.json()["data"]
    assert UUID7.match(data["id"])
    assert data["event"] == "order.completed"
    assert (data["resolved_identity_type"], data["resolved_identity_value"]) == (
        "contact_id",
        body["contact_id"],
    )


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        (
            {"contact_id": "c671f89b-3ec1-4c58-9ad2-4ef8c2917cda", "external_id": "x-1", "email": "A@B.CO"},
            ("contact_id", "c671f89b-3ec1-4c58-9ad2-4ef8c2917cda"),
        ),
        ({"external_id": "x-1", "email": "A@B.CO"}, ("external_id", "x-1")),
        ({"email": "Jane.Smith@Example.COM"}, ("email", "jane.smith@example.com")),
    ],
    ids=["contact_id-first", "external_id-second", "email-normalized"],
)
def test_identity_resolution_order(
    sendrealm: RunningServer, fields: dict[str, str], expected: tuple[str, str]
) -> None:
    data = send(sendrealm, {"event": "page.viewed", **fields}).json()["data"]
    assert (data["resolved_identity_type"], data["resolved_identity_value"]) == expected


def test_no_identity_is_a_problem(sendrealm: RunningServer) -> None:
    response = send(sendrealm, {"event": "page.viewed"})
    assert response.status_code == 400
    assert response.headers["content-type"] == PROBLEM
    assert response.json() == {
        "type": "https://api.sendrealm.com/problems/missing-identity",
        "title": "Missing identity",
        "status": 400,
        "detail": "Provide contact_id, external_id or email.",
    }


@pytest.mark.parametrize(
    "name", ["sendrealm.mail.delivery", "sendrealm.push.open", "SendRealm.contact.updated"]
)
def test_reserved_namespace_is_refused(sendrealm: RunningServer, name: str) -> None:
    response = send(sendrealm, {"event": name, "email": "a@b.co"})
    assert response.status_code == 422
    assert (
        response.json()["detail"]
        == 'Event names starting with "sendrealm." are reserved for Sendrealm system events.'
    )


def test_replay_returns_the_original_event(sendrealm: RunningServer) -> None:
    k = key()
    first = send(
        sendrealm,
        {
            "event": "order.completed",
            "email": "a@b.co",
            "occurred_at": "2026-06-08T14:15:00Z",
            "idempotency_key": k,
        },
    )
    again = send(
        sendrealm,
        {
            "event": "order.completed",
            "email": "a@b.co",
            "occurred_at": "2026-06-08T14:15:00Z",
            "idempotency_key": k,
        },
    )
    assert first.status_code == 202 and again.status_code == 200
    assert again.headers["idempotent-replayed"] == "true"
    assert again.json() == {
        "data": {
            "id": first.json()["data"]["id"],
            "event": "order.completed",
            "deduplicated": True,
            "occurred_at": "2026-06-08T14:15:00.000Z",
        }
    }


def test_a_reused_key_with_another_body_replays_or_is_refused_per_project(sendrealm: RunningServer) -> None:
    k = key()
    original = send(sendrealm, {"event": "order.completed", "email": "a@b.co", "idempotency_key": k})
    other = send(sendrealm, {"event": "order.completed", "email": "z@b.co", "idempotency_key": k})
    assert other.status_code == 200 and other.json()["data"]["id"] == original.json()["data"]["id"]
    # globex sets idempotency_mismatch: reject
    body = {"event": "cart.abandoned", "email": "a@b.co", "payload": {"cart_id": "c1"}, "idempotency_key": k}
    assert send(sendrealm, body, GLOBEX_KEY).status_code == 202
    refused = send(sendrealm, {**body, "payload": {"cart_id": "c2"}}, GLOBEX_KEY)
    assert refused.status_code == 422
    assert (
        refused.json()["detail"]
        == f'The idempotency key "{k}" was already used with a different request body.'
    )
    assert send(sendrealm, body, GLOBEX_KEY).status_code == 200


def test_the_same_key_in_another_project_is_a_new_event(sendrealm: RunningServer) -> None:
    k = key()
    body = {
        "event": "order.completed",
        "email": "a@b.co",
        "payload": {"order_id": "o", "total": 1},
        "idempotency_key": k,
    }
    acme = send(sendrealm, body)
    globex = send(sendrealm, body, GLOBEX_KEY)
    assert acme.status_code == globex.status_code == 202
    assert acme.json()["data"]["id"] != globex.json()["data"]["id"]


def test_concurrent_requests_with_one_key_create_one_event(sendrealm: RunningServer) -> None:
    k = key()
    body = {"event": "order.completed", "email": "a@b.co", "idempotency_key": k}
    with concurrent.futures.ThreadPoolExecutor(16) as pool:
        responses = list(pool.map(lambda _: send(sendrealm, body), range(48)))
    assert sorted(r.status_code for r in responses) == [200] * 47 + [202]
    assert len({r.json()["data"]["id"] for r in responses}) == 1


def test_payloads_of_defined_events_are_validated(sendrealm: RunningServer) -> None:
    bad = send(sendrealm, {"event": "signup.completed", "email": "a@b.co", "payload": {"plan": 3}})
    assert bad.status_code == 422
    assert bad.json()["errors"][0]["path"] == "/plan"
    undefined = send(
        sendrealm, {"event": "anything.else", "email": "a@b.co", "payload": {"x": [1, {"y": None}]}}
    )
    assert undefined.status_code == 202


def test_payload_cap_is_per_project(sendrealm: RunningServer) -> None:
    body = {"event": "order.completed", "email": "a@b.co", "payload": {"order_id": "x" * 5000, "total": 1}}
    assert send(sendrealm, body).status_code == 202  # acme: 32 KiB
    refused = send(sendrealm, body, GLOBEX_KEY)  # globex: 4 KiB
    assert refused.status_code == 413
    assert refused.json()["detail"] == "The request body exceeds this project's limit of 4096 bytes."


def test_occurred_at_is_normalised_to_utc_milliseconds(sendrealm: RunningServer) -> None:
    given = send(
        sendrealm, {"event": "x.y", "email": "a@b.co", "occurred_at": "2026-06-08t16:15:00.123456+02:00"}
    )
    assert given.json()["data"]["occurred_at"] == "2026-06-08T14:15:00.123Z"
    default = send(sendrealm, {"event": "x.y", "email": "a@b.co"}).json()["data"]["occurred_at"]
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", default)


@pytest.mark.parametrize("field", ["event", "external_id", "idempotency_key"])
def test_nul_characters_are_refused_before_storage(sendrealm: RunningServer, field: str) -> None:
    body = {"event": "x.y", "external_id": "e-1", "idempotency_key": key(), field: "a\x00b"}
    response = send(sendrealm, body)
    assert response.status_code == 400
    assert response.json()["errors"] == [{"path": f"/{field}", "message": "must not contain NUL characters"}]

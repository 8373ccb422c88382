"""The generated Arsel server over HTTP: every documented behaviour and every decision of ours."""

from __future__ import annotations

import asyncio
import re
import uuid
from pathlib import Path

import httpx
import pytest

from ingestspec.generator.spec.loader import load_spec
from tests.conftest import SPECS
from tests.servers import RunningServer

from .conftest import GLOBEX_KEY, client

SPEC = load_spec(SPECS["arsel"])
OP = SPEC.operation("sendEvent")
UUID7 = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")
URL = "/events/send"


def send(
    server: RunningServer, body: object, key: str | None = "be_acme_test_key", **kwargs: object
) -> httpx.Response:
    with client(key) as c:
        return c.post(server.base_url + URL, json=body, **kwargs)  # type: ignore[arg-type]


def event(**fields: object) -> dict[str, object]:
    return {
        "event": "order.completed",
        "email": "john.doe@example.com",
        "data": {"order_id": "A-1", "total": 1},
        **fields,
    }


@pytest.mark.parametrize("example", OP.request_examples, ids=lambda e: e.name)
def test_documented_examples_are_accepted_with_the_documented_key(
    arsel: RunningServer, example: object
) -> None:
    response = send(arsel, example.value, key="be_your_api_key")  # type: ignore[attr-defined]
    assert response.status_code == 202, response.text
    body = response.json()
    assert body["status"] == "accepted"
    assert UUID7.match(body["id"])
    assert response.headers["content-type"] == "application/json"


def test_both_identities_and_neither_give_the_documented_400(arsel: RunningServer) -> None:
    documented = {"status_code": 400, "name": "bad_request", "message": "Provide either email or contact_id."}
    both = send(arsel, event(contact_id=str(uuid.uuid4())))
    neither = send(arsel, {"event": "order.completed", "data": {}})
    assert (both.status_code, both.json()) == (400, documented)
    assert (neither.status_code, neither.json()) == (400, documented)


@pytest.mark.parametrize(
    "header", [None, "Bearer nope-not-a-key", "Basic YWJjOmRlZg==", "Bearer", "be_acme_test_key"]
)
def test_missing_malformed_or_unknown_keys_give_the_documented_401(
    arsel: RunningServer, header: str | None
) -> None:
    headers = {"Authorization": header} if header else {}
    response = httpx.post(arsel.base_url + URL, json=event(), headers=headers)
    assert response.status_code == 401
    assert response.json() == {
        "status_code": 401,
        "name": "unauthorized",
        "message": "Invalid or missing API key",
    }
    assert response.headers["www-authenticate"] == "Bearer"


def test_undefined_event_names_the_event(arsel: RunningServer) -> None:
    response = send(arsel, event(event="order.refunded"))
    assert response.status_code == 404
    assert response.json()["message"] == 'No event named "order.refunded" is defined in this organization.'


def test_event_definitions_belong_to_their_organization(arsel: RunningServer) -> None:
    # signup.completed is defined for acme only: globex's key must not reach it.
    payload = event(event="signup.completed", data={"plan": "pro"})
    assert send(arsel, payload).status_code == 202
    assert send(arsel, payload, key=GLOBEX_KEY).status_code == 404


def test_schema_mismatch_gives_the_documented_422_with_the_failing_path(arsel: RunningServer) -> None:
    response = send(arsel, event(event="signup.completed", data={"plan": "gold"}))
    assert response.status_code == 422
    body = response.json()
    assert {k: body[k] for k in ("status_code", "name", "message")} == {
        "status_code": 422,
        "name": "validation_error",
        "message": 'Payload does not match the "signup.completed" schema.',
    }
    assert body["details"][0]["path"] == "/plan"


@pytest.mark.parametrize(
    ("content", "content_type", "status", "message"),
    [
        (b"{not json", "application/json", 400, "The request body is not valid JSON."),
        (b"\xff\xfe{}", "application/json", 400, "The request body is not valid JSON."),
        (b"[1, 2]", "application/json", 400, "The request body is invalid."),
        (
            b'{"event": "order.completed", "email": "a@b.co", "data": {}, "colour": 1}',
            "application/json",
            400,
            "The request body is invalid.",
        ),
        (
            b'{"event": 5, "email": "a@b.co", "data": {}}',
            "application/json",
            400,
            "The request body is invalid.",
        ),
        (
            b'{"event": "x", "email": "a@b.co", "data": {}, "timestamp": "yesterday"}',
            "application/json",
            400,
            "The request body is invalid.",
        ),
        (
            b'{"event": "order.completed", "email": "a@b.co", "data": {}}',
            "text/plain",
            415,
            "Content-Type must be application/json.",
        ),
        (
            b"[" * 100_000 + b"]" * 100_000,
            "application/json",
            413,
            "The request body exceeds this organization's limit of 32768 bytes.",
        ),
        # Valid JSON, nested past the documented depth limit (128): refused as invalid, never a 500.
        (b"[" * 5000 + b"]" * 5000, "application/json", 400, "The request body is invalid."),
    ],
    ids=[
        "syntax",
        "utf8",
        "not-object",
        "unknown-field",
        "wrong-type",
        "bad-timestamp",
        "content-type",
        "too-large",
        "deep-nesting",
    ],
)
def test_bad_bodies_get_the_envelope_never_a_500(
    arsel: RunningServer, content: bytes, content_type: str, status: int, message: str
) -> None:
    with client() as c:
        response = c.post(arsel.base_url + URL, content=content, headers={"Content-Type": content_type})
    assert response.status_code == status, response.text
    assert response.json()["message"] == message
    assert response.json()["status_code"] == status


def test_an_email_valid_for_the_spec_but_not_for_pydantic_is_accepted(arsel: RunningServer) -> None:
    # pydantic's EmailStr refuses "john@localhost"; JSON Schema's `format: email` (the spec) allows it.
    assert send(arsel, event(email="john@localhost")).status_code == 202
    assert send(arsel, event(email="not an email")).status_code == 400


def test_ids_are_uuid7_and_increase(arsel: RunningServer) -> None:
    ids = [send(arsel, event()).json()["id"] for _ in range(5)]
    assert all(UUID7.match(i) for i in ids)
    assert ids == sorted(ids)


def test_accepted_events_are_in_storage_when_the_202_arrives(arsel: RunningServer, store_url: str) -> None:
    from generated_server.arsel.storage import open_storage

    response = send(
        arsel, event(timestamp="2026-06-01T14:00:00.5+02:00", data={"order_id": "D-1", "total": 2})
    )
    assert response.status_code == 202

    async def read() -> object:
        storage = open_storage(store_url)
        await storage.start()
        try:
            return await storage.get("acme", response.json()["id"])
        finally:
            await storage.close()

    stored = asyncio.run(read())
    assert stored is not None
    assert stored.occurred_at == "2026-06-01T12:00:00.500Z"  # type: ignore[attr-defined]
    assert stored.identity_type == "email"  # type: ignore[attr-defined]


def test_unknown_routes_and_methods_use_the_envelope(arsel: RunningServer) -> None:
    with client() as c:
        missing = c.get(arsel.root + "/v1/nowhere")
        wrong_method = c.get(arsel.base_url + URL)
        # The documented path is answered without Starlette's router (app.AccessLog); a near
        # miss still reaches the router and its 404, not a redirect.
        slash = c.post(arsel.base_url + URL + "/", json=event())
    assert missing.status_code == 404 and missing.json()["name"] == "not_found"
    assert slash.status_code == 404 and slash.json()["name"] == "not_found"
    assert wrong_method.status_code == 405 and wrong_method.json()["name"] == "method_not_allowed"
    assert "POST" in wrong_method.headers["allow"]


def test_health_metrics_and_spec_are_served(arsel: RunningServer) -> None:
    send(arsel, event())
    send(arsel, event(event="nope"))
    assert httpx.get(arsel.root + "/healthz").json() == {"status": "ok"}
    metrics = httpx.get(arsel.root + "/metrics").text
    assert re.search(r"^ingest_events_accepted_total \d+", metrics, re.MULTILINE)
    assert 'ingest_requests_rejected_total{reason="event_not_defined"}' in metrics
    assert "operationId: sendEvent" in httpx.get(arsel.root + "/openapi.yaml").text


def test_docs_page_renders_offline_in_chromium(arsel: RunningServer, tmp_path: Path) -> None:
    from tests.generator.test_docs import dump_dom

    assert httpx.get(arsel.root + "/docs/assets/swagger-ui-bundle.js").status_code == 200
    dom = dump_dom(arsel.root + "/docs", tmp_path / "profile")
    assert "sendEvent" in dom
    assert "/events/send" in dom
    assert "Invalid or missing API key" in dom

"""Servers generated from edited copies of a shipped spec serve what each copy declares, over HTTP.

Three variants of the Sendrealm spec, each generated into a temporary folder and run as a real server:
- `vendor`: PUT /events/{message_id} with the path parameter as idempotency key (remembered 2 s),
  four security schemes (bearer, basic, apiKey header and query), a vendor `+json` media type,
  typed header and query parameters, an integer identity, epoch-millisecond timestamps, ULIDs
  with a prefix;
- `limited`: the `Idempotency-Key` header, UUIDv4 ids, a rate limit, and a response enum that
  one identity kind does not satisfy;
- `body_key`: the API key in a body field, a constant event name, epoch seconds, and an identity
  answered as a number.
"""

from __future__ import annotations

import base64
import re
import sqlite3
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from ingestspec.generator.generate.build import generate
from ingestspec.generator.lint.linter import lint
from ingestspec.generator.spec.migrate import upgrade
from tests.conftest import EXAMPLE_CONFIG
from tests.generated_server.conftest import ACME_KEY, GLOBEX_KEY
from tests.servers import RunningServer, running_server
from tests.specs import edited

# be_your_api_key belongs to acme too; only the rate-limit test spends its allowance.
SPARE_KEY = "be_your_api_key"
RATE_LIMIT = 20
ULID = r"^evt_[0-9A-HJKMNP-TV-Z]{26}$"


def _operation(document: dict[str, Any]) -> dict[str, Any]:
    operation: dict[str, Any] = document["paths"]["/events"]["post"]
    return operation


def _schemas(document: dict[str, Any]) -> dict[str, Any]:
    schemas: dict[str, Any] = document["components"]["schemas"]
    return schemas


def _without_examples(op: dict[str, Any]) -> None:
    """Drop the request and success examples, which show the shipped spec's types and ids."""
    for media in op["requestBody"]["content"].values():
        media.pop("examples", None)
    for status in ("200", "202"):
        for media in op["responses"][status]["content"].values():
            media.pop("examples", None)


def _problem(slug: str, title: str) -> dict[str, str]:
    return {"/type": f"https://api.sendrealm.com/problems/{slug}", "/title": title}


def vendor(document: dict[str, Any]) -> None:
    op = document["paths"].pop("/events")["post"]
    document["paths"]["/events/{message_id}"] = {"put": op}
    _without_examples(op)
    op["parameters"] = [
        {"name": "message_id", "in": "path", "required": True, "schema": {"pattern": "^[a-z0-9-]{1,40}$"}},
        {"name": "X-Trace", "in": "header", "schema": {"type": "integer", "minimum": 1}},
        {"name": "dry_run", "in": "query", "schema": {"type": "boolean"}},
    ]
    document["components"]["securitySchemes"].update(
        {
            "basicAuth": {"type": "http", "scheme": "basic"},
            "headerKey": {"type": "apiKey", "in": "header", "name": "X-Api-Key"},
            "queryKey": {"type": "apiKey", "in": "query", "name": "api_key"},
        }
    )
    op["security"] = [{"bearerAuth": []}, {"basicAuth": []}, {"headerKey": []}, {"queryKey": []}]
    content = op["requestBody"]["content"]
    content["application/vnd.acme.event+json"] = content["application/json"]
    schemas = _schemas(document)
    request = schemas["IngestEventRequest"]["properties"]
    request["contact_id"] = {"type": "integer", "minimum": 1}
    request["occurred_at"] = {"type": "integer"}
    del request["idempotency_key"]
    for name in ("EventAccepted", "EventReplay"):
        schemas[name]["properties"]["id"] = {"type": "string", "pattern": ULID}
    block = upgrade(op["x-ingest"])
    block.update(id_format="ulid", id_prefix="evt_", occurred_at_unit="milliseconds")
    block["dedupe"].update(key={"in": "path", "name": "message_id"}, window="PT2S")
    op["x-ingest"] = block


def limited(document: dict[str, Any]) -> None:
    op = _operation(document)
    _without_examples(op)
    op["responses"]["429"] = {
        "description": "Too many requests for this key; retry after Retry-After seconds.",
        "headers": {"Retry-After": {"schema": {"type": "integer"}}},
        "content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}},
    }
    op["parameters"] = [
        {"name": "Idempotency-Key", "in": "header", "schema": {"type": "string", "maxLength": 64}}
    ]
    schemas = _schemas(document)
    del schemas["IngestEventRequest"]["properties"]["idempotency_key"]
    # The trap: an email identity is stored as kind "email", which this answer may not say.
    schemas["EventAccepted"]["properties"]["resolved_identity_type"]["enum"] = ["contact_id", "external_id"]
    block = upgrade(op["x-ingest"])
    block["id_format"] = "uuid4"
    block["dedupe"]["key"] = {"in": "header", "name": "Idempotency-Key"}
    block["rate_limit"] = {"requests": RATE_LIMIT, "per_seconds": 60, "error": "rate_limited"}
    block["errors"]["catalogue"]["rate_limited"] = {
        "status": 429,
        "fields": _problem("rate-limited", "Too many requests"),
        "message": "Slow down: retry in {retry_after} s.",
    }
    op["x-ingest"] = block


def body_key(document: dict[str, Any]) -> None:
    op = _operation(document)
    _without_examples(op)
    op["security"] = []
    request = _schemas(document)["IngestEventRequest"]
    request["required"] = ["api_key"]
    properties = request["properties"]
    del properties["event"]
    properties["api_key"] = {"type": "string", "minLength": 1}
    properties["contact_id"] = {"type": "integer"}
    properties["occurred_at"] = {"type": "number"}
    _schemas(document)["EventAccepted"]["properties"]["resolved_identity_value"] = {"type": "integer"}
    block = upgrade(op["x-ingest"])
    del block["event_field"]
    block.update(event_name="identify", credential_field="api_key", occurred_at_unit="seconds")
    op["x-ingest"] = block


def _serve(tmp: Path, edit: Any, package: str, store_url: str) -> Iterator[RunningServer]:
    spec = edited(tmp, "sendrealm", edit, package)
    generate(spec, tmp / package)
    with running_server(package, EXAMPLE_CONFIG, store_url, "", log_dir=tmp, pythonpath=tmp) as server:
        yield server


@pytest.fixture(scope="module")
def vendor_server(store_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    yield from _serve(tmp_path_factory.mktemp("vendor"), vendor, "vendor_api", store_url)


@pytest.fixture(scope="module")
def limited_server(store_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    yield from _serve(tmp_path_factory.mktemp("limited"), limited, "limited_api", store_url)


@pytest.fixture(scope="module")
def body_key_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[RunningServer, Path]]:
    tmp = tmp_path_factory.mktemp("body_key")
    db = tmp / "events.db"
    for server in _serve(tmp, body_key, "body_key_api", f"sqlite:///{db}"):
        yield server, db


def without_none(body: dict[str, object]) -> dict[str, object]:
    """The body without the fields a test set to None (None: leave the field out)."""
    return {name: value for name, value in body.items() if value is not None}


def bearer(key: str = ACME_KEY) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def basic(user: str, password: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


def put(
    server: RunningServer,
    message_id: str | None = None,
    headers: dict[str, str] | None = None,
    params: dict[str, str] | None = None,
    **fields: object,
) -> httpx.Response:
    body = {"event": "order.completed", "contact_id": 7, **fields}
    return httpx.put(
        f"{server.base_url}/events/{message_id or uuid.uuid4()}",
        json=body,
        headers=bearer() if headers is None else headers,
        params=params,
        timeout=10,
    )


# --- vendor: security, media types, method, path and parameters, types, ids, window ---------------


@pytest.mark.parametrize(
    "scheme",
    ["bearer", "basic user", "basic password", "header", "query"],
)
def test_each_security_scheme_admits_a_known_key_and_refuses_an_unknown_one(
    vendor_server: RunningServer, scheme: str
) -> None:
    def credentials(key: str) -> tuple[dict[str, str], dict[str, str]]:
        return {
            "bearer": (bearer(key), {}),
            "basic user": (basic(key, "anything"), {}),
            "basic password": (basic("", key), {}),
            "header": ({"X-Api-Key": key}, {}),
            "query": ({}, {"api_key": key}),
        }[scheme]

    headers, params = credentials(ACME_KEY)
    assert put(vendor_server, headers=headers, params=params).status_code == 202
    headers, params = credentials("be_unknown_key")
    refused = put(vendor_server, headers=headers, params=params)
    assert refused.status_code == 401
    assert refused.json()["detail"] == "Invalid or missing API key."


def test_a_missing_key_is_challenged_with_the_http_schemes(vendor_server: RunningServer) -> None:
    refused = put(vendor_server, headers={})
    assert refused.status_code == 401
    assert refused.headers["www-authenticate"] == 'Bearer, Basic realm="Sendrealm Events API"'


def test_vendor_media_type_and_utf8_charset_are_accepted(vendor_server: RunningServer) -> None:
    url = f"{vendor_server.base_url}/events/media-1"
    body = b'{"event": "order.completed", "contact_id": 7}'
    for content_type, status in [
        ("Application/VND.acme.event+JSON; charset=UTF-8", 202),
        ("application/json; charset=utf-8", 200),  # the same key again: a replay
        ("application/json; charset=latin-1", 415),
        ("text/plain", 415),
        ("application/vnd.other+json", 415),
    ]:
        answer = httpx.put(url, content=body, headers={**bearer(), "Content-Type": content_type})
        assert answer.status_code == status, (content_type, answer.text)


def test_the_path_parameter_is_the_idempotency_key(vendor_server: RunningServer) -> None:
    first = put(vendor_server, "order-17")
    again = put(vendor_server, "order-17")
    other = put(vendor_server, "order-18")
    assert (first.status_code, again.status_code, other.status_code) == (202, 200, 202)
    assert again.json()["data"]["id"] == first.json()["data"]["id"] != other.json()["data"]["id"]
    assert again.headers["idempotent-replayed"] == "true"


def test_ids_are_prefixed_ulids(vendor_server: RunningServer) -> None:
    ids = [put(vendor_server).json()["data"]["id"] for _ in range(3)]
    assert all(re.fullmatch(ULID, i) for i in ids)
    assert len(set(ids)) == 3


def test_only_the_documented_method_and_path_are_served(vendor_server: RunningServer) -> None:
    body = {"event": "order.completed", "contact_id": 7}
    wrong_method = httpx.post(f"{vendor_server.base_url}/events/x", json=body, headers=bearer())
    assert wrong_method.status_code == 405
    slash = httpx.put(f"{vendor_server.base_url}/events/x/", json=body, headers=bearer())
    assert slash.status_code == 404
    assert slash.json()["title"] == "Not found"


@pytest.mark.parametrize(
    ("message_id", "headers", "params", "where"),
    [
        ("Not-Lower", {}, {}, "path.message_id"),
        ("ok-1", {"X-Trace": "abc"}, {}, "header.X-Trace"),
        ("ok-2", {"X-Trace": "0"}, {}, "header.X-Trace"),
        ("ok-3", {}, {"dry_run": "maybe"}, "query.dry_run"),
    ],
)
def test_parameters_are_checked_against_their_schemas(
    vendor_server: RunningServer, message_id: str, headers: dict[str, str], params: dict[str, str], where: str
) -> None:
    refused = put(vendor_server, message_id, {**bearer(), **headers}, params)
    assert refused.status_code == 400, refused.text
    assert [error["path"] for error in refused.json()["errors"]] == [where]


def test_parameters_are_read_as_their_types(vendor_server: RunningServer) -> None:
    answer = put(vendor_server, None, {**bearer(), "X-Trace": "12"}, {"dry_run": "true"})
    assert answer.status_code == 202, answer.text


def test_an_integer_identity_is_stored_as_its_text(vendor_server: RunningServer) -> None:
    answer = put(vendor_server, contact_id=42)
    assert answer.status_code == 202, answer.text
    data = answer.json()["data"]
    assert (data["resolved_identity_type"], data["resolved_identity_value"]) == ("contact_id", "42")
    assert put(vendor_server, contact_id="42").status_code == 400


def test_epoch_milliseconds_are_normalised(vendor_server: RunningServer) -> None:
    moment = datetime(2026, 6, 8, 14, 15, 0, 123000, tzinfo=UTC)
    millis = int((moment - datetime(1970, 1, 1, tzinfo=UTC)) / timedelta(milliseconds=1))
    answer = put(vendor_server, occurred_at=millis)
    assert answer.status_code == 202, answer.text
    assert answer.json()["data"]["occurred_at"] == "2026-06-08T14:15:00.123Z"
    for bad in (10**20, -(10**15), "2026-06-08T14:15:00Z"):
        refused = put(vendor_server, occurred_at=bad)
        assert refused.status_code == 400, (bad, refused.text)
        assert refused.json()["title"] == "Invalid request"


def test_a_key_past_its_window_makes_a_new_event(vendor_server: RunningServer) -> None:
    first = put(vendor_server, "window-1")
    assert put(vendor_server, "window-1").json()["data"]["id"] == first.json()["data"]["id"]
    time.sleep(2.2)
    renewed = put(vendor_server, "window-1")
    assert renewed.status_code == 202
    assert renewed.json()["data"]["id"] != first.json()["data"]["id"]
    replay = put(vendor_server, "window-1")
    assert (replay.status_code, replay.json()["data"]["id"]) == (200, renewed.json()["data"]["id"])


# --- limited: header key, uuid4, answers checked before the commit, rate limit --------------------


def post(
    server: RunningServer, key: str = ACME_KEY, idempotency_key: str | None = None, **fields: object
) -> httpx.Response:
    headers = bearer(key) | ({"Idempotency-Key": idempotency_key} if idempotency_key else {})
    body = without_none({"event": "order.completed", "external_id": "user-1", **fields})
    return httpx.post(f"{server.base_url}/events", json=body, headers=headers, timeout=10)


def test_the_header_is_the_idempotency_key(limited_server: RunningServer) -> None:
    first = post(limited_server, idempotency_key="h-1")
    again = post(limited_server, idempotency_key="h-1")
    assert (first.status_code, again.status_code) == (202, 200)
    assert first.json()["data"]["id"] == again.json()["data"]["id"]
    assert uuid.UUID(first.json()["data"]["id"]).version == 4
    unkeyed = [post(limited_server).json()["data"]["id"] for _ in range(2)]
    assert len(set(unkeyed)) == 2


def test_an_answer_the_spec_does_not_allow_refuses_the_event_before_it_is_stored(
    limited_server: RunningServer,
) -> None:
    refused = post(limited_server, GLOBEX_KEY, "trap-1", event="trap.set", external_id=None, email="a@b.co")
    assert refused.status_code == 400, refused.text
    assert refused.json()["errors"][0]["path"] == "response/data/resolved_identity_type"
    # Nothing was stored under the key: the next request with it is new, not a replay.
    accepted = post(limited_server, GLOBEX_KEY, "trap-1", event="trap.set")
    assert accepted.status_code == 202, accepted.text


def test_the_rate_limit_answers_429_with_retry_after(limited_server: RunningServer) -> None:
    statuses = [post(limited_server, SPARE_KEY).status_code for _ in range(RATE_LIMIT)]
    assert statuses == [202] * RATE_LIMIT
    limited = post(limited_server, SPARE_KEY)
    assert limited.status_code == 429
    wait = int(limited.headers["retry-after"])
    assert 1 <= wait <= 60
    assert limited.json()["detail"] == f"Slow down: retry in {wait} s."
    assert limited.json()["status"] == 429
    # Another key keeps its own allowance.
    assert post(limited_server, ACME_KEY).status_code == 202


# --- body_key: the key in the body, a constant event name, epoch seconds, a numeric answer --------


def send(server: RunningServer, **fields: object) -> httpx.Response:
    body = without_none({"api_key": ACME_KEY, "contact_id": 42, **fields})
    return httpx.post(f"{server.base_url}/events", json=body, timeout=10)


def test_the_body_field_carries_the_key(body_key_server: tuple[RunningServer, Path]) -> None:
    server, _ = body_key_server
    answer = send(server, occurred_at=1780928100.5)
    assert answer.status_code == 202, answer.text
    data = answer.json()["data"]
    assert data["event"] == "identify"
    assert data["resolved_identity_value"] == 42  # the response schema wants an integer
    assert data["occurred_at"] == "2026-06-08T14:15:00.500Z"
    for key in ("be_unknown_key", "", 12):
        refused = send(server, api_key=key)
        assert refused.status_code == 401, key
        assert "www-authenticate" not in refused.headers
    missing = httpx.post(f"{server.base_url}/events", json={"contact_id": 1}, timeout=10)
    assert missing.status_code == 401


def test_an_identity_the_answer_cannot_carry_is_refused(body_key_server: tuple[RunningServer, Path]) -> None:
    server, _ = body_key_server
    refused = send(server, contact_id=None, external_id="not-a-number")
    assert refused.status_code == 400, refused.text
    assert refused.json()["errors"][0]["path"] == "response/data/resolved_identity_value"


def test_the_body_key_is_neither_stored_nor_logged(body_key_server: tuple[RunningServer, Path]) -> None:
    server, db = body_key_server
    assert send(server, payload={"plan": "pro"}).status_code == 202
    with sqlite3.connect(db) as conn:
        rows = conn.execute("SELECT * FROM events").fetchall()
    assert rows
    assert ACME_KEY not in repr(rows)
    assert ACME_KEY not in server.log.read_text()


# --- lint agrees: what these servers serve, lint accepts; what they refuse, lint refuses ----------


@pytest.mark.parametrize(
    ("edit", "refused"),
    [
        (vendor, []),
        (limited, ["/data/resolved_identity_type: 'email' is not one of"]),
        (body_key, ["/data/resolved_identity_value: 'user-42' is not of type 'integer'"]),
    ],
)
def test_lint_refuses_only_the_answers_the_server_refuses(
    tmp_path: Path, edit: Any, refused: list[str]
) -> None:
    problems = [str(problem) for problem in lint(edited(tmp_path, "sendrealm", edit))]
    assert len(problems) == len(refused), problems
    for problem, fragment in zip(problems, refused, strict=True):
        assert fragment in problem

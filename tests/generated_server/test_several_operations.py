"""A spec with several ingest operations (specs/tracker.yaml: track, identify, page) and a read operation.

Each operation has its own route and rules (event name in the body or constant, identity, payload
field, dedupe, success answer); they share one store, one configuration and one error envelope.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from ingestspec.generator.generate.build import generate
from ingestspec.generator.lint.linter import lint
from tests.conftest import EXAMPLE_CONFIG
from tests.generated_server.conftest import ACME_KEY, GLOBEX_KEY
from tests.servers import RunningServer, running_server

SPECS = Path(__file__).resolve().parent / "specs"
TRACKER = SPECS / "tracker.yaml"


def serve_spec(spec: Path, package: str, store_url: str, tmp: Path) -> Iterator[RunningServer]:
    """Generate `spec` into `tmp/package` and run it on a loopback port."""
    generate(spec, tmp / package)
    with running_server(package, EXAMPLE_CONFIG, store_url, "/v1", log_dir=tmp, pythonpath=tmp) as server:
        yield server


@pytest.fixture(scope="module")
def tracker(store_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    yield from serve_spec(TRACKER, "tracker_api", store_url, tmp_path_factory.mktemp("tracker"))


def call(server: RunningServer, path: str, body: Any, key: str = ACME_KEY, **headers: str) -> httpx.Response:
    headers = {"Authorization": f"Bearer {key}", **headers}
    return httpx.post(f"{server.base_url}{path}", json=body, headers=headers, timeout=10)


def test_the_spec_lints_clean() -> None:
    assert [str(problem) for problem in lint(TRACKER)] == []


def _tracker(tmp_path: Path, edit: Any) -> Path:
    document = yaml.safe_load(TRACKER.read_text())
    edit(document)
    path = tmp_path / "tracker.yaml"
    path.write_text(yaml.safe_dump(document, sort_keys=False))
    return path


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (
            lambda d: d["components"]["schemas"]["StoredEvent"]["properties"]["kind"].update(enum=["user"]),
            "getEvent: the 200 body the server answers for an event of track with identity 'anonymous' "
            "cannot match the documented schema: at /kind: 'anonymous' is not one of ['user']",
        ),
        (
            lambda d: d["paths"]["/batch"]["post"]["x-ingest"]["dedupe"].update(
                key={"in": "header", "name": "K"}
            ),
            "batch: a batch's idempotency key must be a field of its items",
        ),
        (
            lambda d: d["components"]["schemas"]["BatchAccepted"]["properties"]["results"]["items"].update(
                required=["index", "status", "id", "user", "error", "event"]
            ),
            "batch: the 200 body the server answers a batch with (here one refused item) cannot match",
        ),
        (
            lambda d: d["paths"]["/page"]["post"]["x-ingest"].update(id_prefix="pg_"),
            "page: x-ingest id_prefix differs from track's",
        ),
        (
            lambda d: d["paths"]["/events/{eventId}"]["get"]["responses"].pop("404"),
            "getEvent: the read answers event_not_found with 404, which its responses do not document",
        ),
    ],
)
def test_lint_refuses_what_these_operations_cannot_serve(tmp_path: Path, edit: Any, message: str) -> None:
    messages = [problem.message for problem in lint(_tracker(tmp_path, edit))]
    assert any(found.startswith(message) for found in messages), messages


def test_each_operation_answers_its_own_success(tracker: RunningServer) -> None:
    track = call(tracker, "/track", {"event": "order.completed", "userId": "u-1"})
    assert track.status_code == 202, track.text
    expected = {"event": "order.completed", "user": "u-1", "kind": "user"}
    assert {name: value for name, value in track.json().items() if name != "id"} == expected
    identify = call(tracker, "/identify", {"userId": "u-1", "traits": {"plan": "pro"}})
    assert identify.status_code == 202, identify.text
    assert (identify.json()["event"], identify.json()["kind"]) == ("identify", "user")
    page = call(tracker, "/page", {"anonymousId": "a-1", "name": "Home"})
    assert page.status_code == 200, page.text
    assert page.json()["success"] is True
    ids = {track.json()["id"], identify.json()["id"], page.json()["id"]}
    assert len(ids) == 3
    assert all(uuid.UUID(i).version == 7 for i in ids)


def test_each_operation_judges_by_its_own_schema_and_identity(tracker: RunningServer) -> None:
    # identify's identity is userId alone; track and page accept an anonymousId instead.
    refused = call(tracker, "/identify", {"anonymousId": "a-1"})
    assert (refused.status_code, refused.json()["code"]) == (400, "missing_identity")
    assert call(tracker, "/track", {"event": "e", "anonymousId": "a-1"}).status_code == 202
    missing = call(tracker, "/page", {"name": "Home"})
    assert (missing.status_code, missing.json()["code"]) == (400, "missing_identity")
    # `event` belongs to track's schema only.
    extra = call(tracker, "/page", {"userId": "u-1", "event": "x"})
    assert (extra.status_code, extra.json()["code"]) == (400, "invalid_request")
    assert call(tracker, "/track", {"userId": "u-1"}).status_code == 400


def test_each_operation_checks_its_own_payload_field_against_the_shared_definitions(
    tracker: RunningServer,
) -> None:
    # signup.completed is defined in acme's configuration: plan must be one of free, pro, enterprise.
    bad = call(tracker, "/track", {"event": "signup.completed", "userId": "u", "properties": {"plan": "x"}})
    assert (bad.status_code, bad.json()["code"]) == (422, "invalid_properties")
    assert bad.json()["message"] == 'The properties do not match the "signup.completed" definition.'
    good = {"event": "signup.completed", "userId": "u", "properties": {"plan": "pro"}}
    assert call(tracker, "/track", good).status_code == 202
    # page's events are all named "page", which no project defines: accepted as sent.
    assert call(tracker, "/page", {"userId": "u", "properties": {"plan": "x"}}).status_code == 200


def test_only_track_reserves_names_and_deduplicates(tracker: RunningServer) -> None:
    reserved = call(tracker, "/track", {"event": "Tracker.internal", "userId": "u"})
    assert (reserved.status_code, reserved.json()["code"]) == (400, "reserved_event")
    key = f"m-{uuid.uuid4()}"
    first = call(tracker, "/track", {"event": "order.completed", "userId": "u", "messageId": key})
    again = call(tracker, "/track", {"event": "order.completed", "userId": "u", "messageId": key})
    assert (first.status_code, again.status_code) == (202, 200)
    assert first.json()["id"] == again.json()["id"]
    assert again.headers["idempotent-replayed"] == "true"
    # messageId is not part of identify's schema: no dedupe there.
    assert call(tracker, "/identify", {"userId": "u", "messageId": key}).status_code == 400


def test_keys_and_envelope_are_shared(tracker: RunningServer) -> None:
    for path in ("/track", "/identify", "/page"):
        refused = call(tracker, path, {"userId": "u", "event": "e"}, key="be_unknown_key")
        assert refused.status_code == 401, path
        assert refused.json() == {"code": "unauthorized", "message": "Invalid API key."}
    # globex's definition of cart.abandoned requires a cart_id: its key judges by globex's definitions.
    other = call(tracker, "/track", {"userId": "u", "event": "cart.abandoned"}, key=GLOBEX_KEY)
    assert (other.status_code, other.json()["code"]) == (422, "invalid_properties")
    assert call(tracker, "/identify", {"userId": "u"}, key=GLOBEX_KEY).status_code == 202


def test_routing_errors_use_the_shared_envelope(tracker: RunningServer) -> None:
    unknown = call(tracker, "/screen", {"userId": "u"})
    assert unknown.status_code == 404
    assert unknown.json() == {"code": "not_found", "message": "No such endpoint."}
    wrong = httpx.get(f"{tracker.base_url}/identify", headers={"Authorization": f"Bearer {ACME_KEY}"})
    assert wrong.status_code == 405
    assert wrong.json()["code"] == "method_not_allowed"


def test_the_shared_store_counts_every_operation(tracker: RunningServer) -> None:
    before = httpx.get(f"{tracker.root}/metrics").text
    call(tracker, "/identify", {"userId": "u-2"})
    call(tracker, "/page", {"userId": "u-2"})
    after = httpx.get(f"{tracker.root}/metrics").text

    def accepted(text: str) -> float:
        lines = [line for line in text.splitlines() if line.startswith("ingest_events_accepted_total")]
        return float(lines[0].split()[-1]) if lines else 0.0

    assert accepted(after) - accepted(before) == 2


# --- the read operation: GET /events/{eventId} ------------------------------------------------------


def read(server: RunningServer, event_id: str, key: str | None = ACME_KEY) -> httpx.Response:
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    return httpx.get(f"{server.base_url}/events/{event_id}", headers=headers, timeout=10)


def test_an_event_reads_back_as_stored_with_its_processing_status(tracker: RunningServer) -> None:
    sent = {"event": "order.completed", "userId": "u-9", "properties": {"total": 12.5, "items": [1, 2]}}
    accepted = call(tracker, "/track", sent)
    event_id = accepted.json()["id"]
    answer = read(tracker, event_id)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert {name: body[name] for name in ("id", "event", "user", "kind", "properties")} == {
        "id": event_id,
        "event": "order.completed",
        "user": "u-9",
        "kind": "user",
        "properties": {"total": 12.5, "items": [1, 2]},
    }
    assert body["status"] in ("pending", "processed")
    # The server's worker processes it (the default handler logs it).
    deadline = time.monotonic() + 10
    while read(tracker, event_id).json()["status"] != "processed":
        assert time.monotonic() < deadline, "the event was never processed"
        time.sleep(0.1)
    # Events of every ingest operation are read the same way.
    page_id = call(tracker, "/page", {"anonymousId": "a-9"}).json()["id"]
    page = read(tracker, page_id).json()
    assert (page["event"], page["kind"], page["properties"]) == ("page", "anonymous", {})


def test_another_projects_event_reads_as_an_unknown_one(tracker: RunningServer) -> None:
    event_id = call(tracker, "/identify", {"userId": "u-secret"}).json()["id"]
    assert read(tracker, event_id).status_code == 200
    theirs = read(tracker, event_id, key=GLOBEX_KEY)
    unknown = read(tracker, str(uuid.uuid4()), key=GLOBEX_KEY)
    assert theirs.status_code == unknown.status_code == 404
    assert theirs.json() == unknown.json() == {"code": "event_not_found", "message": "No such event."}
    assert "u-secret" not in theirs.text


def test_reading_needs_a_known_key(tracker: RunningServer) -> None:
    event_id = call(tracker, "/identify", {"userId": "u-1"}).json()["id"]
    for key in (None, "be_unknown_key"):
        refused = read(tracker, event_id, key=key)
        assert refused.status_code == 401
        assert refused.json()["code"] == "unauthorized"
        assert refused.headers["www-authenticate"] == "Bearer"


def test_a_read_id_is_checked_and_never_reaches_the_store_unreadable(tracker: RunningServer) -> None:
    too_long = read(tracker, "x" * 65)
    assert (too_long.status_code, too_long.json()["code"]) == (400, "invalid_request")
    for odd in ("%00", "a%00b", "%F0%9F%98%80", "'; DROP TABLE events; --"):
        answer = read(tracker, odd)
        assert (answer.status_code, answer.json()["code"]) == (404, "event_not_found"), odd
    wrong = httpx.post(f"{tracker.base_url}/events/x", headers={"Authorization": f"Bearer {ACME_KEY}"})
    assert (wrong.status_code, wrong.json()["code"]) == (405, "method_not_allowed")


# --- the batch operation: POST /batch ----------------------------------------------------------------


def test_a_batch_stores_its_valid_items_and_answers_each_refused_one_with_its_error(
    tracker: RunningServer,
) -> None:
    items = [
        {"event": "order.completed", "userId": "b-1"},
        {"event": "order.completed"},  # no identity
        {"event": "tracker.internal", "anonymousId": "b-2"},  # reserved
        {"event": "signup.completed", "userId": "b-3", "properties": {"plan": "nope"}},  # definition
        {"event": "order.completed", "userId": "b-4", "unknown": 1},  # the item's schema
        "not an object",
        {"event": "signup.completed", "userId": "B-5", "properties": {"plan": "pro"}},
    ]
    answer = call(tracker, "/batch", {"batch": items})
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert (body["accepted"], body["rejected"]) == (2, 5)
    results = body["results"]
    assert [r["index"] for r in results] == list(range(7))
    assert [r["status"] for r in results] == [202, 400, 400, 422, 400, 400, 202]
    codes = [r["error"]["code"] if r["error"] else None for r in results]
    assert codes == [
        None,
        "missing_identity",
        "reserved_event",
        "invalid_properties",
        "invalid_request",
        "invalid_request",
        None,
    ]
    assert results[3]["error"]["message"] == 'The properties do not match the "signup.completed" definition.'
    assert [r["user"] for r in results] == ["b-1", None, None, None, None, None, "B-5"]
    assert all(r["id"] is None for r in results if r["error"])
    # Refused items are counted as items: their request was answered.
    assert 'ingest_items_rejected_total{reason="reserved_event"}' in httpx.get(f"{tracker.root}/metrics").text
    # The accepted items are stored as events of their own, readable by id.
    for r in (results[0], results[6]):
        stored = read(tracker, r["id"])
        assert stored.status_code == 200, stored.text
        assert stored.json()["user"] == r["user"]


def test_batch_items_are_deduplicated_one_by_one(tracker: RunningServer) -> None:
    key = f"bm-{uuid.uuid4()}"
    first = call(tracker, "/batch", {"batch": [{"event": "e", "userId": "u", "messageId": key}]})
    original = first.json()["results"][0]
    assert original["status"] == 202
    items = [
        {"event": "e", "userId": "u", "messageId": key},
        {"event": "e", "userId": "u", "messageId": f"{key}-new"},
        {"event": "e", "userId": "u", "messageId": f"{key}-new"},
    ]
    again = call(tracker, "/batch", {"batch": items}).json()
    assert [r["status"] for r in again["results"]] == [200, 202, 200]
    assert again["results"][0]["id"] == original["id"]
    assert again["results"][1]["id"] == again["results"][2]["id"] != original["id"]
    # The single-event route shares the keys: it replays the batch's event.
    replay = call(tracker, "/track", {"event": "e", "userId": "u", "messageId": key})
    assert (replay.status_code, replay.json()["id"]) == (200, original["id"])


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"batch": [{"event": "e", "userId": "u"}] * 9}, "invalid_request"),  # more than max_items
        ({"batch": []}, "invalid_request"),  # the wrapper's minItems
        ({"batch": {"event": "e"}}, "invalid_request"),
        ({"events": [{"event": "e", "userId": "u"}]}, "invalid_request"),
        ([{"event": "e", "userId": "u"}], "invalid_request"),
    ],
)
def test_request_level_failures_refuse_the_whole_batch(tracker: RunningServer, body: Any, code: str) -> None:
    before = httpx.get(f"{tracker.root}/metrics").text
    refused = call(tracker, "/batch", body)
    assert refused.status_code == 400, refused.text
    assert refused.json()["code"] == code
    assert "results" not in refused.json()
    assert httpx.get(f"{tracker.root}/metrics").text.count("ingest_events_accepted_total") == before.count(
        "ingest_events_accepted_total"
    )


def test_the_whole_batch_needs_a_key_json_and_its_media_type(tracker: RunningServer) -> None:
    items = {"batch": [{"event": "e", "userId": "u"}]}
    assert call(tracker, "/batch", items, key="be_unknown_key").status_code == 401
    url = f"{tracker.base_url}/batch"
    auth = {"Authorization": f"Bearer {ACME_KEY}"}
    wrong_type = httpx.post(url, content=b"{}", headers={**auth, "Content-Type": "text/plain"})
    assert (wrong_type.status_code, wrong_type.json()["code"]) == (415, "unsupported_media_type")
    broken = httpx.post(url, content=b'{"batch": [', headers={**auth, "Content-Type": "application/json"})
    assert (broken.status_code, broken.json()["code"]) == (400, "invalid_json")
    # globex's limit is 4096 bytes: a batch is held to it as a whole.
    big = {"batch": [{"event": "e", "userId": "u", "properties": {"pad": "x" * 1000}}] * 5}
    too_large = call(tracker, "/batch", big, key=GLOBEX_KEY)
    assert (too_large.status_code, too_large.json()["code"]) == (400, "too_large")

"""Issue 22, hardening round two: what an attacker or an unlucky client found on the generated servers
of a spec with the key in the body (the Amplitude corpus spec) and of one with batches and reads
(specs/tracker.yaml), on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
import yaml

from ingestspec.generator.generate.build import generate
from tests.conftest import EXAMPLE_CONFIG, REPO
from tests.generated_server.conftest import ACME_KEY
from tests.servers import RunningServer, running_server

AMPLITUDE = REPO / "tests" / "corpus" / "amplitude"
TRACKER = Path(__file__).resolve().parent / "specs" / "tracker.yaml"
AMPLITUDE_KEY = "0a1b2c3d4e5f60718293a4b5c6d7e8f9"  # the mobile-app project's
PRE_AUTH_BYTES = 16 * 1024  # bodies.PRE_AUTH_BYTES
MAX_DEPTH = 128  # bodies.MAX_DEPTH


@pytest.fixture(scope="module")
def amplitude(store_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    tmp = tmp_path_factory.mktemp("amplitude")
    generate(AMPLITUDE / "openapi.yaml", tmp / "amplitude_api")
    config = AMPLITUDE / "config.yaml"
    with running_server("amplitude_api", config, store_url, "", log_dir=tmp, pythonpath=tmp) as server:
        server.folder = tmp  # type: ignore[attr-defined]
        yield server


@pytest.fixture(scope="module")
def tracker(store_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    tmp = tmp_path_factory.mktemp("tracker")
    document = yaml.safe_load(TRACKER.read_text())
    # The error bodies list the failing paths (the same errors block is shared by every operation).
    document["paths"]["/track"]["post"]["x-ingest"]["errors"]["details"] = "/errors"
    (tmp / "tracker.yaml").write_text(yaml.safe_dump(document, sort_keys=False))
    generate(tmp / "tracker.yaml", tmp / "tracker_hardened")
    with running_server(
        "tracker_hardened", EXAMPLE_CONFIG, store_url, "/v1", log_dir=tmp, pythonpath=tmp
    ) as server:
        yield server


def upload(server: RunningServer, raw: bytes) -> httpx.Response:
    headers = {"Content-Type": "application/json"}
    return httpx.post(server.base_url + "/2/httpapi", content=raw, headers=headers, timeout=60)


def amplitude_event(**fields: Any) -> dict[str, Any]:
    return {"user_id": "user-0001", "event_type": "watch_tutorial", **fields}


def stored(server: RunningServer, store_url: str, project: str) -> int:
    """How many events the generated package's own storage holds for `project`."""
    sys.path.insert(0, str(server.folder))  # type: ignore[attr-defined]
    try:
        module = importlib.import_module("amplitude_api.storage")
    finally:
        sys.path.pop(0)

    async def count() -> int:
        storage = module.open_storage(store_url)
        await storage.start()
        try:
            return int(await storage.count(project))
        finally:
            await storage.close()

    return asyncio.run(count())


def tracker_post(server: RunningServer, path: str, raw: bytes) -> httpx.Response:
    headers = {"Authorization": f"Bearer {ACME_KEY}", "Content-Type": "application/json"}
    return httpx.post(server.base_url + path, content=raw, headers=headers, timeout=30)


def numbers(count: int, text: bytes = b"1e-1") -> bytes:
    return b",".join([text] * count)


# --- high: unauthenticated CPU where the key travels in the body ---------------------------------


def test_a_large_body_with_an_unknown_key_is_refused_unparsed(amplitude: RunningServer) -> None:
    # 1 MB of numbers, malformed at its end and holding one number no double holds: before the fix it
    # was parsed twice before the key was looked at, and answered 400 for its JSON instead of 401.
    for tail in (b"1e-400", b"oops"):
        raw = b'{"api_key":"x","events":[{"user_id":"user-0001","event_type":"e","event_properties":{"a":['
        raw += numbers(200_000) + b"," + tail + b"]}}]}"
        response = upload(amplitude, raw)
        assert response.status_code == 401, response.text


def test_a_small_body_with_an_unknown_key_is_not_read_twice(amplitude: RunningServer) -> None:
    # Within the pre-auth cap the body is parsed once (orjson) and its key checked before the exact
    # second read: a number no double holds is no reason to read it again for an unknown key.
    body = {"api_key": "x", "events": [amplitude_event(event_properties={"n": 0})]}
    raw = orjson.dumps(body).replace(b'"n":0', b'"n":1e-400')
    assert upload(amplitude, raw).status_code == 401
    known = upload(amplitude, raw.replace(b'"x"', f'"{AMPLITUDE_KEY}"'.encode()))
    # With its key the number is read exactly and refuses its item, and so the upload (all_or_nothing).
    assert known.status_code == 400, known.text


def test_a_large_body_must_name_its_key_within_the_pre_auth_cap(amplitude: RunningServer) -> None:
    events = [
        amplitude_event(event_properties={"tutorial": "t" * 100}) for _ in range(2 * PRE_AUTH_BYTES // 100)
    ]
    key_first = orjson.dumps({"api_key": AMPLITUDE_KEY, "events": events})
    assert len(key_first) > PRE_AUTH_BYTES
    response = upload(amplitude, key_first)
    assert response.status_code == 200, response.text
    assert response.json()["events_ingested"] == len(events)
    key_last = orjson.dumps({"events": events, "api_key": AMPLITUDE_KEY})
    assert upload(amplitude, key_last).status_code == 401  # the documented trade-off
    # A small body may hold its key anywhere; a key named first that the body does not hold is no key.
    assert (
        upload(amplitude, orjson.dumps({"events": events[:3], "api_key": AMPLITUDE_KEY})).status_code == 200
    )
    decoy = (
        b'{"events":[{"user_id":"user-0001","event_type":"e",'
        b'"event_properties":{"api_key":"%s","pad":"%s"}}],"api_key":"x"}'
    )
    assert upload(amplitude, decoy % (AMPLITUDE_KEY.encode(), b"p" * PRE_AUTH_BYTES)).status_code == 401


# --- medium: nesting the read cannot return --------------------------------------------------------


def nested(depth: int) -> bytes:
    return b"[" * depth + b"0" + b"]" * depth


@pytest.mark.parametrize("depth", [253, MAX_DEPTH])
def test_nesting_past_the_limit_is_refused_at_write_and_within_it_read_back(
    tracker: RunningServer, depth: int
) -> None:
    # The body nests `depth` arrays inside properties inside the body: depth + 2 levels in all.
    raw = b'{"event":"deep","userId":"u1","properties":{"x":' + nested(depth) + b"}}"
    response = tracker_post(tracker, "/track", raw)
    assert response.status_code == 400, response.text
    assert f"more than {MAX_DEPTH} levels" in response.json()["errors"][0]["message"]
    assert response.headers["content-type"].startswith("application/json")
    within = b'{"event":"deep","userId":"u1","properties":{"x":' + nested(MAX_DEPTH - 2) + b"}}"
    accepted = tracker_post(tracker, "/track", within)
    assert accepted.status_code == 202, accepted.text
    read = httpx.get(
        f"{tracker.base_url}/events/{accepted.json()['id']}", headers={"Authorization": f"Bearer {ACME_KEY}"}
    )
    assert read.status_code == 200, read.text
    assert orjson.dumps(read.json()["properties"]) == b'{"x":' + nested(MAX_DEPTH - 2) + b"}"


# --- medium: a batch counts what it stored ---------------------------------------------------------


def test_a_batch_counts_only_the_events_it_stored(amplitude: RunningServer, store_url: str) -> None:
    before = stored(amplitude, store_url, "mobile-app")
    key = f"k-{uuid.uuid4()}"
    valid = [
        amplitude_event(insert_id=key, event_properties={"tutorial": "a"}),  # one key, two bodies
        amplitude_event(insert_id=key, event_properties={"tutorial": "b"}),
        amplitude_event(insert_id=f"k-{uuid.uuid4()}"),
    ]
    invalid = [
        amplitude_event(event_type=""),
        amplitude_event(user_id="abc"),
        {"event_type": "watch_tutorial"},
    ]
    # Amplitude refuses an upload with any invalid event (acceptance: all_or_nothing): nothing stored.
    refused = upload(amplitude, orjson.dumps({"api_key": AMPLITUDE_KEY, "events": invalid + valid}))
    assert refused.status_code == 400, refused.text
    assert stored(amplitude, store_url, "mobile-app") == before
    response = upload(amplitude, orjson.dumps({"api_key": AMPLITUDE_KEY, "events": valid}))
    assert response.status_code == 200, response.text
    added = stored(amplitude, store_url, "mobile-app") - before
    assert added == 2
    # The second body of the key is answered by the first event, not stored as sent: not counted.
    assert response.json()["events_ingested"] == added
    # A retry of the same batch stores nothing more and counts the two it holds, as sent.
    again = upload(amplitude, orjson.dumps({"api_key": AMPLITUDE_KEY, "events": valid}))
    assert again.json()["events_ingested"] == 2
    assert stored(amplitude, store_url, "mobile-app") - before == 2


def test_a_batch_names_the_item_whose_key_holds_another_body(tracker: RunningServer) -> None:
    key = f"m-{uuid.uuid4()}"
    items = [
        {"event": "a", "userId": "u1", "messageId": key, "properties": {"v": 1}},
        {"event": "a", "userId": "u1", "messageId": key, "properties": {"v": 2}},
    ]
    body = tracker_post(tracker, "/batch", orjson.dumps({"batch": items})).json()
    assert body["accepted"] == 1
    assert [r["status"] for r in body["results"]] == [202, 200]  # the second answered the first (replay)
    assert body["results"][0]["id"] == body["results"][1]["id"]


# --- low: duplicated members, unstorable numbers ---------------------------------------------------


def test_a_repeated_member_is_refused(amplitude: RunningServer, tracker: RunningServer) -> None:
    event = orjson.dumps(amplitude_event()).decode()
    doubled_key = f'{{"api_key":"x","api_key":"{AMPLITUDE_KEY}","events":[{event}]}}'.encode()
    response = upload(amplitude, doubled_key)
    assert response.status_code == 400, response.text
    doubled_event = b'{"event":"first","event":"second","userId":"u1"}'
    refused = tracker_post(tracker, "/track", doubled_event)
    assert refused.status_code == 400, refused.text
    assert "repeats a member" in refused.text
    # The same name in two objects is no repetition; an escaped spelling of the same name is.
    assert (
        tracker_post(tracker, "/track", b'{"event":"e","userId":"u1","properties":{"event":1}}').status_code
        == 202
    )
    assert (
        tracker_post(tracker, "/track", b'{"event":"e","userId":"u1","ev\\u0065nt":"f"}').status_code == 400
    )


@pytest.mark.parametrize("number", ["1e-400", "18446744073709551616", "1e400"])
def test_an_unstorable_number_refuses_only_its_item(tracker: RunningServer, number: str) -> None:
    items = [{"event": "n", "userId": "u1", "properties": {"n": 1}} for _ in range(5)]
    raw = orjson.dumps({"batch": items})
    at = raw.index(b'"n":1', raw.index(b'"n":1', raw.index(b'"n":1', raw.index(b'"n":1') + 1) + 1) + 1)
    raw = raw[:at] + b'"n":' + number.encode() + raw[at + 5 :]  # the fourth item's
    response = tracker_post(tracker, "/batch", raw)
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["accepted"], body["rejected"]) == (4, 1)
    refused = body["results"][3]
    assert refused["status"] == 400
    assert refused["error"]["errors"][0]["path"] == "/batch/3/properties/n"
    assert number in refused["error"]["errors"][0]["message"]
    single = tracker_post(
        tracker, "/track", b'{"event":"n","userId":"u1","properties":{"n":' + number.encode() + b"}}"
    )
    assert single.status_code == 400
    assert single.json()["code"] == "invalid_request", single.text


# --- low: the configuration, the head, the operational endpoints ---------------------------------


def test_a_mismatch_policy_the_api_cannot_honour_is_warned_at_load(tracker: RunningServer) -> None:
    # examples/config.yaml's globex sets idempotency_mismatch: reject; the tracker's replays answer 200.
    log = tracker.log.read_text()
    assert "'globex' sets idempotency_mismatch: reject, which this API cannot honour" in log, log[-2000:]


def raw_exchange(server: RunningServer, data: bytes) -> bytes:
    host, port = server.root.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(data)
        received = b""
        with contextlib.suppress(ConnectionResetError, TimeoutError):
            while chunk := sock.recv(65536):
                received += chunk
        return received


def test_two_host_headers_are_refused(tracker: RunningServer) -> None:
    body = b'{"event":"e","userId":"u1"}'
    head = (
        b"POST /v1/track HTTP/1.1\r\nHost: a.example\r\nHost: b.example\r\nContent-Type: application/json\r\n"
        b"Authorization: Bearer "
        + ACME_KEY.encode()
        + b"\r\nContent-Length: "
        + str(len(body)).encode()
        + b"\r\n\r\n"
    )
    answer = raw_exchange(tracker, head + body)
    assert answer.startswith(b"HTTP/1.1 400 "), answer[:300]
    assert b"header.Host" in answer
    one_host = head.replace(b"Host: b.example\r\n", b"")
    assert raw_exchange(tracker, one_host + body + b"").startswith(b"HTTP/1.1 202 ")


def outward_address() -> str | None:
    """This machine's address on a non-loopback interface, if it has one (no packet is sent)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        try:
            sock.connect(("10.255.255.255", 1))
        except OSError:
            return None
        address: str = sock.getsockname()[0]
    return None if address.startswith("127.") else address


def test_metrics_are_behind_a_setting(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'events.db'}"
    every = ("--host", "0.0.0.0")
    with running_server(
        "generated_server.sendrealm", EXAMPLE_CONFIG, db, log_dir=tmp_path, extra=every
    ) as default:
        assert httpx.get(default.root + "/metrics").status_code == 200  # a loopback client
        address = outward_address()
        if address is not None:  # a client on another interface is not
            other = default.root.replace("127.0.0.1", address)
            assert httpx.get(other + "/metrics").status_code == 404
            assert httpx.get(other + "/healthz").status_code == 200
    extra = ("--metrics", "off")
    with running_server(
        "generated_server.sendrealm", EXAMPLE_CONFIG, db, log_dir=tmp_path, extra=extra
    ) as off:
        assert httpx.get(off.root + "/metrics").status_code == 404
        assert httpx.get(off.root + "/readyz").status_code == 200


# --- low: one rate limit for the processes of a deployment ---------------------------------------

CUSTOMERIO = REPO / "tests" / "corpus" / "customerio"
# A client process: POSTs as fast as it can until `stop_at` (wall clock), prints "time status" per answer.
HAMMER = """
import sys, time, httpx
url, stop_at = sys.argv[1], float(sys.argv[2])
with httpx.Client(timeout=30, auth=("site_5a1c2f9e7d", "trk_4f1e2d3c4b5a69788796a5b4c3d2e1f0")) as client:
    while time.time() < stop_at:
        status = client.post(url, content=b"{}", headers={"Content-Type": "application/json"}).status_code
        print(time.time(), status, flush=True)
"""


def test_the_rate_limit_holds_across_the_processes_of_a_deployment(tmp_path: Path) -> None:
    generate(CUSTOMERIO / "openapi.yaml", tmp_path / "customerio_api")
    extra = ("--workers", "2", "--no-worker")
    config = CUSTOMERIO / "config.yaml"
    db = f"sqlite:///{tmp_path / 'events.db'}"
    with running_server(
        "customerio_api", config, db, "", log_dir=tmp_path, pythonpath=tmp_path, extra=extra
    ) as s:
        time.sleep(2)  # both processes up
        stop_at = time.time() + 10  # a client process may take seconds to start on a busy machine
        clients = [
            subprocess.Popen(
                [sys.executable, "-c", HAMMER, s.root + "/api/v1/events", str(stop_at)],
                stdout=subprocess.PIPE,
            )
            for _ in range(4)
        ]
        answers = [
            line.split() for process in clients for line in process.communicate(timeout=60)[0].splitlines()
        ]
    admitted = sorted(float(at) for at, status in answers if status != b"429")
    assert any(status == b"429" for _, status in answers), "the clients never reached the limit"
    # The most admitted in any one second, past the first (the window starts full).
    busiest = max(
        sum(1 for t in admitted if start <= t < start + 1) for start in admitted if start >= admitted[0] + 1
    )
    print(
        f"{len(answers)} requests, {len(admitted)} admitted;"
        f" at most {busiest} admitted in one second (limit 100)"
    )
    assert 90 <= busiest <= 110, busiest

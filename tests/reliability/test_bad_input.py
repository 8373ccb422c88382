"""Hostile and broken requests get a clear 4xx or are cut off, never a 5xx, and others are still served."""

from __future__ import annotations

import contextlib
import os
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import hypothesis
import orjson
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, settings
from schemathesis import GenerationMode

from tests.conftest import EXAMPLE_CONFIG, SPECS
from tests.servers import RunningServer, running_server

from .conftest import SERVERS, auth, require_generated, sendrealm_event

ACME_CAP = 32768  # acme's payload_limit_bytes in examples/config.yaml
FUZZ_EXAMPLES = int(os.environ.get("INGESTSPEC_FUZZ_EXAMPLES", "150"))


@dataclass
class Target:
    api: str
    server: RunningServer

    @property
    def url(self) -> str:
        return self.server.base_url + SERVERS[self.api][2]

    @property
    def path(self) -> str:
        return SERVERS[self.api][1] + SERVERS[self.api][2]

    def valid(self) -> dict[str, Any]:
        if self.api == "sendrealm":
            return sendrealm_event(f"bad-{uuid.uuid4()}")
        return {"event": "order.completed", "email": "a@b.co", "data": {"order_id": "A-1", "total": 1.5}}

    def with_payload(self, payload: object) -> dict[str, Any]:
        body = self.valid()
        body["payload" if self.api == "sendrealm" else "data"] = payload
        return body

    def assert_alive(self) -> None:
        """A valid event is still accepted, promptly."""
        start = time.monotonic()
        response = httpx.post(self.url, json=self.valid(), headers=auth(), timeout=5)
        assert response.status_code == 202, response.text
        assert time.monotonic() - start < 2


@pytest.fixture(scope="module", params=sorted(SERVERS))
def target(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Target]:
    api = request.param
    require_generated(api)
    module, base, _ = SERVERS[api]
    tmp = tmp_path_factory.mktemp(f"bad-{api}")
    with running_server(
        module, EXAMPLE_CONFIG, f"sqlite:///{tmp / 'events.db'}", base, log_dir=tmp
    ) as server:
        yield Target(api, server)


def raw_exchange(server: RunningServer, data: bytes, timeout: float = 10) -> bytes:
    """Send bytes on a fresh connection; what came back before the server answered or closed.

    b"" means the server cut the connection off without answering (also a fine outcome for abuse).
    """
    port = int(server.root.rsplit(":", 1)[1])
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        with contextlib.suppress(OSError):  # cut off while we were still sending
            sock.sendall(data)
        received = b""
        try:
            while b"\r\n\r\n" not in received:
                chunk = sock.recv(65536)
                if not chunk:
                    break
                received += chunk
        except (ConnectionResetError, TimeoutError):
            pass
        return received


def status_of(raw: bytes) -> int | None:
    """The status of a raw HTTP response, None if the connection was cut off without one."""
    if not raw:
        return None
    return int(raw.split(b" ", 2)[1])


def request_bytes(
    target: Target, body: bytes, extra_headers: bytes = b"", auth_value: bytes | None = None
) -> bytes:
    authorization = auth_value if auth_value is not None else b"Bearer be_acme_test_key"
    return (
        f"POST {target.path} HTTP/1.1\r\nHost: 127.0.0.1\r\n".encode()
        + b"Authorization: "
        + authorization
        + b"\r\n"
        + b"Content-Type: application/json\r\n"
        + extra_headers
        + f"Content-Length: {len(body)}\r\n\r\n".encode()
        + body
    )


def refused_or_cut_off(status: int | None) -> bool:
    return status is None or 400 <= status < 500


# --- bodies --------------------------------------------------------------------------------------


def test_a_body_ten_times_the_cap_is_refused(target: Target) -> None:
    body = b'{"event":"order.completed","padding":"' + b"x" * (10 * ACME_CAP) + b'"}'
    response = httpx.post(target.url, content=body, headers={**auth(), "Content-Type": "application/json"})
    assert response.status_code == 413
    target.assert_alive()


def test_a_chunked_body_ten_times_the_cap_is_refused_or_cut_off(target: Target) -> None:
    # No Content-Length to check up front: the server must stop reading at the cap.
    def chunks() -> Iterator[bytes]:
        yield b'{"event":"order.completed","padding":"'
        for _ in range(10 * ACME_CAP // 4096):
            yield b"x" * 4096
        yield b'"}'

    headers = {**auth(), "Content-Type": "application/json"}
    try:
        status: int | None = httpx.post(target.url, content=chunks(), headers=headers, timeout=10).status_code
    except httpx.TransportError:
        status = None
    assert refused_or_cut_off(status), status
    target.assert_alive()


def test_a_declared_length_over_the_cap_is_refused_before_the_body_comes(target: Target) -> None:
    head = request_bytes(target, b"x" * (10 * ACME_CAP))[: -(10 * ACME_CAP)]
    start = time.monotonic()
    answer = raw_exchange(target.server, head + b'{"event":', timeout=5)
    assert status_of(answer) == 413, answer[:200]
    assert time.monotonic() - start < 2, "the server waited for a body it was going to refuse"


@pytest.mark.parametrize("depth", [2_000, 15_000])
def test_deeply_nested_arrays_are_a_400(target: Target, depth: int) -> None:
    body = b"[" * depth + b"]" * depth
    response = httpx.post(target.url, content=body, headers={**auth(), "Content-Type": "application/json"})
    assert response.status_code == 400, response.text
    target.assert_alive()


# orjson parses up to 1024 levels but serialises only 254: a payload between the two must not
# reach a bare orjson.dumps on the way to storage (that was a 500).
NESTED_PAYLOAD_DEPTHS = [100, 300, 1000]


@pytest.mark.parametrize("depth", NESTED_PAYLOAD_DEPTHS)
def test_a_deeply_nested_payload_is_never_a_5xx(target: Target, depth: int) -> None:
    # Built as text: Python's json would hit its own recursion limit first.
    marker = '"@@payload@@"'
    envelope = orjson.dumps(target.with_payload("@@payload@@")).decode()
    body = envelope.replace(marker, '{"a":' * depth + '"leaf"' + "}" * depth).encode()
    response = httpx.post(target.url, content=body, headers={**auth(), "Content-Type": "application/json"})
    assert response.status_code in (202, 400, 413, 422), response.text
    target.assert_alive()


@pytest.mark.parametrize(
    "body",
    [
        b'{"event":"order.completed\xff\xfe","email":"a@b.co"}',
        b'{"event":"\xc3\x28","email":"a@b.co"}',
        b'{"event":"order.completed","email":"a@b.co","data":{"k":"\xed\xa0\x80"}}',  # encoded surrogate
        b'{"event":"order.completed","email":"a@b.co","data":{"k":"\\ud800"}}',  # lone surrogate escape
        b"\xef\xbb\xbf{}",  # a byte-order mark
    ],
    ids=["invalid-bytes", "bad-continuation", "utf8-surrogate", "escaped-lone-surrogate", "bom"],
)
def test_invalid_utf8_is_a_400(target: Target, body: bytes) -> None:
    response = httpx.post(target.url, content=body, headers={**auth(), "Content-Type": "application/json"})
    assert response.status_code == 400, response.text
    target.assert_alive()


# --- headers -------------------------------------------------------------------------------------


def test_invalid_utf8_in_the_authorization_header_is_a_401(target: Target) -> None:
    body = httpx.Request("POST", "/", json=target.valid()).content
    answer = raw_exchange(target.server, request_bytes(target, body, auth_value=b"Bearer \xff\xfe\x80key"))
    assert status_of(answer) == 401, answer[:300]
    target.assert_alive()


HUGE_HEADERS = {
    "one-1MiB-header": b"X-Junk: " + b"a" * (1 << 20) + b"\r\n",
    "20000-headers": b"".join(b"X-H%d: v\r\n" % i for i in range(20_000)),
}


@pytest.mark.parametrize("headers", list(HUGE_HEADERS.values()), ids=list(HUGE_HEADERS))
def test_huge_headers_are_refused_or_cut_off(target: Target, headers: bytes) -> None:
    body = httpx.Request("POST", "/", json=target.valid()).content
    answer = raw_exchange(target.server, request_bytes(target, body, extra_headers=headers))
    target.assert_alive()
    assert refused_or_cut_off(status_of(answer)), answer[:300]


@pytest.mark.parametrize("headers", list(HUGE_HEADERS.values()), ids=list(HUGE_HEADERS))
def test_huge_headers_never_stop_the_server(target: Target, headers: bytes) -> None:
    body = httpx.Request("POST", "/", json=target.valid()).content
    status = status_of(raw_exchange(target.server, request_bytes(target, body, extra_headers=headers)))
    assert status is None or status < 500, status
    target.assert_alive()


# --- slow clients --------------------------------------------------------------------------------

SLOW_CLIENTS = 40
TRICKLE_SECONDS = 6.0


def trickle(target: Target, data: bytes, stop: threading.Event, cut_off: list[bool]) -> None:
    """Send `data` a byte at a time, slowly, until told to stop; note whether the server hung up."""
    port = int(target.server.root.rsplit(":", 1)[1])
    with socket.create_connection(("127.0.0.1", port), timeout=TRICKLE_SECONDS + 5) as sock:
        for byte in data:
            if stop.wait(0.2):
                return
            try:
                sock.send(bytes([byte]))
            except OSError:
                cut_off.append(True)
                return


def test_slow_clients_do_not_hold_up_the_others(target: Target) -> None:
    body = httpx.Request("POST", "/", json=target.valid()).content
    slow_headers = request_bytes(target, body)
    stalled_body = request_bytes(target, b"x" * 1000)[:-990]  # declares 1000 bytes, sends 10
    stop = threading.Event()
    cut_off: list[bool] = []
    threads = [
        threading.Thread(target=trickle, args=(target, slow_headers, stop, cut_off), daemon=True)
        for _ in range(SLOW_CLIENTS)
    ]
    stalled = []
    port = int(target.server.root.rsplit(":", 1)[1])
    for _ in range(SLOW_CLIENTS // 4):
        sock = socket.create_connection(("127.0.0.1", port))
        sock.sendall(stalled_body)
        stalled.append(sock)
    for thread in threads:
        thread.start()
    try:
        deadline = time.monotonic() + TRICKLE_SECONDS
        served = 0
        while time.monotonic() < deadline:
            target.assert_alive()  # each within 2 s, while the slow ones hold their connections
            served += 1
            time.sleep(0.05)
        assert served > 10
    finally:
        stop.set()
        for thread in threads:
            thread.join(5)
        for sock in stalled:
            sock.close()
    target.assert_alive()


SLOW_CLIENT_BOUND = 10.0  # the servers answer 408 and close a request not received within 10 s


def test_slow_clients_are_cut_off_or_refused(target: Target) -> None:
    if target.api != "sendrealm":
        pytest.skip("the same uvicorn settings serve both APIs: one is enough")
    port = int(target.server.root.rsplit(":", 1)[1])
    stalled_body = request_bytes(target, b"x" * 100)[:-90]  # declares 100 bytes, sends 10
    trickled = request_bytes(target, b"{}")
    with (
        socket.create_connection(("127.0.0.1", port)) as trickling,
        socket.create_connection(("127.0.0.1", port)) as stalling,
    ):
        stalling.sendall(stalled_body)
        stalling.settimeout(0.1)
        deadline = time.monotonic() + SLOW_CLIENT_BOUND + 3
        answers: dict[str, bytes | None] = {"trickling": None, "stalling": None}
        sent = 0
        while time.monotonic() < deadline and None in answers.values():
            if answers["trickling"] is None:
                try:
                    trickling.send(trickled[sent % len(trickled) : sent % len(trickled) + 1])
                    sent += 1
                except OSError:
                    answers["trickling"] = b""
            with contextlib.suppress(TimeoutError):
                if answers["stalling"] is None:
                    answers["stalling"] = stalling.recv(1000)
            time.sleep(0.4)
    for name, answer in answers.items():
        assert answer is not None, f"the {name} client was still connected after {SLOW_CLIENT_BOUND:.0f} s"
        assert refused_or_cut_off(status_of(answer)), (name, answer[:200])


def test_a_client_that_leaves_mid_body_is_no_server_error(target: Target) -> None:
    port = int(target.server.root.rsplit(":", 1)[1])
    before = target.server.log.read_text()
    with socket.create_connection(("127.0.0.1", port)) as sock:
        sock.sendall(request_bytes(target, b"x" * 1000)[:-990])
        time.sleep(0.3)
    time.sleep(0.5)
    target.assert_alive()
    logged = target.server.log.read_text()[len(before) :]
    assert "Traceback" not in logged, logged[-1500:]


# --- fuzzing -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE], ids=["positive", "negative"]
)
def test_schemathesis_finds_no_5xx(target: Target, mode: GenerationMode) -> None:
    schema = schemathesis.openapi.from_path(SPECS[target.api], config=schemathesis.Config())
    schema.config.update(base_url=target.server.base_url)
    path = SERVERS[target.api][2]
    strategy = schema[path]["post"].as_strategy(generation_mode=mode)
    seen: dict[int, int] = {}
    server_errors: list[str] = []

    @settings(
        max_examples=FUZZ_EXAMPLES,
        deadline=None,
        database=None,
        phases=[Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @hypothesis.given(strategy)
    def run(case: Any) -> None:
        case.headers = {**(case.headers or {}), **auth()}
        response = case.call(base_url=target.server.base_url, timeout=10)
        seen[response.status_code] = seen.get(response.status_code, 0) + 1
        if response.status_code >= 500:
            server_errors.append(
                f"{response.status_code} for {case.as_curl_command()}: {response.text[:200]}"
            )

    run()
    assert not server_errors, "\n".join(server_errors[:5])
    assert sum(seen.values()) >= min(FUZZ_EXAMPLES, 20), seen
    target.assert_alive()

"""Nothing held open forever: connections are capped, idle ones closed from the moment they open,
and the protocol's refusals are answered in the API's envelope (issue 14)."""

from __future__ import annotations

import contextlib
import re
import resource
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import orjson
import pytest

from tests.conftest import EXAMPLE_CONFIG
from tests.servers import RunningServer, running_server

from .conftest import auth, require_generated, sendrealm_event, sqlite_url

READ_TIMEOUT = 10.0  # protocol.READ_TIMEOUT_SECONDS of the generated servers
PROBLEM = b"application/problem+json"


def serve(tmp: Path) -> contextlib.AbstractContextManager[RunningServer]:
    require_generated("sendrealm")
    return running_server("generated_server.sendrealm", EXAMPLE_CONFIG, sqlite_url(tmp), "", log_dir=tmp)


@pytest.fixture(scope="module")
def sendrealm(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    with serve(tmp_path_factory.mktemp("connections")) as server:
        yield server


def connect(server: RunningServer, timeout: float = READ_TIMEOUT + 5) -> socket.socket:
    port = int(server.root.rsplit(":", 1)[1])
    return socket.create_connection(("127.0.0.1", port), timeout=timeout)


def read_all(sock: socket.socket) -> bytes:
    """Everything until the server closes (or the socket's timeout passes)."""
    received = b""
    with contextlib.suppress(ConnectionResetError, TimeoutError):
        while chunk := sock.recv(65536):
            received += chunk
    return received


def answer(raw: bytes) -> tuple[int, dict[bytes, bytes], bytes]:
    head, _, body = raw.partition(b"\r\n\r\n")
    status_line, *lines = head.split(b"\r\n")
    headers = {
        name.strip().lower(): value.strip() for name, _, value in (line.partition(b":") for line in lines)
    }
    return int(status_line.split(b" ")[1]), headers, body


def rejected(server: RunningServer, reason: str) -> float:
    text = httpx.get(server.root + "/metrics", timeout=5).text
    found = re.search(rf'^ingest_requests_rejected_total\{{reason="{reason}"\}} (\S+)$', text, re.M)
    return float(found.group(1)) if found else 0.0


def assert_served(server: RunningServer) -> None:
    response = httpx.post(
        server.base_url + "/events", json=sendrealm_event(f"c-{time.time_ns()}"), headers=auth()
    )
    assert response.status_code == 202, response.text


def test_connections_that_send_nothing_are_closed_from_the_moment_they_open(sendrealm: RunningServer) -> None:
    before = rejected(sendrealm, "idle_connection")
    start = time.monotonic()
    sockets = [connect(sendrealm) for _ in range(200)]
    try:
        received = [read_all(sock) for sock in sockets]
        elapsed = time.monotonic() - start
    finally:
        for sock in sockets:
            sock.close()
    assert received == [b""] * 200  # closed without an answer: there was no request
    assert elapsed < READ_TIMEOUT + 3, elapsed
    assert rejected(sendrealm, "idle_connection") - before == 200
    assert_served(sendrealm)


def test_a_request_not_received_in_time_is_a_408_in_the_envelope(sendrealm: RunningServer) -> None:
    with connect(sendrealm) as sock:
        sock.sendall(b"POST /events HTTP/1.1\r\nHost: x\r\n")  # and nothing more
        status, headers, body = answer(read_all(sock))
    assert status == 408
    assert headers[b"content-type"] == PROBLEM
    assert orjson.loads(body)["title"] == "Request timeout"
    assert headers[b"connection"] == b"close"


def test_a_slow_body_is_a_408_in_the_envelope(sendrealm: RunningServer) -> None:
    with connect(sendrealm) as sock:
        sock.sendall(
            b"POST /events HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer be_acme_test_key\r\n"
            b"Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{"
        )
        status, headers, body = answer(read_all(sock))
    assert status == 408
    assert orjson.loads(body)["status"] == 408


def test_a_client_leaving_mid_body_is_counted_and_stores_nothing(sendrealm: RunningServer) -> None:
    before = rejected(sendrealm, "client_disconnected")
    with connect(sendrealm) as sock:
        sock.sendall(
            b"POST /events HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer be_acme_test_key\r\n"
            b'Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{"event":'
        )
        time.sleep(0.3)  # the endpoint is waiting for the rest of the body
    deadline = time.monotonic() + 5
    while rejected(sendrealm, "client_disconnected") == before and time.monotonic() < deadline:
        time.sleep(0.05)
    assert rejected(sendrealm, "client_disconnected") - before == 1
    assert_served(sendrealm)


def test_a_huge_head_is_a_431_in_the_envelope(sendrealm: RunningServer) -> None:
    with connect(sendrealm) as sock:
        with contextlib.suppress(OSError):
            sock.sendall(b"POST /events HTTP/1.1\r\nHost: x\r\nX-Junk: " + b"a" * 70_000 + b"\r\n\r\n")
        status, headers, body = answer(read_all(sock))
    assert status == 431
    assert headers[b"content-type"] == PROBLEM
    assert orjson.loads(body)["title"] == "Headers too large"


def test_bad_framing_is_a_400_in_the_envelope(sendrealm: RunningServer) -> None:
    with connect(sendrealm) as sock:
        sock.sendall(b"POST /events HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nContent-Length: 9\r\n\r\n{}")
        status, headers, body = answer(read_all(sock))
    assert status == 400
    assert headers[b"content-type"] == PROBLEM
    assert orjson.loads(body)["errors"] == [{"path": "", "message": "the request is not valid HTTP/1.1"}]


@contextlib.contextmanager
def open_files_limit(limit: int) -> Iterator[None]:
    """Processes started inside inherit a lower soft limit of open files."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (limit, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


def test_connections_past_the_cap_are_answered_503_and_counted(tmp_path: Path) -> None:
    with open_files_limit(400):  # the server's cap is then 400 - 256 = 144 connections
        server_context = serve(tmp_path)
        server = server_context.__enter__()
    try:
        held = [connect(server) for _ in range(144)]
        try:
            refused = [connect(server, timeout=5) for _ in range(10)]
            answers = [answer(read_all(sock)) for sock in refused]
            for sock in refused:
                sock.close()
        finally:
            for sock in held:
                sock.close()
        for status, headers, body in answers:
            assert status == 503
            assert headers[b"retry-after"] == b"1"
            assert orjson.loads(body)["title"] == "Storage unavailable"
        time.sleep(0.2)
        assert rejected(server, "too_many_connections") >= 10
        assert "connection refused: 145 connections open, at most 144" in server.log.read_text()
        assert_served(server)
    finally:
        server_context.__exit__(None, None, None)

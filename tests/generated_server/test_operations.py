"""Operating a generated server: /healthz and /readyz, X-Request-Id, and the dead-letter command
(`python -m pkg deadletters list|show|retry`) on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from generated_server.arsel.storage import NewEvent, open_storage, utc_now
from generated_server.arsel.uuid7 import uuid7
from tests.conftest import EXAMPLE_CONFIG, REPO, fresh_postgres_url
from tests.servers import free_port, running_server


class Proxy:
    """A TCP forwarder to the test PostgreSQL server that can be cut, as a network partition or a
    stopped database would: every connection through it closes and new ones are refused."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.sockets: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        with contextlib.suppress(OSError):
            while True:
                client, _ = self.listener.accept()
                upstream = socket.create_connection(self.target)
                self.sockets += [client, upstream]
                for a, b in ((client, upstream), (upstream, client)):
                    threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def _pipe(source: socket.socket, sink: socket.socket) -> None:
        with contextlib.suppress(OSError):
            while data := source.recv(65536):
                sink.sendall(data)
        with contextlib.suppress(OSError):
            sink.shutdown(socket.SHUT_WR)

    def cut(self) -> None:
        self.listener.close()
        for sock in self.sockets:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()


def via_proxy(url: str, port: int) -> str:
    """`url` with its host and port replaced by the proxy's."""
    scheme, rest = url.split("://", 1)
    credentials, after = rest.split("@", 1)
    path = after.split("/", 1)[1]
    return f"{scheme}://{credentials}@127.0.0.1:{port}/{path}"


def pg_address(url: str) -> tuple[str, int]:
    host_port = url.split("@", 1)[1].split("/", 1)[0]
    host, _, port = host_port.partition(":")
    return host, int(port or 5432)


def test_readyz_answers_503_once_postgresql_is_unreachable_and_healthz_stays_ok(tmp_path: Path) -> None:
    url = fresh_postgres_url()
    proxy = Proxy(pg_address(url))
    with running_server(
        "generated_server.arsel", EXAMPLE_CONFIG, via_proxy(url, proxy.port), log_dir=tmp_path
    ) as s:
        assert httpx.get(s.root + "/readyz").json() == {"status": "ok"}
        proxy.cut()
        started = time.monotonic()
        ready = httpx.get(s.root + "/readyz", timeout=10)
        assert ready.status_code == 503
        # A short reason only: the driver's error names the host and port, and goes to the log.
        assert ready.json() == {"status": "unavailable", "reason": "store unavailable"}
        assert str(proxy.port) not in ready.text
        assert "not ready: postgresql" in s.log.read_text()
        assert time.monotonic() - started < 5  # the probe gives up (2 s), it does not hang
        assert httpx.get(s.root + "/healthz").status_code == 200
        metrics = httpx.get(s.root + "/metrics")
        assert metrics.status_code == 200 and "ingest_events_backlog NaN" in metrics.text


def test_readyz_answers_503_when_the_sqlite_file_is_gone(tmp_path: Path) -> None:
    db = tmp_path / "events.db"
    with running_server("generated_server.arsel", EXAMPLE_CONFIG, f"sqlite:///{db}", log_dir=tmp_path) as s:
        assert httpx.get(s.root + "/readyz").status_code == 200
        db.unlink()
        ready = httpx.get(s.root + "/readyz")
        assert ready.status_code == 503
        assert ready.json() == {"status": "unavailable", "reason": "store unavailable"}  # no file path
        assert str(tmp_path) not in ready.text and "No such file" in s.log.read_text()
        assert httpx.get(s.root + "/healthz").status_code == 200


@pytest.mark.parametrize(
    ("sent", "kept"),
    [("req-42.a:b/c+d=", True), ("has space", False), ("x" * 129, False), ("é", False), (None, False)],
)
def test_x_request_id_is_the_clients_when_sane_else_generated(
    server_url: str, sent: str | None, kept: bool
) -> None:
    headers = {b"X-Request-Id": sent.encode()} if sent else {}
    answer = httpx.get(server_url + "/healthz", headers=headers)
    echoed = answer.headers["x-request-id"]
    if kept:
        assert echoed == sent
    else:
        assert echoed != sent and len(echoed) == 32 and int(echoed, 16) >= 0


def test_made_request_ids_differ_between_requests_and_forked_processes() -> None:
    from generated_server.arsel.app import new_request_id

    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: its id, then out without pytest's exit handlers
        os.write(write, new_request_id().encode())
        os._exit(0)
    os.waitpid(pid, 0)
    child = os.read(read, 64).decode()
    os.close(read)
    os.close(write)
    first, second = new_request_id(), new_request_id()
    assert len({first, second, child}) == 3 and all(len(rid) == 32 for rid in (first, second, child))
    assert child[:16] != first[:16]  # the child's own prefix, not the parent's with the same count


@pytest.fixture(scope="module")
def server_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    tmp = tmp_path_factory.mktemp("rid")
    with running_server(
        "generated_server.arsel", EXAMPLE_CONFIG, f"sqlite:///{tmp / 'e.db'}", log_dir=tmp
    ) as s:
        yield s.root


# --- dead letters ---------------------------------------------------------------------------------


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'events.db'}" if request.param == "sqlite" else fresh_postgres_url()


def whole_item(n: int) -> bytes:
    """The item event `n` of `dead_events` was sent as: more than its payload."""
    item = {"event": "order.completed", "email": f"person{n}@example.com", "order_id": f"A-{n}"}
    return json.dumps({**item, "context": {"ip": f"10.0.0.{n}"}}, separators=(",", ":")).encode()


async def dead_events(url: str, count: int) -> list[str]:
    """Store `count` events and dead-letter them, as the worker does after its last attempt."""
    ids = []
    async with open_storage(url) as storage:
        for n in range(count):
            now = utc_now()
            event = NewEvent(
                uuid7(), "acme", "order.completed", "email", f"person{n}@example.com",
                b'{"order_id":"A-%d"}' % n, now, now, None, None, whole_item(n),
            )  # fmt: skip
            await storage.insert(event)
            await storage.dead_letter(event.id, f"RuntimeError: failure {n}")
            ids.append(event.id)
    return ids


def deadletters(url: str, *args: str, code: int = 0) -> list[Any]:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    result = subprocess.run(
        [sys.executable, "-m", "generated_server.arsel", "deadletters", "--db", url, *args],
        capture_output=True, text=True, env=env, cwd=REPO, timeout=60, check=False,
    )  # fmt: skip
    assert result.returncode == code, result.stderr
    if args[0] == "show" and code == 0:
        return [json.loads(result.stdout)]
    return [json.loads(line) for line in result.stdout.splitlines()]


def test_deadletters_list_show_and_retry(store: str) -> None:
    first, second = asyncio.run(dead_events(store, 2))
    listed = deadletters(store, "list")
    assert [(x["event_id"], x["attempts"], x["last_error"]) for x in listed] == [
        (first, 1, "RuntimeError: failure 0"),
        (second, 1, "RuntimeError: failure 1"),
    ]
    assert "payload" not in listed[0] and "example.com" not in json.dumps(listed)
    assert "item" not in listed[0]
    [shown] = deadletters(store, "show", second)
    assert shown["payload"] == {"order_id": "A-1"}
    assert shown["item"] == json.loads(whole_item(1))  # every field the client sent
    assert (shown["event"]["status"], shown["event"]["identity_value"]) == ("dead", "person1@example.com")
    assert deadletters(store, "retry", first) == [{"event_id": first, "redriven": True}]
    assert [x["event_id"] for x in deadletters(store, "list")] == [second]
    [history] = [x for x in deadletters(store, "list", "--all") if x["event_id"] == first]
    assert history["redriven_at"] is not None
    # Re-driven: pending again, due now, with a fresh round of attempts, for the worker to pick up.
    event = asyncio.run(fetch(store, first))
    assert (event.status, event.attempts, event.next_attempt_at) == ("pending", 0, None)
    # Not dead (any more): refused, with a non-zero exit.
    assert deadletters(store, "retry", first, code=1) == [
        {"event_id": first, "redriven": False, "reason": "not dead"}
    ]
    assert deadletters(store, "retry", "--all") == [{"event_id": second, "redriven": True}]
    assert deadletters(store, "list") == []


def test_a_dead_letter_keeps_the_whole_item_and_its_replay_hands_it_to_the_handler(store: str) -> None:
    [dead] = asyncio.run(dead_events(store, 1))
    letters = asyncio.run(letters_of(store))
    assert [(x["event_id"], x["item"]) for x in letters] == [(dead, whole_item(0))]
    assert deadletters(store, "retry", dead) == [{"event_id": dead, "redriven": True}]
    # What the worker claims for the handler once re-driven: the whole item, as stored.
    [claimed] = asyncio.run(claim(store))
    assert (claimed.id, claimed.item) == (dead, whole_item(0))


async def letters_of(url: str) -> list[dict[str, Any]]:
    async with open_storage(url) as storage:
        return await storage.dead_letters(redriven=True)


async def claim(url: str) -> list[Any]:
    async with open_storage(url) as storage:
        return await storage.claim_due(utc_now(), 10, 30.0)


async def fetch(url: str, event_id: str) -> Any:
    async with open_storage(url) as storage:
        return await storage.get("acme", event_id)


def test_deadletters_show_of_an_unknown_event_fails(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'events.db'}"
    asyncio.run(dead_events(url, 0))
    assert deadletters(url, "show", "nope", code=1) == []


def test_ingestspec_deadletters_delegates_to_the_package(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'events.db'}"
    [event_id] = asyncio.run(dead_events(url, 1))
    tool = Path(sys.executable).parent / "ingestspec"
    listed = subprocess.run(
        [tool, "deadletters", "arsel", "--db", url, "list"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert listed.returncode == 0, listed.stderr
    assert json.loads(listed.stdout)["event_id"] == event_id


def test_ingestspec_serve_runs_several_worker_processes(tmp_path: Path) -> None:
    port = free_port()
    tool = Path(sys.executable).parent / "ingestspec"
    command = [
        str(tool), "serve", "arsel", "--workers", "2", "--port", str(port),
        "--config", str(EXAMPLE_CONFIG), "--db", f"sqlite:///{tmp_path / 'events.db'}",
    ]  # fmt: skip
    log = tmp_path / "serve.log"
    with log.open("wb") as out:
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, cwd=tmp_path)
    try:
        deadline = time.monotonic() + 30
        workers: set[int] = set()
        while time.monotonic() < deadline:
            lines = [json.loads(x) for x in log.read_text().splitlines() if x.startswith("{")]
            workers = {x["pid"] for x in lines if x["message"].startswith("Application startup complete")}
            if len(workers) == 2:
                break
            assert process.poll() is None, log.read_text()
            time.sleep(0.2)
        assert len(workers) == 2, log.read_text()
        assert httpx.get(f"http://127.0.0.1:{port}/readyz").status_code == 200
    finally:
        process.terminate()
        process.wait(20)
    assert process.returncode == 0, log.read_text()

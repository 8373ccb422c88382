"""What the SDK tests stand on: a spec generated and served as a real process, a recording proxy in
front of it (terminating TLS for SDKs that only speak https), and the store read back.

    SDK ──http(s)──> Wire (records each exchange) ──http──> generated server ──> SQLite / PostgreSQL

Nothing here knows a vendor: `tests/sdk/test_sdks.py` says per SDK how it is called and where its
events are in a request.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import json
import ssl
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx

from ingestspec.generator.generate.build import generate
from ingestspec.generator.lint.linter import lint
from ingestspec.generator.spec.loader import load_spec
from tests.servers import RunningServer, running_server

HERE = Path(__file__).resolve().parent
# Headers a proxy must not pass on as they came (RFC 9110 section 7.6.1), and the length httpx recomputes.
HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "te", "upgrade", "host", "content-length"}


class SpecRefused(Exception):
    """Lint refuses the spec: it says something today's vocabulary or server cannot do."""


@dataclass(frozen=True)
class Exchange:
    """One request the SDK sent and the answer it got, as they crossed the wire."""

    method: str
    path: str  # with the query
    headers: dict[str, str]  # lower-case names
    body: bytes  # as sent (still compressed if the SDK compressed it)
    status: int
    answer: bytes


@dataclass
class Wire:
    """A recording reverse proxy on a loopback port in front of `upstream` (http or, with `tls`,
    https with a certificate of `tls`'s private CA)."""

    upstream: str
    tls: tuple[Path, Path] | None = None  # (certificate, key)
    exchanges: list[Exchange] = field(default_factory=list)

    def __post_init__(self) -> None:
        wire = self
        client = httpx.Client(base_url=self.upstream, timeout=30)

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, as the SDKs' connection pools expect

            def relay(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                headers = {k.lower(): v for k, v in self.headers.items()}
                forwarded = {k: v for k, v in headers.items() if k not in HOP_BY_HOP}
                answer = client.request(self.command, self.path, content=body, headers=forwarded)
                wire.exchanges.append(
                    Exchange(self.command, self.path, headers, body, answer.status_code, answer.content)
                )
                self.send_response(answer.status_code)
                for name, value in answer.headers.items():
                    if name.lower() not in HOP_BY_HOP:
                        self.send_header(name, value)
                self.send_header("Content-Length", str(len(answer.content)))
                self.end_headers()
                self.wfile.write(answer.content)

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = relay

            def log_message(self, *args: object) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        if self.tls:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(*self.tls)
            self._server.socket = context.wrap_socket(self._server.socket, server_side=True)
        self._client = client
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    @property
    def root(self) -> str:
        return f"{'https' if self.tls else 'http'}://127.0.0.1:{self.port}"

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._client.close()

    def since(self, start: int) -> list[Exchange]:
        return self.exchanges[start:]


@dataclass
class Deployment:
    """A spec generated into a temporary package, served, with a Wire in front."""

    config: Path
    folder: Path
    package: str
    db: str
    server: RunningServer
    wire: Wire

    @property
    def projects(self) -> list[dict[str, Any]]:
        import yaml

        projects: list[dict[str, Any]] = yaml.safe_load(self.config.read_text())["projects"]
        return projects

    def key(self, project: int = 0) -> str:
        return str(self.projects[project]["api_keys"][0])

    def count(self) -> int:
        """How many events the store holds."""
        storage_module = importlib.import_module(f"{self.package}.storage")

        async def read() -> int:
            async with storage_module.open_storage(self.db) as storage:
                return int(await storage.count())

        return asyncio.run(read())

    def stored(self) -> list[Any]:
        """Every event the store holds not yet leased (the generated package's own storage, as its
        worker reads it); the events are leased by the reading, so call it once."""
        storage_module = importlib.import_module(f"{self.package}.storage")

        async def read() -> list[Any]:
            async with storage_module.open_storage(self.db) as storage:
                # Leased, not processed: the server runs without its worker, nothing else claims them.
                return list(await storage.claim_due("9000-01-01T00:00:00.000000Z", 100_000, 1))

        return asyncio.run(read())


@contextlib.contextmanager
def deployed(
    source: Path, folder: Path, db: str, tls: tuple[Path, Path] | None = None, package: str = ""
) -> Iterator[Deployment]:
    """`source`/openapi.yaml linted (SpecRefused when lint finds problems), generated into `folder`
    as `package` (`sdk_<folder name>`), served with `source`/config.yaml on `db` without its worker
    (the test reads the store as the worker would), behind a Wire."""
    spec = source / "openapi.yaml"
    problems = lint(spec)
    if problems:
        raise SpecRefused("\n".join(f"{p.line}:{p.column} {p.pointer}: {p.message}" for p in problems))
    package = package or f"sdk_{source.name}"
    generate(spec, folder / package)
    if str(folder) not in sys.path:
        sys.path.insert(0, str(folder))
    base_path = load_spec(spec).base_path
    config = source / "config.yaml"
    with running_server(
        package, config, db, base_path, log_dir=folder, pythonpath=folder, extra=["--no-worker"]
    ) as server:
        wire = Wire(server.root, tls)
        try:
            yield Deployment(config, folder, package, db, server, wire)
        finally:
            wire.close()


# -- what was sent and what was stored ---------------------------------------------------------


def leaves(document: Any, pointer: str = "") -> dict[str, Any]:
    """Every scalar of a JSON document by its JSON Pointer (an empty object or array is a leaf too)."""
    if isinstance(document, dict) and document:
        found: dict[str, Any] = {}
        for key, value in document.items():
            escaped = str(key).replace("~", "~0").replace("/", "~1")
            found.update(leaves(value, f"{pointer}/{escaped}"))
        return found
    if isinstance(document, list) and document:
        found = {}
        for index, value in enumerate(document):
            found.update(leaves(value, f"{pointer}/{index}"))
        return found
    return {pointer: document}


def _instant(value: Any) -> float | None:
    """`value` as seconds since the epoch if it reads as a moment (RFC 3339, epoch s or ms)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return value / 1000 if value > 1e11 else float(value)
    if isinstance(value, str) and len(value) >= 20 and value[4] == "-":
        with contextlib.suppress(ValueError):
            return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
    return None


def _held(stored: Any) -> tuple[set[tuple[str, str]], set[str], list[float]]:
    """What a stored event holds: (member name, value) pairs of every JSON document in it, the
    values of its plain columns, and the moments among them."""
    pairs: set[tuple[str, str]] = set()
    values: set[str] = set()
    moments: list[float] = []
    for value in stored:
        if isinstance(value, bytes | bytearray | memoryview):
            with contextlib.suppress(ValueError):
                for pointer, leaf in leaves(json.loads(bytes(value))).items():
                    pairs.add((pointer.rsplit("/", 1)[-1], json.dumps(leaf)))
        elif isinstance(value, str):
            values.add(json.dumps(value))
            if (moment := _instant(value)) is not None:
                moments.append(moment)
    return pairs, values, moments


def unstored(item: dict[str, Any], stored: Any) -> list[str]:
    """The pointers of `item`'s fields whose value `stored` (a StoredEvent) does not hold.

    A field is held when some JSON document of the stored event (its payload; the whole item,
    where the store keeps it) has a member of the same name with the same value, when a column
    holds the value (the event name, the identity, the dedupe key), or, for a moment, when the
    stored occurrence is the same instant (formats differ: RFC 3339, epoch seconds, milliseconds)."""
    pairs, values, moments = _held(stored)
    missing = []
    for pointer, value in leaves(item).items():
        name, text = pointer.rsplit("/", 1)[-1], json.dumps(value)
        if (name, text) in pairs or json.dumps(str(value)) in values:
            continue
        moment = _instant(value)
        if moment is not None and any(abs(moment - m) < 0.001 for m in moments):
            continue
        missing.append(pointer)
    return missing


def matched(items: list[dict[str, Any]], events: list[Any]) -> dict[int, list[str]]:
    """For each sent item (by index), the fields the stored event closest to it lacks; each stored
    event stands for one item at most. An item no stored event is left for lacks everything."""
    left = list(events)
    lacking: dict[int, list[str]] = {}
    for index, item in enumerate(items):
        if not left:
            lacking[index] = sorted(leaves(item))
            continue
        best = min(left, key=lambda event: len(unstored(item, event)))
        lacking[index] = unstored(item, best)
        left.remove(best)
    return lacking


def wait_for(condition: Any, timeout: float, what: str) -> None:
    """Poll `condition()` until true; fail after `timeout` seconds naming `what`."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not within {timeout:g} s")
        time.sleep(0.05)

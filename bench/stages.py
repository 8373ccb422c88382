"""Where an ingest request's time goes, in process: µs per request for each stage, no network.

    .venv/bin/python bench/stages.py [--api sendrealm] [--requests 20000]

Drives the ASGI apps directly (no uvicorn, no sockets) on uvloop, so the figures are the app's
own CPU cost: the bare ceiling app, the generated app with a storage that stores nothing, the
generated app on real SQLite (64 concurrent requests, group commit, synchronous=FULL), and the
single functions of the ingest path. The difference between the rows says what each layer costs.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import os
import sys
import tempfile
import time
import timeit
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import orjson
import uvloop

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(BENCH))

import bare_app  # noqa: E402

from bench.load import Load, load_for  # noqa: E402
from ingestspec.generator.spec.loader import load_spec  # noqa: E402

CONFIG = REPO / "examples" / "config.yaml"
KEY = "be_acme_test_key"
APIS = ("arsel", "sendrealm")
_LOADS: dict[str, Load] = {}
# One request as the ASGI drivers here send it: (path, headers, body).
Request = tuple[str, list[tuple[bytes, bytes]], bytes]


def request_for(api: str, n: int) -> Request:
    """(path, headers, body) of the n-th request to `api`, from its spec as `make bench` sends it."""
    if api not in _LOADS:
        _LOADS[api] = load_for(api, REPO / "generated_server" / api, KEY)
    path, headers, body = _LOADS[api].sample(f"stages-{os.getpid()}-{n}")
    return path, [(k.lower().encode(), v.encode()) for k, v in headers.items()], body.encode()


async def call(app: Any, request: Request) -> int:
    """One request through the ASGI app; returns the status."""
    path, headers, body = request
    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST", "scheme": "http",
        "path": path, "raw_path": path.encode(), "root_path": "", "query_string": b"",
        "headers": [(b"host", b"127.0.0.1"), *headers, (b"content-length", str(len(body)).encode())],
        "client": ("127.0.0.1", 5000), "server": ("127.0.0.1", 8000), "state": {},
    }  # fmt: skip
    sent = False
    status = 0

    async def receive() -> dict[str, Any]:
        nonlocal sent
        if sent:
            await asyncio.sleep(3600)
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]

    await app(scope, receive, send)
    return status


def store_nothing(storage: Any, storage_module: Any) -> None:
    """`storage` made to store nothing: an app's own code path, minus the database."""

    async def insert(event: Any, *args: Any, **kwargs: Any) -> tuple[Any, bool]:
        return storage_module.StoredEvent.pending(event), True

    def submit(event: Any, *args: Any, **kwargs: Any) -> asyncio.Future[tuple[Any, bool]]:
        # A future, as the stores' own submit() returns: already settled, as no writer runs.
        future: asyncio.Future[tuple[Any, bool]] = asyncio.get_running_loop().create_future()
        future.set_result((storage_module.StoredEvent.pending(event), True))
        return future

    storage.insert = insert  # what a package generated before submit() existed calls
    storage.submit = submit


async def sequential(app: Any, api: str, n: int) -> float:
    """CPU µs per request, one request at a time."""
    for i in range(200):  # warm-up
        assert await call(app, request_for(api, -i - 1)) in (200, 202)
    requests = [request_for(api, i) for i in range(n)]
    start = time.process_time()
    for request in requests:
        await call(app, request)
    return (time.process_time() - start) / n * 1e6


async def concurrent(app: Any, api: str, n: int, clients: int = 64) -> tuple[float, float]:
    """(requests/s, CPU µs per request) with `clients` requests in flight."""
    requests = [request_for(api, 10_000_000 + i) for i in range(n)]
    wall, cpu = time.perf_counter(), time.process_time()
    await in_flight(app, requests, clients)
    return n / (time.perf_counter() - wall), (time.process_time() - cpu) / n * 1e6


async def in_flight(app: Any, requests: Sequence[Request], clients: int = 64) -> None:
    """`requests` through the app, `clients` at a time; any answer but 200 or 202 stops the run."""
    waiting = iter(requests)

    async def client() -> None:
        for request in waiting:
            status = await call(app, request)
            if status not in (200, 202):
                raise RuntimeError(f"a request was answered {status}")

    await asyncio.gather(*(client() for _ in range(clients)))


def per_call_us(function: Callable[[], object]) -> float:
    timer = timeit.Timer(function)
    number, _ = timer.autorange()
    return min(timer.repeat(5, number)) / number * 1e6


def functions(api: str) -> dict[str, float]:
    """µs per call of the single steps of the ingest path."""
    package = f"generated_server.{api}"
    ingest = importlib.import_module(f"{package}.ingest")
    config = importlib.import_module(f"{package}.config").load(CONFIG)
    storage = importlib.import_module(f"{package}.storage")
    timestamps = importlib.import_module(f"{package}.timestamps")
    uuid7 = importlib.import_module(f"{package}.uuid7").uuid7
    raw = request_for(api, 1)[2]
    body = orjson.loads(raw)
    project = config.project_for(KEY)
    spec = load_spec(REPO / "openapi" / f"{api}.yaml")
    payload_field = spec.ingest_operations[0].ingest.payload.field  # type: ignore[union-attr]
    event = storage.StoredEvent.pending(storage.NewEvent(
        uuid7(), "acme", "order.completed", "contact_id", "c671f89b-3ec1-4c58-9ad2-4ef8c2917cda",
        orjson.dumps(body[payload_field]), "2026-06-08T14:15:00.000Z", timestamps.now(), "k", "h",
    ))  # fmt: skip
    steps: dict[str, Callable[[], object]] = {
        "orjson.loads(body)": lambda: orjson.loads(raw),
        "config.project_for(key)": lambda: config.project_for(KEY),
        "check_envelope (jsonschema-rs)": lambda: ingest.check_envelope(body),
        "check_payload (jsonschema-rs)": lambda: ingest.check_payload(
            project, "order.completed", body[payload_field]
        ),
        "uuid7()": uuid7,
        "os.urandom(10)": lambda: os.urandom(10),
        "timestamps.now()": timestamps.now,
        "orjson.dumps(payload)": lambda: orjson.dumps(body[payload_field]),
    }
    if hasattr(ingest, "success_body"):
        steps["success_body(event) incl. answer check"] = lambda: ingest.success_body(event)
    if hasattr(ingest, "body_hash"):
        steps["body_hash(body)"] = lambda: ingest.body_hash(body)
    if hasattr(ingest, "occurred_at"):
        steps["occurred_at(body)"] = lambda: ingest.occurred_at(body, "2026-06-08T14:15:00.000Z")
    return {name: per_call_us(step) for name, step in steps.items()}


async def run(api: str, n: int) -> None:
    package = f"generated_server.{api}"
    create_app = importlib.import_module(f"{package}.app").create_app
    storage_module = importlib.import_module(f"{package}.storage")
    rows: list[tuple[str, str]] = []

    bare = bare_app.create_app()
    rows.append(("bare app: read + parse + constant 202", f"{await sequential(bare, api, n):.1f}"))

    with tempfile.TemporaryDirectory(dir=REPO / "var") as tmp:
        app = create_app(CONFIG, f"sqlite:///{tmp}/stub.db", worker=False, access_log=False)
        store_nothing(app.state.storage, storage_module)  # the app's own code path, minus the database
        rows.append((f"{api} app, storage stubbed out", f"{await sequential(app, api, n):.1f}"))

        app = create_app(CONFIG, f"sqlite:///{tmp}/real.db", worker=False, access_log=False)
        await app.state.storage.start()
        try:
            rate, cpu = await concurrent(app, api, n)
            batches = app.state.storage.batches
        finally:
            await app.state.storage.close()
        rows.append(
            (
                f"{api} app on SQLite (FULL), 64 in flight",
                f"{cpu:.1f}  ({rate:,.0f} req/s, {n / max(batches, 1):.0f} events per commit)",
            )
        )

    print(f"in-process CPU µs per request ({n} requests, uvloop, no HTTP parsing):")
    for name, value in rows:
        print(f"  {name:<44} {value}")
    print(f"single steps of the {api} ingest path, µs per call:")
    for step, cost in sorted(functions(api).items(), key=lambda item: -item[1]):
        print(f"  {step:<44} {cost:.2f}")


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--api", default="sendrealm", choices=APIS)
    parser.add_argument("--requests", type=int, default=20_000)
    args = parser.parse_args(argv)
    (REPO / "var").mkdir(exist_ok=True)
    uvloop.run(run(args.api, args.requests))


if __name__ == "__main__":
    main()

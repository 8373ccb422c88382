"""Run a generated server with one deliberate fault (see `catalogue.FAULTS`) under uvicorn.

    python -m tests.contract.faults.run --package generated_server.arsel --fault no_dedupe \
        --config examples/config.yaml --db sqlite:///tmp/events.db --port 8000
"""

from __future__ import annotations

import argparse
import importlib
from pathlib import Path
from typing import Any

import uvicorn
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ingestspec.generator.spec.loader import load_spec
from tests.contract.faults.catalogue import FAULTS, Rewrite

MODULES = ("app", "ingest", "errors", "config", "timestamps")


class RewriteReplies:
    """Buffers each reply and passes it through a fault's rewrite before sending it."""

    def __init__(self, app: ASGIApp, rewrite: Rewrite) -> None:
        self.app = app
        self.rewrite = rewrite

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start: dict[str, Any] = {}
        chunks: list[bytes] = []

        async def buffered(message: Message) -> None:
            if message["type"] == "http.response.start":
                start.update(message)
                return
            if message["type"] != "http.response.body":
                await send(message)
                return
            chunks.append(message.get("body", b""))
            if message.get("more_body"):
                return
            headers = {k.decode().lower(): v.decode() for k, v in start.get("headers", [])}
            status, headers, body = self.rewrite(start["status"], headers, b"".join(chunks))
            headers["content-length"] = str(len(body))
            raw = [(k.encode(), v.encode()) for k, v in headers.items()]
            await send({"type": "http.response.start", "status": status, "headers": raw})
            await send({"type": "http.response.body", "body": body})

        await self.app(scope, receive, buffered)


def build(package: str, fault: str, config: str, db: str) -> Any:
    """The generated app of `package`, with `fault` installed."""
    modules = {name: importlib.import_module(f"{package}.{name}") for name in MODULES}
    spec = load_spec(Path(modules["app"].__file__ or "").parent / "openapi.yaml")
    ingest = spec.ingest_operations[0].ingest
    assert ingest is not None
    chosen = FAULTS[fault]
    if chosen.patch:
        chosen.patch(modules, ingest)
    app = modules["app"].create_app(config, db, worker=False, access_log=False)
    if chosen.patch_app:
        chosen.patch_app(app, modules, ingest)
    return RewriteReplies(app, chosen.rewrite(ingest)) if chosen.rewrite else app


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument(
        "--package", required=True, help="a generated server package, e.g. generated_server.arsel"
    )
    parser.add_argument("--fault", required=True, choices=sorted(FAULTS))
    parser.add_argument("--config", required=True)
    parser.add_argument("--db", required=True)
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    uvicorn.run(
        build(args.package, args.fault, args.config, args.db),
        host="127.0.0.1",
        port=args.port,
        log_level="info",  # the "running on" line tells tests the port is bound
        access_log=False,
    )


if __name__ == "__main__":
    main()

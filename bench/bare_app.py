"""The ceiling: a bare Starlette endpoint under the generated servers' uvicorn settings.

It reads and parses the body with orjson and answers a constant 202, touching no storage, so
the ratio of a generated server's rate to this one is what validation, storage and the rest cost.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence

import orjson
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

ACCEPTED = orjson.dumps({"status": "accepted"})


async def ingest(request: Request) -> Response:
    orjson.loads(await request.body())
    return Response(ACCEPTED, 202, media_type="application/json")


async def healthz(request: Request) -> Response:
    return Response(b'{"status":"ok"}', media_type="application/json")


def create_app() -> Starlette:
    """Any POST path answers the same way (whatever path a spec gives its ingest operation)."""
    routes = [
        Route("/healthz", healthz, methods=["GET"]),
        Route("/{path:path}", ingest, methods=["POST"]),
    ]
    return Starlette(routes=routes)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--log-level", default="info")
    args = parser.parse_args(argv)
    # The same settings as generated_server/*/__main__.py: uvloop, httptools, no uvicorn access log.
    uvicorn.run(
        create_app(),
        host=args.host,
        port=args.port,
        loop="uvloop",
        http="httptools",
        access_log=False,
        log_level=args.log_level,
        timeout_graceful_shutdown=10,
    )


if __name__ == "__main__":
    main()

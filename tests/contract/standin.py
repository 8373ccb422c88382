"""A stand-in server built from the spec model at start-up, so the suite's own tests need no generated server.

It is the smallest thing that honours an ingest spec and a configuration, in memory; it is not the
reference server (`generated_server/` is). `--fault NAME` breaks one behaviour (see `FAULTS`), to
show that the suite notices.

    python -m tests.contract.standin --spec SPEC --config CONFIG --port PORT [--db IGNORED] [--fault NAME]
"""

from __future__ import annotations

import argparse
import os
import threading
import time
import uuid
from datetime import UTC, datetime
from typing import Any

import jsonschema
import orjson
import uvicorn
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from ingestspec.generator.config import Config, load_config
from ingestspec.generator.spec.loader import load_spec
from ingestspec.generator.spec.model import Spec

FAULTS = ("no_dedupe",)


class ApiError(Exception):
    def __init__(
        self, key: str, params: dict[str, Any] | None = None, details: Any = None, headers: Any = None
    ):
        super().__init__(key)
        self.key, self.params, self.details, self.headers = key, params or {}, details, headers


def uuid7() -> str:
    ms = time.time_ns() // 1_000_000
    rand = int.from_bytes(os.urandom(10), "big")
    value = (
        (ms << 80) | (0x7 << 76) | (((rand >> 68) & 0xFFF) << 64) | (0b10 << 62) | (rand & ((1 << 62) - 1))
    )
    return str(uuid.UUID(int=value))


def _utc(value: str | None) -> str:
    moment = datetime.fromisoformat(value.replace("Z", "+00:00")) if value else datetime.now(UTC)
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def build_app(spec: Spec, config: Config, fault: str = "") -> Starlette:
    op = spec.ingest_operations[0]
    ing = op.ingest
    assert ing is not None
    errors = ing.errors
    # The identity rule is checked on its own, after the envelope, so the envelope drops oneOf.
    envelope = {k: v for k, v in op.request_schema.items() if k not in ("oneOf", "anyOf")}
    validator = jsonschema.Draft202012Validator(envelope, format_checker=jsonschema.FormatChecker())
    store: dict[tuple[str, str], tuple[dict[str, Any], bytes]] = {}
    lock = threading.Lock()

    def error(key: str, params: Any = None, details: Any = None, headers: Any = None) -> Response:
        body = errors.render(key, params or {}, details)
        return Response(
            orjson.dumps(body), errors.catalogue[key].status, headers, media_type=errors.media_type
        )

    async def endpoint(request: Request) -> Response:
        try:
            return await ingest(request)
        except ApiError as exc:
            return error(exc.key, exc.params, exc.details, exc.headers)

    async def ingest(request: Request) -> Response:
        auth = request.headers.get("authorization", "")
        project = config.project_for_key(auth[7:]) if auth.startswith("Bearer ") else None
        if project is None:
            raise ApiError("unauthorized", headers={"WWW-Authenticate": "Bearer"})
        if request.headers.get("content-type", "").split(";")[0].strip() != op.request_media_type:
            raise ApiError("unsupported_media_type")
        raw = await request.body()
        limit = project.payload_limit_bytes or ing.payload_limit.default_bytes
        if len(raw) > limit:
            raise ApiError(ing.payload_limit.error, {"limit": limit})
        try:
            body = orjson.loads(raw)
        except orjson.JSONDecodeError:
            raise ApiError("malformed_json") from None
        problems = [
            {"path": "/" + "/".join(map(str, e.absolute_path)), "message": e.message}
            for e in validator.iter_errors(body)
        ]
        if problems:
            raise ApiError("invalid_request", details=problems)
        present = [f for f in ing.identity.fields if f.name in body]
        if not present:
            raise ApiError(ing.identity.missing_error)
        if ing.identity.mode == "exactly_one" and len(present) > 1:
            raise ApiError(ing.identity.conflict_error or ing.identity.missing_error)
        field = present[0]
        value = body[field.name].lower() if field.normalize == "lowercase" else body[field.name]
        event = body[ing.event_field]
        for prefix in ing.reserved.prefixes if ing.reserved else ():
            if event.startswith(prefix):
                raise ApiError(ing.reserved.error if ing.reserved else "", {"prefix": prefix})
        definition = project.events.get(event)
        if definition is None and ing.payload.validation == "required":
            raise ApiError(ing.payload.undefined_event_error or "", {"event": event})
        payload = body.get(ing.payload.field, {})
        if definition is not None and not jsonschema.Draft202012Validator(definition.schema).is_valid(
            payload
        ):
            raise ApiError(ing.payload.mismatch_error, {"event": event})
        values = {
            "id": uuid7(),
            "event": event,
            "occurred_at": _utc(body.get(ing.occurred_at_field)),
            "received_at": _utc(None),
            "identity_type": field.name,
            "identity_value": value,
        }
        dedupe = ing.dedupe
        if dedupe and dedupe.key_field in body and fault != "no_dedupe":
            with lock:
                old = store.setdefault((project.id, body[dedupe.key_field]), (values, raw))
            if old[0] is not values:
                policy = project.idempotency_mismatch or dedupe.on_body_mismatch
                if old[1] != raw and policy == "reject" and dedupe.mismatch_error:
                    raise ApiError(dedupe.mismatch_error, {"key": body[dedupe.key_field]})
                headers = {dedupe.replay.header: "true"} if dedupe.replay.header else None
                return JSONResponse(dedupe.replay.render(old[0]), dedupe.replay.status, headers)
        return JSONResponse(ing.response.render(values), ing.response.status)

    async def routing(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        return error("method_not_allowed" if exc.status_code == 405 else "route_not_found")

    async def health(request: Request) -> Response:
        return Response(b"ok")

    routes = [Route(spec.base_path + op.path, endpoint, methods=["POST"]), Route("/healthz", health)]
    return Starlette(routes=routes, exception_handlers={HTTPException: routing})


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--spec", required=True)
    parser.add_argument("--config", required=True)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--db", help="ignored: the stand-in keeps events in memory")
    parser.add_argument("--fault", default="", choices=("", *FAULTS))
    args = parser.parse_args()
    app = build_app(load_spec(args.spec), load_config(args.config), args.fault)
    uvicorn.run(app, host="127.0.0.1", port=args.port, log_level="info", access_log=False)


if __name__ == "__main__":
    main()

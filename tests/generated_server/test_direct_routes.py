"""The operations' own routes are answered by the access-log layer itself, past Starlette's server
error layer (app.AccessLog): a failure no handler takes must still be answered 500 and raised on for
the server to log, and counted in the access line, as Starlette's layer did."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Any

import pytest
from starlette.types import Message

from generated_server.arsel.app import create_app

REPO = Path(__file__).resolve().parents[2]


def test_an_unhandled_failure_of_an_operation_is_answered_500_and_raised(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    app = create_app(REPO / "examples" / "config.yaml", f"sqlite:///{tmp_path}/x.db", worker=False)

    async def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("not a storage error")

    app.state.storage.submit = broken
    body = b'{"event":"order.completed","email":"a@example.com","data":{"order_id":"A-1","total":1.5}}'
    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST",
        "scheme": "http", "path": "/v1/events/send", "raw_path": b"/v1/events/send", "root_path": "",
        "query_string": b"", "client": ("127.0.0.1", 5000), "server": ("127.0.0.1", 8000),
        "headers": [(b"authorization", b"Bearer be_acme_test_key"), (b"content-type", b"application/json")],
    }  # fmt: skip
    sent: list[Message] = []

    async def receive() -> Message:
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: Message) -> None:
        sent.append(message)

    with caplog.at_level(logging.INFO), pytest.raises(RuntimeError, match="not a storage error"):
        asyncio.run(app(scope, receive, send))
    assert sent[0]["status"] == 500
    assert sent[1]["body"] == b"Internal Server Error"
    access = [r for r in caplog.records if r.name == "arsel.access"]
    assert [r.fields["status"] for r in access] == [500]  # type: ignore[attr-defined]

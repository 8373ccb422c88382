"""Request content codings, over HTTP: a spec that lists gzip and deflate in its `Content-Encoding`
header parameter gets them decoded within the size limit; any other coding is 415.

The server is generated from a copy of the Sendrealm spec with that parameter; the shipped Sendrealm
server, which declares none, refuses every coding.
"""

from __future__ import annotations

import asyncio
import gzip
import tracemalloc
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from starlette.requests import Request

from generated_server.sendrealm.bodies import read_decoded_body
from generated_server.sendrealm.errors import ApiError
from generated_server.sendrealm.storage import open_storage
from ingestspec.contract_tests.scenarios import SCENARIOS
from ingestspec.contract_tests.session import Session
from ingestspec.contract_tests.target import load_target
from ingestspec.generator.generate.build import generate
from ingestspec.generator.lint.linter import lint
from tests.conftest import EXAMPLE_CONFIG, SPECS
from tests.generated_server.conftest import ACME_KEY, GLOBEX_KEY
from tests.servers import RunningServer, running_server
from tests.specs import edited, op

ACME_LIMIT = 32768  # examples/config.yaml
BODY = {"event": "order.completed", "external_id": "c-7", "payload": {"order_id": "o-1"}}


def codings(document: dict[str, Any]) -> None:
    op(document).setdefault("parameters", []).append(
        {
            "name": "Content-Encoding",
            "in": "header",
            "description": "The SDK gzips its bodies; deflate is accepted too.",
            "schema": {"type": "string", "enum": ["gzip", "deflate", "identity"]},
        }
    )


@pytest.fixture(scope="module")
def coded(store_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    tmp = tmp_path_factory.mktemp("codings")
    spec = edited(tmp, "sendrealm", codings, "codings_api")
    assert lint(spec) == []
    generate(spec, tmp / "codings_api")
    with running_server("codings_api", EXAMPLE_CONFIG, store_url, "", log_dir=tmp, pythonpath=tmp) as server:
        yield server


def post(server: RunningServer, content: bytes, coding: str | None) -> httpx.Response:
    headers = {"Authorization": f"Bearer {ACME_KEY}", "Content-Type": "application/json"}
    if coding is not None:
        headers["Content-Encoding"] = coding
    return httpx.post(f"{server.base_url}/events", content=content, headers=headers, timeout=30)


async def fetch(url: str, event_id: str) -> Any:
    async with open_storage(url) as storage:
        return await storage.get("acme", event_id)


def test_gzip_and_deflate_bodies_are_decoded_and_stored(coded: RunningServer, store_url: str) -> None:
    raw = orjson.dumps(BODY)
    for coding, content in [
        ("gzip", gzip.compress(raw)),
        ("GZip", gzip.compress(raw)),
        ("deflate", zlib.compress(raw)),
        ("identity", raw),
        (None, raw),
        # Two gzip members, one after the other, are one body (RFC 1952 section 2.2).
        ("gzip", gzip.compress(raw[:10]) + gzip.compress(raw[10:])),
    ]:
        answer = post(coded, content, coding)
        assert answer.status_code == 202, (coding, answer.text)
        stored = asyncio.run(fetch(store_url, answer.json()["data"]["id"]))
        assert stored.identity_value == "c-7"
        assert orjson.loads(stored.payload) == BODY["payload"]


def test_the_limit_holds_the_decoded_bytes(coded: RunningServer) -> None:
    # A body that fits the limit once decoded is accepted; one byte more is refused, though its
    # gzip is a few hundred bytes.
    padded = orjson.dumps(BODY)
    at_limit = padded + b" " * (ACME_LIMIT - len(padded))
    assert post(coded, gzip.compress(at_limit), "gzip").status_code == 202
    over = post(coded, gzip.compress(at_limit + b" "), "gzip")
    assert over.status_code == 413
    assert over.json()["detail"] == f"The request body exceeds this project's limit of {ACME_LIMIT} bytes."


def test_a_zip_bomb_is_refused_413(coded: RunningServer) -> None:
    bomb = gzip.compress(b"{" + b" " * (200 * 1024 * 1024), compresslevel=9)  # 200 MB in ~200 KB
    assert len(bomb) > ACME_LIMIT  # too large to send as it is: refused by its sent bytes too
    small_bomb = gzip.compress(b" " * (30 * 1024 * 1024), compresslevel=9)  # 30 MB in ~30 KB
    assert len(small_bomb) < ACME_LIMIT
    for content in (bomb, small_bomb):
        assert post(coded, content, "gzip").status_code == 413


def test_an_undeclared_or_stacked_coding_is_415(coded: RunningServer) -> None:
    raw = orjson.dumps(BODY)
    for coding, content in [("br", raw), ("gzip, gzip", gzip.compress(gzip.compress(raw))), ("x-gzip", raw)]:
        answer = post(coded, content, coding)
        assert answer.status_code == 415, coding
        assert "gzip, deflate" in answer.json()["errors"][0]["message"]


def test_a_body_that_is_not_its_coding_is_invalid(coded: RunningServer) -> None:
    raw = orjson.dumps(BODY)
    for coding, content in [
        ("gzip", raw),  # not compressed at all
        ("gzip", gzip.compress(raw)[:-12]),  # cut short
        ("gzip", gzip.compress(raw) + b"junk"),  # not another member
        ("deflate", zlib.compress(raw) + b"junk"),  # after the end of the stream
        ("deflate", zlib.compress(raw, wbits=-15)),  # raw deflate, not the zlib format HTTP names
        ("gzip", b""),
    ]:
        answer = post(coded, content, coding)
        assert answer.status_code == 400, (coding, content[:20], answer.text)
        error = answer.json()["errors"][0]
        assert error["path"] == "header.Content-Encoding"
        assert f"not valid {coding} data" in error["message"]


def test_a_spec_without_codings_refuses_any(tmp_path: Path, store_url: str) -> None:
    with running_server(
        "generated_server.sendrealm", EXAMPLE_CONFIG, store_url, "", log_dir=tmp_path
    ) as server:
        answer = post(server, gzip.compress(orjson.dumps(BODY)), "gzip")
        assert answer.status_code == 415
        assert (
            answer.json()["errors"][0]["message"] == "content codings are not accepted: send the body as is"
        )
        assert post(server, orjson.dumps(BODY), "identity").status_code == 202


class _Stream:
    """An ASGI receive callable that sends `content` in chunks of `size`."""

    def __init__(self, content: bytes, size: int = 16 * 1024) -> None:
        self.chunks = [content[i : i + size] for i in range(0, len(content), size)] or [b""]

    async def __call__(self) -> dict[str, Any]:
        chunk = self.chunks.pop(0)
        return {"type": "http.request", "body": chunk, "more_body": bool(self.chunks)}


def _zeros_gzip(size: int) -> bytes:
    """`size` zero bytes in gzip, compressed a megabyte at a time (the zeros are never all held)."""
    encoder = zlib.compressobj(9, wbits=16 + zlib.MAX_WBITS)
    block = bytes(1024 * 1024)
    parts = [encoder.compress(block) for _ in range(size // len(block))]
    return b"".join([*parts, encoder.flush()])


def test_a_bomb_is_never_inflated_past_the_limit() -> None:
    # 60 MB of zeros in about 60 kB of gzip, under a 64 kB limit for the bytes sent: refused having
    # held about the limit, never the 60 MB.
    limit = 64 * 1024
    bomb = _zeros_gzip(60 * 1024 * 1024)
    assert len(bomb) < limit
    request = Request({"type": "http", "method": "POST", "headers": []}, _Stream(bomb))
    tracemalloc.start()
    try:
        with pytest.raises(ApiError) as refused:
            asyncio.run(read_decoded_body(request, limit, "gzip"))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert refused.value.status == 413
    assert peak < 8 * limit, peak


def _scenario(spec: Path, base_url: str, name: str) -> Session:
    target = load_target(spec, base_url, (ACME_KEY, GLOBEX_KEY), EXAMPLE_CONFIG)
    op = target.spec.ingest_operations[0]
    assert SCENARIOS[name].skip_reason(target, op) is None
    session = Session(target, op, name)
    SCENARIOS[name].run(session)
    assert session.probes
    return session


def test_the_contract_scenario_sends_each_declared_coding(
    coded: RunningServer, tmp_path: Path, store_url: str
) -> None:
    spec = edited(tmp_path, "sendrealm", codings, "judged")
    session = _scenario(spec, coded.base_url, "encoded_body")
    assert [p.headers["Content-Encoding"] for p in session.probes] == ["gzip", "deflate"]
    assert not session.failures, session.report()
    # A server that decodes no coding fails it: the shipped Sendrealm server, judged by the same spec.
    with running_server(
        "generated_server.sendrealm", EXAMPLE_CONFIG, store_url, "", log_dir=tmp_path
    ) as plain:
        assert _scenario(spec, plain.base_url, "encoded_body").failures
    skipped = load_target(SPECS["sendrealm"], coded.base_url, (ACME_KEY,), EXAMPLE_CONFIG)
    assert SCENARIOS["encoded_body"].skip_reason(skipped, skipped.spec.ingest_operations[0])

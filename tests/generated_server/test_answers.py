"""Success answers without a JSON object, over HTTP: a 204 with no body for a new event and a
text/plain `OK` for a replay, as a copy of the Sendrealm spec documents them; and the contract
suite's scenarios accept them."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from ingestspec.contract_tests.checks import CheckContext, run_checks
from ingestspec.contract_tests.exchange import Expectation, Probe, Reply
from ingestspec.contract_tests.scenarios import SCENARIOS
from ingestspec.contract_tests.session import Session
from ingestspec.contract_tests.target import load_target
from ingestspec.generator.generate.build import generate
from ingestspec.generator.lint.linter import lint
from ingestspec.generator.spec.migrate import upgrade
from tests.conftest import EXAMPLE_CONFIG
from tests.generated_server.conftest import ACME_KEY, GLOBEX_KEY
from tests.servers import RunningServer, running_server
from tests.specs import edited, op, x_ingest


def quiet(document: dict[str, Any]) -> None:
    """New events answered 204 with no body; replays 200 `OK` in text/plain."""
    responses = op(document)["responses"]
    del responses["202"]
    responses["204"] = {"description": "Accepted for processing; nothing more to say."}
    responses["200"]["content"] = {"text/plain": {"schema": {"type": "string", "enum": ["OK"]}}}
    block = op(document)["x-ingest"] = upgrade(x_ingest(document))
    block["response"] = {"status": 204}
    block["dedupe"]["replay"] = {"status": 200, "header": "Idempotent-Replayed", "text": "OK"}


@pytest.fixture(scope="module")
def spec(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return edited(tmp_path_factory.mktemp("quiet_spec"), "sendrealm", quiet, "quiet")


@pytest.fixture(scope="module")
def server(spec: Path, store_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    tmp = tmp_path_factory.mktemp("quiet")
    assert lint(spec) == []
    generate(spec, tmp / "quiet_api")
    with running_server("quiet_api", EXAMPLE_CONFIG, store_url, "", log_dir=tmp, pythonpath=tmp) as running:
        yield running


def send(server: RunningServer, key: str) -> httpx.Response:
    body = {"event": "order.completed", "external_id": "c-1", "idempotency_key": key}
    with httpx.Client(headers={"Authorization": f"Bearer {ACME_KEY}"}, timeout=10) as client:
        return client.post(f"{server.base_url}/events", json=body)


def test_a_new_event_is_answered_204_without_a_body(server: RunningServer) -> None:
    key = str(uuid.uuid4())
    first = send(server, key)
    assert (first.status_code, first.content) == (204, b"")
    assert "content-type" not in first.headers and "content-length" not in first.headers
    again = send(server, key)
    assert (again.status_code, again.text) == (200, "OK")
    assert again.headers["content-type"] == "text/plain; charset=utf-8"
    assert again.headers["idempotent-replayed"] == "true"
    # The connection is kept: the 204 wrote nothing uvicorn would have to drop it for.
    with httpx.Client(headers={"Authorization": f"Bearer {ACME_KEY}"}, timeout=10) as client:
        for _ in range(3):
            body = {"event": "order.completed", "external_id": "c-2"}
            assert client.post(f"{server.base_url}/events", json=body).status_code == 204


@pytest.mark.parametrize(
    "name", ["success", "replay_same_body", "documented_request_examples", "oversize_body"]
)
def test_the_contract_scenarios_accept_these_answers(spec: Path, server: RunningServer, name: str) -> None:
    target = load_target(spec, server.base_url, (ACME_KEY, GLOBEX_KEY), EXAMPLE_CONFIG)
    operation = target.spec.ingest_operations[0]
    assert SCENARIOS[name].skip_reason(target, operation) is None
    session = Session(target, operation, name)
    SCENARIOS[name].run(session)
    assert session.probes
    assert not session.failures, session.report()


def test_the_checks_want_exactly_the_documented_answer(spec: Path) -> None:
    target = load_target(spec, "http://127.0.0.1:9", (ACME_KEY,), EXAMPLE_CONFIG, check_reachable=False)
    operation = target.spec.ingest_operations[0]
    assert operation.ingest is not None and operation.ingest.dedupe is not None
    new, replay = operation.ingest.response, operation.ingest.dedupe.replay
    text = {"content-type": "text/plain; charset=utf-8", "idempotent-replayed": "true"}
    for shape, content, headers, failing in [
        (new, b"", {}, set()),
        (new, b'{"id": "x"}', {"content-type": "application/json"}, {"success_body_shape"}),
        (replay, b"OK", text, set()),
        (replay, b"KO", text, {"success_body_shape", "documented_response_schema"}),
        (replay, b"OK", {**text, "content-type": "application/json"}, {"documented_media_type"}),
    ]:
        probe = Probe(
            "test",
            operation,
            "POST",
            target.url(operation),
            {},
            b"{}",
            Expectation(shape.status, shape=shape),
        )
        probe.reply = Reply(shape.status, headers, content)
        found = {failure.check for failure in run_checks(CheckContext(target, operation), probe)}
        assert found == failing, (shape.status, content, found)

"""Positive batch cases (contract_tests/fuzz.py) on tests/generated_server/specs/tracker.yaml's batch
operation, drawn offline: each must fit the project's limit as Schemathesis sends it, and a key in a
body field goes in the wrapper, never in an item."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import hypothesis
import pytest
import requests
import yaml
from hypothesis import HealthCheck, settings
from schemathesis import GenerationMode

from ingestspec.contract_tests.fuzz import _valid_for_deployment, load_schema
from ingestspec.contract_tests.payloads import interoperable
from ingestspec.contract_tests.session import Session
from ingestspec.contract_tests.target import Target, load_target
from tests.conftest import REPO

TRACKER = REPO / "tests" / "generated_server" / "specs" / "tracker.yaml"
KEY = "contract_batch_key"
# 40 characters outside ASCII: 80 bytes of UTF-8, 240 bytes escaped as \u00e9.
TITLE = {"type": "string", "pattern": "^é{40}$"}


def _config(tmp_path: Path, limit: int) -> Path:
    project = {
        "id": "batchy",
        "api_keys": [KEY],
        "payload_limit_bytes": limit,
        "retention_days": 30,
        "events": {
            "title.set": {"schema": {"type": "object", "required": ["title"], "properties": {"title": TITLE}}}
        },
    }
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump({"projects": [project]}, allow_unicode=True))
    return path


def _spec(tmp_path: Path, body_key: bool) -> Path:
    """tracker.yaml, its batch operation taking the key in the wrapper's `api_key` when `body_key`."""
    document = yaml.safe_load(TRACKER.read_text())
    if body_key:
        batch = document["paths"]["/batch"]["post"]
        batch["security"] = []
        batch["x-ingest"]["credential_field"] = "api_key"
        wrapper = document["components"]["schemas"]["Batch"]
        wrapper["properties"]["api_key"] = {"type": "string"}
        wrapper["required"] = [*wrapper["required"], "api_key"]
    path = tmp_path / "tracker.yaml"
    path.write_text(yaml.safe_dump(document, sort_keys=False, allow_unicode=True))
    return path


def _draw(target: Target, examples: int) -> list[dict[str, Any]]:
    """Positive batch bodies as the fuzzer sends them (the key added as `fuzz.fuzz` adds it)."""
    op = next(o for o in target.spec.operations if o.operation_id == "batch")
    session = Session(target, op, "fuzz:positive")
    api_op = load_schema(target.spec.path, target.base_url)[op.path]["post"]
    strategy = api_op.as_strategy(generation_mode=GenerationMode.POSITIVE).flatmap(
        lambda case: _valid_for_deployment(session, case)
    )
    bodies: list[dict[str, Any]] = []

    @settings(max_examples=examples, deadline=None, database=None, suppress_health_check=list(HealthCheck))
    @hypothesis.given(strategy)
    def collect(item: tuple[Any, str]) -> None:
        case, key = item
        bodies.append(session.with_key(case.body, key))

    hypothesis.seed(1)(collect)()
    return bodies


def _as_sent(body: dict[str, Any]) -> bytes:
    """The body as Schemathesis's transport (requests' `json=`) puts it on the wire."""
    prepared = requests.Request("POST", "http://127.0.0.1:9/", json=body).prepare()
    assert isinstance(prepared.body, bytes)
    return prepared.body


def test_a_positive_batch_fits_the_limit_as_sent_escaped(tmp_path: Path) -> None:
    # Two items fit 700 bytes as compact UTF-8 but not once each é is sent as \u00e9.
    target = load_target(
        _spec(tmp_path, False), "http://127.0.0.1:9", [KEY], _config(tmp_path, 700), check_reachable=False
    )
    bodies = _draw(target, 30)
    assert bodies
    sizes = [len(_as_sent(body)) for body in bodies]
    assert max(sizes) <= 700, sizes


def test_a_body_key_goes_in_the_wrapper_not_in_items(tmp_path: Path) -> None:
    # Items forbid other properties: a key put into each would filter every batch out.
    target = load_target(
        _spec(tmp_path, True), "http://127.0.0.1:9", [KEY], _config(tmp_path, 32768), check_reachable=False
    )
    bodies = _draw(target, 10)
    assert bodies
    for body in bodies:
        assert body["api_key"] == KEY
        assert all("api_key" not in item for item in body["batch"])


@pytest.mark.deep  # a minute of drawing: most draws near the edge are filtered out, as they should be
def test_the_wrapper_of_a_positive_batch_keeps_to_interoperable_numbers(tmp_path: Path) -> None:
    """False alarm A of issue 20: only items were held to the numbers parsers agree on, so the
    wrapper's free properties got integers past 2**53, which the server refuses by design."""
    path = _spec(tmp_path, False)
    document = yaml.safe_load(path.read_text())
    wrapper = document["components"]["schemas"]["Batch"]
    wrapper["required"] = [*wrapper["required"], "context"]
    # Near the edge: some drawn integers are past it.
    near = {"type": "integer", "minimum": 2**53 - 50}
    wrapper["properties"]["context"] = {"type": "object", "required": ["n"], "properties": {"n": near}}
    path.write_text(yaml.safe_dump(document, sort_keys=False, allow_unicode=True))
    target = load_target(path, "http://127.0.0.1:9", [KEY], _config(tmp_path, 32768), check_reachable=False)
    bodies = _draw(target, 40)
    assert bodies
    assert all(interoperable(body) for body in bodies), [body["context"] for body in bodies]

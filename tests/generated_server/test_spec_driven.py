"""An edited spec, regenerated, changes the server's behaviour over HTTP: nothing is hard-coded."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import yaml

from ingestspec.generator.generate.build import generate
from tests.conftest import EXAMPLE_CONFIG, SPECS
from tests.servers import RunningServer, running_server

KEY = {"Authorization": "Bearer be_acme_test_key"}


def edit_arsel(document: dict[str, Any]) -> None:
    op = document["paths"]["/events/send"]["post"]
    request = document["components"]["schemas"]["SendEventRequest"]
    request["properties"]["source"] = {"type": "string", "description": "Where the event came from."}
    request["properties"]["event"]["maxLength"] = 20
    catalogue = op["x-ingest"]["errors"]["catalogue"]
    catalogue["identity_conflict"]["message"] = "Send exactly one of email or contact_id, not both."
    catalogue["event_not_defined"]["status"] = 410
    op["responses"]["410"] = op["responses"].pop("404")
    op["responses"]["410"]["content"]["application/json"]["examples"]["event"]["value"]["status_code"] = 410


@pytest.fixture(scope="module")
def servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[RunningServer, RunningServer]]:
    """The committed Arsel server and one regenerated from an edited copy of its spec."""
    tmp = tmp_path_factory.mktemp("edited")
    document = yaml.safe_load(SPECS["arsel"].read_text())
    edit_arsel(document)
    spec = tmp / "arsel_edited.yaml"
    spec.write_text(yaml.safe_dump(document, sort_keys=False))
    generate(spec, tmp / "arsel_edited")
    db = f"sqlite:///{tmp / 'events.db'}"
    with (
        running_server("generated_server.arsel", EXAMPLE_CONFIG, db, "/v1", log_dir=tmp) as old,
        running_server("arsel_edited", EXAMPLE_CONFIG, db, "/v1", log_dir=tmp, pythonpath=tmp) as new,
    ):
        yield old, new


def post(server: RunningServer, **fields: object) -> httpx.Response:
    body = {"event": "order.completed", "email": "a@b.co", "data": {}, **fields}
    return httpx.post(server.base_url + "/events/send", json=body, headers=KEY)


def test_an_added_optional_field_is_accepted_only_by_the_regenerated_server(servers: Any) -> None:
    old, new = servers
    assert post(old, source="web").status_code == 400
    assert post(new, source="web").status_code == 202


def test_a_tightened_constraint_is_enforced(servers: Any) -> None:
    old, new = servers
    long_name = "order.completed.long"  # 20 characters: allowed
    assert post(new, event=long_name + "x").status_code == 400
    assert post(old, event=long_name + "x").status_code == 404


def test_an_edited_message_is_answered(servers: Any) -> None:
    old, new = servers
    both = {"contact_id": "c671f89b-3ec1-4c58-9ad2-4ef8c2917cda"}
    assert post(new, **both).json()["message"] == "Send exactly one of email or contact_id, not both."
    assert post(old, **both).json()["message"] == "Provide either email or contact_id."


def test_an_edited_status_is_answered(servers: Any) -> None:
    old, new = servers
    assert post(old, event="never.defined").status_code == 404
    gone = post(new, event="never.defined")
    assert gone.status_code == 410
    assert gone.json()["status_code"] == 410

"""The suite is derived from the spec: edit an error in a copy of a spec (its x-ingest entry and its
documented example alike), regenerate the server from the copy, and the same suite passes the new
server and fails the old one."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import EXAMPLE_CONFIG, SPECS
from tests.contract.conftest import BASE_PATHS, generate, generated, run_contract
from tests.servers import RunningServer, running_server

NEW_MESSAGE = "That body is not JSON at all."
NEW_STATUS = 409


def edit(document: dict[str, Any]) -> None:
    """A new message for `malformed_json` and a new status for `identity_missing`, documented alike."""
    op = document["paths"]["/events/send"]["post"]
    catalogue = op["x-ingest"]["errors"]["catalogue"]
    catalogue["malformed_json"]["message"] = NEW_MESSAGE
    examples = op["responses"]["400"]["content"]["application/json"]["examples"]
    examples["malformedJson"]["value"]["message"] = NEW_MESSAGE
    catalogue["identity_missing"]["status"] = NEW_STATUS
    conflict = dict(examples["contact"])
    conflict["value"] = {**conflict["value"], "status_code": NEW_STATUS}
    op["responses"][str(NEW_STATUS)] = {
        "description": "No contact named.",
        "content": {
            "application/json": {
                "schema": {"$ref": "#/components/schemas/Error"},
                "examples": {"contact": conflict},
            }
        },
    }


@pytest.fixture(scope="module")
def servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, RunningServer, RunningServer]]:
    """The edited spec, the committed Arsel server, and one regenerated from the edited spec."""
    if not generated("arsel"):
        pytest.skip("generated_server/arsel has not been generated yet")

    tmp = tmp_path_factory.mktemp("edited")
    document = yaml.safe_load(SPECS["arsel"].read_text())
    edit(document)
    spec = tmp / "arsel_edited.yaml"
    spec.write_text(yaml.safe_dump(document, sort_keys=False))
    generate(spec, tmp / "arsel_edited")
    db = f"sqlite:///{tmp / 'events.db'}"
    base = BASE_PATHS["arsel"]
    with (
        running_server("generated_server.arsel", EXAMPLE_CONFIG, db, base, log_dir=tmp) as old,
        running_server("arsel_edited", EXAMPLE_CONFIG, db, base, log_dir=tmp, pythonpath=tmp) as new,
    ):
        yield spec, old, new


def test_the_suite_passes_the_server_regenerated_from_the_edited_spec(servers: Any) -> None:
    spec, _, new = servers
    result = run_contract(spec, new.base_url, "--max-examples", "10", "--seed", "1")
    assert result.returncode == 0, result.stdout[-6000:]


def test_the_suite_fails_the_old_server_on_exactly_the_edited_errors(servers: Any) -> None:
    spec, old, _ = servers
    result = run_contract(spec, old.base_url, "--max-examples", "10", "--seed", "1")
    assert result.returncode == 1, result.stdout[-6000:]
    failed = {
        line.split("[", 1)[1].split("]", 1)[0] for line in result.stdout.splitlines() if " FAILED " in line
    }
    assert "sendEvent-malformed_json" in failed and "sendEvent-missing_identity" in failed
    assert "sendEvent-400-malformedJson" in failed and f"sendEvent-{NEW_STATUS}-contact" in failed
    assert "sendEvent-success" not in failed and "sendEvent-identity_conflict" not in failed

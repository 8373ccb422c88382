"""HTTP basic credentials as the API uses them, over HTTP: the security scheme's `x-ingest-basic`
says which part is the key, and a secret part is always checked (Customer.io's site id and API key
are `both`: a right site id with a wrong password is refused)."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from ingestspec.contract_tests.scenarios import SCENARIOS
from ingestspec.contract_tests.session import Session
from ingestspec.contract_tests.target import load_target
from ingestspec.generator.generate.build import generate
from ingestspec.generator.lint.linter import lint
from tests.conftest import EXAMPLE_CONFIG
from tests.generated_server.conftest import ACME_KEY, GLOBEX_KEY
from tests.servers import RunningServer, running_server
from tests.specs import edited, op

SITE_KEY = "site-1:be_site_secret"  # `both`: the site id and its secret, as the project's key


def basic_only(part: str) -> Any:
    def edit(document: dict[str, Any]) -> None:
        document["components"]["securitySchemes"] = {
            "siteCredentials": {"type": "http", "scheme": "basic", "x-ingest-basic": part}
        }
        document["security"] = [{"siteCredentials": []}]
        op(document).pop("security", None)

    return edit


@pytest.fixture(scope="module", params=["password", "both"])
def served(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[str, Path, RunningServer]]:
    part = str(request.param)
    tmp = tmp_path_factory.mktemp(f"basic_{part}")
    spec = edited(tmp, "sendrealm", basic_only(part), f"basic_{part}")
    assert lint(spec) == []
    generate(spec, tmp / f"basic_{part}_api")
    config = yaml.safe_load(EXAMPLE_CONFIG.read_text())
    config["projects"][0]["api_keys"].append(SITE_KEY)
    config_path = tmp / "config.yaml"
    config_path.write_text(yaml.safe_dump(config))
    db = f"sqlite:///{tmp / 'events.db'}"
    with running_server(f"basic_{part}_api", config_path, db, "", log_dir=tmp, pythonpath=tmp) as server:
        yield part, spec, server


def post(server: RunningServer, user: str, password: str) -> int:
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    body = {"event": "order.completed", "external_id": "c-1"}
    answer = httpx.post(f"{server.base_url}/events", json=body, headers={"Authorization": f"Basic {token}"})
    return answer.status_code


def test_the_declared_part_is_the_key_and_a_secret_is_checked(
    served: tuple[str, Path, RunningServer],
) -> None:
    part, _, server = served
    site, secret = SITE_KEY.split(":")
    cases = {
        "password": [
            (("anyone", ACME_KEY), 202),
            (("", ACME_KEY), 202),
            ((ACME_KEY, ""), 401),  # the user name is not where the key is
            ((ACME_KEY, "wrong"), 401),
        ],
        "both": [
            ((site, secret), 202),
            ((site, "wrong"), 401),  # the secret is checked, not only the site id
            ((site, ""), 401),
            (("", secret), 401),
            ((SITE_KEY, ""), 401),
        ],
    }[part]
    for (user, password), status in cases:
        assert post(server, user, password) == status, (part, user, password)


@pytest.mark.parametrize("name", ["success", "missing_api_key", "invalid_api_key"])
def test_the_contract_suite_sends_the_key_in_its_part(
    served: tuple[str, Path, RunningServer], name: str
) -> None:
    part, spec, server = served
    keys = (SITE_KEY,) if part == "both" else (ACME_KEY, GLOBEX_KEY)
    target = load_target(spec, server.base_url, keys, spec.parent.parent / "config.yaml")
    operation = target.spec.ingest_operations[0]
    session = Session(target, operation, name)
    SCENARIOS[name].run(session)
    assert session.probes
    assert not session.failures, session.report()

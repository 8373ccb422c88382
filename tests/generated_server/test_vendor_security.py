"""Security as vendors declare it, served over HTTP by a variant of the Arsel spec:
- an `oauth2` scheme, whose bearer token is checked against the configured keys (lint warns);
- an apiKey in `Authorization` whose value starts with a scheme word (`Vendor-API-Key KEY`), given
  by the scheme's `x-ingest-prefix`;
- a configured key with spaces inside.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from ingestspec.generator.generate.build import generate
from ingestspec.generator.lint.linter import lint
from tests.conftest import EXAMPLE_CONFIG
from tests.generated_server.conftest import ACME_KEY
from tests.servers import RunningServer, running_server
from tests.specs import edited

SPACED_KEY = "be acme key with spaces"
OAUTH = {"type": "oauth2", "flows": {"clientCredentials": {"tokenUrl": "https://x.test/token", "scopes": {}}}}
PREFIXED = {"type": "apiKey", "in": "header", "name": "Authorization", "x-ingest-prefix": "Vendor-API-Key"}


def vendor_security(document: dict[str, Any]) -> None:
    document["components"]["securitySchemes"] = {"oauth": OAUTH, "vendorKey": PREFIXED}
    document["security"] = [{"oauth": ["events:write"]}, {"vendorKey": []}]


def config_with_spaced_key(folder: Path) -> Path:
    config = yaml.safe_load(EXAMPLE_CONFIG.read_text())
    config["projects"][0]["api_keys"].append(SPACED_KEY)
    path = folder / "config.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    tmp = tmp_path_factory.mktemp("security")
    spec = edited(tmp, "arsel", vendor_security)
    generate(spec, tmp / "vendor_security")
    store = f"sqlite:///{tmp / 'events.db'}"
    config = config_with_spaced_key(tmp)
    with running_server("vendor_security", config, store, "/v1", log_dir=tmp, pythonpath=tmp) as running:
        yield running


def send(server: RunningServer, authorization: str | None) -> httpx.Response:
    body = {"event": "order.completed", "email": "a@example.com", "data": {}}
    headers = {"Authorization": authorization} if authorization is not None else {}
    return httpx.post(f"{server.base_url}/events/send", json=body, headers=headers, timeout=10)


def test_lint_warns_that_oauth2_tokens_are_configured_keys(tmp_path: Path) -> None:
    problems = lint(edited(tmp_path, "arsel", vendor_security))
    assert [(p.rule, p.severity, p.pointer) for p in problems] == [
        ("tokens-are-keys", "warning", "/components/securitySchemes/oauth")
    ]
    assert "no token introspection" in problems[0].message


@pytest.mark.parametrize(
    ("authorization", "status"),
    [
        (f"Bearer {ACME_KEY}", 202),  # the oauth2 token
        (f"Vendor-API-Key {ACME_KEY}", 202),
        (f"vendor-api-key   {ACME_KEY}", 202),  # the scheme word in any case, spaces around the key
        (f"Bearer {SPACED_KEY}", 202),
        (f"Vendor-API-Key {SPACED_KEY}", 202),
        (ACME_KEY, 401),  # the prefix is missing
        (f"Other-Key {ACME_KEY}", 401),
        ("Vendor-API-Key be_unknown_key", 401),
        ("Bearer be_unknown_key", 401),
        (None, 401),
    ],
)
def test_tokens_and_prefixed_keys_are_checked_against_the_configured_keys(
    server: RunningServer, authorization: str | None, status: int
) -> None:
    answer = send(server, authorization)
    assert answer.status_code == status, answer.text

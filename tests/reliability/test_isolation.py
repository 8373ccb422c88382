"""A key of one project can neither send into, nor dedupe against, nor read another project's events."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import EXAMPLE_CONFIG, fresh_postgres_url
from tests.servers import RunningServer, running_server

from .conftest import ACME_KEY, GLOBEX_KEY, SERVERS, auth, require_generated, sendrealm_event, stored_count


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def store(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path_factory.mktemp('isolation') / 'events.db'}"
    return fresh_postgres_url()


def serve(api: str, store: str, tmp: Path) -> Iterator[RunningServer]:
    require_generated(api)
    module, base, _ = SERVERS[api]
    with running_server(module, EXAMPLE_CONFIG, store, base, log_dir=tmp) as server:
        yield server


@pytest.fixture(scope="module")
def sendrealm(store: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    yield from serve("sendrealm", store, tmp_path_factory.mktemp("log"))


@pytest.fixture(scope="module")
def arsel(store: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    yield from serve("arsel", store, tmp_path_factory.mktemp("log"))


def ingest(server: RunningServer, body: object, key: str) -> httpx.Response:
    return httpx.post(server.base_url + "/events", json=body, headers=auth(key), timeout=10)


def test_the_key_alone_decides_the_project(sendrealm: RunningServer, store: str) -> None:
    before = {p: stored_count("sendrealm", store, p) for p in ("acme", "globex")}
    assert ingest(sendrealm, sendrealm_event(f"iso-{uuid.uuid4()}"), ACME_KEY).status_code == 202
    assert ingest(sendrealm, sendrealm_event(f"iso-{uuid.uuid4()}"), ACME_KEY).status_code == 202
    body = {"event": "cart.abandoned", "email": "a@b.co", "payload": {"cart_id": "c1"}}
    assert ingest(sendrealm, body, GLOBEX_KEY).status_code == 202
    # Naming another project in the body is no way in: unknown top-level fields are refused.
    for field in ("project_id", "project", "organization_id"):
        smuggled = {**sendrealm_event(f"iso-{uuid.uuid4()}"), field: "globex"}
        assert ingest(sendrealm, smuggled, ACME_KEY).status_code == 400
    after = {p: stored_count("sendrealm", store, p) for p in ("acme", "globex")}
    assert after == {"acme": before["acme"] + 2, "globex": before["globex"] + 1}


@pytest.mark.parametrize(
    "key", ["be_acme_test_ke", "BE_ACME_TEST_KEY", "be_acme_test_key_", "be_acme_test_keybe_globex_test_key"]
)
def test_a_near_miss_of_a_key_is_no_key(sendrealm: RunningServer, key: str) -> None:
    response = ingest(sendrealm, sendrealm_event(f"iso-{uuid.uuid4()}"), key)
    assert response.status_code == 401


def test_idempotency_keys_do_not_cross_projects(sendrealm: RunningServer, store: str) -> None:
    key = f"shared-{uuid.uuid4()}"
    acme_first = ingest(sendrealm, sendrealm_event(key, 1), ACME_KEY)
    globex_first = ingest(sendrealm, sendrealm_event(key, 1), GLOBEX_KEY)
    assert (acme_first.status_code, globex_first.status_code) == (202, 202)
    acme_id, globex_id = acme_first.json()["data"]["id"], globex_first.json()["data"]["id"]
    assert acme_id != globex_id, "a key reused in another project replayed the first project's event"
    # Each project now replays its own event, and only its own.
    acme_again = ingest(sendrealm, sendrealm_event(key, 1), ACME_KEY)
    globex_again = ingest(sendrealm, sendrealm_event(key, 1), GLOBEX_KEY)
    assert (acme_again.status_code, acme_again.json()["data"]["id"]) == (200, acme_id)
    assert (globex_again.status_code, globex_again.json()["data"]["id"]) == (200, globex_id)


def test_a_replay_never_shows_another_projects_event(sendrealm: RunningServer) -> None:
    # globex refuses a reused key with another body; acme's use of the key must not count as a use.
    key = f"probe-{uuid.uuid4()}"
    original = sendrealm_event(key, 7) | {"occurred_at": "2020-01-01T00:00:00.000Z"}
    acme = ingest(sendrealm, original, ACME_KEY)
    assert acme.status_code == 202
    probe = ingest(sendrealm, sendrealm_event(key, 8), GLOBEX_KEY)
    assert probe.status_code == 202, probe.text
    assert acme.json()["data"]["id"] not in probe.text
    assert "2020-01-01" not in probe.text


def test_metrics_name_no_event_ids_or_keys(sendrealm: RunningServer) -> None:
    key = f"secret-{uuid.uuid4()}"
    accepted = ingest(sendrealm, sendrealm_event(key), ACME_KEY)
    text = httpx.get(sendrealm.root + "/metrics", timeout=10).text
    assert key not in text and accepted.json()["data"]["id"] not in text
    assert ACME_KEY not in text and GLOBEX_KEY not in text


def test_definitions_and_limits_follow_the_key(arsel: RunningServer) -> None:
    url = arsel.base_url + "/events/send"
    signup = {"event": "signup.completed", "email": "a@b.co", "data": {"plan": "pro"}}
    assert httpx.post(url, json=signup, headers=auth(ACME_KEY)).status_code == 202
    # Only acme defines signup.completed: globex's key does not reach acme's definitions.
    refused = httpx.post(url, json=signup, headers=auth(GLOBEX_KEY))
    assert (refused.status_code, refused.json()["name"]) == (404, "not_found")
    # acme's limit is 32 KiB, globex's 4 KiB: a 6 KB body is fine for one and too large for the other.
    big = {"event": "order.completed", "email": "a@b.co", "data": {"order_id": "x" * 6000, "total": 1}}
    assert httpx.post(url, json=big, headers=auth(ACME_KEY)).status_code == 202
    too_large = httpx.post(url, json=big, headers=auth(GLOBEX_KEY))
    assert too_large.status_code == 413
    assert "4096" in too_large.json()["message"]

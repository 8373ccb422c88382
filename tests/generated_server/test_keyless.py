"""Collectors without a key (specs/keyless.yaml), over HTTP against the generated server, on both stores.

No request carries a credential: each event names its project by a public token at
`/properties/token` (x-ingest `project_field`), which the configuration's `tokens` map to a project.
- `/track`: one event in a form's `data` field (Mixpanel's `/track`);
- `/batch`: several events of one project, answered the text `OK` (all or nothing);
- `/import`: one event with the project's secret API key (bearer), which a token is not.

The claims: the right token's events are stored in its project, whole (the token included: it is
public); an unknown token is the documented 401 and stores nothing; two projects' tokens never
mix (a batch naming two projects is refused, the same `$insert_id` in two projects is two events).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from ingestspec.contract_tests import apikeys
from ingestspec.contract_tests.credentials import credentials
from ingestspec.contract_tests.target import load_target
from ingestspec.generator.generate.build import generate
from ingestspec.generator.lint.linter import lint
from tests.conftest import REPO
from tests.contract.conftest import INGESTSPEC
from tests.runtime.test_migrations import run_sql
from tests.servers import RunningServer, running_server

KEYLESS = Path(__file__).parent / "specs" / "keyless.yaml"
ALPHA, BETA = "kl_token_alpha", "kl_token_beta"
SECRET = "kl_secret_alpha"  # alpha's API key, for /import
CONFIG = {
    "projects": [
        {"id": "alpha", "api_keys": [SECRET], "tokens": [ALPHA]},
        {"id": "beta", "tokens": [BETA], "payload_limit_bytes": 1024},
    ]
}


@pytest.fixture(scope="module")
def package(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """The folder holding the generated `keyless_api` package, and the configuration file."""
    tmp = tmp_path_factory.mktemp("keyless")
    generate(KEYLESS, tmp / "keyless_api")
    config = tmp / "config.yaml"
    config.write_text(yaml.safe_dump(CONFIG))
    return tmp, config


@pytest.fixture(scope="module")
def keyless(
    store_url: str, package: tuple[Path, Path], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[RunningServer, str]]:
    folder, config = package
    logs = tmp_path_factory.mktemp("keyless_logs")
    with running_server("keyless_api", config, store_url, "/v1", log_dir=logs, pythonpath=folder) as server:
        yield server, store_url


def event(token: str, name: str = "Signed Up", **properties: Any) -> dict[str, Any]:
    own = {"token": token, "distinct_id": "u1", "time": 1796536680.5, "$insert_id": uuid.uuid4().hex}
    return {"event": name, "properties": {**own, **properties}}


def track(server: RunningServer, item: dict[str, Any]) -> httpx.Response:
    return httpx.post(f"{server.base_url}/track", data={"data": json.dumps(item), "verbose": "1"}, timeout=10)


def batch(server: RunningServer, *items: dict[str, Any]) -> httpx.Response:
    return httpx.post(f"{server.base_url}/batch", json={"events": list(items)}, timeout=10)


def stored(store_url: str, *items: dict[str, Any]) -> list[tuple[str, str, Any]]:
    """(project, event, item) of the stored events with these items' `$insert_id`s, in their order."""
    keys = [item["properties"]["$insert_id"] for item in items]
    listed = ", ".join(f"'{key}'" for key in keys)  # the tests' own hex ids: nothing to escape
    rows = run_sql(
        store_url,
        f"SELECT idempotency_key, project_id, event, item FROM events WHERE idempotency_key IN ({listed})",
    )
    found = sorted(rows, key=lambda row: (keys.index(str(row[0])), str(row[1])))
    # The item column: JSON text on SQLite, already a document on PostgreSQL.
    return [(str(p), str(e), json.loads(i) if isinstance(i, str | bytes) else i) for _, p, e, i in found]


def test_the_spec_lints_clean() -> None:
    assert [str(problem) for problem in lint(KEYLESS)] == []


def test_the_token_names_the_project_and_is_stored_with_the_event(keyless: tuple[RunningServer, str]) -> None:
    server, store_url = keyless
    alpha, beta = event(ALPHA, plan="pro"), event(BETA)
    assert [(r.status_code, r.json()) for r in (track(server, alpha), track(server, beta))] == [
        (200, {"status": 1}),
        (200, {"status": 1}),
    ]
    assert stored(store_url, alpha, beta) == [("alpha", "Signed Up", alpha), ("beta", "Signed Up", beta)]


def test_an_unknown_token_is_the_documented_refusal(keyless: tuple[RunningServer, str]) -> None:
    server, store_url = keyless
    unknown = event("kl_token_nobody")
    reply = track(server, unknown)
    assert (reply.status_code, reply.json()) == (401, {"status": 0, "error": "Invalid token"})
    assert "www-authenticate" not in reply.headers  # no scheme to challenge with
    # One unknown token refuses a batch whose other event names a known one.
    known = event(ALPHA)
    reply = batch(server, known, unknown)
    assert (reply.status_code, reply.json()) == (401, {"status": 0, "error": "Invalid token"})
    # An event without a token, or a token that is not text, names no project either.
    nameless = event(ALPHA)
    del nameless["properties"]["token"]
    assert track(server, nameless).status_code == 401
    assert (
        track(server, {**known, "properties": {**known["properties"], "token": [ALPHA]}}).status_code == 401
    )
    assert stored(store_url, unknown, known, nameless) == []


def test_a_batch_stores_its_projects_events_and_answers_ok(keyless: tuple[RunningServer, str]) -> None:
    server, store_url = keyless
    first, second = event(ALPHA), event(ALPHA, "Paid", amount=3)
    reply = batch(server, first, second)
    assert (reply.status_code, reply.text, reply.headers["content-type"].split(";")[0]) == (
        200,
        "OK",
        "text/plain",
    )
    assert stored(store_url, first, second) == [("alpha", "Signed Up", first), ("alpha", "Paid", second)]


def test_a_batch_naming_two_projects_is_refused_whole(keyless: tuple[RunningServer, str]) -> None:
    server, store_url = keyless
    alpha, beta = event(ALPHA), event(BETA)
    reply = batch(server, alpha, beta)
    assert reply.status_code == 400, reply.text
    assert reply.json()["error"] == "the event breaks the schema"
    assert stored(store_url, alpha, beta) == []


def test_one_refused_event_refuses_a_batch_answered_ok(keyless: tuple[RunningServer, str]) -> None:
    server, store_url = keyless
    valid, nameless = event(ALPHA), event(ALPHA)
    del nameless["properties"]["distinct_id"]
    reply = batch(server, valid, nameless)
    assert (reply.status_code, reply.json()) == (
        400,
        {"status": 0, "error": "'properties.distinct_id' is missing"},
    )
    assert stored(store_url, valid, nameless) == []


def test_two_projects_keep_their_own_events(keyless: tuple[RunningServer, str]) -> None:
    """The same `$insert_id` sent with each project's token is one event in each (deduplication is
    per project), and each project's size limit is its own once its token is known."""
    server, store_url = keyless
    alpha = event(ALPHA)
    beta = {**alpha, "properties": {**alpha["properties"], "token": BETA}}
    assert [track(server, e).status_code for e in (alpha, beta, alpha)] == [200, 200, 200]
    assert stored(store_url, alpha) == [("alpha", "Signed Up", alpha), ("beta", "Signed Up", beta)]
    large = event(BETA, notes="x" * 2000)  # beta takes 1024 bytes, alpha 65536
    assert track(server, large).status_code == 413
    assert track(server, {**large, "properties": {**large["properties"], "token": ALPHA}}).status_code == 200


def test_a_token_is_no_key_and_a_key_no_token(keyless: tuple[RunningServer, str]) -> None:
    """A public token never opens the operation that takes a secret, nor a secret a keyless one."""
    server, store_url = keyless
    by_token, by_secret, secret_as_token = event(ALPHA), event(ALPHA), event(SECRET)

    def imported(item: dict[str, Any], key: str) -> httpx.Response:
        headers = {"Authorization": f"Bearer {key}"}
        return httpx.post(f"{server.base_url}/import", json=item, headers=headers, timeout=10)

    assert imported(by_token, ALPHA).status_code == 401
    assert track(server, secret_as_token).status_code == 401
    reply = imported(by_secret, SECRET)
    assert (reply.status_code, reply.json()) == (200, {"status": 1})
    assert stored(store_url, by_token, by_secret, secret_as_token) == [("alpha", "Signed Up", by_secret)]


def test_the_suite_names_each_project_by_its_token_on_keyless_operations(tmp_path: Path) -> None:
    """A given value is a project's key or its token; the other kind comes from the configuration,
    and an operation whose first project has none of its kind is skipped naming what to give."""
    config = tmp_path / "config.yaml"
    config.write_text(yaml.safe_dump(CONFIG))

    def keys(*given: str) -> dict[str, tuple[str, ...]]:
        target = load_target(KEYLESS, "http://127.0.0.1:9/v1", given, config, check_reachable=False)
        return {op.operation_id: target.keys_for(op) for op in target.spec.ingest_operations}

    assert keys(SECRET, BETA) == {"track": (ALPHA, BETA), "importEvent": (SECRET,), "batch": (ALPHA, BETA)}
    assert keys(ALPHA) == {"track": (ALPHA,), "importEvent": (SECRET,), "batch": (ALPHA,)}
    assert keys(BETA, SECRET)["importEvent"] == ()  # beta has no key: /import cannot be judged
    target = load_target(KEYLESS, "http://127.0.0.1:9/v1", (BETA,), config, check_reachable=False)
    (imported,) = [op for op in target.spec.ingest_operations if op.operation_id == "importEvent"]
    assert target.missing_for(imported) == (
        "importEvent needs project beta's API key: give it with --api-key, or list it under api_keys"
        " in the configuration"
    )
    # A payload of events the suite builds carries the token where project_field says, in each item.
    (batch,) = [op for op in target.spec.ingest_operations if op.operation_id == "batch"]
    sent = credentials(batch, BETA).into({"events": [{"event": "a"}, {"event": "b", "properties": {}}]})
    assert [item["properties"]["token"] for item in sent["events"]] == [BETA, BETA]


def contract(base_url: str, config: Path, seed: int, *extra: str) -> subprocess.CompletedProcess[str]:
    """`ingestspec contract` on the keyless spec: alpha's secret (its token is in the configuration)
    and beta's token, given as keys are."""
    command = [str(INGESTSPEC), "contract", str(KEYLESS), "--base-url", base_url, "--config", str(config)]
    command += ["--api-key", SECRET, "--api-key", BETA, "--seed", str(seed), *extra]
    clean = {k: v for k, v in os.environ.items() if not k.startswith(apikeys.ENV)}
    return subprocess.run(command, capture_output=True, text=True, cwd=REPO, timeout=600, env=clean)


def verdicts(stdout: str) -> dict[str, str]:
    """Each contract test's outcome by its id (`scenario[batch-invalid_api_key]`: PASSED)."""
    found = re.findall(r"::test_(\w+\[[^\]]+\]) (PASSED|FAILED|SKIPPED)", stdout)
    return {name: outcome for name, outcome in found}


@pytest.fixture(scope="module")
def judged(
    package: tuple[Path, Path], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Path, Path, RunningServer]]:
    """The generated package's folder, the configuration and a correct server on SQLite."""
    folder, config = package
    tmp = tmp_path_factory.mktemp("keyless_contract")
    db = f"sqlite:///{tmp / 'events.db'}"
    with running_server("keyless_api", config, db, "/v1", log_dir=tmp, pythonpath=folder) as server:
        yield folder, config, server


# What the suite now judges of the keyless operations: the token in every item, refused when missing
# or unknown (a secret is no token, one unknown item refuses a batch), a batch of two projects
# refused, each project's own size limit once its token is known, the form's document, and fuzzing
# with the token in every item.
JUDGED = (
    "scenario[track-success]",
    "scenario[track-missing_api_key]",
    "scenario[track-invalid_api_key]",
    "scenario[track-oversize_body]",
    "scenario[track-malformed_json]",
    "constraints[track]",
    "fuzz[track-positive]",
    "scenario[batch-missing_api_key]",
    "scenario[batch-invalid_api_key]",
    "scenario[batch-batch_two_projects]",
    "scenario[batch-oversize_body]",
    "fuzz[batch-positive]",
    "fuzz[batch-negative]",
)


def test_the_contract_suite_judges_a_keyless_collector(
    judged: tuple[Path, Path, RunningServer],
) -> None:
    """A correct server passes, the keyless operations' tests judged (not skipped), /import as any
    keyed operation."""
    _, config, server = judged
    result = contract(server.base_url, config, 1, "--max-examples", "5")
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    found = verdicts(result.stdout)
    assert {name: found.get(name) for name in JUDGED} == dict.fromkeys(JUDGED, "PASSED")
    assert found["scenario[importEvent-success]"] == "PASSED"
    assert "sends no project tokens" not in result.stdout


@pytest.mark.deep
@pytest.mark.parametrize("seed", [2, 3])
def test_the_contract_suite_passes_a_keyless_collector_on_more_seeds(
    judged: tuple[Path, Path, RunningServer], seed: int
) -> None:
    _, config, server = judged
    result = contract(server.base_url, config, seed)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]


@pytest.mark.parametrize(
    ("fault", "detectors"),
    [
        ("unknown_token_taken", ("track-invalid_api_key", "batch-invalid_api_key")),
        # Beta's events under alpha: a batch of both projects is one project's, beta's limit is alpha's.
        ("token_ignored", ("batch-batch_two_projects", "batch-oversize_body")),
    ],
)
def test_the_contract_suite_catches_a_keyless_fault(
    judged: tuple[Path, Path, RunningServer], tmp_path: Path, fault: str, detectors: tuple[str, ...]
) -> None:
    """An unknown token taken as a project's, or every token's events filed under the first project,
    fails the tests that should catch it."""
    folder, config, _ = judged
    extra = ["--package", "keyless_api", "--fault", fault]
    db = f"sqlite:///{tmp_path / 'events.db'}"
    with running_server(
        "tests.corpus.faulty", config, db, "/v1", log_dir=tmp_path, extra=extra, pythonpath=folder
    ) as faulty:
        included = [option for name in detectors for option in ("--include", name)]
        result = contract(faulty.base_url, config, 1, *included)
    assert "Traceback" not in faulty.log.read_text()
    assert result.returncode == 1, result.stdout[-4000:]
    found = verdicts(result.stdout)
    assert {name: found.get(f"scenario[{name}]") for name in detectors} == dict.fromkeys(detectors, "FAILED")

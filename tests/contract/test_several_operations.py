"""The suite on a spec with several operations (tests/generated_server/specs/tracker.yaml): `track`
names its event, `identify` and `page` have constant event names, `batch` takes several events, and
`getEvent` reads one back. Its generated server passes: a positive batch must have every item
accepted; the scenarios about one event's content are skipped for the batch with
the reason."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.conftest import REPO
from tests.contract.conftest import generated_and_served, run_contract
from tests.servers import RunningServer

TRACKER = REPO / "tests" / "generated_server" / "specs" / "tracker.yaml"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    with generated_and_served(TRACKER, "tracker_api", tmp_path_factory.mktemp("tracker")) as running:
        yield running


def test_every_operation_is_judged_and_the_server_passes(server: RunningServer) -> None:
    result = run_contract(TRACKER, server.base_url, "--max-examples", "10", "--seed", "1")
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-3000:]
    passed = {line.split("[", 1)[1].split("]")[0] for line in result.stdout.splitlines() if " PASSED" in line}
    # Constant event names are sent as the operation's own; the read and batch operations are fuzzed.
    assert {
        "identify-success",
        "page-success",
        "identify-positive",
        "getEvent-negative",
        "batch-negative",
        "batch-positive",
        "batch-missing_api_key",
        "batch-oversize_body",
        "batch-batch_partial_acceptance",
    } <= passed
    assert "undefined_event" not in " ".join(p for p in passed if p.startswith("identify"))
    assert "a batch operation" in result.stdout

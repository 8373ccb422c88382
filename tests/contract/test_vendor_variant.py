"""The suite on the Sendrealm variant of tests/generated_server/test_any_spec.py (`vendor`): a PUT with
the idempotency key in the path, bearer / basic / apiKey header / apiKey query schemes, a vendor
media type, an integer identity, epoch milliseconds and ULID ids with a prefix. Its generated
server passes; the same server ignoring keys is caught."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import EXAMPLE_CONFIG
from tests.contract.conftest import generate, run_contract
from tests.contract.faults.outcome import failed_tests
from tests.generated_server.test_any_spec import vendor
from tests.servers import running_server
from tests.specs import edited


@pytest.fixture(scope="module")
def package(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, Path]]:
    folder = tmp_path_factory.mktemp("vendor")
    spec = edited(folder, "sendrealm", vendor)
    generate(spec, folder / "vendor_api")
    yield spec, folder


@pytest.mark.parametrize(("fault", "code"), [("", 0), ("ignored_auth", 1)])
def test_the_generated_server_passes_and_a_fault_is_caught(
    package: tuple[Path, Path], tmp_path: Path, fault: str, code: int
) -> None:
    spec, folder = package
    db = f"sqlite:///{tmp_path / 'events.db'}"
    module, extra = (
        ("tests.contract.faults.run", ["--package", "vendor_api", "--fault", fault])
        if fault
        else ("vendor_api", [])
    )
    with running_server(
        module, EXAMPLE_CONFIG, db, "", log_dir=tmp_path, extra=extra, pythonpath=folder
    ) as server:
        result = run_contract(spec, server.base_url, "--max-examples", "10", "--seed", "1")
    assert result.returncode == code, result.stdout[-6000:] + result.stderr[-3000:]
    if fault:
        assert "missing_api_key" in failed_tests(result.stdout)
    else:
        assert "No failures." in result.stdout

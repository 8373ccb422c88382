"""The suite on the vendor-shaped variants of tests/generated_server/test_vendor_errors.py (errors
documented by `4XX` and `default` only, bodies as JSON:API `errors[]` arrays or as text/plain, the
fixed entries from the catalogue defaults) and test_vendor_security.py (an oauth2 token and a prefixed
apiKey). Each generated server passes; a fault is caught."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import EXAMPLE_CONFIG
from tests.contract.conftest import generate, run_contract
from tests.contract.faults.outcome import failed_tests
from tests.generated_server.test_vendor_errors import jsonapi, text
from tests.generated_server.test_vendor_security import vendor_security
from tests.servers import running_server
from tests.specs import edited

# variant -> (its edit, a fault of tests/contract/faults/catalogue.py, the scenario that catches it)
VARIANTS: dict[str, tuple[Any, str, str]] = {
    "jsonapi": (jsonapi, "wrong_error_message", "malformed_json"),
    "text": (text, "wrong_error_status", "payload_schema_mismatch"),
    "security": (vendor_security, "ignored_auth", "missing_api_key"),
}


@dataclass(frozen=True)
class Variant:
    """A variant's spec and the server generated from it (in `folder`, as `package`)."""

    name: str
    spec: Path
    folder: Path
    package: str


@pytest.fixture(scope="module")
def variant(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Variant:
    """Generated once for the correct server and the faulty one."""
    name: str = request.param
    folder = tmp_path_factory.mktemp(name)
    spec = edited(folder, "arsel", VARIANTS[name][0])
    package = f"vendor_{name}"
    generate(spec, folder / package)
    return Variant(name, spec, folder, package)


@pytest.mark.parametrize("faulty", [False, True], ids=["correct", "fault"])
@pytest.mark.parametrize("variant", sorted(VARIANTS), indirect=True)
def test_the_generated_server_passes_and_a_fault_is_caught(
    tmp_path: Path, variant: Variant, faulty: bool
) -> None:
    _, fault, detector = VARIANTS[variant.name]
    package = variant.package
    module, extra = (
        ("tests.contract.faults.run", ["--package", package, "--fault", fault]) if faulty else (package, [])
    )
    db = f"sqlite:///{tmp_path / 'events.db'}"
    with running_server(
        module, EXAMPLE_CONFIG, db, "/v1", log_dir=tmp_path, extra=extra, pythonpath=variant.folder
    ) as server:
        result = run_contract(variant.spec, server.base_url, "--max-examples", "10", "--seed", "1")
    output = result.stdout[-6000:] + result.stderr[-3000:]
    if faulty:
        assert result.returncode == 1, output
        assert detector in failed_tests(result.stdout), output
    else:
        assert result.returncode == 0, output
        assert "No failures." in result.stdout

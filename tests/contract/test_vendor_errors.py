"""The suite on the vendor-shaped variants of tests/generated_server/test_vendor_errors.py (errors
documented by `4XX` and `default` only, bodies as JSON:API `errors[]` arrays or as text/plain, the
fixed entries from the catalogue defaults) and test_vendor_security.py (an oauth2 token and a prefixed
apiKey). Each generated server passes; a fault is caught."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import EXAMPLE_CONFIG
from tests.contract.conftest import INGESTSPEC, run_contract
from tests.contract.faults.test_faults import failed_tests
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


@pytest.mark.parametrize("faulty", [False, True], ids=["correct", "fault"])
@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_the_generated_server_passes_and_a_fault_is_caught(
    tmp_path: Path, variant: str, faulty: bool
) -> None:
    edit, fault, detector = VARIANTS[variant]
    spec = edited(tmp_path, "arsel", edit)
    package = f"vendor_{variant}"
    subprocess.run([str(INGESTSPEC), "generate", str(spec), "--out", str(tmp_path / package)], check=True)
    module, extra = (
        ("tests.contract.faults.run", ["--package", package, "--fault", fault]) if faulty else (package, [])
    )
    db = f"sqlite:///{tmp_path / 'events.db'}"
    with running_server(
        module, EXAMPLE_CONFIG, db, "/v1", log_dir=tmp_path, extra=extra, pythonpath=tmp_path
    ) as server:
        result = run_contract(spec, server.base_url, "--max-examples", "10", "--seed", "1")
    output = result.stdout[-6000:] + result.stderr[-3000:]
    if faulty:
        assert result.returncode == 1, output
        assert detector in failed_tests(result.stdout), output
    else:
        assert result.returncode == 0, output
        assert "No failures." in result.stdout

"""Options a staging deployment needs: a private CA through one option (both HTTP stacks), the
preflight's hints for a wrong base path or a rejected key, a dry run, a run configuration file."""

from __future__ import annotations

import ssl
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from xml.etree import ElementTree

import httpx
import pytest

from tests.conftest import EXAMPLE_CONFIG, REPO, SPECS
from tests.contract.conftest import ACME_KEY, BASE_PATHS, INGESTSPEC, generated, run_contract
from tests.servers import free_port, running_server


def openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


def private_ca(directory: Path) -> tuple[Path, Path, Path]:
    """(CA certificate, server certificate, server key): a CA of our own signs a certificate for
    127.0.0.1 and localhost."""
    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.pem",
            "-days", "2", "-subj", "/CN=ingestspec test CA", cwd=directory)  # fmt: skip
    openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", "server.key", "-out", "server.csr",
            "-subj", "/CN=127.0.0.1", cwd=directory)  # fmt: skip
    (directory / "san.ext").write_text("subjectAltName=IP:127.0.0.1,DNS:localhost\n")
    openssl("x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
            "-out", "server.pem", "-days", "2", "-extfile", "san.ext", cwd=directory)  # fmt: skip
    return directory / "ca.pem", directory / "server.pem", directory / "server.key"


@pytest.fixture
def tls_server(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """The generated Arsel server over HTTPS with a certificate from a private CA: (base URL, CA)."""
    if not generated("arsel"):
        pytest.skip("generated_server/arsel has not been generated yet")
    ca, cert, key = private_ca(tmp_path)
    port = free_port()
    command = [sys.executable, "-m", "tests.contract.tls_server", "--package", "generated_server.arsel",
               "--config", str(EXAMPLE_CONFIG), "--db", f"sqlite:///{tmp_path / 'events.db'}",
               "--port", str(port), "--certfile", str(cert), "--keyfile", str(key)]  # fmt: skip
    log = tmp_path / "server.log"
    with log.open("wb") as out:
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, cwd=REPO)
    root = f"https://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            assert process.poll() is None, log.read_text()
            assert time.monotonic() < deadline, log.read_text()
            try:
                trusted = ssl.create_default_context(cafile=ca)
                if httpx.get(f"{root}/healthz", verify=trusted, timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.05)
        yield root + BASE_PATHS["arsel"], ca
    finally:
        process.terminate()
        process.wait(15)


def test_a_private_ca_is_trusted_through_one_option(tls_server: tuple[str, Path]) -> None:
    base_url, ca = tls_server
    untrusted = run_contract(SPECS["arsel"], base_url, "--max-examples", "2")
    assert untrusted.returncode == 2, untrusted.stdout[-2000:] + untrusted.stderr[-2000:]
    assert "CERTIFICATE_VERIFY_FAILED" in untrusted.stderr
    # Scenarios (httpx) and fuzzing (requests, under Schemathesis) both go through the CA.
    trusted = run_contract(SPECS["arsel"], base_url, "--max-examples", "2", "--cacert", str(ca))
    assert trusted.returncode == 0, trusted.stdout[-4000:] + trusted.stderr[-2000:]
    assert "test_fuzz[sendEvent-positive] PASSED" in trusted.stdout
    assert "test_constraints[sendEvent] PASSED" in trusted.stdout


def errored_cases(junit: Path) -> list[str]:
    """The error messages of a JUnit file's errored test cases."""
    root = ElementTree.parse(junit).getroot()
    return [error.get("message", "") for error in root.iter("error")]


@pytest.mark.parametrize(
    ("api", "hint"),
    [
        ("arsel", "The spec's servers entries put the API under '/v1', so --base-url should end with it,"
                  " as in http://127.0.0.1:{port}/v1."),
        ("sendrealm", "The spec's servers entries have no path, so --base-url should be the URL its paths"
                      " follow directly, such as http://127.0.0.1:{port}."),
    ],
)  # fmt: skip
def test_a_wrong_base_path_exits_2_with_a_hint_and_an_errored_junit_case(
    api: str, hint: str, tmp_path: Path
) -> None:
    if not generated(api):
        pytest.skip(f"generated_server/{api} has not been generated yet")
    db = f"sqlite:///{tmp_path / 'events.db'}"
    module = f"generated_server.{api}"
    junit = tmp_path / "junit.xml"
    with running_server(module, EXAMPLE_CONFIG, db, BASE_PATHS[api], log_dir=tmp_path) as server:
        port = server.root.rsplit(":", 1)[1]
        url = server.base_url + "/api"
        result = run_contract(SPECS[api], url, "--max-examples", "1", "--junit-xml", str(junit))
    assert result.returncode == 2, result.stdout[-2000:]
    reason = f"every request got 404 at {url}: is the base path right? {hint.format(port=port)}"
    assert reason in " ".join(result.stderr.split()), result.stderr
    assert errored_cases(junit) == [reason]


def test_a_rejected_key_exits_2_with_a_hint_and_an_errored_junit_case(tmp_path: Path) -> None:
    api = "sendrealm"
    if not generated(api):
        pytest.skip(f"generated_server/{api} has not been generated yet")
    # The deployment rotated its keys; the suite still has the old ones.
    rotated = tmp_path / "rotated.yaml"
    rotated.write_text(EXAMPLE_CONFIG.read_text().replace("_test_key", "_rotated_key"))
    db = f"sqlite:///{tmp_path / 'events.db'}"
    junit = tmp_path / "junit.xml"
    junit.write_text("<testsuites><testsuite name='an earlier run' tests='0'/></testsuites>")
    with running_server(f"generated_server.{api}", rotated, db, BASE_PATHS[api], log_dir=tmp_path) as server:
        result = run_contract(SPECS[api], server.base_url, "--max-examples", "1", "--junit-xml", str(junit))
    assert result.returncode == 2, result.stdout[-2000:]
    assert "every request with API key #1 was refused with 401" in result.stderr, result.stderr
    assert ACME_KEY not in result.stderr + result.stdout + junit.read_text()
    (reason,) = errored_cases(junit)
    assert reason.startswith("every request with API key #1 was refused with 401")
    assert "an earlier run" not in junit.read_text()


def test_a_server_configured_otherwise_fails_with_one_config_hint(tmp_path: Path) -> None:
    """The deployment runs with another payload limit and lacks an event definition that --config has."""
    if not generated("arsel"):
        pytest.skip("generated_server/arsel has not been generated yet")
    text = EXAMPLE_CONFIG.read_text()
    other = tmp_path / "deployed.yaml"
    other.write_text(
        text.replace("payload_limit_bytes: 32768", "payload_limit_bytes: 16384").replace(
            "      signup.completed:", "      signup.started:"
        )
    )
    db = f"sqlite:///{tmp_path / 'events.db'}"
    with running_server("generated_server.arsel", other, db, BASE_PATHS["arsel"], log_dir=tmp_path) as server:
        result = run_contract(SPECS["arsel"], server.base_url, "--max-examples", "2", "--seed", "1")
    assert result.returncode == 1, result.stdout[-4000:] + result.stderr[-2000:]
    hints = [line for line in result.stdout.splitlines() if line.startswith("Hint:")]
    assert len(hints) == 1, result.stdout[-6000:]
    assert "(event_not_defined, payload_invalid, payload_too_large)" in hints[0]
    assert f"--config {EXAMPLE_CONFIG} says" in hints[0]


def test_dry_run_sends_nothing_and_shows_the_constraint_requests() -> None:
    # Nothing listens on port 9: a dry run must not need the deployment.
    result = run_contract(SPECS["sendrealm"], "http://127.0.0.1:9", "--dry-run")
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    assert "# ingestEvent: the constraint phase would send" in result.stdout
    assert "/occurred_at format broken: 'not-a-date'" in result.stdout
    assert "0 replies judged" in result.stdout


def test_a_run_configuration_file_gives_defaults(tmp_path: Path) -> None:
    # Names as on the command line; a single value for a repeatable option; --config from the file.
    (tmp_path / "pyproject.toml").write_text(
        "[tool.ingestspec.contract]\n"
        f'mode = "positive"\ninclude = "fuzz"\ndry-run = true\nconfig = "{EXAMPLE_CONFIG}"\n'
    )
    command = [str(INGESTSPEC), "contract", str(SPECS["sendrealm"]), "--base-url", "http://127.0.0.1:9",
               "--api-key", ACME_KEY]  # fmt: skip
    result = subprocess.run(command, capture_output=True, text=True, cwd=tmp_path, timeout=120)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    assert "test_fuzz[ingestEvent-positive]" in result.stdout
    assert "test_fuzz[ingestEvent-negative]" not in result.stdout
    assert "test_scenario[" not in result.stdout
    (tmp_path / "pyproject.toml").write_text('[tool.ingestspec.contract]\nmodes = "positive"\n')
    result = subprocess.run(command, capture_output=True, text=True, cwd=tmp_path, timeout=120)
    assert result.returncode == 2 and "unknown option(s) in the run configuration: modes" in result.stderr


def test_no_answer_is_explained_and_an_error_in_junit(tmp_path: Path) -> None:
    api = "arsel"
    if not generated(api):
        pytest.skip(f"generated_server/{api} has not been generated yet")
    extra = ["--package", f"generated_server.{api}", "--fault", "slow_answers"]
    db = f"sqlite:///{tmp_path / 'events.db'}"
    junit = tmp_path / "junit.xml"
    module = "tests.contract.faults.run"
    with running_server(module, EXAMPLE_CONFIG, db, BASE_PATHS[api], log_dir=tmp_path, extra=extra) as server:
        result = run_contract(
            SPECS[api], server.base_url, "--max-examples", "2", "--request-timeout", "0.3",
            "--include", "success", "--include", "fuzz-positive", "--seed", "7", "--junit-xml", str(junit),
        )  # fmt: skip
    assert result.returncode == 1, result.stdout[-3000:] + result.stderr[-2000:]
    # The console says why, not "No failures.".
    assert "no_answer" in result.stdout and "ReadTimeout" in result.stdout, result.stdout[-3000:]
    assert "No failures." not in result.stdout
    text = junit.read_text()
    assert "<error" in text and "<failure" not in text, text[:3000]
    assert f'name="ingestspec contract: arsel at {server.base_url}"' in text
    for name in ("seed", "run_id", "base_url"):
        assert f'<property name="{name}"' in text
    assert '<property name="seed" value="7"' in text

"""API keys stay secret: read from the environment or a file, and never written by a failing run."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pytest
import yaml

from ingestspec.contract_tests import apikeys
from ingestspec.contract_tests.credentials import basic_token
from ingestspec.contract_tests.target import TargetError, load_target
from tests.conftest import EXAMPLE_CONFIG, REPO, SPECS
from tests.contract.conftest import ACME_KEY, BASE_PATHS, GLOBEX_KEY, INGESTSPEC, generated
from tests.servers import running_server


def contract(
    spec: Path, base_url: str, env: dict[str, str], *extra: str, config: Path = EXAMPLE_CONFIG
) -> subprocess.CompletedProcess[str]:
    command = [str(INGESTSPEC), "contract", str(spec), "--base-url", base_url, "--config", str(config)]
    clean = {k: v for k, v in os.environ.items() if not k.startswith(apikeys.ENV)}
    return subprocess.run(
        [*command, *extra], capture_output=True, text=True, cwd=REPO, timeout=600, env={**clean, **env}
    )


@pytest.mark.parametrize("given", ["environment", "file"])
def test_no_key_in_any_output_of_a_failing_run(given: str, tmp_path: Path) -> None:
    api = "arsel"
    if not generated(api):
        pytest.skip(f"generated_server/{api} has not been generated yet")
    extra = ["--package", f"generated_server.{api}", "--fault", "wrong_success_status"]
    db = f"sqlite:///{tmp_path / 'events.db'}"
    junit = tmp_path / "junit.xml"
    env = {apikeys.ENV: ACME_KEY, f"{apikeys.ENV}_2": GLOBEX_KEY}
    options = ["--max-examples", "3", "--junit-xml", str(junit)]
    if given == "file":
        key_file = tmp_path / "keys"
        key_file.write_text(f"# staging keys\n{ACME_KEY}\n\n{GLOBEX_KEY}\n")
        options += ["--api-key-file", str(key_file)]
        env = {}
    module = "tests.contract.faults.run"
    with running_server(module, EXAMPLE_CONFIG, db, BASE_PATHS[api], log_dir=tmp_path, extra=extra) as server:
        result = contract(SPECS[api], server.base_url, env, *options)
        assert result.returncode == 1, result.stdout[-3000:] + result.stderr[-2000:]
        outputs = {"stdout": result.stdout, "stderr": result.stderr, "junit": junit.read_text()}
        for name, text in outputs.items():
            for key in (ACME_KEY, GLOBEX_KEY):
                assert key not in text, f"{key} appears in {name}"
        curls = [line.strip() for line in result.stdout.splitlines() if line.strip().startswith("curl ")]
        marked = [line for line in curls if f"${apikeys.ENV}" in line]
        assert marked, result.stdout[-3000:]
        # The masked line runs as is once the variable holds the key: the request is authenticated.
        reply = subprocess.run(
            ["bash", "-c", marked[0]],
            capture_output=True,
            text=True,
            env={**os.environ, apikeys.ENV: ACME_KEY, f"{apikeys.ENV}_2": GLOBEX_KEY},
            timeout=30,
        )
        status = re.match(r"HTTP/\S+ (\d+)", reply.stdout)
        assert status is not None and status.group(1) != "401", reply.stdout[:500]


def test_masked_forms() -> None:
    apikeys.keep(["sk_live_abc/def"])
    index = apikeys._KEYS.index("sk_live_abc/def")
    name = apikeys.variable(index)
    assert apikeys.mask("Authorization: Bearer sk_live_abc/def") == f"Authorization: Bearer ${name}"
    assert apikeys.mask("?api_key=sk_live_abc%2Fdef") == f"?api_key=${name}"
    assert "sk_live" not in apikeys.mask("Authorization: Basic c2tfbGl2ZV9hYmMvZGVmOg==")


def test_basic_credentials_are_masked_whichever_part_holds_the_key() -> None:
    key = "site-9:sk_live_secret"
    apikeys.keep([key])
    name = apikeys.variable(apikeys._KEYS.index(key))
    for part, form in (("", "%s:"), ("password", ":%s"), ("both", "%s")):
        token = basic_token(key, part)
        masked = apikeys.mask(f"Authorization: Basic {token}")
        assert masked == f"Authorization: Basic $(printf '{form}' \"${name}\" | base64)"
        shown = subprocess.run(
            ["bash", "-c", f"{name}='{key}'; printf '{form}' \"${name}\" | base64"],
            capture_output=True,
            text=True,
            check=True,
        )
        assert shown.stdout.strip() == token  # the curl line sends what was sent


def test_keys_from_a_file_skip_comments_and_blank_lines(tmp_path: Path) -> None:
    path = tmp_path / "keys"
    path.write_text("# a comment\n\nk1\n  k2  \n")
    assert apikeys.from_file(path) == ("k1", "k2")
    with pytest.raises(apikeys.KeyProblem):
        apikeys.from_file(tmp_path / "absent")


def keyless(tmp_path: Path, *projects: str) -> Path:
    """The example configuration without the keys of `projects`, as QA keeps one for staging."""
    config = yaml.safe_load(EXAMPLE_CONFIG.read_text())
    for project in config["projects"]:
        if project["id"] in projects:
            project.pop("api_keys")
    path = tmp_path / "keyless.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def test_a_key_the_config_does_not_list_goes_to_the_next_project_without_keys(tmp_path: Path) -> None:
    def projects(config: Path, *keys: str) -> list[str]:
        target = load_target(SPECS["arsel"], "http://127.0.0.1:9", keys, config, check_reachable=False)
        return [p.id for p in target.projects]

    assert projects(keyless(tmp_path, "acme", "globex"), ACME_KEY, GLOBEX_KEY) == ["acme", "globex"]
    assert projects(keyless(tmp_path, "globex"), "be_staging_key_2", ACME_KEY) == ["globex", "acme"]
    with pytest.raises(TargetError, match="no project there is left without keys"):
        projects(EXAMPLE_CONFIG, "be_staging_key_2")


def test_a_run_with_a_config_without_keys_passes(tmp_path: Path) -> None:
    api = "arsel"
    if not generated(api):
        pytest.skip(f"generated_server/{api} has not been generated yet")
    db = f"sqlite:///{tmp_path / 'events.db'}"
    env = {apikeys.ENV: ACME_KEY, f"{apikeys.ENV}_2": GLOBEX_KEY}
    config = keyless(tmp_path, "acme", "globex")
    with running_server(
        f"generated_server.{api}", EXAMPLE_CONFIG, db, BASE_PATHS[api], log_dir=tmp_path
    ) as server:
        result = contract(SPECS[api], server.base_url, env, "--max-examples", "5", config=config)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]

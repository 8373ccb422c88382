"""`ingestspec init`: the starter spec and config.yaml, written where the user is, never over their
files; and the README's quick start, typed as it is, from an empty folder outside the checkout:
init, lint, generate, serve, a request, and a green contract run."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import httpx
import yaml

from ingestspec.generator.spec.loader import load_spec
from tests.docs.pages import DOCS, REPO, blocks, run_commands

INGESTSPEC = Path(sys.executable).parent / "ingestspec"


def init(folder: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [INGESTSPEC, "init", *args], cwd=folder, capture_output=True, text=True, timeout=120, check=False
    )


def quick_start() -> str:
    """The README's quick-start block (the site's home page shows the same one)."""
    [readme] = [b.text for b in blocks(REPO / "README.md") if "ingestspec init" in b.text]
    [home] = [b.text for b in blocks(DOCS / "index.md") if "ingestspec init" in b.text]
    assert home == readme
    return readme


def test_init_writes_the_starter_and_never_overwrites_without_force(tmp_path: Path) -> None:
    written = init(tmp_path)
    assert written.returncode == 0, written.stderr
    spec, config = tmp_path / "openapi.yaml", tmp_path / "config.yaml"
    assert load_spec(spec).operations and yaml.safe_load(config.read_text())["projects"]
    spec.write_text("mine")
    refused = init(tmp_path)
    assert refused.returncode == 2
    assert "openapi.yaml, config.yaml already exist" in refused.stderr
    assert spec.read_text() == "mine"
    forced = init(tmp_path, "--force")
    assert forced.returncode == 0, forced.stderr
    assert spec.read_text() != "mine"


def test_init_names_the_spec_as_given_and_writes_nothing_when_one_file_exists(tmp_path: Path) -> None:
    (tmp_path / "config.yaml").write_text("mine")
    refused = init(tmp_path, "events.yaml")
    assert refused.returncode == 2 and not (tmp_path / "events.yaml").exists()
    (tmp_path / "config.yaml").unlink()
    written = init(tmp_path, "events.yaml")
    assert written.returncode == 0, written.stderr
    assert "ingestspec lint events.yaml" in written.stdout
    assert "ingestspec lint events.yaml" in (tmp_path / "events.yaml").read_text()


def test_the_quick_start_runs_outside_the_checkout(tmp_path: Path) -> None:
    with run_commands([quick_start()], tmp_path) as session:
        assert session.cwd == tmp_path / "my-api"
        assert (session.cwd / "my_api" / "handlers.py").is_file()
        assert (session.cwd / "var" / "my_api.db").is_file()  # where the README says serve keeps them
        [stored] = [out for out in session.outputs if '"event":"signup_completed"' in out]
        # The server the quick start left running takes a request from another client too.
        answer = httpx.post(
            f"http://127.0.0.1:{session.port}/v1/track",
            json={"event": "trial_started", "anonymous_id": "device-7", "message_id": "m-1"},
            headers={"Authorization": "Bearer sandbox_key_change_me"},
        )
        assert answer.status_code == 202, answer.text
        replayed = httpx.post(
            f"http://127.0.0.1:{session.port}/v1/track",
            json={"event": "trial_started", "anonymous_id": "device-7", "message_id": "m-1"},
            headers={"Authorization": "Bearer sandbox_key_change_me"},
        )
        assert replayed.status_code == 200 and replayed.json()["id"] == answer.json()["id"]
    assert "No failures." in session.outputs[-1]
    assert stored

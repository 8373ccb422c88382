"""Regenerating keeps user code: handlers.py and hooks.py are created once, unknown files are left
alone, and the handler's documented contract (sync or async, retried on failure, at least once) and
a hook's refusal hold over HTTP."""

from __future__ import annotations

import contextlib
import json
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx

from ingestspec.generator.generate.build import MANIFEST, header_paths
from tests import servers
from tests.conftest import EXAMPLE_CONFIG, SPECS

INGESTSPEC = Path(sys.executable).parent / "ingestspec"
EVENT = {"event": "order.completed", "email": "john.doe@example.com", "data": {"order_id": "A", "total": 1}}
KEY = {"Authorization": "Bearer be_your_api_key"}

# A sync handler that fails each event's first attempt and records the second: the retry and the
# thread it runs in are the contract's, not the test's.
FLAKY_HANDLER = """
import threading
from pathlib import Path

from .storage import StoredEvent


def handle(event: StoredEvent) -> None:
    if event.attempts == 0:
        raise RuntimeError("first attempt fails")
    thread = threading.current_thread().name
    line = f"{event.id} {event.event} attempt={event.attempts + 1} thread={thread}\\n"
    with (Path(__file__).parent.parent / "handled.txt").open("a") as out:
        out.write(line)
"""

# The user's own rule: a refusal in the spec's invalid_request envelope.
HOOKS = """
from typing import Any

from .errors import ApiError


def check(project_id: str, event: str, body: dict[str, Any]) -> None:
    if body["data"].get("total", 0) > 1000:
        raise ApiError("invalid_request", details=[{"path": "/data/total", "message": "needs approval"}])
"""


def ingestspec(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(INGESTSPEC), *args], cwd=cwd, capture_output=True, text=True, check=False)


@contextlib.contextmanager
def serving(folder: str, cwd: Path, *extra: str) -> Iterator[str]:
    """`ingestspec serve FOLDER` from `cwd` on a free port; yields its URL once /healthz answers."""
    command = [str(INGESTSPEC), "serve", folder, "--config", str(EXAMPLE_CONFIG), *extra]
    with servers.serving(command, cwd, "serve", cwd=cwd) as server:
        yield server.root


def wait_for_lines(path: Path, count: int, timeout: float = 20) -> list[str]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        lines = path.read_text().splitlines() if path.exists() else []
        if len(lines) >= count:
            return lines
        time.sleep(0.2)
    raise AssertionError(f"{path} has {path.read_text() if path.exists() else 'nothing'}")


def test_regenerating_keeps_user_code_and_check_stays_green(tmp_path: Path) -> None:
    spec = tmp_path / "arsel.yaml"
    spec.write_text(SPECS["arsel"].read_text())
    assert ingestspec("generate", "arsel.yaml", cwd=tmp_path).returncode == 0  # no --out: ./arsel
    package = tmp_path / "arsel"
    (package / "handlers.py").write_text(FLAKY_HANDLER)
    (package / "hooks.py").write_text(HOOKS)
    (package / "notes.md").write_text("our deployment notes\n")

    regenerated = ingestspec("generate", "arsel.yaml", cwd=tmp_path)
    assert regenerated.returncode == 0, regenerated.stderr
    assert (package / "handlers.py").read_text() == FLAKY_HANDLER
    assert (package / "hooks.py").read_text() == HOOKS
    assert (package / "notes.md").read_text() == "our deployment notes\n"
    check = ingestspec("generate", "arsel.yaml", "--check", cwd=tmp_path)
    assert check.returncode == 0, check.stdout + check.stderr
    listing = json.loads((package / MANIFEST).read_text())
    assert listing["user"] == ["handlers.py", "hooks.py"] and "hooks.py" not in listing["generated"]

    with serving("arsel.yaml", tmp_path) as url:  # a spec: the package generate wrote here
        answer = httpx.post(url + "/v1/events/send", json=EVENT, headers=KEY)
        assert answer.status_code == 202, answer.text
        big = {**EVENT, "data": {"order_id": "B", "total": 5000}}
        refused = httpx.post(url + "/v1/events/send", json=big, headers=KEY)
        assert refused.status_code == 400 and "needs approval" in refused.text, refused.text
        [line] = wait_for_lines(tmp_path / "handled.txt", 1)
    assert " order.completed attempt=2 " in line
    assert "thread=MainThread" not in line  # a plain def runs off the event loop


def test_a_stale_generated_file_is_shown_as_a_diff_and_a_dropped_one_is_removed(tmp_path: Path) -> None:
    out = tmp_path / "arsel"
    assert ingestspec("generate", str(SPECS["arsel"]), "--out", str(out), cwd=tmp_path).returncode == 0
    (out / "ids.py").write_text((out / "ids.py").read_text() + "HAND_EDIT = 1\n")
    listing = json.loads((out / MANIFEST).read_text())
    listing["generated"]["retired.py"] = "0" * 64  # a module an earlier version generated
    (out / MANIFEST).write_text(json.dumps(listing))
    (out / "retired.py").write_text("")

    check = ingestspec("generate", str(SPECS["arsel"]), "--out", str(out), "--check", cwd=tmp_path)
    assert check.returncode == 1
    assert "--- a/ids.py\n+++ b/ids.py\n" in check.stdout and "-HAND_EDIT = 1\n" in check.stdout
    assert "--- a/retired.py\n+++ /dev/null\n" in check.stdout
    written = ingestspec("generate", str(SPECS["arsel"]), "--out", str(out), cwd=tmp_path)
    assert "ids.py was edited by hand" in written.stderr
    assert not (out / "retired.py").exists() and "HAND_EDIT" not in (out / "ids.py").read_text()


def test_headers_do_not_depend_on_where_the_command_runs(tmp_path: Path) -> None:
    (tmp_path / "specs").mkdir()
    (tmp_path / "specs" / "my-api.yaml").write_text(SPECS["sendrealm"].read_text())
    from_root = ingestspec("generate", "specs/my-api.yaml", cwd=tmp_path)
    assert from_root.returncode == 0, from_root.stderr
    first = (tmp_path / "my_api" / "app.py").read_text()
    assert "#   ingestspec generate specs/my-api.yaml --out my_api\n" in first
    inside = ingestspec("generate", "my-api.yaml", "--out", "../my_api", "--check", cwd=tmp_path / "specs")
    assert inside.returncode == 0, inside.stdout
    assert header_paths(Path("/a/openapi/arsel.yaml"), Path("/a/generated_server/arsel")) == (
        "openapi/arsel.yaml",
        "generated_server/arsel",
    )


def test_serve_runs_a_handler_from_the_users_folder(tmp_path: Path) -> None:
    assert ingestspec("generate", str(SPECS["arsel"]), "--out", "arsel", cwd=tmp_path).returncode == 0
    (tmp_path / "mine.py").write_text(
        "from pathlib import Path\n\n\n"
        "async def record(event):\n"
        "    with Path('mine.txt').open('a') as out:\n"
        "        out.write(f'{event.id} {event.event}\\n')\n"
    )
    with serving("arsel", tmp_path, "--handler", "mine:record") as url:
        assert httpx.post(url + "/v1/events/send", json=EVENT, headers=KEY).status_code == 202
        [line] = wait_for_lines(tmp_path / "mine.txt", 1)
    assert line.endswith(" order.completed")


def test_a_bad_handler_is_one_line(tmp_path: Path) -> None:
    result = ingestspec(
        "serve", "arsel", "--handler", "nosuch:handle", "--port", str(servers.free_port()), cwd=tmp_path
    )
    assert result.returncode == 2
    [line] = result.stderr.strip().splitlines()
    assert line.startswith("Error: cannot load handler 'nosuch:handle': module 'nosuch' cannot be imported")

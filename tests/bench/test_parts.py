"""bench/parts.py's child, without valgrind: each configuration drives the app on real SQLite to the end."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.servers import REPO


@pytest.mark.parametrize("parts", [[], ["--access-log", "--worker"]])
def test_a_configuration_answers_every_request_and_ends(parts: list[str]) -> None:
    command = [sys.executable, "bench/parts.py", "--child", "--api", "arsel", "--requests", "40", *parts]
    done = subprocess.run(command, capture_output=True, text=True, cwd=REPO, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]

"""The README and the documentation site's pages as the tests read them: their fenced code blocks,
each with the marker line above it, and a runner that types a page's shell commands as a user
would, in a folder outside the checkout.

A shell block (```sh) is run by `run_commands`, unless the HTML comment just above it names the
test that runs it (`<!-- runs in: tests/path.py::test_name -->`) or says why it is not run
(`<!-- not run: reason -->`). Snippets (`--8<-- "path"`, pymdownx.snippets) are expanded, so a file
a page includes is read as part of it.
"""

from __future__ import annotations

import contextlib
import os
import re
import shlex
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from tests.servers import free_port

REPO = Path(__file__).resolve().parent.parent.parent
DOCS = REPO / "docs"
PAGES = [REPO / "README.md", *sorted(DOCS.glob("*.md"))]
SHELL = ("sh", "bash", "shell", "console")
PORT = "8000"  # the port the pages' commands use; a run replaces it with a free one
SNIPPET = re.compile(r'^--8<-- "([^"]+)"$', re.M)
FENCE = re.compile(r"^```(\w*)\n(.*?)^```$", re.M | re.S)
MARKER = re.compile(r"<!-- (runs in|not run): (.*?) -->\s*$")


@dataclass(frozen=True)
class Block:
    page: str  # relative to the repository
    line: int
    lang: str
    text: str
    marker: tuple[str, str] | None  # ("runs in" | "not run", what follows)

    @property
    def where(self) -> str:
        return f"{self.page}:{self.line}"


def text_of(page: Path) -> str:
    """The page's Markdown with its snippets expanded (paths relative to the repository)."""
    return SNIPPET.sub(lambda m: (REPO / m.group(1)).read_text(encoding="utf-8"), page.read_text("utf-8"))


def headings(page: Path) -> list[tuple[int, str]]:
    """(line, text) of each Markdown heading, outside code blocks."""
    found, fenced = [], False
    for number, line in enumerate(text_of(page).splitlines(), 1):
        fenced ^= line.startswith("```")
        if not fenced and line.startswith("#"):
            found.append((number, line.lstrip("#").strip()))
    return found


def blocks(page: Path) -> list[Block]:
    text = text_of(page)
    found = []
    for match in FENCE.finditer(text):
        before = text[: match.start()].rstrip("\n").rsplit("\n", 1)[-1]
        marker = MARKER.search(before)
        found.append(
            Block(
                str(page.relative_to(REPO)),
                text.count("\n", 0, match.start()) + 1,
                match.group(1),
                match.group(2),
                (marker.group(1), marker.group(2)) if marker else None,
            )
        )
    return found


def shell_blocks() -> list[Block]:
    return [block for page in PAGES for block in blocks(page) if block.lang in SHELL]


def commands(text: str) -> list[str]:
    """The block's commands: backslash continuations joined, blank lines left out."""
    return [line for line in text.replace("\\\n", " ").splitlines() if line.strip()]


def user_env(bin_dir: Path) -> dict[str, str]:
    """A user's shell with the tool on PATH and nothing pointing back at the checkout."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME")}
    return {**env, "PATH": f"{bin_dir}{os.pathsep}{env.get('PATH', '')}"}


@dataclass
class Session:
    """What a run of commands leaves: the folder it ended in, the port it served on, each output."""

    cwd: Path
    port: int
    outputs: list[str] = field(default_factory=list)


def _wait_until_healthy(process: subprocess.Popen[bytes], port: int, log: Path, command: str) -> None:
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"{command!r} exited with {process.returncode}:\n{log.read_text()}")
        with contextlib.suppress(httpx.TransportError):
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                return
        time.sleep(0.1)
    raise AssertionError(f"{command!r} did not answer /healthz within 90 s:\n{log.read_text()}")


def _stop(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM to the command's whole process group (a server's workers too), then SIGKILL."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(20)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(10)


@contextlib.contextmanager
def run_commands(texts: list[str], folder: Path, bin_dir: Path | None = None) -> Iterator[Session]:
    """Type each command of `texts` into bash in `folder`, one after another, as a user would: each
    must exit 0; `cd` carries over; a command ending in `&` is a server, waited for on its port's
    /healthz and left running until the session ends. The pages' port 8000 becomes a free port."""
    assert REPO not in folder.resolve().parents, "the commands run outside the checkout"
    env = user_env(bin_dir or Path(sys.executable).parent)
    session = Session(folder, free_port())
    where = folder / ".pwd"
    servers: list[subprocess.Popen[bytes]] = []
    try:
        for text in texts:
            for command in commands(text):
                line = command.replace(PORT, str(session.port))
                start = f"cd {shlex.quote(str(session.cwd))}\n"
                if line.rstrip().endswith("&"):
                    log = folder / f"server-{len(servers)}.log"
                    with log.open("wb") as out:
                        server = subprocess.Popen(
                            ["bash", "-c", start + line.rstrip().removesuffix("&")],
                            stdout=out,
                            stderr=subprocess.STDOUT,
                            env=env,
                            start_new_session=True,
                        )
                    servers.append(server)
                    _wait_until_healthy(server, session.port, log, command)
                    continue
                script = f"{start}{line}\nstatus=$?\npwd > {shlex.quote(str(where))}\nexit $status\n"
                done = subprocess.run(
                    ["bash", "-c", script], env=env, capture_output=True, text=True, timeout=900, check=False
                )
                said = done.stdout + done.stderr
                assert done.returncode == 0, f"{command!r} exited {done.returncode}:\n{said}"
                session.outputs.append(done.stdout)
                session.cwd = Path(where.read_text().strip())
        yield session
    finally:
        for server in servers:
            _stop(server)

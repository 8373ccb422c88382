"""Faults of the machine under a server, for the store-failure tests: a private PostgreSQL cluster
that can be stopped and started, a small file system that fills up, a wall clock that can step.

Each needs what a CI machine running as root has (scripts/postgres.sh's PostgreSQL, `mount`,
Debian's libfaketime); without it the test is skipped, saying what is missing.
"""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import REPO
from tests.servers import free_port

LIBFAKETIME = "/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1"


@dataclass
class Cluster:
    """A PostgreSQL cluster of this test's own, on its own port and directory."""

    directory: Path
    port: int
    url: str

    def _pg_ctl(self, *args: str) -> None:
        bindir = sorted(glob.glob("/usr/lib/postgresql/*/bin"))[-1]
        command = [f"{bindir}/pg_ctl", "-D", str(self.directory), *args]
        if os.getuid() == 0:  # the cluster belongs to `postgres` (scripts/postgres.sh)
            command = ["runuser", "-u", "postgres", "--", *command]
        subprocess.run(command, check=True, capture_output=True, timeout=60)

    def crash(self) -> None:
        """Stop at once, as a crash or a kill would: no checkpoint, clients cut off."""
        self._pg_ctl("stop", "-m", "immediate", "-w")

    def start(self) -> None:
        _postgres_sh(self.directory, self.port)


def _postgres_sh(directory: Path, port: int) -> str:
    env = {**os.environ, "INGESTSPEC_PG_DIR": str(directory), "INGESTSPEC_PG_PORT": str(port)}
    done = subprocess.run(
        ["bash", str(REPO / "scripts" / "postgres.sh")], env=env, capture_output=True, text=True, timeout=300
    )
    if done.returncode != 0:
        pytest.skip(f"no private PostgreSQL cluster: {done.stderr.strip()[-300:]}")
    return done.stdout.strip().splitlines()[-1]


@contextlib.contextmanager
def private_postgres() -> Iterator[Cluster]:
    """A new cluster (scripts/postgres.sh on a free port, in /tmp where `postgres` may enter)."""
    directory = Path(f"/tmp/ingestspec-pg-{uuid.uuid4().hex[:8]}")
    port = free_port()
    cluster = Cluster(directory, port, _postgres_sh(directory, port))
    try:
        yield cluster
    finally:
        with contextlib.suppress(subprocess.SubprocessError):
            cluster._pg_ctl("stop", "-m", "immediate", "-w")
        shutil.rmtree(directory, ignore_errors=True)
        Path(f"{directory}.lock").unlink(missing_ok=True)
        Path(f"{directory}.initdb.log").unlink(missing_ok=True)


@dataclass
class SmallDisk:
    """A tmpfs of a given size: its files fail with ENOSPC once it is full."""

    path: Path

    def resize(self, size: str) -> None:
        subprocess.run(["mount", "-o", f"remount,size={size}", str(self.path)], check=True, timeout=30)


@contextlib.contextmanager
def small_disk(where: Path, size: str) -> Iterator[SmallDisk]:
    where.mkdir(parents=True, exist_ok=True)
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(where)], capture_output=True, text=True
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a size-limited file system here: {mounted.stderr.strip()}")
    try:
        yield SmallDisk(where)
    finally:
        subprocess.run(["umount", "-l", str(where)], check=False, timeout=30)


@dataclass
class Clock:
    """The wall clock of processes started with `env`: libfaketime reads the offset from a file on
    every call, so writing it steps the clock at once. The monotonic clock is left alone, as an NTP
    step leaves it."""

    offset_file: Path

    @property
    def env(self) -> dict[str, str]:
        return {
            "LD_PRELOAD": LIBFAKETIME,
            "FAKETIME_TIMESTAMP_FILE": str(self.offset_file),
            "FAKETIME_NO_CACHE": "1",
            "DONT_FAKE_MONOTONIC": "1",
        }

    def set(self, offset: str) -> None:
        """An offset from the real time: "+0", "-1h", "+2m"."""
        self.offset_file.write_text(offset + "\n")


def fake_clock(tmp: Path, offset: str = "+0") -> Clock:
    if not Path(LIBFAKETIME).exists():
        pytest.skip(f"libfaketime is not installed ({LIBFAKETIME}; Debian package faketime)")
    clock = Clock(tmp / "faketime")
    clock.set(offset)
    return clock

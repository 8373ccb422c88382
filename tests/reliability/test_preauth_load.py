"""Unauthenticated clients sending large bodies to an endpoint whose key travels in the body cost a
legitimate client little (issue 22, high): before the key is known at most PRE_AUTH_BYTES are read
and parsed, and a refused body is never read a second time for exact numbers."""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import orjson
import pytest

from ingestspec.generator.generate.build import generate
from tests.conftest import REPO
from tests.servers import RunningServer, running_server

from .conftest import sqlite_url

AMPLITUDE = REPO / "tests" / "corpus" / "amplitude"
KEY = "0a1b2c3d4e5f60718293a4b5c6d7e8f9"
ATTACKERS = 2
SECONDS = 6.0  # each phase
NOISE_SECONDS = 0.002
# 1 MB of numbers with exponents (the slowest body for both parses) and an unknown key.
HOSTILE = (
    b'{"api_key":"x","events":[{"user_id":"user-0001","event_type":"e","event_properties":{"a":['
    + b",".join([b"1e-1"] * 200_000)
    + b"]}}]}"
)


@pytest.fixture(scope="module")
def amplitude(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    tmp: Path = tmp_path_factory.mktemp("preauth")
    generate(AMPLITUDE / "openapi.yaml", tmp / "amplitude_load")
    config = AMPLITUDE / "config.yaml"
    extra = ("--no-access-log",)
    with running_server(
        "amplitude_load", config, sqlite_url(tmp), "", log_dir=tmp, pythonpath=tmp, extra=extra
    ) as s:
        yield s


def server_cpu(server: RunningServer) -> float:
    """CPU seconds (user + system) the server process has used so far."""
    fields = Path(f"/proc/{server.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def legitimate_p50(url: str, seconds: float) -> tuple[float, int]:
    """The median latency (s) of one client's valid requests, one after the other, and their count."""
    latencies = []
    with httpx.Client(timeout=30) as client:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            body = {
                "api_key": KEY,
                "events": [{"user_id": "user-0001", "event_type": "e", "insert_id": str(uuid.uuid4())}],
            }
            start = time.perf_counter()
            response = client.post(
                url, content=orjson.dumps(body), headers={"Content-Type": "application/json"}
            )
            latencies.append(time.perf_counter() - start)
            assert response.status_code == 200, response.text
    return statistics.median(latencies), len(latencies)


# Each unauthenticated client is a process of its own at the lowest priority (nice 19), standing for a
# client on another machine: its own sending takes no time from the legitimate client's (one
# interpreter lock) nor, as far as the scheduler can help it, from the server. It prints each status.
ATTACK = """
import sys, time, httpx
url, stop_at, body = sys.argv[1], float(sys.argv[2]), sys.stdin.buffer.read()
headers = {"Content-Type": "application/json"}
with httpx.Client(timeout=30) as client:
    while time.time() < stop_at:
        try:
            print(client.post(url, content=body, headers=headers).status_code, flush=True)
        except httpx.TransportError:
            pass  # the server may close a connection it refused before reading all of it
"""


def test_unauthenticated_large_bodies_leave_a_legitimate_client_its_latency(amplitude: RunningServer) -> None:
    url = amplitude.base_url + "/2/httpapi"
    legitimate_p50(url, 1.0)  # warm up
    alone, alone_count = legitimate_p50(url, SECONDS)
    stop_at = time.time() + SECONDS + 2
    attackers = [
        subprocess.Popen(
            ["nice", "-n", "19", sys.executable, "-c", ATTACK, url, str(stop_at)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
        )
        for _ in range(ATTACKERS)
    ]
    statuses = []
    try:
        for process in attackers:
            assert process.stdin is not None
            process.stdin.write(HOSTILE)
            process.stdin.close()
        time.sleep(1)
        cpu_before = server_cpu(amplitude)
        attacked, attacked_count = legitimate_p50(url, SECONDS)
        cpu = server_cpu(amplitude) - cpu_before
    finally:
        for process in attackers:
            assert process.stdout is not None
            statuses += [int(line) for line in process.stdout.read().split()]
            process.wait(60)
    print(
        f"legitimate p50 alone {alone * 1000:.1f} ms ({alone_count} requests),"
        f" with {ATTACKERS} 1 MB senders {attacked * 1000:.1f} ms ({attacked_count} requests);"
        f" {len(statuses)} hostile requests;"
        f" server CPU {cpu:.2f} s in the attacked {SECONDS:g} s"
    )
    assert statuses and set(statuses) == {401}, set(statuses)
    # Within 2x, plus 2 ms for scheduling on a shared 2-CPU machine (other tests run beside this one):
    # a p50 of 1.6 ms alone measured 3.3 ms under attack; without the pre-auth cap it was 4 s.
    bound = 2 * alone + NOISE_SECONDS
    assert attacked <= bound, f"p50 {attacked * 1000:.1f} ms under attack, {alone * 1000:.1f} ms alone"

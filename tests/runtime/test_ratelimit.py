"""The rate limiter of an operation's `x-ingest.rate_limit`, in memory and in a shared file."""

from __future__ import annotations

import importlib.util
import time
from pathlib import Path
from types import ModuleType

import pytest

TEMPLATE = Path(__file__).resolve().parents[2] / "templates" / "ratelimit.py"


@pytest.fixture(scope="module")
def ratelimit() -> ModuleType:
    spec = importlib.util.spec_from_file_location("ingestspec_rt_ratelimit", TEMPLATE)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("shared", [False, True], ids=["in memory", "shared file"])
def test_a_key_is_admitted_up_to_its_limit_in_the_window(
    ratelimit: ModuleType, tmp_path: Path, shared: bool
) -> None:
    path = tmp_path / "limits.bin" if shared else None
    limiter = ratelimit.RateLimiter(3, 30.0, path)
    first, second = b"k" * 32, b"j" * 32
    assert [limiter.wait(first) for _ in range(3)] == [0, 0, 0]
    wait = limiter.wait(first)
    assert 1 <= wait <= 30  # whole seconds until the oldest of the three leaves the window
    assert limiter.wait(second) == 0  # another key has a window of its own
    if shared:  # a second process's limiter on the same file sees the same window
        assert ratelimit.RateLimiter(3, 30.0, path).wait(first) >= 1


def test_the_window_slides(ratelimit: ModuleType) -> None:
    limiter = ratelimit.RateLimiter(2, 0.2)
    key = b"k" * 32
    assert [limiter.wait(key), limiter.wait(key)] == [0, 0]
    assert limiter.wait(key) >= 1
    time.sleep(0.25)
    assert limiter.wait(key) == 0

"""random_bytes(): OS randomness read in blocks, each byte handed out once, never shared with a fork."""

from __future__ import annotations

import os

from tests.runtime.conftest import Runtime


def test_draws_across_many_blocks_never_repeat(rt: Runtime) -> None:
    draws = [rt.entropy.random_bytes(10) for _ in range(20_000)]  # about three 64 KiB blocks
    assert all(len(draw) == 10 for draw in draws)
    assert len(set(draws)) == len(draws)


def test_a_forked_child_does_not_reuse_the_parents_bytes(rt: Runtime) -> None:
    rt.entropy.random_bytes(16)  # the parent now holds a partly read block
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: report its next draw and leave without running pytest's teardown
        os.write(write, rt.entropy.random_bytes(16))
        os._exit(0)
    os.close(write)
    child = os.read(read, 16)
    os.close(read)
    os.waitpid(pid, 0)
    assert len(child) == 16
    assert child != rt.entropy.random_bytes(16)

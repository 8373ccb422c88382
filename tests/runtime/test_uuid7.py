"""uuid7(): RFC 9562 layout, and strictly increasing ids within the process."""

from __future__ import annotations

import re
import threading
import time
import uuid
from types import SimpleNamespace

import pytest

from tests.runtime.conftest import Runtime

CANONICAL = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")


def test_layout_is_rfc9562_version_7(rt: Runtime) -> None:
    before = time.time_ns() // 1_000_000
    value = rt.uuid7.uuid7()
    after = time.time_ns() // 1_000_000
    assert CANONICAL.match(value)
    parsed = uuid.UUID(value)
    assert parsed.version == 7
    assert parsed.variant == uuid.RFC_4122
    assert str(parsed) == value
    assert before <= parsed.int >> 80 <= after


def test_100k_ids_strictly_increase(rt: Runtime) -> None:
    ids = [rt.uuid7.uuid7() for _ in range(100_000)]
    # Fixed-width lowercase hex: text order is numeric order.
    assert all(a < b for a, b in zip(ids, ids[1:], strict=False))


def test_frozen_clock_counts_then_borrows_the_next_millisecond(
    rt: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    frozen = 1_780_000_000_000 * 1_000_000
    monkeypatch.setattr(rt.uuid7, "time", SimpleNamespace(time_ns=lambda: frozen))
    ids = [rt.uuid7.uuid7() for _ in range(10_000)]
    assert all(a < b for a, b in zip(ids, ids[1:], strict=False))
    millis = {uuid.UUID(i).int >> 80 for i in ids}
    # 10,000 ids need more than one 12-bit counter's worth of the same millisecond.
    assert min(millis) >= frozen // 1_000_000
    assert len(millis) > 1


def test_clock_going_backwards_keeps_order(rt: Runtime, monkeypatch: pytest.MonkeyPatch) -> None:
    first = rt.uuid7.uuid7()
    monkeypatch.setattr(rt.uuid7, "time", SimpleNamespace(time_ns=lambda: 0))
    assert rt.uuid7.uuid7() > first


def test_threads_get_unique_increasing_ids(rt: Runtime) -> None:
    results: list[list[str]] = [[] for _ in range(4)]

    def work(out: list[str]) -> None:
        out.extend(rt.uuid7.uuid7() for _ in range(20_000))

    threads = [threading.Thread(target=work, args=(out,)) for out in results]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len({i for out in results for i in out}) == 80_000
    for out in results:
        assert all(a < b for a, b in zip(out, out[1:], strict=False))


@pytest.mark.parametrize(
    "drawn", [bytes(10), b"\xff" * 10, bytes(range(10, 20)), b"\x9c\x41\x07\xe2\x80\x00\x5a\xa5\x3c\xc3"]
)
def test_an_id_is_the_rfc_layout_of_its_clock_and_random_bits(
    rt: Runtime, monkeypatch: pytest.MonkeyPatch, drawn: bytes
) -> None:
    # A millisecond no earlier id used: the counter is seeded from the 11 highest random bits.
    moment = (max(rt.uuid7._last_ms, 1_780_000_000_000) + 1000) * 1_000_000
    monkeypatch.setattr(rt.uuid7, "time", SimpleNamespace(time_ns=lambda: moment))
    monkeypatch.setattr(rt.uuid7, "random_bytes", lambda n: drawn[:n])
    rand = int.from_bytes(drawn, "big")
    counter = rand >> 69
    expected = moment // 1_000_000 << 80 | (0x7000 | counter) << 64 | 1 << 63 | rand & ((1 << 62) - 1)
    first = rt.uuid7.uuid7()
    assert first == str(uuid.UUID(int=expected))
    # The same millisecond again: the counter counts on (wrapping into the next millisecond past 0xfff).
    second = uuid.UUID(rt.uuid7.uuid7()).int
    if counter < 0xFFF:
        assert second >> 64 == (expected >> 64) + 1 and second & ((1 << 62) - 1) == rand & ((1 << 62) - 1)
    else:
        assert second >> 80 == (expected >> 80) + 1 and (second >> 64) & 0xFFF == 0

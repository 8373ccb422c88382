"""Time-ordered event ids: RFC 9562 UUID version 7, monotonic within the process."""

from __future__ import annotations

import threading
import time

from .entropy import random_bytes

__all__ = ["uuid7"]

_COUNTER_MAX = 0xFFF
# The version and counter field's text for each counter value ("7000" to "7fff"), and the variant
# field's first hex digit for each pair of random bits (0b10 then the two): looked up, not formatted.
_COUNTER_TEXT = tuple(f"7{counter:03x}" for counter in range(_COUNTER_MAX + 1))
_VARIANT_DIGIT = "89ab"

_lock = threading.Lock()
_last_ms = 0
_counter = 0
# The id's first two groups for the last millisecond an id was made in: (milliseconds, "xxxxxxxx-xxxx-").
_stamp: tuple[int, str] = (-1, "")


def uuid7() -> str:
    """Return a new canonical lowercase UUIDv7 string, greater than every earlier one from this process."""
    global _last_ms, _counter, _stamp
    now_ms = time.time_ns() // 1_000_000
    rand = random_bytes(10)
    with _lock:
        if now_ms > _last_ms:
            _last_ms = now_ms
            # Seed with 11 random bits so the counter has at least 2048 increments of headroom
            # before it has to borrow the next millisecond (RFC 9562 section 6.2, method 1).
            _counter = rand[0] << 3 | rand[1] >> 5
        else:
            # Same millisecond, or the clock went backwards: keep ordering by counting up,
            # and when the 12-bit counter is exhausted, advance the timestamp ourselves.
            _counter += 1
            if _counter > _COUNTER_MAX:
                _last_ms += 1
                _counter = 0
        ms, counter = _last_ms, _counter
    stamp = _stamp  # one read: another thread may replace it
    if stamp[0] != ms:
        text = f"{ms:012x}"
        stamp = _stamp = ms, f"{text[:8]}-{text[8:]}-"
    # Fields: unix_ts_ms (48 bits), version 7 + rand_a (the counter), variant 0b10 + rand_b: the 62
    # lowest of the 80 random bits, those of the last 8 bytes less the first byte's top two.
    tail = rand[2:].hex()
    return f"{stamp[1]}{_COUNTER_TEXT[counter]}-{_VARIANT_DIGIT[rand[2] >> 4 & 3]}{tail[1:4]}-{tail[4:]}"

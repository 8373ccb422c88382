"""Requests allowed per API key in a window (an operation's `x-ingest.rate_limit`).

A sliding window per key: the times of its last `requests` admitted requests; a request is admitted
when the oldest of them is at least the window old. With a `shared` file, the processes of one
deployment on one host (`--workers N`, or servers sharing a database and its state folder) keep
those times in that file, memory-mapped and locked for each decision, so the documented limit holds
for the deployment rather than per process. Without one, the times are this process's own.

The file is a table of `SLOTS` slots, each a key's digest prefix, the index of its oldest time and its
`requests` times (CLOCK_MONOTONIC seconds, the same in every process of a host). A key takes its hash's
slot or one of the next few whose times are all past the window; when every one of them is another
key's live window, the keys share one window (stricter for both, never looser).
"""

from __future__ import annotations

import collections
import fcntl
import math
import mmap
import os
import struct
import threading
import time
from pathlib import Path

SLOTS = 4096
PROBES = 8
_HEAD = struct.Struct("<8sI4x")  # a key's digest prefix, the index of its oldest time


class RateLimiter:
    """The last `requests` admitted times of each key, in this process or in a `shared` file."""

    def __init__(self, requests: int, per_seconds: float, shared: str | Path | None = None) -> None:
        self.requests = requests
        self.per_seconds = per_seconds
        self._admitted: dict[bytes, collections.deque[float]] = {}
        self._lock = threading.Lock()
        self._times = struct.Struct(f"<{max(requests, 1)}d")
        self._slot_size = _HEAD.size + self._times.size
        self._map: mmap.mmap | None = None
        self._fd = -1
        if shared is not None and requests > 0:
            self._open(Path(shared))

    def _open(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        size = SLOTS * self._slot_size
        self._fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        fcntl.flock(self._fd, fcntl.LOCK_EX)
        try:
            if os.fstat(self._fd).st_size != size:  # new, or laid out for another limit: start empty
                os.ftruncate(self._fd, 0)
                os.ftruncate(self._fd, size)
        finally:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
        self._map = mmap.mmap(self._fd, size)

    def wait(self, key: bytes) -> int:
        """Whole seconds until `key` may send again (0: admitted now, and counted)."""
        if self.requests <= 0:
            return 0
        now = time.monotonic()
        with self._lock:
            if self._map is None:
                times = self._admitted.get(key)
                if times is None:  # not setdefault: it would build a deque on every call
                    times = self._admitted[key] = collections.deque(maxlen=self.requests)
                if len(times) == self.requests and now - times[0] < self.per_seconds:
                    return self._seconds_until(times[0], now)
                times.append(now)
                return 0
            fcntl.flock(self._fd, fcntl.LOCK_EX)
            try:
                return self._wait_shared(key[:8], now)
            finally:
                fcntl.flock(self._fd, fcntl.LOCK_UN)

    def _seconds_until(self, oldest: float, now: float) -> int:
        return max(1, math.ceil(oldest + self.per_seconds - now))

    def _wait_shared(self, prefix: bytes, now: float) -> int:
        assert self._map is not None
        start = int.from_bytes(prefix, "little") % SLOTS
        chosen = start
        for probe in range(PROBES):
            offset = ((start + probe) % SLOTS) * self._slot_size
            owner, _ = _HEAD.unpack_from(self._map, offset)
            if owner == prefix:
                chosen = (start + probe) % SLOTS
                break
            if self._past(offset, now):  # free, or another key's window has passed: take it over
                chosen = (start + probe) % SLOTS
                _HEAD.pack_into(self._map, offset, prefix, 0)
                self._times.pack_into(self._map, offset + _HEAD.size, *([0.0] * self.requests))
                break
        offset = chosen * self._slot_size
        _, oldest_index = _HEAD.unpack_from(self._map, offset)
        at = offset + _HEAD.size + 8 * oldest_index
        (oldest,) = struct.unpack_from("<d", self._map, at)
        # 0: never used. A time ahead of now was written before this host last booted: it is past.
        if oldest and oldest <= now and now - oldest < self.per_seconds:
            return self._seconds_until(oldest, now)
        struct.pack_into("<d", self._map, at, now)
        struct.pack_into("<I", self._map, offset + 8, (oldest_index + 1) % self.requests)
        return 0

    def _past(self, offset: int, now: float) -> bool:
        assert self._map is not None
        times = self._times.unpack_from(self._map, offset + _HEAD.size)
        newest = max(times)
        return newest == 0.0 or newest > now or now - newest >= self.per_seconds

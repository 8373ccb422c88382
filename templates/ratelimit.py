"""Requests allowed per API key in a window (an operation's `x-ingest.rate_limit`).

The count is kept in this process only: several server processes each allow the full rate, so
a deployment running N of them admits up to N times the documented limit per key.
"""

from __future__ import annotations

import collections
import math
import threading
import time


class RateLimiter:
    """A sliding window per key: the times of its last `requests` admitted requests."""

    def __init__(self, requests: int, per_seconds: float) -> None:
        self.requests = requests
        self.per_seconds = per_seconds
        self._admitted: dict[bytes, collections.deque[float]] = {}
        self._lock = threading.Lock()

    def wait(self, key: bytes) -> int:
        """Whole seconds until `key` may send again (0: admitted now, and counted)."""
        if self.requests <= 0:
            return 0
        now = time.monotonic()
        with self._lock:
            times = self._admitted.setdefault(key, collections.deque(maxlen=self.requests))
            if len(times) == self.requests and now - times[0] < self.per_seconds:
                return max(1, math.ceil(times[0] + self.per_seconds - now))
            times.append(now)
            return 0

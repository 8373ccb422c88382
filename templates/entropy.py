"""Random bytes from the OS, read in blocks: ids and request ids draw from one pool.

A `getrandom` call lets go of the GIL, and under load the event loop then waits for the SQLite
writer thread to hand it back: a request id from `uuid.uuid4()` cost about 15% of a server's
CPU in `make bench`. One call per 64 KiB (about 2,500 requests) does not show. The bytes are the
OS's CSPRNG output, each used once.
"""

from __future__ import annotations

import os
import threading

__all__ = ["random_bytes"]

_POOL_BYTES = 64 * 1024

_lock = threading.Lock()
_pool = b""
_pos = 0


def _forget_pool() -> None:
    # A forked child must not reuse the parent's unread bytes, or two processes could mint the
    # same id in the same millisecond.
    global _pool, _pos
    _pool, _pos = b"", 0


os.register_at_fork(after_in_child=_forget_pool)


def random_bytes(n: int) -> bytes:
    """`n` (at most 64 KiB) random bytes nobody else in this process is given."""
    global _pool, _pos
    with _lock:
        if _pos + n > len(_pool):
            _pool, _pos = os.urandom(_POOL_BYTES), 0
        chunk = _pool[_pos : _pos + n]
        _pos += n
    return chunk

"""Logging: one JSON object per line for every logger, uvicorn's own included.

Each line has `time` (RFC 3339, UTC), `level`, `logger`, `pid` and `message`; `request_id` while a
request is being answered (the `X-Request-Id` the app echoes), and the fields a call passes as
`extra={"fields": {...}}` (an `event_id`, a status...). Identity values and payloads are
personal data and are not logged; with `hash_identities` a log line may carry a SHA-256 prefix
of an identity (`identity_hash`), enough to tell lines of the same person apart.

Lines are written to stderr in groups: a WARNING or worse at once, with every line before it;
others within FLUSH_SECONDS (or once 64 KiB wait). Each write holds whole lines and at most
PIPE_BUF bytes, so processes sharing one stderr (uvicorn --workers) never interleave within a
line. A write per line cost about 6% of a server's CPU under load (make bench): the event loop,
having let go of the GIL for the write, waited to get it back.

The server's own lifecycle lines (uvicorn's: started, shutting down, finished) are written at once
too, with every line before them. After a graceful shutdown on SIGTERM uvicorn raises SIGTERM
again with its default action, which ends the process without Python's exit handlers; the lines
of the shutdown would otherwise be lost, in every worker process. A process killed with SIGKILL
loses what waited; any other exit writes it.
"""

from __future__ import annotations

import contextvars
import hashlib
import logging
import logging.config
import os
import select
import threading
import time
from collections import deque
from typing import Any

import orjson

from .timestamps import from_unix

__all__ = [
    "BufferedStreamHandler",
    "FLUSH_SECONDS",
    "JsonFormatter",
    "configure",
    "identity_hash",
    "log_fields",
    "logging_config",
    "note_event",
    "request_events",
    "request_id",
]

#: The id of the request being answered, set by the app's access-log middleware.
request_id: contextvars.ContextVar[str | None] = contextvars.ContextVar("request_id", default=None)
#: The ids of the events the request being answered stored or replayed, for its access line. A
#: list shared by reference, so that the tasks a batch inserts from add to the request's own.
request_events: contextvars.ContextVar[list[str] | None] = contextvars.ContextVar(
    "request_events", default=None
)

_hash_identities = False

FLUSH_SECONDS = 0.2
_FLUSH_BYTES = 64 * 1024
# Loggers whose every line is written at once: the server's lifecycle, a few lines per process.
_AT_ONCE = frozenset({"uvicorn.error"})


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        fields = getattr(record, "fields", None)
        exception = self.formatException(record.exc_info) if record.exc_info else None
        return _line(
            record.created,
            record.levelname,
            record.name,
            record.process,
            record.getMessage(),
            fields if isinstance(fields, dict) else None,
            exception,
        )


def _line(
    created: float,
    level: str,
    name: str,
    pid: int | None,
    message: str,
    fields: dict[str, Any] | None,
    exception: str | None = None,
) -> str:
    line: dict[str, Any] = {
        "time": _time_text(created),
        "level": level.lower(),
        "logger": name,
        "pid": pid,  # which worker process, when several serve
        "message": message,
    }
    current = request_id.get()
    if current is not None:
        line["request_id"] = current
    if fields:
        line.update(fields)
    if exception is not None:
        line["exception"] = exception
    return orjson.dumps(line, default=str).decode()


def _time_text(created: float) -> str:
    """RFC 3339, UTC, milliseconds: the stored form, with the offset written out."""
    return from_unix(created, offset=True)


def log_fields(logger: logging.Logger, level: int, message: str, fields: dict[str, Any]) -> None:
    """`logger.log(level, message, extra={"fields": fields})` for the lines written per request
    and per event, at about a third of the cost: when the line would reach only this module's
    handler and formatter, with no filter on the way, it is formatted and queued without a
    LogRecord. Anything else (a handler or filter of the user's, a WARNING, a field named as one of
    the line's own members) takes the usual path."""
    if not logger.isEnabledFor(level):
        return
    handler = _only_handler(logger, level)
    if handler is None or not _OWN_MEMBERS.isdisjoint(fields):
        logger.log(level, message, extra={"fields": fields})
        return
    handler.queue(_queued_line(time.time(), level, logger.name, message, fields))


# The members every line starts with (`_line`): a field of the same name replaces its value there.
_OWN_MEMBERS = frozenset({"time", "level", "logger", "pid", "message", "request_id", "exception"})
# The JSON between a line's time and its request id, for each (level, logger, message, pid).
_middles: dict[tuple[int, str, str, int], bytes] = {}


def _queued_line(created: float, level: int, name: str, message: str, fields: dict[str, Any]) -> bytes:
    """The bytes `_line` writes for these arguments, joined from parts made once per kind of line
    rather than from a new dict per line (about a third of an access line's cost)."""
    key = (level, name, message, _pid)
    middle = _middles.get(key)
    if middle is None:
        head = {"level": logging.getLevelName(level).lower(), "logger": name, "pid": _pid, "message": message}
        middle = _middles[key] = b"," + orjson.dumps(head)[1:-1]
    current = request_id.get()
    rest = orjson.dumps(fields, default=str)
    return b"".join(
        (
            b'{"time":"',
            _time_text(created).encode(),
            b'"',
            middle,
            b"" if current is None else b',"request_id":' + orjson.dumps(current),
            b"}" if len(rest) == 2 else b"," + rest[1:],
        )
    )


def _only_handler(logger: logging.Logger, level: int) -> BufferedStreamHandler | None:
    if level >= logging.WARNING:
        return None
    handler: logging.Handler | None = None
    current: logging.Logger | None = logger
    while current is not None:
        if current.filters:
            return None
        for found in current.handlers:
            if handler is not None:
                return None  # a second handler
            handler = found
        if not current.propagate:
            break
        current = current.parent
    if type(handler) is not BufferedStreamHandler or type(handler.formatter) is not JsonFormatter:
        return None
    if handler.filters or level < handler.level:
        return None
    return handler


def _set_pid() -> None:
    global _pid
    _pid = os.getpid()


_pid = os.getpid()
os.register_at_fork(after_in_child=_set_pid)


class BufferedStreamHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """A StreamHandler that writes its lines in groups (see the module's docstring)."""

    def __init__(self, stream: Any = None, flush_seconds: float = FLUSH_SECONDS) -> None:
        super().__init__(stream)
        self.flush_seconds = flush_seconds
        # Lines as UTF-8, without their newline. A deque: queue() appends without the lock (one
        # atomic append), and _write takes from the left only the lines it counted.
        self._waiting: deque[bytes] = deque()
        self._waiting_bytes = 0
        self._stopping = threading.Event()
        threading.Thread(target=self._flush_every, name="ingestspec-log-flush", daemon=True).start()
        # A forked child would write the parent's waiting lines a second time.
        os.register_at_fork(before=self.flush)

    def emit(self, record: logging.LogRecord) -> None:
        try:
            line = self.format(record).encode()
        except Exception:  # as StreamHandler does: a bad record must not break the caller
            self.handleError(record)
            return
        at_once = record.levelno >= logging.WARNING or record.name in _AT_ONCE
        self._add(line, at_once=at_once)  # under the lock (Handler.handle)

    def queue(self, line: bytes) -> None:
        """Queue a formatted line (UTF-8) of less than WARNING level (log_fields). Without the
        lock, a third of this call's instructions: the append is atomic, and a byte count off by
        a line only moves when a group is written."""
        self._waiting.append(line)
        self._waiting_bytes += len(line)
        if self._waiting_bytes > _FLUSH_BYTES:
            self.flush()

    def _add(self, line: bytes, at_once: bool) -> None:
        self._waiting.append(line)
        self._waiting_bytes += len(line)
        if at_once or self._waiting_bytes > _FLUSH_BYTES:
            self._write()

    def flush(self) -> None:
        with self.lock:  # type: ignore[union-attr]
            self._write()

    def close(self) -> None:
        self._stopping.set()
        self.flush()
        super().close()

    def _flush_every(self) -> None:
        while not self._stopping.wait(self.flush_seconds):
            self.flush()

    def _write(self) -> None:
        waiting = self._waiting
        self._waiting_bytes = 0
        # Lines queued meanwhile stay for the next write, in order.
        lines = [waiting.popleft() for _ in range(len(waiting))]
        chunk: list[bytes] = []
        size = 0
        for line in lines:
            line_bytes = len(line) + 1
            if chunk and size + line_bytes > select.PIPE_BUF:
                self._put(chunk)
                chunk, size = [], 0
            chunk.append(line)
            size += line_bytes
        if chunk:
            self._put(chunk)

    def _put(self, lines: list[bytes]) -> None:
        try:
            self.stream.write(b"\n".join(lines).decode() + "\n")
            self.stream.flush()  # one write(2) of at most PIPE_BUF bytes, or of one longer line
        except (OSError, ValueError):  # a closed or broken stderr must not break the caller
            pass


def logging_config(level: str = "info") -> dict[str, Any]:
    """A `logging.config.dictConfig` mapping: every line JSON on stderr, uvicorn's loggers
    included (uvicorn.run(log_config=...) applies it in each worker process)."""
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"json": {"()": f"{__name__}.JsonFormatter"}},
        "handlers": {
            "stderr": {
                "class": f"{__name__}.BufferedStreamHandler",
                "formatter": "json",
                "stream": "ext://sys.stderr",
            }
        },
        "root": {"handlers": ["stderr"], "level": level.upper()},
        "loggers": {
            # uvicorn's loggers get no handler of their own: their lines reach root's, as JSON.
            "uvicorn": {"handlers": [], "level": level.upper(), "propagate": True},
            "uvicorn.error": {"handlers": [], "level": level.upper(), "propagate": True},
            # The app writes its own access line (with the request id); uvicorn's would repeat it.
            "uvicorn.access": {"handlers": [], "level": "WARNING", "propagate": False},
        },
    }


def configure(level: str = "info", *, hash_identities: bool = False) -> None:
    """Apply `logging_config(level)` to this process."""
    global _hash_identities
    _hash_identities = hash_identities
    # No line carries the caller's file or line: skip looking them up on every call (the logging
    # HOWTO's "Optimization" section; about 1.5 µs of a line's 9).
    logging._srcfile = None
    logging.config.dictConfig(logging_config(level))


def note_event(event_id: str) -> None:
    """Name `event_id` in the access line of the request being answered (if any)."""
    events = request_events.get()
    if events is not None:
        events.append(event_id)


def identity_hash(value: str | None) -> dict[str, str]:
    """The field a log line may carry for an identity value: nothing unless `configure` was asked
    to hash identities, then the first 16 hex digits of its SHA-256."""
    if not _hash_identities or value is None:
        return {}
    return {"identity_hash": hashlib.sha256(value.encode()).hexdigest()[:16]}

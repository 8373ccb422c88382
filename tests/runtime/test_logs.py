"""BufferedStreamHandler: lines written in groups, a warning at once, nothing left behind on close."""

from __future__ import annotations

import io
import json
import logging
import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from tests.runtime.conftest import Runtime


def _logger_with(
    handler: logging.Handler, formatter: logging.Formatter
) -> Iterator[tuple[logging.Logger, io.StringIO, logging.Handler]]:
    handler.setFormatter(formatter)
    logger = logging.getLogger(f"test_logs.{id(handler)}")
    logger.propagate = False
    logger.setLevel(logging.INFO)
    logger.addHandler(handler)
    yield logger, handler.stream, handler  # type: ignore[attr-defined]
    logger.removeHandler(handler)
    handler.close()


@pytest.fixture
def written(rt: Runtime) -> Iterator[tuple[logging.Logger, io.StringIO, logging.Handler]]:
    # A second between writes: the checks that nothing was written yet run well inside it.
    handler = rt.logs.BufferedStreamHandler(io.StringIO(), flush_seconds=1.0)
    yield from _logger_with(handler, logging.Formatter("%(levelname)s %(message)s"))


def test_info_lines_wait_then_arrive_together(
    written: tuple[logging.Logger, io.StringIO, logging.Handler],
) -> None:
    logger, stream, _ = written
    logger.info("one")
    logger.info("two")
    assert stream.getvalue() == ""  # not one write per line
    deadline = time.monotonic() + 10.0
    while not stream.getvalue() and time.monotonic() < deadline:
        time.sleep(0.01)
    assert stream.getvalue() == "INFO one\nINFO two\n"


def test_a_warning_is_written_at_once_after_what_waited(
    written: tuple[logging.Logger, io.StringIO, logging.Handler],
) -> None:
    logger, stream, _ = written
    logger.info("before")
    logger.warning("trouble")
    assert stream.getvalue() == "INFO before\nWARNING trouble\n"


def test_closing_writes_what_waited(written: tuple[logging.Logger, io.StringIO, logging.Handler]) -> None:
    logger, stream, handler = written
    logger.info("last words")
    handler.flush()  # what logging.shutdown does at exit, before close
    assert stream.getvalue() == "INFO last words\n"


def test_lines_queued_while_another_thread_writes_are_all_written_in_order(rt: Runtime) -> None:
    # queue() takes no lock: a write on the flush thread, meanwhile, must neither lose nor reorder.
    stream = io.StringIO()
    handler = rt.logs.BufferedStreamHandler(stream, flush_seconds=0.0005)
    try:
        for n in range(50_000):
            handler.queue(b"%d" % n)
        handler.flush()
        assert stream.getvalue().splitlines() == [str(n) for n in range(50_000)]
        assert stream.getvalue().count("\n") == 50_000
    finally:
        handler.close()


def test_processes_sharing_one_pipe_never_interleave_within_a_line(rt: Runtime) -> None:
    """uvicorn --workers: several processes write to one stderr. Each write holds whole lines."""
    script = (
        "import logging, sys\n"
        f"from {rt.package} import logs\n"
        "handler = logs.BufferedStreamHandler(sys.stdout)\n"
        "handler.setFormatter(logging.Formatter('%(message)s'))\n"
        "logger = logging.getLogger('w'); logger.addHandler(handler); logger.setLevel(logging.INFO)\n"
        "for i in range(10000): logger.info('%s %d %s', sys.argv[1], i, 'é' * 150)\n"
        "handler.close()\n"
    )
    read, write = os.pipe()
    env = {**os.environ, "PYTHONPATH": str(rt.directory.parent)}
    writers = [
        subprocess.Popen([sys.executable, "-c", script, name], stdout=write, env=env)
        for name in ("a", "b", "c")
    ]
    os.close(write)
    with os.fdopen(read, encoding="utf-8") as pipe:
        lines = pipe.read().splitlines()
    assert [writer.wait(timeout=60) for writer in writers] == [0, 0, 0]
    assert len(lines) == 30000
    assert all(re.fullmatch(r"[abc] \d+ é{150}", line) for line in lines)


@pytest.fixture
def json_lines(rt: Runtime) -> Iterator[tuple[logging.Logger, io.StringIO, logging.Handler]]:
    handler = rt.logs.BufferedStreamHandler(io.StringIO(), flush_seconds=60.0)
    yield from _logger_with(handler, rt.logs.JsonFormatter())


def _written(stream: io.StringIO, handler: logging.Handler) -> list[dict[str, object]]:
    handler.flush()
    return [json.loads(line) for line in stream.getvalue().splitlines()]


@pytest.mark.parametrize(
    ("fields", "request_id"),
    [
        ({"event_id": "e-1", "status": 202, "ms": 1.25}, "req-1"),
        ({"path": '/a"b\\c\u00e9\u2028', "client": None, "event_ids": ["e-1", "e-2"]}, "req-2"),
        ({}, None),
        ({"message": "a field named as the line's own member"}, "req-3"),
    ],
    ids=["access-line", "escapes", "bare", "own-member"],
)
def test_log_fields_writes_the_line_logger_log_writes(
    rt: Runtime,
    json_lines: tuple[logging.Logger, io.StringIO, logging.Handler],
    fields: dict[str, object],
    request_id: str | None,
) -> None:
    logger, stream, handler = json_lines
    token = rt.logs.request_id.set(request_id)
    try:
        logger.info("request", extra={"fields": fields})
        rt.logs.log_fields(logger, logging.INFO, "request", fields)
        rt.logs.log_fields(logger, logging.DEBUG, "below the level", fields)
    finally:
        rt.logs.request_id.reset(token)
    handler.flush()
    usual, direct = stream.getvalue().rstrip("\n").split("\n")  # not splitlines(): \u2028 is no newline here
    time_member = re.compile(r'"time":"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+00:00)"')
    assert time_member.match(direct, 1)
    # The same bytes, in the same order, but for the time.
    assert time_member.sub("", usual) == time_member.sub("", direct)
    line = json.loads(direct)
    assert line.get("request_id") == request_id and line["pid"] == os.getpid()


def test_log_fields_takes_the_usual_path_past_a_filter(
    rt: Runtime, json_lines: tuple[logging.Logger, io.StringIO, logging.Handler]
) -> None:
    logger, stream, handler = json_lines
    seen: list[logging.LogRecord] = []

    def keep(record: logging.LogRecord) -> bool:
        seen.append(record)
        return record.getMessage() != "dropped"

    handler.addFilter(keep)
    rt.logs.log_fields(logger, logging.INFO, "dropped", {})
    rt.logs.log_fields(logger, logging.INFO, "kept", {"n": 1})
    assert [record.getMessage() for record in seen] == ["dropped", "kept"]
    assert [(line["message"], line["n"]) for line in _written(stream, handler)] == [("kept", 1)]


@pytest.mark.parametrize(
    "moment", [0.0, 1_764_000_000.0005, 2_759_045_708.615, 1_764_000_000.9999995, 4e9 - 0.0004]
)
def test_times_are_those_datetime_writes(rt: Runtime, moment: float) -> None:
    # The per-second cache must not round differently from datetime (float error near a millisecond).
    written = datetime.fromtimestamp(moment, UTC)
    assert rt.logs._time_text(moment) == written.isoformat(timespec="milliseconds")
    assert rt.timestamps.from_unix(moment) == rt.timestamps.format_utc(written)

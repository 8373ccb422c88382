"""Prometheus text-format counters and a latency histogram, summed over worker processes.

Several processes serve one deployment (`--workers N`), and a scrape reaches only one of them.
Each process writes its own values to a file of its own in a shared folder (`directory`), and
a scrape sums every file there, as prometheus_client's multiprocess mode does with its mmap
files; without a dependency on it, and with plain JSON a person can read. A file stays after its
process exits, so a counter never goes down when a worker is replaced. Files are written at
most every `FLUSH_SECONDS` (and at exit, and by the process answering the scrape), so another
worker's latest counts reach a scrape within that delay.

Gauges (backlog, dead letters) are not kept here: the app reads them from the store at scrape
time, which every process sees alike.
"""

from __future__ import annotations

import bisect
import contextlib
import math
import os
import threading
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import orjson

__all__ = ["CONTENT_TYPE", "COUNTERS", "HISTOGRAMS", "Metrics"]

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
FLUSH_SECONDS = 1.0

# name -> (help text, label names). Only declared counters can be incremented, so a typo in a
# metric name fails loudly in tests instead of silently creating a new series.
COUNTERS: Mapping[str, tuple[str, tuple[str, ...]]] = {
    "ingest_events_accepted_total": ("Events stored for the first time.", ()),
    "ingest_events_deduplicated_total": ("Events answered from an earlier request with the same key.", ()),
    "ingest_requests_rejected_total": ("Requests refused, by reason.", ("reason",)),
    "ingest_items_rejected_total": (
        "Batch items refused (their request was answered), by reason.",
        ("reason",),
    ),
    "ingest_events_processed_total": ("Events the handler processed successfully.", ()),
    "ingest_events_retried_total": ("Handler failures scheduled for another attempt.", ()),
    "ingest_events_dead_lettered_total": ("Events given up on after the last attempt.", ()),
    "ingest_events_purged_total": ("Events deleted by the retention policy.", ()),
}

# name -> (help text, upper bounds of the buckets in seconds).
HISTOGRAMS: Mapping[str, tuple[str, tuple[float, ...]]] = {
    "ingest_request_duration_seconds": (
        "Time from a request's first byte reaching the app to its answer's last byte.",
        (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
    ),
}

_LabelKey = tuple[tuple[str, str], ...]


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _format_labels(key: _LabelKey) -> str:
    if not key:
        return ""
    return "{" + ",".join(f'{name}="{_escape(value)}"' for name, value in key) + "}"


def _format_value(value: float) -> str:
    if math.isnan(value):
        return "NaN"  # the exposition format's spelling (a gauge the store could not answer)
    return str(int(value)) if float(value).is_integer() else repr(float(value))


class Metrics:
    """Counters and histograms that render themselves in the Prometheus text exposition format.

    With `directory`, the rendered values are the sum over every process writing there.
    """

    def __init__(
        self,
        counters: Mapping[str, tuple[str, tuple[str, ...]]] = COUNTERS,
        histograms: Mapping[str, tuple[str, tuple[float, ...]]] = HISTOGRAMS,
        directory: str | Path | None = None,
    ) -> None:
        self._counters = dict(counters)
        self._histograms = dict(histograms)
        self._values: dict[str, dict[_LabelKey, float]] = {name: {} for name in self._counters}
        # Per histogram: a count per bucket (the last one is +Inf), then the sum.
        self._observed: dict[str, list[float]] = {
            name: [0.0] * (len(bounds) + 2) for name, (_, bounds) in self._histograms.items()
        }
        # The SQLite writer thread and the event loop may both count.
        self._lock = threading.Lock()
        self.directory = Path(directory) if directory is not None else None
        # pid and start time: a later process that reuses the pid must not overwrite this one's file.
        self._file = (
            self.directory / f"{os.getpid()}-{time.time_ns()}.json" if self.directory is not None else None
        )
        self._dirty = True
        self._flushed_at = 0.0
        self._flush_lock = threading.Lock()

    def inc(self, name: str, labels: Mapping[str, str] | None = None, value: float = 1) -> None:
        """Add `value` (default 1) to counter `name` with the given labels."""
        if name not in self._counters:
            raise KeyError(f"unknown metric {name!r}; declare it in COUNTERS")
        if value < 0:
            raise ValueError("counters only go up")
        key: _LabelKey = tuple(sorted(labels.items())) if labels else ()
        with self._lock:
            series = self._values[name]
            series[key] = series.get(key, 0) + value
            self._dirty = True

    def observe(self, name: str, value: float) -> None:
        """Record one observation (seconds) in histogram `name`."""
        bounds = self._histograms[name][1]
        index = bisect.bisect_left(bounds, value)  # the first bucket with value <= bound
        with self._lock:
            observed = self._observed[name]
            observed[index] += 1
            observed[-1] += value
            self._dirty = True

    def value(self, name: str, labels: Mapping[str, str] | None = None) -> float:
        """This process's value of one series (0 if never incremented)."""
        key: _LabelKey = tuple(sorted(labels.items())) if labels else ()
        with self._lock:
            return self._values[name].get(key, 0)

    # --- several processes ---------------------------------------------------------------------

    def _snapshot(self) -> dict[str, Any]:
        with self._lock:
            self._dirty = False
            return {
                "counters": {
                    name: [[list(map(list, key)), value] for key, value in series.items()]
                    for name, series in self._values.items()
                },
                "histograms": {name: list(observed) for name, observed in self._observed.items()},
            }

    def flush(self, *, at_most_every: float = 0.0) -> None:
        """Write this process's values to its file, if they changed (and the last write is older
        than `at_most_every` seconds)."""
        if self._file is None or not self._dirty or time.monotonic() - self._flushed_at < at_most_every:
            return
        # The periodic flush (event loop) and a scrape (a thread) may flush at once.
        with self._flush_lock:
            self._flushed_at = time.monotonic()
            assert self.directory is not None
            self.directory.mkdir(parents=True, exist_ok=True)
            partial = self._file.with_suffix(".tmp")
            partial.write_bytes(orjson.dumps(self._snapshot()))
            os.replace(partial, self._file)  # a scrape never reads half a file

    def _totals(self) -> tuple[dict[str, dict[_LabelKey, float]], dict[str, list[float]]]:
        if self.directory is None:
            with self._lock:
                return {n: dict(s) for n, s in self._values.items()}, {
                    n: list(o) for n, o in self._observed.items()
                }
        self.flush()
        values: dict[str, dict[_LabelKey, float]] = {name: {} for name in self._counters}
        observed = {name: [0.0] * (len(b) + 2) for name, (_, b) in self._histograms.items()}
        for path in sorted(self.directory.glob("*.json")):
            with contextlib.suppress(OSError, ValueError):  # a file being replaced: it is read next time
                data = orjson.loads(path.read_bytes())
                for name, series in data.get("counters", {}).items():
                    if name in values:
                        for key, value in series:
                            label_key = tuple((str(k), str(v)) for k, v in key)
                            values[name][label_key] = values[name].get(label_key, 0) + value
                for name, counts in data.get("histograms", {}).items():
                    if name in observed and len(counts) == len(observed[name]):
                        observed[name] = [a + b for a, b in zip(observed[name], counts, strict=True)]
        return values, observed

    def render(self, gauges: Mapping[str, tuple[str, float]] | None = None) -> str:
        """The exposition text for every declared counter and histogram, then `gauges`
        (name -> (help text, value)), which the caller reads at scrape time."""
        values, observed = self._totals()
        lines: list[str] = []
        for name, (help_text, label_names) in self._counters.items():
            lines.append(f"# HELP {name} {help_text}")
            lines.append(f"# TYPE {name} counter")
            series = values[name]
            if not series and not label_names:
                # An unlabelled counter exists from the start; a labelled one has no series yet.
                lines.append(f"{name} 0")
            for key, value in sorted(series.items()):
                lines.append(f"{name}{_format_labels(key)} {_format_value(value)}")
        for name, (help_text, bounds) in self._histograms.items():
            lines.append(f"# HELP {name} {help_text}")
            lines.append(f"# TYPE {name} histogram")
            counts, cumulative = observed[name], 0.0
            for bound, count in zip([*map(repr, bounds), "+Inf"], counts[:-1], strict=True):
                cumulative += count
                lines.append(f"{name}_bucket" + '{le="' + bound + '"} ' + _format_value(cumulative))
            lines.append(f"{name}_sum {_format_value(counts[-1])}")
            lines.append(f"{name}_count {_format_value(cumulative)}")
        for name, (help_text, value) in (gauges or {}).items():
            lines.append(f"# HELP {name} {help_text}")
            lines.append(f"# TYPE {name} gauge")
            lines.append(f"{name} {_format_value(value)}")
        return "\n".join(lines) + "\n"

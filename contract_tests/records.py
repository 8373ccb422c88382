"""What a run saw: one `Record` per reply, written as JSON lines so pytest-xdist workers can share them.

The summary and the conformance matrix are built from these records at the end of the run.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import orjson

from . import apikeys

# The directory the records go to; set by the run's controller, inherited by its workers.
RECORDS_ENV = "INGESTSPEC_CONTRACT_RECORDS"


@dataclass(frozen=True)
class Record:
    """One reply: to which operation and scenario, what it was (a catalogue key, success, replay), and
    which checks failed on it, with a curl line when any did."""

    operation: str
    source: str
    status: int
    outcome: str
    failures: list[tuple[str, str]] = field(default_factory=list)
    curl: str | None = None
    # The catalogue key the probe expected, when it expected an error.
    expected: str | None = None

    @property
    def ok(self) -> bool:
        return not self.failures


class Recorder:
    """Appends records to this process's file in the run's records directory (if there is one)."""

    def __init__(self, directory: Path | None) -> None:
        self.directory = directory
        self.kept: list[Record] = []

    @classmethod
    def from_environment(cls) -> Recorder:
        value = os.environ.get(RECORDS_ENV)
        return cls(Path(value) if value else None)

    def add(self, record: Record) -> None:
        failures = [(check, apikeys.mask(message)) for check, message in record.failures]
        curl = apikeys.mask(record.curl) if record.curl else record.curl
        record = replace(record, failures=failures, curl=curl)
        self.kept.append(record)
        if self.directory is not None:
            path = self.directory / f"records-{os.getpid()}.jsonl"
            with path.open("ab") as out:
                out.write(orjson.dumps(asdict(record)) + b"\n")


def read_records(directory: Path) -> Iterator[Record]:
    """Every record any process of the run wrote."""
    for path in sorted(directory.glob("records-*.jsonl")):
        for line in path.read_bytes().splitlines():
            if line.strip():
                raw = orjson.loads(line)
                raw["failures"] = [tuple(f) for f in raw.get("failures") or ()]
                yield Record(**raw)

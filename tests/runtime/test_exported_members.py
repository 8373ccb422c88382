"""The runtime modules' public surface: what the generated server may import, and nothing more."""

from __future__ import annotations

import pytest

from tests.runtime.conftest import Runtime

EXPORTS = {
    "entropy": {"random_bytes"},
    "uuid7": {"uuid7"},
    "metrics": {"CONTENT_TYPE", "COUNTERS", "HISTOGRAMS", "Metrics"},
    "logs": {
        "BufferedStreamHandler",
        "FLUSH_SECONDS",
        "JsonFormatter",
        "log_fields",
        "configure",
        "identity_hash",
        "logging_config",
        "note_event",
        "request_events",
        "request_id",
    },
    "storage": {
        "NewEvent",
        "Storage",
        "StorageClosed",
        "StorageConfigError",
        "StorageError",
        "StoredEvent",
        "format_timestamp",
        "open_storage",
        "parse_timestamp",
        "utc_now",
    },
    "storage_sqlite": {"SQLiteStorage"},
    "storage_postgres": {"PostgresStorage"},
    "worker": {"Handler", "HandlerLoadError", "RetentionPurger", "Worker", "load_handler", "log_handler"},
}


@pytest.mark.parametrize("module", sorted(EXPORTS))
def test_exported_members(rt: Runtime, module: str) -> None:
    namespace = getattr(rt, module)
    assert set(namespace.__all__) == EXPORTS[module]
    for name in namespace.__all__:
        assert hasattr(namespace, name), name

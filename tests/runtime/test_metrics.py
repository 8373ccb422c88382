"""Metrics: Prometheus text exposition of the ingest counters."""

from __future__ import annotations

import pytest

from tests.runtime.conftest import Runtime


def test_render_declares_every_counter(rt: Runtime) -> None:
    text = rt.metrics.Metrics().render()
    for name in (
        "ingest_events_accepted_total",
        "ingest_events_deduplicated_total",
        "ingest_requests_rejected_total",
        "ingest_events_dead_lettered_total",
        "ingest_events_processed_total",
    ):
        assert f"# HELP {name} " in text
        assert f"# TYPE {name} counter\n" in text
    # Unlabelled counters start at zero; labelled ones have no series until used.
    assert "\ningest_events_accepted_total 0\n" in text
    assert not [line for line in text.splitlines() if line.startswith("ingest_requests_rejected_total")]
    assert text.endswith("\n")


def test_counts_and_labels(rt: Runtime) -> None:
    metrics = rt.metrics.Metrics()
    metrics.inc("ingest_events_accepted_total")
    metrics.inc("ingest_events_accepted_total", value=2)
    metrics.inc("ingest_requests_rejected_total", {"reason": "unauthorized"})
    metrics.inc("ingest_requests_rejected_total", {"reason": 'say "hi"\\\n'})
    lines = metrics.render().splitlines()
    assert "ingest_events_accepted_total 3" in lines
    assert 'ingest_requests_rejected_total{reason="unauthorized"} 1' in lines
    assert 'ingest_requests_rejected_total{reason="say \\"hi\\"\\\\\\n"} 1' in lines
    assert metrics.value("ingest_requests_rejected_total", {"reason": "unauthorized"}) == 1


def test_unknown_counter_and_negative_increment_fail(rt: Runtime) -> None:
    metrics = rt.metrics.Metrics()
    with pytest.raises(KeyError):
        metrics.inc("ingest_event_accepted_total")
    with pytest.raises(ValueError):
        metrics.inc("ingest_events_accepted_total", value=-1)

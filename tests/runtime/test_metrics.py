"""Metrics: Prometheus text exposition of the ingest counters."""

from __future__ import annotations

from pathlib import Path

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


def test_processes_sharing_a_directory_are_summed(rt: Runtime, tmp_path: Path) -> None:
    # Two Metrics on one folder stand for two worker processes (each writes its own file).
    first, second = (rt.metrics.Metrics(directory=tmp_path) for _ in range(2))
    first.inc("ingest_events_accepted_total", value=28)
    second.inc("ingest_events_accepted_total", value=16)
    second.inc("ingest_requests_rejected_total", {"reason": "unauthorized"})
    first.observe("ingest_request_duration_seconds", 0.003)
    second.flush()
    lines = first.render().splitlines()
    assert "ingest_events_accepted_total 44" in lines
    assert 'ingest_requests_rejected_total{reason="unauthorized"} 1' in lines
    assert 'ingest_request_duration_seconds_bucket{le="0.0025"} 0' in lines
    assert 'ingest_request_duration_seconds_bucket{le="0.005"} 1' in lines
    assert "ingest_request_duration_seconds_count 1" in lines
    # A process that is gone still counts: counters never go down when a worker is replaced.
    del second
    assert "ingest_events_accepted_total 44" in rt.metrics.Metrics(directory=tmp_path).render().splitlines()


def test_histogram_buckets_are_cumulative_and_gauges_rendered(rt: Runtime) -> None:
    metrics = rt.metrics.Metrics()
    for seconds in (0.0005, 0.02, 0.02, 30.0):
        metrics.observe("ingest_request_duration_seconds", seconds)
    lines = metrics.render({"ingest_events_backlog": ("Waiting.", 7)}).splitlines()
    assert "# TYPE ingest_request_duration_seconds histogram" in lines
    assert 'ingest_request_duration_seconds_bucket{le="0.001"} 1' in lines
    assert 'ingest_request_duration_seconds_bucket{le="0.025"} 3' in lines
    assert 'ingest_request_duration_seconds_bucket{le="10.0"} 3' in lines
    assert 'ingest_request_duration_seconds_bucket{le="+Inf"} 4' in lines
    assert "ingest_request_duration_seconds_sum 30.0405" in lines
    assert lines[-2:] == ["# TYPE ingest_events_backlog gauge", "ingest_events_backlog 7"]

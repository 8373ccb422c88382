"""Rounds: each target's best round is reported, a failing round never hidden, each round on a new store."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bench.load import Load
from bench.rounds import best, for_round, spread
from bench.throughput import Outcome, Target


def round_of(events_per_s: float, cpu_us: float, **figures: Any) -> Outcome:
    return Outcome(
        "arsel sqlite", api="arsel", events_per_s=events_per_s, server_cpu_us_per_request=cpu_us, **figures
    )


def test_the_fastest_round_is_reported_with_every_rounds_rate() -> None:
    chosen = best([round_of(3000, 300, p99_ms=30), round_of(4500, 210, p99_ms=14), round_of(4000, 240)])
    assert (chosen.events_per_s, chosen.server_cpu_us_per_request, chosen.p99_ms) == (4500, 210, 14)
    assert [r["events_per_s"] for r in chosen.rounds] == [3000, 4500, 4000]
    assert spread(chosen) == 1500 / 4500


def test_a_round_that_lost_events_or_was_refused_is_the_one_reported() -> None:
    lost = round_of(2000, 400, verified=False, acknowledged=10, stored=9)
    assert best([round_of(4500, 210, verified=True), lost]).verified is False
    refused = round_of(2000, 400, verified=True, non_2xx=3)
    assert best([round_of(4500, 210, verified=True), refused]).non_2xx == 3


def test_one_round_has_no_spread_and_skipped_rounds_do_not_count() -> None:
    only = best([Outcome("arsel sqlite", skipped="failed: boom"), round_of(4500, 210)])
    assert only.events_per_s == 4500 and spread(only) is None
    assert best([Outcome("arsel sqlite", skipped="failed: boom")]).skipped == "failed: boom"


def test_each_round_after_the_first_starts_on_a_new_sqlite_file(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'arsel-1.db'}"
    load = Load("arsel", "POST", "/v1/events/send", {}, "{}")
    target = Target("arsel sqlite", load, ["python", "-m", "x", "--db", url], url, 1, "sqlite")
    assert for_round(target, 0, None) is target
    second = for_round(target, 1, None)
    assert second.db_url == f"sqlite:///{tmp_path / 'arsel-1-round2.db'}"
    assert second.command == ["python", "-m", "x", "--db", second.db_url]
    ceiling = Target("bare starlette", load, ["python", "bare_app.py"])
    assert for_round(ceiling, 2, None) is ceiling

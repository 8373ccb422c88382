"""The bench report: runs with a part switched off make the budget table and stay out of the rest."""

from __future__ import annotations

from bench.report import CEILING, budget, scaling, table
from bench.throughput import Outcome, split_by_thread


def outcome(name: str, cpu_us: float, *, api: str = "", variant: str = "", processes: int = 1) -> Outcome:
    return Outcome(
        name,
        api=api,
        store="sqlite" if api else "",
        processes=processes,
        variant=variant,
        events_per_s=1e6 / cpu_us,
        server_cpu_us_per_request=cpu_us,
        threads_us_per_request={"event loop": cpu_us - 20, "other threads": 20},
    )


def test_the_budget_lists_each_server_as_deployed_and_alone_against_the_goal() -> None:
    ceiling = outcome(CEILING, 50)
    whole = outcome("arsel sqlite", 130, api="arsel")
    alone = outcome("arsel sqlite, ingest path alone", 104, api="arsel", variant="ingest path alone")
    lines = budget([ceiling, whole], [alone])
    assert lines[3:6] == [
        "| bare starlette | 50 | 30 | 20 |",
        "| arsel sqlite, as deployed | 130 | 110 | 20 |",
        "| arsel sqlite, ingest path alone | 104 | 84 | 20 |",
    ]
    # Its own code: 104 less the ceiling's 50 and the writer's 20; the access line and processing: 130 - 104.
    assert lines[-2] == (
        "\narsel: its own code on the ingest path alone 104 − 50 − 20 (writer) = 34 µs, 0.68 of the "
        "ceiling's CPU (goal 0.45); the access line and processing 130 − 104 = 26 µs, 0.52 (goal 0.22)."
    )
    # 0.6 of 20,000 requests/s is 12,000/s: 83 µs each.
    assert lines[-1].endswith("leaves 83 µs of one CPU per request, for everything the server does.")


def test_runs_with_a_part_switched_off_are_not_targets_or_scaling() -> None:
    one = outcome("arsel sqlite", 130, api="arsel")
    two = outcome("arsel sqlite ×2", 100, api="arsel", processes=2)
    off = outcome("arsel sqlite, ingest path alone", 60, api="arsel", variant="ingest path alone")
    assert [row[3] for row in scaling([one, off, two])] == [1.0, 1.3]
    lines = table([outcome(CEILING, 50), one, off, two])
    assert sum(line.startswith("| arsel sqlite, ingest path alone |") for line in lines) == 1  # budget only


def test_no_budget_without_runs_that_switch_a_part_off() -> None:
    assert budget([outcome(CEILING, 50), outcome("arsel sqlite", 130, api="arsel")], []) == []


def test_cpu_is_split_between_the_main_thread_and_the_others() -> None:
    before = {100: 1.0, 101: 0.5}
    after = {100: 1.8, 101: 0.7, 102: 0.1}  # a thread started during the run counts from zero
    assert split_by_thread(100, before, after, 10_000) == {"event loop": 80.0, "other threads": 30.0}

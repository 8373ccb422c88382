"""Rounds: every target measured several times, the rounds interleaved, and each target's best kept.

On a shared machine a whole stretch of a run can be slowed (another tenant's job, the CPU's sibling
thread busy): in one run of 2026-12-06 the same server read 216 and 290 µs of CPU per request a
minute apart. Such noise only ever adds time, so each target's fastest round is the closest to what
its code costs (timeit keeps the minimum for the same reason), and spreading a target's rounds over
the whole run keeps one bad stretch from deciding a ratio. The ceiling is taken the same way, so a
ratio compares like with like; every round's rate is kept, and its spread reported.

Each round starts on a new, empty store, so that each round's store check stays exact.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

from bench.throughput import Outcome, Target
from tests.servers import postgres_schema


def for_round(target: Target, number: int, pg: str | None) -> Target:
    """`target` on a new store for round `number` (the first round keeps the target's own)."""
    if number == 0 or target.db_url is None:
        return target
    if target.db_url.startswith("sqlite:///"):
        url = target.db_url.removesuffix(".db") + f"-round{number + 1}.db"
    else:
        if pg is None:
            raise ValueError(f"{target.name}: a PostgreSQL target without INGESTSPEC_TEST_PG")
        url = postgres_schema(pg, "bench")
    command = [url if part == target.db_url else part for part in target.command]
    return dataclasses.replace(target, command=command, db_url=url)


def best(rounds: Sequence[Outcome]) -> Outcome:
    """The target's outcome from its rounds: the fastest (most events/s, then least CPU per
    request), unless a round failed its store check or was refused requests, which is then the
    one reported: a failure is never hidden behind a better round."""
    measured = [o for o in rounds if not o.skipped]
    if not measured:
        return rounds[-1]
    failed = [o for o in measured if o.verified is False or (not o.refused and o.non_2xx)]
    fastest = max(measured, key=lambda o: (o.events_per_s, -o.server_cpu_us_per_request))
    figures = [
        {"events_per_s": round(o.events_per_s, 1), "cpu_us_per_request": round(o.server_cpu_us_per_request)}
        for o in measured
    ]
    return dataclasses.replace(failed[0] if failed else fastest, rounds=figures)


def spread(outcome: Outcome) -> float | None:
    """How far apart its rounds' rates were, as a share of the fastest (None with one round)."""
    rates = [r["events_per_s"] for r in outcome.rounds]
    if len(rates) < 2 or not max(rates):
        return None
    return (max(rates) - min(rates)) / max(rates)

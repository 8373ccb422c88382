"""The results: a table on stdout, the JSON, a Markdown table for docs/performance.md, and one SVG picture."""

from __future__ import annotations

from collections.abc import Sequence
from html import escape
from pathlib import Path

from bench.rounds import spread
from bench.throughput import ALONE, Outcome

CEILING = "bare starlette"  # the target every ratio is taken against (its better run)
GOAL = 0.6  # issue 12: the generated servers' events/s over the ceiling's, on SQLite
# Issue 23, against the ceiling's CPU per request: the server's own code on the ingest path alone
# (its CPU less the ceiling's and the writer thread's), and the access line with processing (as
# deployed less the ingest path alone).
OWN_GOAL = 0.45
EXTRAS_GOAL = 0.22


def deployed(outcomes: Sequence[Outcome]) -> list[Outcome]:
    """The targets as users run them: without the runs that switch a part off."""
    return [o for o in outcomes if not o.variant]


def ceiling_runs(outcomes: Sequence[Outcome]) -> list[Outcome]:
    """The bare-ceiling runs that were measured (one at the start of a run, one again at its end)."""
    return [o for o in outcomes if o.name.startswith(CEILING) and not o.skipped]


def ceiling_cpu(outcomes: Sequence[Outcome]) -> float:
    """The better ceiling run's server CPU µs per request (0 without one)."""
    return min((o.server_cpu_us_per_request for o in ceiling_runs(outcomes)), default=0.0)


def set_ratios(outcomes: Sequence[Outcome]) -> None:
    """Each target's events/s and CPU per request against the better ceiling run's."""
    ceiling = max((o.events_per_s for o in ceiling_runs(outcomes)), default=0.0)
    cpu = ceiling_cpu(outcomes)
    for o in outcomes:
        if ceiling and not o.skipped:
            o.ratio = o.events_per_s / ceiling
        if cpu and not o.skipped and o.server_cpu_us_per_request:
            o.cpu_ratio = cpu / o.server_cpu_us_per_request


def verdict(o: Outcome) -> str:
    if o.verified:
        return "ok"
    return "LOST EVENTS" if (o.stored or 0) < (o.acknowledged or 0) else "MISMATCH"


def scaling(outcomes: Sequence[Outcome]) -> list[tuple[str, int, float, float]]:
    """(api store, processes, events/s, speed-up over one process) for every measured group."""
    rows = []
    outcomes = deployed(outcomes)
    ones = {
        (o.api, o.store): o.events_per_s for o in outcomes if o.processes == 1 and o.store and not o.skipped
    }
    for o in outcomes:
        if o.store and not o.skipped and ones.get((o.api, o.store)):
            rows.append(
                (f"{o.api} {o.store}", o.processes, o.events_per_s, o.events_per_s / ones[(o.api, o.store)])
            )
    return sorted(rows)


def table(outcomes: Sequence[Outcome]) -> list[str]:
    """The results as Markdown: throughput, processing, scaling, and where a request's CPU goes."""
    variants = [o for o in outcomes if o.variant]
    outcomes = deployed(outcomes)
    lines = [
        "| target | CPUs | events/s | rounds' spread | p50 ms | p99 ms | ratio | CPU µs/req | CPU ratio "
        "| store check |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |",
    ]
    for o in outcomes:
        if o.skipped:
            lines.append(f"| {o.name} | | skipped: {o.skipped[:80]} | | | | | | | |")
            continue
        ratio = f"{o.ratio:.2f}" if o.ratio is not None else "-"
        cpu_ratio = f"{o.cpu_ratio:.2f}" if o.cpu_ratio is not None else "-"
        check = (
            f"{verdict(o)}: {o.acknowledged:,} acknowledged, {o.stored:,} stored"
            if o.verified is not None
            else ""
        )
        apart = spread(o)
        spread_text = "-" if apart is None else f"{apart:.0%}"
        lines.append(
            f"| {o.name} | {o.server_cpus} | {o.events_per_s:,.0f} | {spread_text} | {o.p50_ms:.1f} "
            f"| {o.p99_ms:.1f} | {ratio} | {o.server_cpu_us_per_request:.0f} | {cpu_ratio} | {check} |"
        )
    drained = [o for o in outcomes if o.drain]
    if drained:
        lines += [
            "",
            "| target | ingest events/s | processed during load /s | backlog at stop | drained in s |",
            "| --- | ---: | ---: | ---: | ---: |",
        ]
        for o in drained:
            d = o.drain
            lines.append(
                f"| {o.name} | {d['ingest_per_s']:,.0f} | {d['processed_during_load_per_s']:,.0f} "
                f"| {d['backlog_at_stop']:,.0f} | {d['drain_s']:.2f} |"
            )
    rows = scaling(outcomes)
    if any(processes > 1 for _, processes, _, _ in rows):
        lines += ["", "| server | processes | events/s | speed-up |", "| --- | ---: | ---: | ---: |"]
        lines += [f"| {group} | {n} | {rate:,.0f} | {speedup:.2f}× |" for group, n, rate, speedup in rows]
    return lines + budget(outcomes, variants) + features(outcomes, variants)


def budget(outcomes: Sequence[Outcome], variants: Sequence[Outcome]) -> list[str]:
    """Server CPU µs per request on SQLite with one process, on the event loop and on the other
    threads: the ceiling, each server as deployed and its ingest path alone (ALONE); against them,
    the CPU per request that the goal's rate would leave (the ceiling's rate times GOAL, one CPU)."""
    measured = [o for o in variants if not o.skipped]
    if not measured:
        return []
    lines = [
        "",
        "| on one CPU, SQLite | CPU µs/req | event loop | other threads |",
        "| --- | ---: | ---: | ---: |",
    ]
    ceilings = ceiling_runs(outcomes)
    whole = [o for o in outcomes if o.store == "sqlite" and o.processes == 1 and not o.skipped]
    for o in [*ceilings[:1], *sorted([*whole, *measured], key=lambda o: (o.api, o.variant))]:
        threads = o.threads_us_per_request
        name = o.name if o.variant or o.name.startswith(CEILING) else f"{o.name}, as deployed"
        lines.append(
            f"| {name} | {o.server_cpu_us_per_request:.0f} | {_us(threads.get('event loop'))} "
            f"| {_us(threads.get('other threads'))} |"
        )
    best = max((o.events_per_s for o in ceilings), default=0.0)
    lines += own_costs(ceiling_cpu(outcomes), whole, measured)
    if best:
        lines.append(
            f"\n{GOAL} of the ceiling's {best:,.0f} requests/s leaves {1e6 / (best * GOAL):.0f} µs "
            "of one CPU per request, for everything the server does."
        )
    return lines


def own_costs(ceiling: float, whole: Sequence[Outcome], alone: Sequence[Outcome]) -> list[str]:
    """Per server, what its own code costs over the ceiling's CPU per request (OWN_GOAL, EXTRAS_GOAL)."""
    if not ceiling:
        return []
    lines = []
    deployed_cpu = {o.api: o.server_cpu_us_per_request for o in whole}
    for o in alone:
        if o.variant != ALONE:
            continue
        cpu = o.server_cpu_us_per_request
        writer = o.threads_us_per_request.get("other threads", 0.0)
        own = cpu - ceiling - writer
        line = (
            f"\n{o.api}: its own code on the ingest path alone {cpu:.0f} − {ceiling:.0f} − {writer:.0f} "
            f"(writer) = {own:.0f} µs, {own / ceiling:.2f} of the ceiling's CPU (goal {OWN_GOAL})"
        )
        if o.api in deployed_cpu:
            extras = deployed_cpu[o.api] - cpu
            line += (
                f"; the access line and processing {deployed_cpu[o.api]:.0f} − {cpu:.0f} = {extras:.0f} µs, "
                f"{extras / ceiling:.2f} (goal {EXTRAS_GOAL})"
            )
        lines.append(line + ".")
    return lines


def features(outcomes: Sequence[Outcome], variants: Sequence[Outcome]) -> list[str]:
    """What a feature costs where it is used (bench/variants.py), each against the ceiling's CPU per
    request in the same run: a batch's CPU per event, the rate limiter's and an earlier commit's
    ingest path against the same server's now, a refusal's CPU."""
    ceiling = ceiling_cpu(outcomes)
    alone = {o.api: o for o in variants if o.variant == ALONE and not o.skipped}
    batches = [o for o in outcomes if o.events_per_request > 1 and not o.skipped]
    others = [o for o in variants if o.variant not in ("", ALONE) and not o.skipped]
    if not ceiling or not (batches or others):
        return []
    lines = [
        "",
        "| feature target | events/s | CPU µs/req | CPU µs/event | over the ceiling's CPU/req | against |",
        "| --- | ---: | ---: | ---: | ---: | --- |",
    ]
    for o in [*batches, *others]:
        cpu = o.server_cpu_us_per_request
        per_event = cpu / o.events_per_request
        against = ""
        base = alone.get(o.api)
        if base is not None and o in others and not o.refused:
            against = (
                f"{o.api}'s ingest path alone: {base.server_cpu_us_per_request:.0f} µs/req "
                f"({base.server_cpu_us_per_request / ceiling:.2f})"
            )
        ratio = per_event / ceiling
        lines.append(
            f"| {o.name} | {o.events_per_s:,.0f} | {cpu:.0f} | {per_event:.0f} | {ratio:.2f} | {against} |"
        )
    return lines


def _us(value: float | None) -> str:
    return "-" if value is None else f"{value:.0f}"


def print_report(outcomes: Sequence[Outcome], previous: dict[str, float]) -> None:
    for line in table(outcomes):
        print(line)
    print(
        "each target's best round; rounds' spread: how far its slowest round's events/s fell short of that\n"
        "ratio: events/s over the better bare-ceiling run's; CPU ratio: the ceiling's server CPU µs per\n"
        "request over the target's, which holds when other processes take CPU time from the run"
    )
    changed = [
        f"{o.name} {previous[o.name]:,.0f} -> {o.events_per_s:,.0f}"
        for o in outcomes
        if not o.skipped and previous.get(o.name)
    ]
    if changed:
        print("against the last run (events/s): " + "; ".join(changed))
    noisy = [o.name for o in outcomes if not o.skipped and o.others_cpu_pct.get("all", 0) > 10]
    if noisy:
        print(
            f"NOTE: other processes used over 10% of a CPU during: {', '.join(noisy)} "
            "(others_cpu_pct in the JSON)"
        )


def svg(outcomes: Sequence[Outcome], title: str) -> str:
    """Events/s and p99 per target (bars), and events/s by number of processes per server (bars)."""
    measured = [o for o in deployed(outcomes) if not o.skipped]
    rows = scaling(outcomes)
    width, bar, gap, left = 900, 18, 6, 260
    top = 60
    scale_max = max([o.events_per_s for o in measured] + [1.0])
    span = width - left - 160
    parts: list[str] = []

    def text(
        x: float, y: float, content: str, size: int = 12, anchor: str = "start", weight: str = "normal"
    ) -> None:
        parts.append(
            f'<text x="{x:.0f}" y="{y:.0f}" font-size="{size}" text-anchor="{anchor}" '
            f'font-weight="{weight}">{escape(content)}</text>'
        )

    first, _, rest = title.partition(": ")
    text(20, 24, first, 15, weight="bold")
    text(20, 42, rest, 11)
    top += 20
    text(20, top - 10, "events/s per target (p99 latency at the bar's end); one process unless marked", 12)
    y = top
    for o in measured:
        length = span * o.events_per_s / scale_max
        colour = "#888" if o.name.startswith(CEILING) else ("#3b7dd8" if o.store == "sqlite" else "#d8803b")
        parts.append(f'<rect x="{left}" y="{y}" width="{length:.1f}" height="{bar}" fill="{colour}"/>')
        text(left - 8, y + 13, o.name, anchor="end")
        text(left + length + 6, y + 13, f"{o.events_per_s:,.0f}/s  p99 {o.p99_ms:.1f} ms")
        y += bar + gap
    y += 30
    if rows:
        text(20, y, "scaling: events/s by server processes (speed-up over one)", 12)
        y += 10
        for group, n, rate, speedup in rows:
            length = span * rate / scale_max
            parts.append(f'<rect x="{left}" y="{y}" width="{length:.1f}" height="{bar}" fill="#5a9e5a"/>')
            text(left - 8, y + 13, f"{group} ×{n}", anchor="end")
            text(left + length + 6, y + 13, f"{rate:,.0f}/s  {speedup:.2f}×")
            y += bar + gap
    height = y + 20
    head = (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" font-family="sans-serif">'
        f'<rect width="{width}" height="{height}" fill="white"/>'
    )
    return "\n".join([head, *parts, "</svg>"]) + "\n"


def write_picture(outcomes: Sequence[Outcome], title: str, path: Path) -> None:
    path.write_text(svg(outcomes, title))

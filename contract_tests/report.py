"""The end-of-run report: failures grouped by operation and check (each with a curl line), and the
conformance matrix: for each operation, each documented status and error name, whether the run
produced it and whether every reply of that kind matched the spec.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

from ingestspec.generator.spec.model import Operation, Spec

from .catalogue import routing_errors
from .constraints import SOURCE as CONSTRAINTS
from .records import Record

# How many failing replies per check the summary shows in full.
SHOWN_PER_CHECK = 3


@dataclass(frozen=True)
class Row:
    """One line of the matrix: a status and the name the spec gives that answer."""

    status: int
    name: str
    documented: bool
    produced: int
    failed: int

    @property
    def cells(self) -> tuple[str, str, str, str]:
        name = self.name if self.documented else f"{self.name} (undocumented)"
        produced = f"yes ({self.produced})" if self.produced else "no"
        if not self.produced:
            matched = "-"
        elif self.failed:
            matched = f"NO ({self.failed} of {self.produced} failed)"
        else:
            matched = "yes"
        return str(self.status), name, produced, matched


def documented_rows(op: Operation) -> list[tuple[int, str]]:
    """Each documented answer of an operation: (status, name), names from the x-ingest block."""
    assert op.ingest is not None
    ingest = op.ingest
    rows: list[tuple[int, str]] = []
    # Statuses the behaviour answers that a range (`4XX`, `default`) documents have rows too.
    answered = {ingest.errors.catalogue[k].status for k in ingest.used_errors()}
    for status in sorted({*op.responses, *(s for s in answered if op.documented(s))}):
        names = []
        if status == ingest.response.status:
            names.append("success")
        if ingest.dedupe and status == ingest.dedupe.replay.status:
            names.append("replay")
        names += [k for k in ingest.used_errors() if ingest.errors.catalogue[k].status == status]
        rows += [(status, name) for name in names or ["(documented)"]]
    rows += [(ingest.errors.catalogue[k].status, k) for k in routing_errors(ingest)]
    return rows


def matrix_rows(op: Operation, records: Iterable[Record]) -> list[Row]:
    # Status 0: a finding about the spec itself (a documented example), not a reply.
    mine = [r for r in records if r.operation == op.operation_id and r.status]
    rows = []
    known = documented_rows(op)
    named = {(s, n) for s, n in known}
    for status, name in known:
        hits = [
            r
            for r in mine
            if r.status == status
            and (r.outcome == name or (name == "(documented)" and (r.status, r.outcome) not in named))
        ]
        rows.append(Row(status, name, True, len(hits), sum(not r.ok for r in hits)))
    seen = {(s, n) for s, n in known}
    extra: dict[tuple[int, str], list[Record]] = defaultdict(list)
    for r in mine:
        if (r.status, r.outcome) not in seen and not (
            op.documented(r.status) and (r.status, "(documented)") in seen
        ):
            extra[(r.status, r.outcome)].append(r)
    for (status, name), hits in sorted(extra.items()):
        documented = op.documented(status) is not None
        rows.append(Row(status, name, documented, len(hits), sum(not r.ok for r in hits)))
    return rows


def render_matrix(spec: Spec, records: Iterable[Record]) -> str:
    records = list(records)
    lines = ["Conformance matrix"]
    for op in spec.ingest_operations:
        rows = matrix_rows(op, records)
        lines.append(f"  {op.operation_id} ({op.method} {op.path})")
        table = [("status", "name", "produced", "matched"), *(row.cells for row in rows)]
        widths = [max(len(line[i]) for line in table) for i in range(4)]
        for cells in table:
            lines.append("    " + "  ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)).rstrip())
    return "\n".join(lines)


def render_failures(records: Iterable[Record]) -> str:
    """Failures grouped by operation and check, each shown with a curl line that reproduces it."""
    grouped: dict[str, dict[str, list[tuple[Record, str]]]] = defaultdict(lambda: defaultdict(list))
    for record in records:
        for check, message in record.failures:
            grouped[record.operation][check].append((record, message))
    if not grouped:
        return "No failures."
    lines = ["Failures by operation and check"]
    for operation, checks in sorted(grouped.items()):
        lines.append(f"  {operation}")
        for check, hits in sorted(checks.items()):
            lines.append(f"    {check}: {len(hits)} failing repl{'y' if len(hits) == 1 else 'ies'}")
            for record, message in hits[:SHOWN_PER_CHECK]:
                lines.append(f"      - [{record.source}] {message}")
                if record.curl:
                    lines.append(f"        {record.curl}")
            if len(hits) > SHOWN_PER_CHECK:
                lines.append(f"      … and {len(hits) - SHOWN_PER_CHECK} more")
    return "\n".join(lines)


def configured_errors(op: Operation) -> set[str]:
    """The catalogue keys whose answer depends on the deployment's configuration rather than the
    spec alone: each project's payload limit, its event definitions, its idempotency-mismatch rule."""
    assert op.ingest is not None
    ingest = op.ingest
    keys = {ingest.payload.mismatch_error, ingest.payload.undefined_event_error, ingest.payload_limit.error}
    keys.add(ingest.dedupe.mismatch_error if ingest.dedupe else None)
    return {key for key in keys if key}


def render_config_hint(spec: Spec, records: Iterable[Record], config: str) -> str | None:
    """One hint when failing replies got, or were expected to get, an answer that depends on the
    configuration: the suite reads its expectations from --config, so a deployment running with
    another file (another payload limit, an event defined in one file only) fails these."""
    ops = {op.operation_id: op for op in spec.ingest_operations}
    failing = 0
    names: set[str] = set()
    for record in records:
        op = ops.get(record.operation)
        if record.ok or op is None:
            continue
        involved = configured_errors(op) & {record.outcome, record.expected or ""}
        failing += bool(involved)
        names |= involved
    if not failing:
        return None
    return (
        f"Hint: {failing} failing repl{'y' if failing == 1 else 'ies'} got or expected an answer that"
        f" depends on the server's configuration ({', '.join(sorted(names))}). The suite expects what"
        f" --config {config} says; if the deployment runs with another configuration (another payload"
        " limit, an event defined in only one of them), give the suite the deployment's own file."
    )


def render_fuzzing(records: Iterable[Record]) -> str:
    """How many cases each fuzzing mode sent per operation, and the statuses they got."""
    counts: dict[tuple[str, str], dict[int, int]] = defaultdict(lambda: defaultdict(int))
    for record in records:
        if record.source.startswith("fuzz:"):
            counts[(record.operation, record.source.removeprefix("fuzz:"))][record.status] += 1
    if not counts:
        return "Fuzzing: no cases sent."
    lines = ["Fuzzing"]
    for (operation, mode), statuses in sorted(counts.items()):
        total = sum(statuses.values())
        spread = ", ".join(f"{status}×{n}" for status, n in sorted(statuses.items()))
        lines.append(f"  {operation} {mode}: {total} cases ({spread})")
    return "\n".join(lines)


def render_constraints(records: Iterable[Record]) -> str:
    """The deterministic phase: each constraint broken (or bound kept inside), the answer, and whether
    it was the expected one."""
    prefix = f"{CONSTRAINTS}:"
    rows: dict[str, list[tuple[str, str, str]]] = defaultdict(list)
    for record in records:
        if record.source.startswith(prefix):
            answer = f"{record.status} {record.outcome}"
            rows[record.operation].append(
                (record.source.removeprefix(prefix), answer, "yes" if record.ok else "NO")
            )
    if not rows:
        return "Constraints: none tried."
    lines = ["Constraints (each broken once, each bound just inside)"]
    for operation, found in sorted(rows.items()):
        broken = sum(1 for label, _, _ in found if " broken:" in label)
        lines.append(f"  {operation}: {broken} broken, {len(found) - broken} inside")
        table = [("constraint", "answer", "expected"), *found]
        widths = [max(len(row[i]) for row in table) for i in range(2)]
        for label, answer, ok in table:
            lines.append(f"    {label.ljust(widths[0])}  {answer.ljust(widths[1])}  {ok}")
    return "\n".join(lines)

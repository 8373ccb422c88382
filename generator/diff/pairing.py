"""Pair the operations of two versions of a spec and compare each pair.

Operations are paired by method and path; one whose operationId survives at another method or path
has moved, not vanished. Path items given by `$ref` are read through the loader like any other.
"""

from __future__ import annotations

from ..spec.model import Spec
from .model import BOTH, CLIENTS, SERVERS, Collector, SpecDiff
from .operation import compare_operations, endpoint

__all__ = ["diff_specs"]


def diff_specs(old: Spec, new: Spec, old_label: str | None = None, new_label: str | None = None) -> SpecDiff:
    """Every change from OLD to NEW, classified for clients and for servers."""
    out = Collector()
    if old.base_path != new.base_path:
        out.pointer = "/servers/0/url"
        out.add(
            "base-path-changed",
            "servers[0].url",
            old.base_path,
            new.base_path,
            BOTH,
            f"every operation moved from {old.base_path or '/'} to {new.base_path or '/'}",
        )
    old_ops = {(op.method, op.path): op for op in old.operations}
    new_ops = {(op.method, op.path): op for op in new.operations}
    gone = [op for key, op in old_ops.items() if key not in new_ops]
    came = [op for key, op in new_ops.items() if key not in old_ops]
    for key, old_op in old_ops.items():
        if key in new_ops:
            compare_operations(old_op, new_ops[key], out)
    came_by_id = {op.operation_id: op for op in came}
    for old_op in gone:
        moved = came_by_id.pop(old_op.operation_id, None)
        if moved is None:
            out.pointer = old_op.pointer
            out.add(
                "operation-removed",
                old_op.operation_id,
                endpoint(old_op),
                None,
                CLIENTS,
                f"operation {old_op.operation_id} ({endpoint(old_op)}) was removed",
            )
            continue
        out.pointer = moved.pointer
        out.add(
            "operation-moved",
            old_op.operation_id,
            endpoint(old_op),
            endpoint(moved),
            BOTH,
            f"operation {old_op.operation_id} moved from {endpoint(old_op)} to {endpoint(moved)}",
        )
        compare_operations(old_op, moved, out)
    for new_op in came_by_id.values():
        out.pointer = new_op.pointer
        out.add(
            "operation-added",
            new_op.operation_id,
            None,
            endpoint(new_op),
            SERVERS,
            f"operation {new_op.operation_id} ({endpoint(new_op)}) was added",
        )
    return SpecDiff(old_label or str(old.path), new_label or str(new.path), tuple(out.changes))

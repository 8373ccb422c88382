"""`ingestspec init --from FILE`: a vendor's published file with a proposed x-ingest block per ingest
operation, and a config.yaml to serve it with.

The file is read into the spec model once (`load_spec(..., ingest_required=False)`: OpenAPI 3.0 is
upgraded there); the blocks are inferred from the model (`infer.py`) and added to the file's text
(`emit.py`), which is otherwise left exactly as published.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..spec.loader import load_spec
from ..spec.model import Operation
from . import emit, infer
from .proposal import Block, todos

CONFIG = """\
# A starter deployment for {spec} from `ingestspec init --from`: the projects the server hosts and
# their API keys (at least 8 printable characters), read by `ingestspec serve` and `contract`.
projects:
  - id: demo
    api_keys: [demo_key_change_me]
    # events:                 # optional: a defined event's payload must match its schema
    #   Order Completed:
    #     schema: {{type: object, required: [order_id]}}
  - id: sandbox               # a second project: the contract suite checks nothing crosses projects
    api_keys: [sandbox_key_change_me]
"""


class NothingToPropose(ValueError):
    """The file has no operation that looks like event ingest (and none was named)."""


@dataclass(frozen=True)
class Proposal:
    """The block proposed for one operation, and its TODOs (pointers into the file, reasons)."""

    operation: Operation
    block: Block
    note: str

    @property
    def todos(self) -> list[tuple[str, str]]:
        return [(f"{self.operation.pointer}/x-ingest{inner}", why) for inner, why in todos(self.block)]


@dataclass(frozen=True)
class Proposed:
    """What `init --from` writes: the file with its blocks added, and the config."""

    spec_text: str
    config_text: str
    proposals: tuple[Proposal, ...]


def propose_file(path: Path, wanted: tuple[str, ...] = (), output_name: str | None = None) -> Proposed:
    """The proposal for the vendor file at `path` (operations `wanted`, or the ingest-like POSTs)."""
    spec = load_spec(path, ingest_required=False)
    chosen = infer.select(spec, wanted)
    if not chosen:
        posts = ", ".join(f"{op.method} {op.path}" for op in spec.operations) or "none"
        raise NothingToPropose(
            f"{path}: no POST operation looks like event ingest (operations: {posts}); "
            "name one with --operation"
        )
    proposals = tuple(Proposal(op, *infer.propose(op)) for op in chosen)
    text = path.read_text(encoding="utf-8")
    spec_text = emit.insert(text, [(p.operation.pointer, p.block, p.note) for p in proposals])
    return Proposed(spec_text, CONFIG.format(spec=output_name or path.name), proposals)


def output_path(source: Path) -> Path:
    """Where the proposal goes by default: beside the vendor's file, `NAME.ingest.yaml` (or `.json`)."""
    suffix = source.suffix if source.suffix in (".yaml", ".yml", ".json") else ".yaml"
    return source.with_name(f"{source.stem}.ingest{suffix}")

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
from .proposal import Block, plain, todo, todos

CONFIG = """\
# A starter deployment for {spec} from `ingestspec init --from`: the projects the server hosts and
# {credentials}, read by `ingestspec serve` and `contract`.
projects:
  - id: demo
{demo}    # events:                 # optional: a defined event's payload must match its schema
    #   Order Completed:
    #     schema: {{type: object, required: [order_id]}}
  - id: sandbox               # a second project: the contract suite checks nothing crosses projects
{sandbox}"""
KEYS = "    api_keys: [{project}_key_change_me]\n"
# A keyless collector's events name their project by a public token (x-ingest `project_field`).
TOKENS = "    tokens: [{project}_token_change_me]\n"


def config(spec: str, keyed: bool, keyless: bool) -> str:
    """The config for the proposal: API keys for the operations that take one, and public project
    tokens for the keyless ones (`project_field`), so every operation has a project to go to."""
    said = ["their API keys (at least 8 printable characters)"] if keyed else []
    said += ["the public project tokens events name (project_field)"] if keyless else []

    def lines(project: str) -> str:
        return (KEYS if keyed else "").format(project=project) + (TOKENS if keyless else "").format(
            project=project
        )

    return CONFIG.format(
        spec=spec, credentials=" and ".join(said), demo=lines("demo"), sandbox=lines("sandbox")
    )


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
    _one_envelope(proposals)
    text = path.read_text(encoding="utf-8")
    spec_text = emit.insert(text, [(p.operation.pointer, p.block, p.note) for p in proposals])
    keyless = [p for p in proposals if "project_field" in p.block]
    text = config(output_name or path.name, keyed=len(keyless) < len(proposals), keyless=bool(keyless))
    return Proposed(spec_text, text, proposals)


def _one_envelope(proposals: tuple[Proposal, ...]) -> None:
    """Mark TODO the errors of an operation documenting another error body than the first one's:
    one server answers one envelope (lint: ingest-operations-share-settings), which the user picks."""
    first = proposals[0]
    for proposal in proposals[1:]:
        errors = proposal.block["errors"]
        if isinstance(errors, dict) and plain(errors) != plain(first.block["errors"]):  # type: ignore[arg-type]
            reason = (
                f"the file documents another error body than on {first.operation.operation_id}; every "
                "ingest operation shares one `errors`: pick one"
            )
            proposal.block["errors"] = todo(reason, plain(errors))


def output_path(source: Path) -> Path:
    """Where the proposal goes by default: beside the vendor's file, `NAME.ingest.yaml` (or `.json`)."""
    suffix = source.suffix if source.suffix in (".yaml", ".yml", ".json") else ".yaml"
    return source.with_name(f"{source.stem}.ingest{suffix}")

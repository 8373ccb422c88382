"""The proposed blocks written into the vendor's file, leaving every other byte of it as it was.

A YAML file gets each block as commented YAML at the top of its operation (at the indentation of
the operation's first key); a JSON file (a flow mapping) gets it as JSON, so it stays JSON, and the
reasons are said on the terminal instead. ruamel.yaml is not a dependency: the block is text.
"""

from __future__ import annotations

import json
from typing import Any

import yaml

from ..spec.model import pointer_parts
from .proposal import Block, Guess, plain

HEADER = "proposed by `ingestspec init --from`: check each guess; `ingestspec lint` names every TODO"


class CannotInsert(ValueError):
    """The operation is written where a block cannot be added by text (a `$ref`'d path item)."""


def block_lines(block: Block, indent: int, note: str = "") -> list[str]:
    """`x-ingest:` and the block as YAML lines at `indent`, each guess followed by its reason."""
    pad = " " * indent
    lines = [f"{pad}x-ingest:  # {HEADER}"]
    if note:
        lines.append(f"{pad}  # {note}")
    return lines + _lines(block, indent + 2)


def _lines(block: Block, indent: int) -> list[str]:
    pad = " " * indent
    lines = []
    for key, value in block.items():
        if isinstance(value, dict):
            lines.append(f"{pad}{_scalar(key)}:")
            lines += _lines(value, indent + 2)
            continue
        comment = f"  # {value.reason}" if value.reason else ""
        if isinstance(value.value, list) and value.value and all(isinstance(v, dict) for v in value.value):
            lines.append(f"{pad}{_scalar(key)}:{comment}")
            lines += [f"{pad}  - {flow(item)}" for item in value.value]
        elif isinstance(value.value, dict) and len(flow(value.value)) > 80:
            lines.append(f"{pad}{_scalar(key)}:{comment}")
            lines += _lines({k: Guess(v) for k, v in value.value.items()}, indent + 2)
        else:
            lines.append(f"{pad}{_scalar(key)}: {flow(value.value)}{comment}")
    return lines


def flow(value: Any) -> str:
    """A value as one line of YAML (flow style)."""
    text = yaml.safe_dump(value, default_flow_style=True, sort_keys=False, width=10**6, allow_unicode=True)
    return text.removesuffix("\n").removesuffix("\n...").strip()


def _scalar(key: str) -> str:
    return flow(key)


def insert(text: str, blocks: list[tuple[str, Block, str]]) -> str:
    """`text` (a YAML or JSON document) with each (operation pointer, block, note) added."""
    root = yaml.compose(text, Loader=yaml.SafeLoader)
    lines = text.splitlines(keepends=True)
    edits = []
    for pointer, block, note in blocks:
        node = _node(root, pointer)
        if not isinstance(node, yaml.MappingNode):
            raise CannotInsert(f"#{pointer} is not written as a mapping in the file")
        edits.append((node, block, note))
    # From the end of the file backwards, so earlier positions stay valid.
    for node, block, note in sorted(edits, key=lambda e: e[0].start_mark.index, reverse=True):
        mark = node.start_mark
        if node.flow_style:
            at = mark.index + 1  # just after the `{`
            inner = json.dumps({"x-ingest": plain(block)}, indent=2)[1:-1].strip("\n")
            pad = " " * (_indent(lines, mark.line) + 2)
            inserted = "\n".join(pad + line.removeprefix("  ") for line in inner.splitlines())
            text = text[:at] + "\n" + inserted + ("," if node.value else "") + text[at:]
            lines = text.splitlines(keepends=True)
            continue
        line = lines[mark.line]
        if line[: mark.column].strip():
            raise CannotInsert(f"#{pointer}: its first key shares a line with something else")
        new = [f"{entry}\n" for entry in block_lines(block, mark.column, note)]
        lines[mark.line : mark.line] = new
        text = "".join(lines)
    return text


def _indent(lines: list[str], number: int) -> int:
    line = lines[number]
    return len(line) - len(line.lstrip(" "))


def _node(root: yaml.Node | None, pointer: str) -> yaml.Node | None:
    node = root
    for part in pointer_parts(pointer):
        if not isinstance(node, yaml.MappingNode):
            return None
        node = next((v for k, v in node.value if isinstance(k, yaml.ScalarNode) and k.value == part), None)
    return node

"""`ingestspec migrate`: a spec's text with its x-ingest blocks upgraded, the rest left as written.

Only the text of each older `x-ingest` block is replaced, found by its node's marks in
`yaml.compose`, so the file's comments, quoting and key order outside the blocks survive. A block
written in block style is dumped back in block style at its indentation (comments inside it are
lost); a flow-style block (a JSON spec) is written back as JSON.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import yaml

from .migrate import upgrade, version_of
from .model import X_INGEST_VERSION

__all__ = ["migrate_text"]


def migrate_text(text: str) -> str:
    """`text` with every x-ingest block of an older version upgraded to the current one."""
    root = yaml.compose(text, Loader=yaml.SafeLoader)
    if root is None:
        return text
    spans = sorted(_old_blocks(root), key=lambda span: span[0], reverse=True)
    for start, end, node in spans:
        new = _dump(upgrade(yaml.safe_load(yaml.serialize(node))), node)
        # A block scalar's text ends with its line break, which the rest of the file relies on.
        trailing = text[start:end][len(text[start:end].rstrip("\n")) :]
        text = text[:start] + new + trailing + text[end:]
    return text


def _old_blocks(root: yaml.Node) -> Iterator[tuple[int, int, yaml.MappingNode]]:
    """(start, end, node) of every x-ingest mapping below a version older than the current one."""
    stack = [root]
    while stack:
        node = stack.pop()
        if isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                if key.value == "x-ingest" and isinstance(value, yaml.MappingNode):
                    block = yaml.safe_load(yaml.serialize(value))
                    if isinstance(block, dict) and version_of(block) < X_INGEST_VERSION:
                        yield value.start_mark.index, _end(value), value
                else:
                    stack.append(value)
        elif isinstance(node, yaml.SequenceNode):
            stack.extend(node.value)


def _end(node: yaml.Node) -> int:
    """Where the node's own text ends: a block mapping's end mark lies past trailing comments."""
    if not isinstance(node, yaml.CollectionNode) or node.flow_style or not node.value:
        return int(node.end_mark.index)
    last = node.value[-1]
    return _end(last[1] if isinstance(node, yaml.MappingNode) else last)


class _Dumper(yaml.SafeDumper):
    """Indents a list under its key, as hand-written specs do."""

    def increase_indent(self, flow: bool = False, indentless: bool = False) -> None:
        super().increase_indent(flow, False)


def _dump(block: dict[str, object], node: yaml.MappingNode) -> str:
    """The block's text for the node's place: JSON for a flow mapping, else YAML re-indented."""
    if node.flow_style:
        return json.dumps(block, ensure_ascii=False)
    text = yaml.dump(
        block, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=100, default_flow_style=False
    )
    lines = text.rstrip("\n").split("\n")
    return "\n".join(
        [lines[0], *(" " * node.start_mark.column + line if line else line for line in lines[1:])]
    )

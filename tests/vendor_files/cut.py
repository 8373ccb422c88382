"""Cut a vendor's published OpenAPI YAML file to some operations, keeping its text byte for byte.

    python -m tests.vendor_files.cut PUBLISHED.yaml post:/events [post:/events/batch ...] > openapi.yaml

Kept: every top-level section but `paths` and `components` as published; of `paths`, the chosen
operations (a path item's other keys, such as shared `parameters`, with them); of `components`,
`securitySchemes` whole and every other entry a kept part refers to by `$ref`, transitively. The
kept lines are the published lines, unchanged: only whole blocks are left out, so each vendor
file's SOURCE.md can say exactly what was cut. Block-style YAML only (what vendors publish).
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

from ingestspec.generator.spec.loader import load_yaml

METHODS = {"get", "put", "post", "delete", "options", "head", "patch", "trace"}
Block = tuple[str, int, int]  # key, first line, line past the end


def indent_of(line: str) -> int:
    return len(line) - len(line.lstrip(" "))


def key_of(line: str) -> str:
    text = line.strip()
    if text[0] in "\"'":
        return str(yaml.safe_load(text[: text.index(text[0], 1) + 1]))
    return text.split(":", 1)[0]


def blocks(lines: list[str], start: int, end: int, indent: int) -> Iterator[Block]:
    """The mapping keys written at `indent` between `start` and `end`, each with its lines."""
    heads = [
        i
        for i in range(start, end)
        if lines[i].strip()
        and not lines[i].lstrip().startswith(("#", "- "))
        and indent_of(lines[i]) == indent
    ]
    for n, head in enumerate(heads):
        stop = heads[n + 1] if n + 1 < len(heads) else end
        yield key_of(lines[head]), head, stop


def refs(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str):
                yield value
            else:
                yield from refs(value)
    elif isinstance(node, list):
        for value in node:
            yield from refs(value)


def used_components(document: dict[str, Any], operations: list[tuple[str, str]]) -> set[tuple[str, str]]:
    """(section, name) of every component the operations refer to, transitively."""
    todo = [document["paths"][path][method] for method, path in operations]
    todo += [document["paths"][path].get("parameters", []) for _, path in operations]
    found: set[tuple[str, str]] = set()
    while todo:
        for ref in refs(todo.pop()):
            parts = ref.split("/")
            if ref.startswith("#/components/") and (parts[2], parts[3]) not in found:
                found.add((parts[2], parts[3]))
                todo.append(document["components"][parts[2]][parts[3].replace("~1", "/").replace("~0", "~")])
    return found


def cut(text: str, operations: list[tuple[str, str]]) -> str:
    document = load_yaml(text)  # as the loader reads it (`=` a string)
    lines = text.splitlines(keepends=True)
    components = used_components(document, operations)
    top = list(blocks(lines, 0, len(lines), 0))
    kept = lines[: top[0][1]]  # a `---` or comments before the first key
    for key, start, end in top:
        if key == "paths":
            kept.append(lines[start])
            for path, p_start, p_end in blocks(lines, start + 1, end, 2):
                if any(path == chosen for _, chosen in operations):
                    kept.append(lines[p_start])
                    for child, c_start, c_end in blocks(lines, p_start + 1, p_end, 4):
                        if child not in METHODS or (child, path) in operations:
                            kept.extend(lines[c_start:c_end])
        elif key == "components":
            kept.append(lines[start])
            for section, s_start, s_end in blocks(lines, start + 1, end, 2):
                if section == "securitySchemes":
                    kept.extend(lines[s_start:s_end])
                    continue
                entries = [b for b in blocks(lines, s_start + 1, s_end, 4) if (section, b[0]) in components]
                if entries:
                    kept.append(lines[s_start])
                    for _, e_start, e_end in entries:
                        kept.extend(lines[e_start:e_end])
        else:
            kept.extend(lines[start:end])
    result = "".join(kept)
    left = yaml.safe_load(result)
    for ref in refs(left):  # nothing kept refers to what was left out
        node = left
        for part in ref.removeprefix("#/").split("/"):
            node = node[part.replace("~1", "/").replace("~0", "~")]
    return result


def main() -> None:
    operations = [(m, p) for m, p in (arg.split(":", 1) for arg in sys.argv[2:])]
    sys.stdout.write(cut(Path(sys.argv[1]).read_text(), operations))


if __name__ == "__main__":
    main()

"""Where a JSON pointer is in a spec file: `file:line:column`, for problems a user must find.

The file is composed with `yaml.compose` (JSON documents are YAML too), and a pointer is walked
through the node tree. A mapping member is located at its key, where an editor should jump; a
pointer through a `$ref` carries on at the referenced node, and a pointer that goes past what the
file holds is located at its deepest existing part.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import yaml

from .loader import FastSafeLoader, parsed
from .model import escape, pointer_of, pointer_parts

__all__ = ["Locator", "Problem", "escape", "pointer_of"]


@dataclass(frozen=True)
class Problem:
    """One lint problem: the file, the 1-based line and column, the JSON pointer, what is wrong,
    the id of the rule that found it and how grave it is (`error` or `warning`)."""

    file: str
    line: int
    column: int
    pointer: str
    message: str
    rule: str
    severity: str = "error"

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}:{self.column}"
        return f"{where}: {self.severity} {self.rule}: #{self.pointer}: {self.message}"

    def as_dict(self) -> dict[str, object]:
        return {
            "file": self.file,
            "line": self.line,
            "column": self.column,
            "pointer": self.pointer,
            "rule": self.rule,
            "severity": self.severity,
            "message": self.message,
        }


class Locator:
    """Line and column of JSON pointers in one spec file."""

    def __init__(self, path: str | Path, text: str) -> None:
        self.file = str(path)
        self.syntax_error: Problem | None = None
        self.root: yaml.Node | None = None
        try:
            self.root = parsed(yaml.compose, text, FastSafeLoader, yaml.SafeLoader)
        except yaml.MarkedYAMLError as exc:
            mark = exc.problem_mark or exc.context_mark
            line, column = (mark.line + 1, mark.column + 1) if mark else (1, 1)
            what = exc.problem or exc.context or "not valid YAML"
            self.syntax_error = Problem(self.file, line, column, "", f"not valid YAML: {what}", "yaml-syntax")
        except yaml.YAMLError as exc:
            self.syntax_error = Problem(self.file, 1, 1, "", f"not valid YAML: {exc}", "yaml-syntax")

    @classmethod
    def of(cls, path: str | Path) -> Locator:
        return cls(path, Path(path).read_text(encoding="utf-8", errors="replace"))

    def problem(self, pointer: str, message: str, rule: str, severity: str = "error") -> Problem:
        """A problem about what `pointer` names, found by `rule`, located in the file."""
        line, column = self.position(pointer)
        return Problem(self.file, line, column, pointer, message, rule, severity)

    def position(self, pointer: str) -> tuple[int, int]:
        """1-based line and column of `pointer`, or of its deepest part the file holds."""
        mark = self._mark(pointer)
        return (mark.line + 1, mark.column + 1) if mark else (1, 1)

    def exists(self, pointer: str) -> bool:
        """Whether the file holds `pointer` exactly (following `$ref`s)."""
        return self._walk(pointer)[1]

    def _mark(self, pointer: str) -> yaml.Mark | None:
        return self._walk(pointer)[0]

    def _walk(self, pointer: str) -> tuple[yaml.Mark | None, bool]:
        if self.root is None:
            return None, False
        node: yaml.Node = self.root
        mark = node.start_mark
        seen: set[str] = set()
        for part in pointer_parts(pointer):
            child = self._child(node, part, seen)
            if child is None:
                return mark, False
            mark, node = child
        return mark, True

    def _child(self, node: yaml.Node, part: str, seen: set[str]) -> tuple[yaml.Mark, yaml.Node] | None:
        if isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                if isinstance(key, yaml.ScalarNode) and key.value == part:
                    return key.start_mark, value
            ref = self._ref_target(node, seen)
            return self._child(ref, part, seen) if ref is not None else None
        if isinstance(node, yaml.SequenceNode) and part.isdigit() and int(part) < len(node.value):
            item = node.value[int(part)]
            return item.start_mark, item
        return None

    def _ref_target(self, node: yaml.MappingNode, seen: set[str]) -> yaml.Node | None:
        ref = next(
            (v.value for k, v in node.value if k.value == "$ref" and isinstance(v, yaml.ScalarNode)), None
        )
        if not isinstance(ref, str) or not ref.startswith("#") or ref in seen:
            return None
        seen.add(ref)
        target: yaml.Node | None = self.root
        for part in pointer_parts(ref[1:]):
            found = self._child(target, part, seen) if target is not None else None
            target = found[1] if found else None
        return target

    def members(self, name: str, value: str | None = None) -> Iterator[str]:
        """Pointers of every mapping member called `name` (whose scalar value is `value`, if given)."""
        for pointer, node in self._nodes(""):
            if pointer_parts(pointer)[-1:] == (name,) and (
                value is None or (isinstance(node, yaml.ScalarNode) and node.value == value)
            ):
                yield pointer

    def scalars(self, under: str, value: str) -> Iterator[str]:
        """Pointers of the scalars equal to `value` anywhere below `under`."""
        for pointer, node in self._nodes(under):
            if isinstance(node, yaml.ScalarNode) and node.value == value:
                yield pointer

    def _nodes(self, under: str) -> Iterator[tuple[str, yaml.Node]]:
        """Every node below `under` (not following `$ref`s) with its pointer, in document order."""
        node = self.root
        for part in pointer_parts(under):
            found = self._child(node, part, set()) if node is not None else None
            node = found[1] if found else None
        stack: list[tuple[str, yaml.Node]] = [(under, node)] if node is not None else []
        while stack:
            pointer, node = stack.pop()
            yield pointer, node
            if isinstance(node, yaml.MappingNode):
                children = [(f"{pointer}/{escape(k.value)}", v) for k, v in node.value]
            elif isinstance(node, yaml.SequenceNode):
                children = [(f"{pointer}/{i}", v) for i, v in enumerate(node.value)]
            else:
                children = []
            stack.extend(reversed(children))

"""A proposed x-ingest block: each value a guess with the reason it was made.

`ingestspec init --from` infers the block from the spec model (`fields.py` reads the request,
`answers.py` the responses) into a `Block`: keys in the schema's order, each value a `Guess`
(or a nested `Block`). A guess that could not be made is a TODO: a placeholder value that lint names
where it is written, with what to put there.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Union

from ..spec.model import pointer_of

TODO = "TODO"


@dataclass(frozen=True)
class Guess:
    """One inferred value and why; `todo` when it is a placeholder the user must replace."""

    value: Any
    reason: str = ""
    todo: bool = False


Block = dict[str, Union[Guess, "Block"]]


def todo(reason: str, value: Any = TODO) -> Guess:
    """A placeholder lint refuses where it is written, with what the user should put there."""
    return Guess(value, f"TODO: {reason}", todo=True)


def plain(block: Block) -> dict[str, Any]:
    """The block as plain data, as the x-ingest schema reads it."""
    return {key: plain(value) if isinstance(value, dict) else value.value for key, value in block.items()}


def todos(block: Block, at: str = "") -> Iterator[tuple[str, str]]:
    """(pointer inside the block, reason) of every TODO, in the block's order."""
    for key, value in block.items():
        if isinstance(value, dict):
            yield from todos(value, at + pointer_of(key))
        elif value.todo:
            yield at + pointer_of(key), value.reason

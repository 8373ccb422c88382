"""The run's API keys, kept out of everything the suite writes.

Keys come from `--api-key`, the environment (`INGESTSPEC_API_KEY`, and `INGESTSPEC_API_KEY_2` for
the second project's key) or a file (`--api-key-file`: one key a line). Once a run knows its keys,
`mask` replaces each one in any text the suite prints or writes (console, curl lines, JUnit) with
the environment variable that holds it, so a curl line runs as is once the variable is set.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path
from urllib.parse import quote

from .credentials import basic_token

ENV = "INGESTSPEC_API_KEY"
# The environment variable holding the n-th key (0-based).
VARIABLES = (ENV, f"{ENV}_2")
_KEYS: list[str] = []


class KeyProblem(Exception):
    """The keys cannot be read (a missing file, too many keys)."""


def variable(index: int) -> str:
    return VARIABLES[index] if index < len(VARIABLES) else f"{ENV}_{index + 1}"


def from_environment() -> tuple[str, ...]:
    """The keys the environment gives, in order."""
    return tuple(value for name in VARIABLES if (value := os.environ.get(name, "").strip()))


def from_file(path: str | Path) -> tuple[str, ...]:
    """The keys of a file, one a line (blank lines and `#` comments ignored)."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise KeyProblem(f"cannot read --api-key-file {path}: {exc.strerror or exc}") from exc
    lines = (line.strip() for line in text.splitlines())
    return tuple(line for line in lines if line and not line.startswith("#"))


def resolve(given: Iterable[str], key_file: str | Path | None) -> tuple[str, ...]:
    """The run's keys: those given on the command line, else the file's, else the environment's."""
    keys = tuple(given)
    if not keys and key_file:
        keys = from_file(key_file)
    return keys or from_environment()


def keep(keys: Iterable[str]) -> None:
    """Remember the run's keys, so that `mask` hides them."""
    for key in keys:
        if key and key not in _KEYS:
            _KEYS.append(key)


def mask(text: str) -> str:
    """`text` with every known key (as sent: plain, percent-encoded, in HTTP basic credentials)
    replaced by the shell reference to the variable holding it."""
    for index, key in sorted(enumerate(_KEYS), key=lambda pair: -len(pair[1])):
        name = variable(index)
        # Each way HTTP basic credentials may carry the key (x-ingest-basic: user, password, both).
        for part, form in (("", "%s:"), ("password", ":%s"), ("both", "%s")):
            text = text.replace(basic_token(key, part), f"$(printf '{form}' \"${name}\" | base64)")
        text = text.replace(key, f"${name}")
        encoded = quote(key, safe="")
        if encoded != key:
            text = text.replace(encoded, f"${name}")
    return text


def masks(text: str) -> bool:
    """Whether `mask` would change `text` (it holds a key)."""
    return mask(text) != text

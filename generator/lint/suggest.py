""" "Did you mean": the known name nearest a misspelt one, for any message that names a missing thing."""

from __future__ import annotations

import difflib
from collections.abc import Iterable

__all__ = ["did_you_mean"]


def did_you_mean(name: str, known: Iterable[str], listing: bool = False) -> str:
    """`" (did you mean 'event_field'?)"` when a known name is near `name`, else nothing.

    With `listing`, a name with no near match gets the known names instead (when there are few).
    """
    names = sorted({str(k) for k in known if str(k) != name})
    close = difflib.get_close_matches(name, names, n=1, cutoff=0.6)
    if close:
        return f" (did you mean {close[0]!r}?)"
    if listing and names and len(names) <= 12:
        return f" (known: {', '.join(names)})"
    return ""

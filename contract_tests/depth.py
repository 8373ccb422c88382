"""How deep the fuzzer goes: the default, and the environment variable that overrides it.

A module of its own, importing nothing of the suite's stack: the `contract` command's help names
these values, and `ingestspec` loads that command on every start, extras installed or not.
"""

from __future__ import annotations

import os

# `make test-deep` raises the fuzzing depth through this variable.
FUZZ_ENV = "INGESTSPEC_FUZZ_EXAMPLES"
DEFAULT_MAX_EXAMPLES = 100


def default_max_examples() -> int:
    """The fuzzing depth when none is given: `INGESTSPEC_FUZZ_EXAMPLES` or the default."""
    value = os.environ.get(FUZZ_ENV, "")
    return int(value) if value.isdigit() and int(value) > 0 else DEFAULT_MAX_EXAMPLES

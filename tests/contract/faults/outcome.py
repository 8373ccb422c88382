"""What a contract run's output says failed: the names the fault tests compare.

Its own module: the corpus's and the published files' tests use it, and test_faults.py imports their
cases while it is collected.
"""

from __future__ import annotations


def failed_tests(output: str) -> list[str]:
    """The failed tests of a run: scenario or fuzzing mode names, `constraints` for the constraint phase."""
    return sorted(
        "constraints" if "::test_constraints[" in line else _test_name(line)
        for line in output.splitlines()
        if line.startswith("contract_tests/") and " FAILED" in line
    )


def _test_name(line: str) -> str:
    """What follows the operation id in a failed test's parameters."""
    parameters = line.split("[", 1)[1].split("]", 1)[0]
    if "::test_scenario[" in line or "::test_fuzz[" in line:
        return parameters.rsplit("-", 1)[-1]  # an operation id may hold hyphens (import-events), these none
    return parameters.split("-", 1)[-1]

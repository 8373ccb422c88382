"""The pre-commit hooks other repositories use (`.pre-commit-hooks.yaml`): diff and generate-check.

`ingestspec-lint` is `ingestspec lint` itself. The two here take the spec files pre-commit passes:

- `diff`: each spec against its version at the merge base of HEAD and the base branch
  (`INGESTSPEC_DIFF_BASE`, else pre-commit's `--from-ref`, else `origin/HEAD`, `origin/main`,
  `main`, `origin/master` or `master`, the first that exists), failing on `--fail-on` (default
  `breaking`). A spec the base does not have is new: nothing to compare.
- `generate-check`: each spec's generated package (`--out-root DIR`/<package>, by default in the
  current folder) is what `ingestspec generate` would write now.

Run as `python -m ingestspec.generator.cli.precommit diff|generate-check [options] SPEC...`.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

from .main import main as cli

__all__ = ["merge_base", "run"]

_BASES = ("origin/HEAD", "origin/main", "main", "origin/master", "master")


def _git(*args: str) -> str | None:
    result = subprocess.run(["git", *args], capture_output=True, text=True, check=False)
    return result.stdout.strip() if result.returncode == 0 else None


def merge_base() -> tuple[str | None, str]:
    """The commit to compare with, and what it is (for the message); None when there is none."""
    named = os.environ.get("INGESTSPEC_DIFF_BASE") or os.environ.get("PRE_COMMIT_FROM_REF")
    for ref in [named] if named else _BASES:
        if ref and _git("rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}"):
            base = _git("merge-base", "HEAD", ref)
            if base:
                return base, f"the merge base with {ref} ({base[:12]})"
    return None, named or " or ".join(_BASES)


def _invoke(args: list[str]) -> int:
    """Run one `ingestspec` command in this process; its exit code."""
    try:
        cli.main(args, prog_name="ingestspec", standalone_mode=True)
    except SystemExit as exit_:
        return exit_.code if isinstance(exit_.code, int) else 1
    return 0


def _diff(specs: Sequence[str], fail_on: str) -> int:
    base, what = merge_base()
    if base is None:
        print(f"ingestspec-diff: no base branch ({what}) to compare with; set INGESTSPEC_DIFF_BASE")
        return 0
    status = 0
    for spec in specs:
        name = _git("ls-files", "--full-name", "--", spec) or Path(spec).as_posix()
        if _git("cat-file", "-e", f"{base}:{name}") is None:
            print(f"{spec}: not in {what}; a new spec, nothing to compare")
            continue
        print(f"{spec}: compared with {what}")
        status |= _invoke(["diff", f"{base}:{name}", spec, "--fail-on", fail_on])
    return status


def _generate_check(specs: Sequence[str], out_root: str) -> int:
    from ..generate.build import package_name

    status = 0
    for spec in specs:
        out = Path(out_root) / package_name(Path(spec))
        status |= _invoke(["generate", spec, "--out", str(out), "--check"])
    return status


def run(argv: Sequence[str] | None = None) -> int:
    """The hooks' command line; returns the exit code."""
    parser = argparse.ArgumentParser(prog="python -m ingestspec.generator.cli.precommit")
    hooks = parser.add_subparsers(dest="hook", required=True)
    diff = hooks.add_parser("diff", help="each spec against the merge base")
    diff.add_argument(
        "--fail-on", default="breaking", choices=["breaking", "server-breaking", "any-breaking"]
    )
    diff.add_argument("specs", nargs="*")
    check = hooks.add_parser("generate-check", help="each spec's generated package is up to date")
    check.add_argument("--out-root", default=".", help="the folder holding the generated packages")
    check.add_argument("specs", nargs="*")
    args = parser.parse_args(argv)
    if args.hook == "diff":
        return _diff(args.specs, args.fail_on)
    return _generate_check(args.specs, args.out_root)


if __name__ == "__main__":
    sys.exit(run())

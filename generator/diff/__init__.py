"""Compare two versions of a spec and classify every change, for clients and for servers.

Works from the `Spec` model: `pairing` pairs the operations, `operation` compares security,
parameters, bodies and responses, `schemas` compares JSON Schemas keyword by keyword, `ingest`
compares the x-ingest blocks by meaning, `revisions` reads versions from files or git, `output`
renders the result (`model`).
"""

from __future__ import annotations

from .model import Change, SpecDiff
from .output import render_github, render_json, render_markdown, render_sarif, render_text
from .pairing import diff_specs
from .revisions import Version, load_any, load_version, spec_at_revision

__all__ = [
    "Change",
    "SpecDiff",
    "Version",
    "diff_specs",
    "load_any",
    "load_version",
    "render_github",
    "render_json",
    "render_markdown",
    "render_sarif",
    "render_text",
    "spec_at_revision",
]

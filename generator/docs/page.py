"""An offline reference page for a spec: Swagger UI from a PyPI package, plus every error body.

The page embeds the spec, so it renders without fetching anything but its own assets, which come
from the `swagger-ui-bundle-v2` package (Swagger UI 5, which reads OpenAPI 3.1), never from a CDN.
Swagger UI shows each operation with its request and response examples; below it, a table built
from the `x-ingest` error catalogue shows the exact body of every failure the server can answer.
"""

from __future__ import annotations

import copy
import json
import shutil
from pathlib import Path
from typing import Any

import jinja2
from markupsafe import Markup

from ..generate.samples import placeholder_values
from ..spec.loader import resolve
from ..spec.model import STEPS, Ingest, Operation, Spec

__all__ = [
    "ASSET_FILES",
    "STEP_ROLES",
    "assets_dir",
    "docs_html",
    "error_bodies",
    "page_document",
    "write_docs",
]

# The files of the Swagger UI distribution the page loads; the rest (source maps, ES bundles) are not needed.
ASSET_FILES = ("swagger-ui.css", "swagger-ui-bundle.js", "favicon-32x32.png", "favicon-16x16.png")

# What each behaviour step of `spec.STEPS` answers its error for; `{identity}` lists the identity fields.
STEP_ROLES = {
    "authenticate": "missing, malformed or unknown API key",
    "rate_limit": "more requests than the key's rate limit allows",
    "media_type": "the body is not sent as the documented media type",
    "size": "the body is larger than the payload limit",
    "json": "the body is not valid JSON",
    "envelope": "the body does not match the request schema",
    "identity_missing": "no identity field ({identity})",
    "identity_conflict": "more than one identity field",
    "reserved": "the event name has a reserved prefix",
    "undefined_event": "the event is not defined",
    "payload": "the payload does not match the event definition",
    "idempotency_mismatch": "an idempotency key reused, another body",
    "store": "the event store cannot take the event",
    "route": "no such endpoint",
    "method": "the endpoint does not accept this method",
}


def assets_dir() -> Path:
    """The installed Swagger UI distribution (`swagger_ui_bundle.swagger_ui_path`)."""
    from swagger_ui_bundle import swagger_ui_path

    return Path(str(swagger_ui_path))


def error_bodies(op: Operation) -> list[dict[str, Any]]:
    """Each catalogue entry of an ingest operation: key, status, what triggers it, and its body."""
    ingest = op.ingest
    if ingest is None:
        return []
    params = placeholder_values(op)
    roles = _roles(ingest)
    errors = ingest.errors
    return [
        {
            "key": key,
            "status": entry.status,
            "role": "; ".join(roles.get(key, [])),
            # A text envelope's body is the message itself.
            "body": errors.render(key, params)
            if errors.text
            else json.dumps(errors.render(key, params), indent=2, ensure_ascii=False),
        }
        for key, entry in sorted(ingest.errors.catalogue.items(), key=lambda item: (item[1].status, item[0]))
    ]


def _roles(ingest: Ingest) -> dict[str, list[str]]:
    """Catalogue key -> what provokes it, in the order of `spec.STEPS`."""
    roles: dict[str, list[str]] = {}
    identity = ", ".join(ingest.identity.names)
    for step in STEPS:
        key = step.error(ingest)
        if key:
            roles.setdefault(key, []).append(STEP_ROLES[step.name].format(identity=identity))
    return roles


_PAGE = jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined).from_string(
    """<!doctype html>
{% if header %}<!-- {{ header }} -->
{% endif %}<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{ spec.title }} {{ spec.version }}: reference</title>
<link rel="icon" type="image/png" href="{{ assets_url }}/favicon-32x32.png" sizes="32x32">
<link rel="stylesheet" href="{{ assets_url }}/swagger-ui.css">
<style>
  body { margin: 0; font-family: sans-serif; color: #3b4151; }
  .ingestspec-bar { padding: 10px 20px; background: #1b1b1b; color: #fff; font-size: 14px; }
  .ingestspec-bar a { color: #9fd3ff; margin-right: 16px; }
  #error-bodies { max-width: 1460px; margin: 0 auto 40px; padding: 0 20px; }
  #error-bodies table { border-collapse: collapse; width: 100%; font-size: 14px; }
  #error-bodies th, #error-bodies td { border-bottom: 1px solid #ddd; padding: 8px; text-align: left;
    vertical-align: top; }
  #error-bodies pre { margin: 0; padding: 8px; background: #333; color: #fff; border-radius: 4px;
    white-space: pre-wrap; }
</style>
</head>
<body>
<div class="ingestspec-bar">
  <strong>{{ spec.title }}</strong> {{ spec.version }}
  &middot; <a href="{{ spec_url }}">{{ spec_url }}</a><a href="#error-bodies">Error bodies</a>
</div>
<div id="swagger-ui"><noscript>This page needs JavaScript to render the operations; the spec is at
  <a href="{{ spec_url }}">{{ spec_url }}</a>.</noscript></div>
<section id="error-bodies">
  <h2>Error bodies</h2>
  {% for op in operations %}
  <h3 id="errors-{{ op.operation_id }}">{{ op.method }} {{ spec.base_path }}{{ op.path }}
    ({{ op.operation_id }})</h3>
  <p>Every failure answers <code>{{ op.ingest.errors.media_type }}</code>; messages are shown filled
    from the operation's request examples.</p>
  <table>
    <thead><tr><th>status</th><th>error</th><th>when</th><th>body</th></tr></thead>
    <tbody>
    {% for error in error_bodies(op) %}
      <tr id="error-{{ op.operation_id }}-{{ error.key }}">
        <td>{{ error.status }}</td><td><code>{{ error.key }}</code></td><td>{{ error.role }}</td>
        <td><pre>{{ error.body }}</pre></td>
      </tr>
    {% endfor %}
    </tbody>
  </table>
  {% endfor %}
</section>
<script src="{{ assets_url }}/swagger-ui-bundle.js"></script>
<script>
  window.ui = SwaggerUIBundle({
    spec: {{ document_json }},
    dom_id: "#swagger-ui",
    docExpansion: "full",
    displayOperationId: true,
    defaultModelsExpandDepth: 0,
    deepLinking: false,
    validatorUrl: null,
    presets: [SwaggerUIBundle.presets.apis],
    layout: "BaseLayout"
  });
</script>
</body>
</html>
"""
)


def docs_html(spec: Spec, spec_url: str, assets_url: str, header: str = "") -> str:
    """The reference page of `spec`, loading Swagger UI from `assets_url` and linking the spec at `spec_url`.

    The spec is embedded in the page, so it renders offline and from a plain file; `assets_url` is
    where the files of `assets_dir()` are served (e.g. `/docs/assets`, or `assets` beside the page).
    `header`, when given, opens the page as an HTML comment (e.g. "Generated by ingestspec from ...").
    """
    return _PAGE.render(
        header=header.replace("--", "- -"),
        spec=spec,
        spec_url=spec_url,
        assets_url=assets_url.rstrip("/"),
        operations=spec.ingest_operations,
        error_bodies=error_bodies,
        document_json=_script_json(page_document(spec)),
    )


def page_document(spec: Spec) -> dict[str, Any]:
    """The spec as the page embeds it: every `$ref` replaced by what it points at (the loader refuses
    recursive ones), each named schema titled with its name, as Swagger UI shows a `$ref`'d one.
    Swagger UI resolves `$ref`s against the page's address, and its resolver cannot read a `file:`
    one: opened from disk, the page showed a "Resolver error" for every `$ref`."""
    document = copy.deepcopy(spec.document)
    schemas = (document.get("components") or {}).get("schemas") or {}
    for name, schema in schemas.items():
        if isinstance(schema, dict):
            schema.setdefault("title", name)
    resolved: dict[str, Any] = resolve(document, document, spec.path)
    return resolved


def _script_json(value: Any) -> Markup:
    # Inside <script>, "</" could end the element early; "<\/" means the same to JSON.
    text = json.dumps(value, ensure_ascii=False, default=str).replace("</", "<\\/")
    return Markup(text.replace("\u2028", "\\u2028").replace("\u2029", "\\u2029"))


def write_docs(spec: Spec, out_dir: Path) -> list[Path]:
    """Write `index.html`, the spec as `openapi.yaml` and the Swagger UI assets to `out_dir`."""
    assets = out_dir / "assets"
    assets.mkdir(parents=True, exist_ok=True)
    written = []
    for name in ASSET_FILES:
        shutil.copyfile(assets_dir() / name, assets / name)
        written.append(assets / name)
    spec_copy = out_dir / "openapi.yaml"
    spec_copy.write_bytes(spec.path.read_bytes())
    page = out_dir / "index.html"
    header = f"Generated by ingestspec docs from {spec.path.name} (sha256 {spec.sha256[:12]}). Do not edit."
    html = docs_html(spec, spec_url="openapi.yaml", assets_url="assets", header=header)
    page.write_text(html, encoding="utf-8")
    return [page, spec_copy, *written]

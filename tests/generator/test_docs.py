"""`ingestspec docs` writes an offline reference page that renders in a real headless Chromium."""

from __future__ import annotations

import functools
import http.server
import re
import shutil
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from generator.cli import main
from generator.docs import ASSET_FILES, assets_dir, docs_html, error_bodies
from generator.loader import load_spec
from tests.conftest import SPECS

# What each API's page must show: operation id, path, a request example value and the 401 message.
EXPECTED = {
    "arsel": ("sendEvent", "/events/send", "john.doe@example.com", "Invalid or missing API key"),
    "sendrealm": ("ingestEvent", "/events", "jsmith@example.com", "Invalid or missing API key."),
}


def chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


def dump_dom(url: str, profile: Path) -> str:
    """The DOM of `url` after its scripts ran, from headless Chromium that can reach only loopback."""
    browser = chromium()
    if browser is None:
        pytest.skip("chromium is not installed (apt-get install -y chromium; .ci/run installs it)")
    command = [
        browser,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={profile}",
        # Any host but loopback fails to resolve: the page must render from what the server has.
        "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1",
        "--virtual-time-budget=15000",
        "--dump-dom",
        url,
    ]
    result = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout


@pytest.fixture
def serve() -> Iterator[functools.partial[str]]:
    """Serve a folder on a free loopback port; yields a function from folder to base URL."""
    servers: list[http.server.ThreadingHTTPServer] = []

    def start(folder: Path) -> str:
        handler = functools.partial(_QuietHandler, directory=str(folder))
        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return f"http://127.0.0.1:{server.server_address[1]}"

    yield functools.partial(start)
    for server in servers:
        server.shutdown()
        server.server_close()


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


def test_docs_command_writes_the_page_spec_and_assets(api: str, tmp_path: Path) -> None:
    out = tmp_path / "site"
    result = CliRunner().invoke(main, ["docs", api, "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert (out / "openapi.yaml").read_bytes() == SPECS[api].read_bytes()
    for name in ASSET_FILES:
        assert (out / "assets" / name).read_bytes() == (assets_dir() / name).read_bytes()
    page = (out / "index.html").read_text()
    assert 'href="assets/swagger-ui.css"' in page and 'src="assets/swagger-ui-bundle.js"' in page
    # Nothing is loaded from elsewhere: every src and stylesheet is relative to the page.
    for url in re.findall(r'(?:src|href)="([^"#]+)"', page):
        assert not re.match(r"^(https?:)?//", url), url


def test_the_page_escapes_what_it_embeds(tmp_path: Path) -> None:
    document = yaml.safe_load(SPECS["arsel"].read_text())
    document["info"]["title"] = "Arsel </script><b>x</b>"
    path = tmp_path / "arsel.yaml"
    path.write_text(yaml.safe_dump(document, sort_keys=False))
    page = docs_html(load_spec(path), spec_url="/openapi.yaml", assets_url="/docs/assets/")
    assert "<b>x</b>" not in page
    assert "Arsel &lt;/script&gt;" in page  # in the title and the bar
    assert "Arsel <\\/script><b>x<\\/b>" in page  # in the embedded spec, which stays inside its script
    assert 'src="/docs/assets/swagger-ui-bundle.js"' in page


def test_error_bodies_are_the_catalogue_filled_from_the_examples() -> None:
    spec = load_spec(SPECS["sendrealm"])
    bodies = {error["key"]: error for error in error_bodies(spec.operations[0])}
    assert set(bodies) == set(spec.operations[0].ingest.errors.catalogue)  # type: ignore[union-attr]
    assert bodies["reserved_event_name"]["status"] == 422
    assert 'starting with \\"sendrealm.\\" are reserved' in bodies["reserved_event_name"]["body"]
    assert '\\"evt_order_completed_ord_123\\" was already used' in bodies["idempotency_key_reused"]["body"]
    assert "65536 bytes" in bodies["payload_too_large"]["body"]
    assert bodies["identity_missing"]["role"] == "no identity field (contact_id, external_id, email)"


@pytest.mark.timeout(300)
def test_the_page_renders_offline_in_headless_chromium(
    api: str, tmp_path: Path, serve: functools.partial[str]
) -> None:
    out = tmp_path / "site"
    assert CliRunner().invoke(main, ["docs", api, "--out", str(out)]).exit_code == 0
    dom = dump_dom(f"{serve(out)}/index.html", tmp_path / "profile")
    operation_id, path, example, unauthorized = EXPECTED[api]
    # What Swagger UI rendered, apart from the error table the page carries itself.
    rendered = dom[dom.index('id="swagger-ui"') : dom.index('id="error-bodies"')]
    assert 'class="swagger-ui"' in rendered, "Swagger UI did not render"
    assert f">{operation_id}<" in rendered
    assert f'data-path="{path}"' in rendered
    text = re.sub(r"<[^>]+>", "", rendered)
    assert example in text  # the request example
    assert unauthorized in text  # the 401 error body's example
    assert "OAS 3.1" in text
    errors = dom[dom.index('id="error-bodies"') :]
    assert f'id="error-{operation_id}-unauthorized"' in errors and unauthorized in errors


@pytest.mark.timeout(300)
def test_docs_html_renders_as_a_server_would_serve_it(tmp_path: Path, serve: functools.partial[str]) -> None:
    # The generated servers answer /docs with docs_html(spec, "/openapi.yaml", "/docs/assets"),
    # /docs/assets/* from assets_dir() and /openapi.yaml from the spec: the same layout on disk.
    spec = load_spec(SPECS["sendrealm"])
    root = tmp_path / "root"
    shutil.copytree(assets_dir(), root / "docs" / "assets")
    shutil.copyfile(SPECS["sendrealm"], root / "openapi.yaml")
    (root / "docs" / "index.html").write_text(docs_html(spec, "/openapi.yaml", "/docs/assets"))
    dom = dump_dom(f"{serve(root)}/docs/", tmp_path / "profile")
    rendered = dom[dom.index('id="swagger-ui"') : dom.index('id="error-bodies"')]
    assert ">ingestEvent<" in rendered and 'data-path="/events"' in rendered
    assert 'href="/openapi.yaml"' in dom

"""The README and every page of the documentation site say what is true: every shell command they
show runs in a test, every x-ingest key has an example that its schema accepts, the configuration
examples are valid configurations, the CI recipes call the suite with options it has, and the
README stays short and links to pages and headings that exist."""

from __future__ import annotations

import ast
import re
import shlex
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from markdown.extensions.toc import slugify

from ingestspec.contract_tests.cli import contract
from ingestspec.generator.spec.loader import bundled_schema
from ingestspec.generator.spec.model import FIXED_ERRORS
from tests.docs.pages import DOCS, PAGES, REPO, Block, blocks, headings, run_commands, shell_blocks, text_of

README = REPO / "README.md"
# The blocks no test runs, and why: each is named here so that a new one fails until it is run or
# explained.
NOT_RUN = (
    "make test",  # the test run itself
    "make demo",  # a check of its own: non-zero when a step fails
    "make bench",  # minutes of pinned CPUs; tests/bench/ runs its parts on a small scale
    ".venv/bin/python bench/stages.py",
    ".venv/bin/python bench/instructions.py",  # valgrind: a minute per side, and not in CI's image
    ".venv/bin/python bench/parts.py",  # valgrind too; tests/bench/test_parts.py runs its child
    ".venv/bin/py-spy",
)


def section_blocks(page: Path) -> dict[str, list[Block]]:
    """Heading text -> the code blocks under it (up to the next heading of any level)."""
    titles = headings(page)
    found: dict[str, list[Block]] = {}
    for block in blocks(page):
        above = [title for line, title in titles if line < block.line]
        found.setdefault(above[-1] if above else "", []).append(block)
    return found


def key_examples() -> dict[str, Any]:
    """x-ingest key -> its example, from the reference page's "## `key`" sections."""
    examples: dict[str, Any] = {}
    for heading, found in section_blocks(DOCS / "x-ingest.md").items():
        named = re.fullmatch(r"`([a-z_]+)`", heading)
        if named:
            [example] = [yaml.safe_load(block.text) for block in found if block.lang == "yaml"][:1]
            examples.update(example)
            assert list(example) == [named.group(1)], f"the `{named.group(1)}` section shows {list(example)}"
    return examples


def test_the_readme_fits_on_a_few_screens() -> None:
    assert len(README.read_text().splitlines()) <= 200


def test_every_key_of_the_schema_has_an_example_in_the_reference() -> None:
    assert sorted(key_examples()) == sorted(bundled_schema("x-ingest")["properties"])


def test_every_key_of_the_schema_is_in_the_short_table_with_a_link_to_its_section() -> None:
    text = (DOCS / "x-ingest.md").read_text()
    table = text[text.index("| key | meaning |") :].split("\n\n")[0]
    linked = re.findall(r"\[`([a-z_]+)`\]\(#([a-z_-]+)\)", table)
    assert all(key == anchor for key, anchor in linked)
    assert sorted(key for key, _ in linked) == sorted(bundled_schema("x-ingest")["properties"])


@pytest.mark.parametrize("key", sorted(bundled_schema("x-ingest")["properties"]))
def test_each_example_in_the_reference_is_valid(key: str) -> None:
    schema = bundled_schema("x-ingest")
    value = key_examples()[key]
    if key == "errors":  # the example shows two entries and says the others are there too
        for fixed in FIXED_ERRORS:
            value["catalogue"].setdefault(fixed, {"status": 400, "message": "m"})
    jsonschema.Draft202012Validator({"$defs": schema["$defs"], **schema["properties"][key]}).validate(value)


def test_the_errors_example_shows_every_member() -> None:
    members = bundled_schema("x-ingest")["properties"]["errors"]["properties"]
    assert sorted(key_examples()["errors"]) == sorted(members)


def test_the_read_example_is_valid() -> None:
    [block] = section_blocks(DOCS / "x-ingest.md")["`x-ingest-read`: read operations"]
    [operation] = yaml.safe_load(block.text)["paths"]["/events/{id}"].values()
    jsonschema.Draft202012Validator(bundled_schema("x-ingest-read")).validate(operation["x-ingest-read"])


def test_the_configuration_examples_are_valid_configurations() -> None:
    schema = bundled_schema("config")
    found = [block for block in blocks(DOCS / "configuration.md") if block.lang == "yaml"]
    assert found
    for block in found:
        jsonschema.Draft202012Validator(schema).validate(yaml.safe_load(block.text))


def ci_commands() -> list[str]:
    """Every `ingestspec ...` line of the CI recipes (GitHub Actions `run:`, GitLab `script:`)."""
    lines = []
    for block in blocks(DOCS / "contract.md"):
        if block.lang == "yaml":
            recipe = yaml.safe_load(block.text)
            steps = [s.get("run", "") for job in recipe.get("jobs", {}).values() for s in job["steps"]]
            jobs = [job for job in recipe.values() if isinstance(job, dict)]
            steps += [line for job in jobs for line in job.get("script", [])]
            lines += [step for step in steps if step.startswith("ingestspec ")]
    return lines


def test_the_ci_recipes_call_the_suite_with_options_it_has() -> None:
    found = ci_commands()
    assert len(found) == 2  # GitHub Actions and GitLab
    for line in found:
        args = shlex.split(line.replace('"$BASE_URL"', "https://staging.example.com"))
        assert args[:2] == ["ingestspec", "contract"]
        with contract.make_context("contract", args[2:]) as context:  # an unknown option raises
            assert context.params["junit_xml"] == "contract.xml"


def test_every_shell_block_is_run_by_a_test() -> None:
    """A block is run here (no marker), by the test its marker names, or is on the NOT_RUN list."""
    for block in shell_blocks():
        if block.marker is None:
            continue
        kind, what = block.marker
        if kind == "not run":
            assert all(line.startswith(NOT_RUN) for line in block.text.splitlines()), block.where
            continue
        for named in what.split(", "):
            path, _, name = named.partition("::")
            tree = ast.parse((REPO / path).read_text())
            defined = {node.name for node in ast.walk(tree) if isinstance(node, ast.FunctionDef)}
            assert name in defined, f"{block.where}: {named} is not a test"


def readme_links() -> list[str]:
    return re.findall(r"\]\(((?:docs/)[^)]+)\)", README.read_text())


def test_the_readme_links_to_pages_and_headings_that_exist() -> None:
    assert len(readme_links()) >= 10
    for link in readme_links():
        path, _, anchor = link.partition("#")
        assert (REPO / path).is_file(), link
        anchors = {slugify(title, "-") for _, title in headings(REPO / path)}
        assert not anchor or anchor in anchors, link


def runnable() -> dict[str, list[str]]:
    """Page -> its unmarked shell blocks, each run once (a block repeated on a later page is not)."""
    seen: set[str] = set()
    pages: dict[str, list[str]] = {}
    for block in shell_blocks():
        if block.marker is None and block.text not in seen:
            seen.add(block.text)
            pages.setdefault(block.page, []).append(block.text)
    return pages


def page_param(page: str) -> Any:
    installs = any("pip install" in text for text in runnable()[page])
    return pytest.param(page, marks=[pytest.mark.install] if installs else [], id=page)


@pytest.mark.parametrize("page", [page_param(page) for page in runnable()])
def test_the_commands_of_each_page_run_outside_the_checkout(page: str, tmp_path: Path) -> None:
    with run_commands(runnable()[page], tmp_path):
        pass


def test_every_page_is_in_the_sites_navigation() -> None:
    nav = (REPO / "mkdocs.yml").read_text()
    assert all(page.name in nav for page in PAGES if page.parent == DOCS)


@pytest.mark.parametrize("page", PAGES, ids=lambda page: page.name)
def test_no_wrapped_line_turns_into_a_heading(page: Path) -> None:
    """A line starting with `#` outside code is a heading to Python-Markdown, space or not."""
    lines = text_of(page).splitlines()
    accidental = [line for number, _ in headings(page) if not re.match(r"#+ ", line := lines[number - 1])]
    assert not accidental

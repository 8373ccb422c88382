# ingestspec: every target makes its own virtual environment first, so a fresh clone needs nothing else.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
SPECS := openapi/arsel.yaml openapi/sendrealm.yaml
PG_URL = $$(bash scripts/postgres.sh | tail -n 1)

.PHONY: install demo serve lint typecheck check-generated generate test test-deep bench soak clean site

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

## The main job on the embedded default (SQLite): see docs/development.md.
demo: $(STAMP)
	$(BIN)/python scripts/demo.py

serve: $(STAMP)
	$(BIN)/ingestspec serve arsel

PY_SOURCES := generator contract_tests templates tests scripts generated_server bench

lint: $(STAMP)
	$(BIN)/ingestspec lint $(SPECS)
	$(BIN)/ruff check $(PY_SOURCES)
	$(BIN)/ruff format --check $(PY_SOURCES)
	$(MAKE) --no-print-directory typecheck

## mypy sees the installed names (ingestspec.generator, ...) through a tree of links to the folders:
## it cannot follow the editable install's import hook.
TYPECHECK_TREE := build/typecheck
typecheck: $(STAMP)
	@mkdir -p $(TYPECHECK_TREE)/ingestspec
	@for d in generator contract_tests; do ln -sfn ../../../$$d $(TYPECHECK_TREE)/ingestspec/$$d; done
	MYPYPATH=$(TYPECHECK_TREE):. $(BIN)/mypy --explicit-package-bases \
		$(TYPECHECK_TREE)/ingestspec/generator $(TYPECHECK_TREE)/ingestspec/contract_tests generated_server bench
	MYPYPATH=. $(BIN)/mypy --explicit-package-bases templates/*.py
	MYPYPATH=$(TYPECHECK_TREE):. $(BIN)/mypy --explicit-package-bases tests scripts

generate: $(STAMP)
	$(BIN)/ingestspec generate openapi/arsel.yaml --out generated_server/arsel
	$(BIN)/ingestspec generate openapi/sendrealm.yaml --out generated_server/sendrealm

check-generated: $(STAMP)
	$(BIN)/ingestspec generate openapi/arsel.yaml --out generated_server/arsel --check
	$(BIN)/ingestspec generate openapi/sendrealm.yaml --out generated_server/sendrealm --check

## The documentation site (docs/, mkdocs.yml): --strict fails on a broken link or anchor.
site: $(STAMP)
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict --quiet --site-dir build/site

## The tests: lint, stale-output check, the documentation site, then pytest with a real PostgreSQL server.
## Three workers on two CPUs: a third of the tests wait (on timeouts, retries, servers starting).
## Bytecode is cached even where the environment says not to (PYTHONDONTWRITEBYTECODE): each
## Python process the tests start (servers, CLI runs, contract runs) would compile our modules again.
PYTEST := PYTHONDONTWRITEBYTECODE= $(BIN)/pytest -q -n 3 --dist loadgroup
test: $(STAMP) lint check-generated site
	INGESTSPEC_TEST_PG=$(PG_URL) $(PYTEST) --timeout 600 -m 'not deep'

test-deep: $(STAMP)
	INGESTSPEC_TEST_PG=$(PG_URL) INGESTSPEC_FUZZ_EXAMPLES=500 $(PYTEST) --timeout 3600

## Throughput against the bare-Starlette ceiling (wrk, pinned CPUs); e.g. BENCH_ARGS="--duration 30".
bench: $(STAMP)
	INGESTSPEC_TEST_PG=$(PG_URL) $(BIN)/python bench/run.py $(BENCH_ARGS)

## Mixed valid, invalid and replayed traffic while the worker processes, then every acknowledged event
## stored once, the backlog drained, memory and open files flat (docs/reliability.md). Not in `make test`.
SOAK_SECONDS ?= 600
SOAK_RATE ?= 200
soak: $(STAMP)
	$(BIN)/python scripts/soak.py --seconds $(SOAK_SECONDS) --rate $(SOAK_RATE)

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache var

## The designer's loop (docs/designing.md): what changed in each spec since the last release tag. A clone
## without tags (CI clones may have none) says so and compares nothing, rather than HEAD with HEAD.
RELEASE_REF ?= $$(git describe --tags --abbrev=0 2>/dev/null)
DIFF_FAIL_ON ?= breaking

.PHONY: diff-release docs reference

diff-release: $(STAMP)
	@ref=$(RELEASE_REF); if [ -z "$$ref" ]; then \
		echo "diff-release: no release tag in this clone (git fetch --tags, or RELEASE_REF=REV); nothing compared"; \
		exit 0; \
	fi; status=0; for spec in $(SPECS); do \
		if git cat-file -e "$$ref:$$spec" 2>/dev/null; then \
			$(BIN)/ingestspec diff "$$ref:$$spec" "$$spec" --fail-on $(DIFF_FAIL_ON) || status=1; \
		else \
			echo "$$spec: not in $$ref, nothing to compare"; \
		fi; \
	done; exit $$status

## The documentation site, served with live reload on http://127.0.0.1:8001.
docs: $(STAMP)
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs serve --dev-addr 127.0.0.1:8001

## Offline reference pages (Swagger UI from PyPI, every error body) in var/docs/<api>/index.html.
reference: $(STAMP)
	$(BIN)/ingestspec docs openapi/arsel.yaml --out var/docs/arsel
	$(BIN)/ingestspec docs openapi/sendrealm.yaml --out var/docs/sendrealm

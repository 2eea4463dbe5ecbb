# Two commands from a fresh clone: `make demo` and `make test`. Both build .venv themselves
# (python3 -m venv + uv), so nothing needs installing by hand first.

VENV ?= .venv

# Bytecode is cached even where the environment says not to: the suites start hundreds of
# Python processes (ticks, demos, Prefect servers, CLI runs), each of which would otherwise
# compile Prefect, SQLAlchemy and duban from source again (the tick's imports: 4.7 s of CPU
# uncached, 2.1 s cached), and pytest would rewrite every test module's asserts in every
# worker of every run (docs/benchmarks.md "CI time").
unexport PYTHONDONTWRITEBYTECODE
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-$(shell cksum pyproject.toml | cut -d' ' -f1)

# Test processes (pytest-xdist): every test is safe in parallel (each worker is its own session
# with its own databases, Prefect home and data directory). TEST_WORKERS=0 runs in one process.
TEST_WORKERS ?= 2
XDIST := $(if $(filter 0,$(TEST_WORKERS)),,-n $(TEST_WORKERS) --dist worksteal)

.PHONY: fonts demo test test-slow test-all lint bench bench-quick serve clean

$(STAMP): pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check uv
	# The platform trust store: offices behind a TLS-inspecting proxy add its CA there.
	UV_SYSTEM_CERTS=1 $(VENV)/bin/uv pip install --quiet --compile-bytecode --python $(PY) \
	  -e '.[dev]'
	rm -f $(VENV)/.installed-*
	touch $@

venv: $(STAMP)

## The CJK serif for documents (Noto Serif SC from npm) into fonts/.
fonts:
	bash scripts/fonts.sh

## Run duban's main job on the embedded default (SQLite in ./data, output in ./out).
# The fonts are best effort here: without npm the documents fall back to the machine's fonts.
demo: $(STAMP)
	bash scripts/fonts.sh || echo "fonts: skipped; documents use this machine's CJK fonts" >&2
	$(VENV)/bin/duban demo

## The test suite (SQLite and PostgreSQL), ruff, mypy and the import-direction contract.
test: $(STAMP)
	bash scripts/fonts.sh || echo "fonts: skipped; the shipped-font tests say why" >&2
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy duban models tasks flows deploy bench
	$(VENV)/bin/lint-imports
	$(PY) -m pytest -m "not slow" $(XDIST) $(PYTEST_ARGS)

## The slow tests (county size, scaled mode); CI runs them after `make test`.
test-slow: $(STAMP)
	$(PY) -m pytest -m slow $(XDIST) $(PYTEST_ARGS)

test-all: test test-slow

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy duban models tasks flows deploy bench
	$(VENV)/bin/lint-imports

bench: $(STAMP)
	$(PY) -m bench

bench-quick: $(STAMP)
	$(PY) -m bench --quick

serve: $(STAMP)
	$(VENV)/bin/duban serve

clean:
	rm -rf $(VENV) data out .pytest_cache .mypy_cache .ruff_cache

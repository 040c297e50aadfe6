"""The spec language: synonyms normalised, defaults merged with origins, located type errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from hpo_cli.core.errors import InputError
from hpo_cli.spec.duration import parse_duration
from hpo_cli.spec.load import build_spec, data_path, load_spec
from hpo_cli.spec.loader import parse_text
from hpo_cli.spec.models import CategoricalParam, FloatParam, IntParam


def spec_of(text: str, file: str = "s.yaml", data: str | None = None):
    return build_spec(parse_text(text, file), Path(file).stem, data)


def errors_of(text: str, file: str = "s.yaml") -> list[str]:
    with pytest.raises(InputError) as info:
        spec_of(text, file)
    return [str(p) for p in info.value.problems]


MERGE = """
data: {source: sklearn:iris}
defaults:
  metric: f1_macro
  cv: {kind: stratified, folds: 3, shuffle: true}
  budget: {trials: 20, timeout: 20m}
  seed: 7
models:
  - name: a
    class: SVC
    space: {C: [1, 2]}
  - name: b
    class: SVC
    metric: accuracy
    cv: {folds: 10}
    budget: {trials: 5}
    space: {C: [1, 2]}
"""


def test_defaults_merge_model_wins_and_cv_budget_merge_key_by_key():
    spec = spec_of(MERGE)
    a, b = spec.models
    assert (a.metric, a.cv.folds, a.cv.kind, a.budget.trials, a.budget.timeout, a.seed) == \
        ("f1_macro", 3, "stratified", 20, 1200.0, 7)
    assert (b.metric, b.cv.folds, b.cv.kind, b.cv.shuffle, b.budget.trials, b.budget.timeout, b.seed) == \
        ("accuracy", 10, "stratified", True, 5, 1200.0, 7)


def test_merged_values_are_located_where_they_were_written():
    spec = spec_of(MERGE)
    assert str(spec.problem(("models", 0, "metric"), "x")) == "s.yaml:4:11: defaults.metric: x"
    assert str(spec.problem(("models", 1, "metric"), "x")) == "s.yaml:14:13: models[1].metric: x"
    assert str(spec.problem(("models", 1, "cv", "kind"), "x")).startswith("s.yaml:5:14: defaults.cv.kind")
    warning = spec.problem(("models", 0, "seed"), "y", severity="warning")
    assert warning.severity == "warning" and str(warning).startswith("s.yaml:7:9: defaults.seed")


def test_synonyms_and_shorthands():
    spec = spec_of("""
data: {source: sklearn:iris}
tracking: {mlflow: false}
models:
  - name: a
    class: SVC
    cv: 4
    budget: {timeout: 1h30m}
    param_grid:
      C: {min: 1e-3, max: 10, log: true}
      degree: {low: 2, high: 5}
      gamma: {type: categorical, choices: [scale, auto]}
      kernel: [rbf, poly]
      tol: [1e-5, 1.0e-4]
""")
    model = spec.models[0]
    assert model.cv.folds == 4 and model.budget.timeout == 5400.0
    assert spec.tracking.mlflow.enabled is False
    c, degree = model.space["C"], model.space["degree"]
    assert isinstance(c, FloatParam) and (c.low, c.high, c.log) == (1e-3, 10.0, True)
    assert isinstance(degree, IntParam) and (degree.low, degree.high) == (2, 5)
    assert isinstance(model.space["gamma"], CategoricalParam) and model.space["gamma"].values == ["scale", "auto"]
    assert model.space["tol"].values == [1e-5, 1e-4] and all(isinstance(v, float) for v in model.space["tol"].values)


def test_messages_keep_the_synonym_the_user_wrote():
    problems = errors_of("""
data: {source: sklearn:iris}
models:
  - name: a
    class: SVC
    param_grid:
      C: {min: 10, max: 1}
""")
    assert problems == ["s.yaml:7:10: models[0].param_grid.C: low (10) must be below high (1)"]


def test_hyperparameters_typed_entries():
    spec = spec_of("""
data: {source: sklearn:iris}
models:
  - name: a
    class: RandomForestClassifier
    init_params: {n_jobs: 1}
    hyperparameters:
      n_estimators: {tune: false, type: int, default: 100}
      max_depth: {tune: true, type: int, low: 2, high: 12, step: null, log: false}
      bootstrap: {tune: true, type: bool}
      max_features: {type: categorical, values: [sqrt, log2]}
""")
    model = spec.models[0]
    assert model.init_params == {"n_jobs": 1, "n_estimators": 100}
    assert set(model.space) == {"max_depth", "bootstrap", "max_features"}
    assert model.space["bootstrap"].values == [True, False] and model.space["max_depth"].step is None
    assert str(spec.problem(("models", 0, "init_params", "n_estimators"), "x", key=True)).startswith(
        "s.yaml:8:7: models[0].hyperparameters.n_estimators")


@pytest.mark.parametrize(("text", "expected"), [
    ("90", 90.0), ("90s", 90.0), ("20m", 1200.0), ("2h", 7200.0), ("1h30m", 5400.0), (45, 45.0), (None, None)])
def test_durations(text, expected):
    assert parse_duration(text) == expected


@pytest.mark.parametrize("text", ["soon", "20 minutes", "-5m", True])
def test_bad_durations(text):
    with pytest.raises(ValueError, match="duration"):
        parse_duration(text)


def test_type_errors_are_all_reported_in_file_order_with_did_you_mean():
    problems = errors_of("""
data: {source: sklearn:iris, tets_size: 0.2}
models:
  - name: a
    clas: SVC
    space: {C: {type: float, low: 1, high: 2, lgo: true}}
""")
    assert problems[0] == "s.yaml:2:30: data.tets_size: unknown key 'tets_size'; did you mean 'test_size'?"
    assert any(p.startswith("s.yaml:5:5: models[0].clas: unknown key 'clas'; did you mean 'class'?") for p in problems)
    assert any("models[0].space.C.lgo" in p and "did you mean 'log'" in p for p in problems)


def test_json_spec_positions(tmp_path):
    problems = errors_of('{\n  "data": {"source": "sklearn:iris"},\n  "models": [\n    {"name": "a", "class": "SVC",'
                         ' "seed": "x", "space": {"C": [1]}}\n  ]\n}\n', "s.json")
    assert problems[0].startswith("s.json:4:43: models[0].seed: ")


def test_name_defaults_to_the_file_stem_and_data_paths_are_relative_to_the_spec(tmp_path):
    folder = tmp_path / "conf"
    folder.mkdir()
    path = folder / "my spec.yaml"
    path.write_text("data: {source: data/x.csv, target: y}\nmodels:\n  - {name: a, class: SVC, space: {C: [1]}}\n")
    spec = load_spec(path)
    assert spec.name == "my-spec"
    assert data_path(spec) == folder / "data" / "x.csv"
    assert len(spec.sha256) == 64


def test_data_override_and_models_only_layout(tmp_path):
    text = "models:\n  - {name: a, class: SVC, init_params: {C: 1.0}, param_grid: {kernel: [rbf]}}\n"
    problems = errors_of(text)
    assert problems == ["s.yaml:1:1: data: no data: add a `data:` section (source, target) or pass --data PATH"]
    spec = spec_of(text, data="sklearn:iris")
    assert spec.data.source == "sklearn:iris" and spec.data_from_cli
    assert str(spec.problem(("data", "source"), "gone")) == "--data: gone"


def test_json_may_point_at_the_schema():
    spec = spec_of('{"$schema": "../specs/schema.json", "data": {"source": "sklearn:iris"},'
                   ' "models": [{"name": "a", "class": "SVC", "space": {"C": [1]}}]}', "s.json")
    assert spec.models[0].name == "a"


def test_param_grid_without_method_is_a_grid(tmp_path):
    """The multi-model files users bring say param_grid and no method: that is GridSearchCV's grid."""
    from hpo_cli.spec.load import load_spec

    path = tmp_path / "m.yaml"
    path.write_text("defaults: {cv: 3}\nmodels:\n"
                    "  - {name: a, class: SVC, param_grid: {C: [1, 2]}}\n"
                    "  - {name: b, class: SVC, method: random, param_grid: {C: [1, 2]}}\n"
                    "  - {name: c, class: SVC, space: {C: [1, 2]}}\n")
    spec = load_spec(path, data_override="sklearn:iris")
    assert [m.method for m in spec.models] == ["grid", "random", "tpe"]
    path.write_text("defaults: {method: random}\nmodels:\n  - {name: a, class: SVC, param_grid: {C: [1, 2]}}\n")
    assert load_spec(path, data_override="sklearn:iris").models[0].method == "random"  # defaults still win


def test_a_misspelled_required_key_is_reported_once_as_the_typo(tmp_path):
    from hpo_cli.core.errors import InputError
    from hpo_cli.spec.load import load_spec

    path = tmp_path / "t.yaml"
    path.write_text("data:\n  sorce: sklearn:iris\nmodels:\n  - {name: a, clas: SVC, space: {C: [1, 2]}}\n")
    with pytest.raises(InputError) as info:
        load_spec(path)
    messages = [p.message for p in info.value.problems]
    assert messages == ["unknown key 'sorce'; did you mean 'source'?", "unknown key 'clas'; did you mean 'class'?"]

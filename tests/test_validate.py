"""`hpo validate` through the real CLI: the malformed corpus, warnings, --strict, and the layouts users bring.

Every file under tests/malformed/ must exit 2 with ``FILE:LINE:COL: field.path: message``: the file
name and line of the offending node, the field path as the user wrote it, and no traceback.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
from hostile_cli import run  # the one in-process runner: (exit code, stdout, stderr) of hpo ARGS
from typer.testing import CliRunner

from hpo_cli.checks.validate import check_spec, validate_spec
from hpo_cli.cli.app import app
from hpo_cli.core.errors import InputError

MALFORMED = Path(__file__).parent / "malformed"
SPECS = Path(__file__).parent.parent / "specs"

# file -> (line, field path ("" when the file has none), fragment of the message)
CORPUS: dict[str, tuple[int, str, str]] = {
    "bad_duration.yaml": (5, "models[0].budget.timeout", "expected a duration such as 90s, 20m or 2h"),
    "bad_model_name.yaml": (3, "models[0].name", "may only hold letters, digits"),
    "binary_scorer_on_multiclass.yaml": (5, "models[0].metric", "use roc_auc_ovr"),
    "budget_timeout_negative.yaml": (5, "models[0].budget.timeout", "must be greater than 0"),
    "budget_trials_zero.yaml": (3, "defaults.budget.trials", "must be greater than 0, got 0"),
    "cmaes_with_categorical.yaml": (5, "models[0].method", "cmaes samples numeric ranges only"),
    "data_task_mismatch.yaml": (4, "models[0].class", "but data.task is regression"),
    "defaults_unknown_scorer.yaml": (3, "defaults.metric", "did you mean 'balanced_accuracy'"),
    "duplicate_key.yaml": (6, "models[0].class", "duplicate key 'class'"),
    "duplicate_model_names.yaml": (4, "models[1].name", "duplicate model name 'm'"),
    "empty_file.yaml": (1, "", "the spec file is empty"),
    "empty_space.yaml": (3, "models[0].name", "has nothing to search"),
    "estimator_os_system.yaml": (4, "models[0].class", "'os.system' is refused"),
    "estimator_subprocess_popen.yaml": (4, "models[0].class", "'subprocess.Popen' is refused"),
    "folds_one.yaml": (5, "models[0].cv.folds", "must be at least 2, got 1"),
    "grid_float_without_step.yaml": (7, "models[0].space.C", "method grid needs a finite set of values"),
    "group_cv_without_groups.yaml": (3, "defaults.cv.kind", "needs data.groups"),
    "groups_column_missing.yaml": (4, "data.groups", "did you mean 'patient'"),
    "hyperparameters_all_fixed.yaml": (3, "models[0].name", "has nothing to search"),
    "hyperparameters_misspelled_key.yaml": (6, "models[0].hyperparameters.max_depth", "'high'"),
    "init_param_unknown.yaml": (5, "models[0].init_params.max_iters", "did you mean 'max_iter'"),
    "log_and_step.yaml": (6, "models[0].space.n_estimators", "log and step cannot be combined"),
    "log_with_zero_low.yaml": (6, "models[0].space.C", "a log range needs low > 0"),
    "low_not_below_high.yaml": (6, "models[0].space.C", "low (10.0) must be below high (0.1)"),
    "missing_class.yaml": (3, "models[0].class", "missing required key 'class'"),
    "missing_data_file.yaml": (2, "data.source", "data file not found: "),
    "missing_target_column.yaml": (3, "data.target", "did you mean 'label'"),
    "more_folds_than_groups.yaml": (10, "models[0].cv.folds", "20 groups in 'patient' are fewer than the 25 folds"),
    "models_not_a_list.yaml": (3, "models", "valid list"),
    "module_not_allowed.yaml": (4, "models[0].class", "under allow_modules"),
    "preprocess_param_unknown.yaml": (6, "models[0].preprocess[0]", "did you mean 'with_mean'"),
    "repeats_with_group_cv.yaml": (10, "models[0].cv", "repeats > 1"),
    "scorer_for_classifier_on_regressor.yaml": (5, "models[0].metric", "Ridge is a regressor"),
    "space_and_param_grid.yaml": (5, "models[0].space", "give the search space once"),
    "space_param_unknown.yaml": (7, "models[0].param_grid.n_estimator", "did you mean 'n_estimators'"),
    "space_scalar_value.yaml": (6, "models[0].space.C", "fixed values belong in init_params"),
    "stratified_cv_with_regressor.yaml": (5, "models[0].cv.kind", "use kfold"),
    "unknown_estimator.yaml": (4, "models[0].class", "did you mean 'RandomForestClassifier'"),
    "unknown_method.yaml": (3, "defaults.method", "unknown value 'bayes'"),
    "unknown_model_key.yaml": (5, "models[0].methd", "did you mean 'method'"),
    "unknown_param_type.yaml": (6, "models[0].space.C", "unknown type 'flaot'"),
    "unknown_preprocess_step.yaml": (5, "models[0].preprocess[0]", "did you mean 'standard_scaler'"),
    "unknown_scorer.yaml": (5, "models[0].metric", "did you mean 'roc_auc'"),
    "unknown_sklearn_dataset.yaml": (2, "data.source", "did you mean 'iris'"),
    "unknown_top_key.yaml": (2, "tracking_uri", "did you mean 'tracking'"),
    "unsupervised_estimator.yaml": (4, "models[0].class", "neither a classifier nor a regressor"),
    "when_cycle.yaml": (6, "models[0].space", "depend on each other through `when:`"),
    "when_unknown_param.yaml": (7, "models[0].space.l1_ratio.when.solvr", "did you mean 'solver'"),
    "when_value_not_a_choice.yaml": (7, "models[0].space.l1_ratio.when.solver", "never takes the value 'sag'"),
    "wrong_type_folds.yaml": (3, "defaults.cv.folds", "valid integer"),
    "wrong_type_trials.yaml": (5, "models[0].budget.trials", "valid integer"),
    "yaml_syntax_error.yaml": (5, "", "invalid YAML"),
    "yaml_python_tag.yaml": (5, "models[0].init_params", "is not allowed"),
    "budget_max_failed_zero.json": (12, "models[0].budget.max_failed", "must be greater than 0, got 0"),
    "duplicate_model_names.json": (18, "models[1].name", "duplicate model name 'svc'"),
    "estimator_os_system.json": (9, "models[0].class", "'os.system' is refused"),
    "grid_float_without_step.json": (12, "models[0].param_grid.C", "give 'C' a `step`"),
    "init_param_unknown.json": (11, "models[0].init_params.kernal", "did you mean 'kernel'"),
    "json_syntax_error.json": (4, "", "invalid JSON"),
    "low_not_below_high_minmax.json": (11, "models[0].space.max_depth", "low (8) must be below high (2)"),
    "missing_data_file.json": (3, "data.source", "data file not found: "),
    "scorer_for_regressor_on_classifier.json": (7, "defaults.metric", "LogisticRegression is a classifier"),
    "spec_is_a_list.json": (1, "", "a spec is a mapping"),
    "stratified_group_without_groups.json": (11, "models[0].cv.kind", "needs data.groups"),
    "test_size_out_of_range.json": (4, "data.test_size", "must be below 1"),
    "unknown_cv_kind.json": (11, "models[0].cv.kind", "did you mean 'timeseries'"),
    "unknown_estimator.json": (9, "models[0].class", "did you mean 'SVC'"),
    "unknown_pruner.json": (7, "defaults.pruner", "did you mean 'median'"),
    "unknown_scorer_in_metrics.json": (12, "models[0].metrics[1]", "unknown scorer 'f1_scor'"),
    "when_unknown_param.json": (20, "models[0].space.degree.when.kernal", "did you mean 'kernel'"),
    "wrong_type_seed.json": (10, "models[0].seed", "valid integer"),
}

runner = CliRunner()


def test_the_corpus_is_large_and_mixed():
    files = sorted(p.name for p in MALFORMED.iterdir() if p.is_file())
    assert sorted(CORPUS) == files
    assert len(CORPUS) >= 40
    assert sum(f.endswith(".json") for f in CORPUS) >= 10


@pytest.mark.parametrize("name", sorted(CORPUS))
def test_malformed_spec_exits_2_with_a_located_message(name):
    line, path, fragment = CORPUS[name]
    code, out, err = run("validate", name, cwd=MALFORMED)
    text = out + err
    assert code == 2, text
    assert "Traceback" not in text
    first = next(ln for ln in err.splitlines() if ln.startswith(name))
    assert re.match(rf"{re.escape(name)}:{line}:\d+: ", first), first
    if path:
        assert f": {path}" in first, first
    assert fragment in text, text


@pytest.mark.parametrize("name", ["estimator_os_system.yaml", "estimator_subprocess_popen.yaml",
                                  "missing_data_file.json", "unknown_model_key.yaml", "json_syntax_error.json"])
def test_malformed_spec_through_a_real_process(name):
    line, path, fragment = CORPUS[name]
    proc = subprocess.run([sys.executable, "-m", "hpo_cli", "validate", name], cwd=MALFORMED,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr + proc.stdout
    assert proc.stderr.startswith(f"{name}:{line}:")
    assert fragment in proc.stderr


def test_console_script_refuses_os_system():
    hpo = Path(sys.executable).parent / "hpo"
    if not hpo.exists():
        pytest.skip("console script not installed next to this interpreter")
    proc = subprocess.run([str(hpo), "validate", str(MALFORMED / "estimator_os_system.yaml")],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2 and "refused" in proc.stderr and "Traceback" not in proc.stderr


def test_missing_data_file_shows_the_resolved_path():
    _, _, err = run("validate", str(MALFORMED / "missing_data_file.yaml"))
    assert str((MALFORMED / "data" / "no_such_file.csv").resolve()) in err


# --- warnings and --strict -----------------------------------------------------------------------------

def write(tmp_path: Path, text: str, name: str = "spec.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


BASE = "data: {source: sklearn:breast_cancer, test_size: 0.2}\ndefaults: {metric: roc_auc}\n"

WARNINGS = {
    "grid_larger_than_budget": (BASE + """models:
  - name: m
    class: LogisticRegression
    method: grid
    budget: {trials: 4}
    space: {C: [0.01, 0.1, 1.0, 10.0, 100.0]}
""", 7, "models[0].budget.trials", "the grid has 5 points but the budget is 4 trials"),
    "grid_linear_over_decades": (BASE + """models:
  - name: m
    class: LogisticRegression
    method: grid
    space: {C: [1, 25, 50, 75, 100]}
""", 7, "models[0].space.C", "space them logarithmically"),
    "categorical_over_decades": (BASE + """models:
  - name: m
    class: LogisticRegression
    method: random
    space:
      C: [0.001, 0.1, 10, 1000]
""", 8, "models[0].space.C", "{type: float, low: 0.001, high: 1000, log: true}"),
    "linear_range_over_decades": (BASE + """models:
  - name: m
    class: LogisticRegression
    method: random
    space:
      C: {type: float, low: 0.001, high: 100}
""", 8, "models[0].space.C", "add `log: true`"),
    "tpe_budget_below_10x_dims": (BASE + """models:
  - name: m
    class: SVC
    budget: {trials: 15}
    space:
      C: {type: float, low: 0.01, high: 100, log: true}
      gamma: {type: float, low: 0.0001, high: 1, log: true}
""", 6, "models[0].budget.trials", "TPE with 2 dimensions needs about 20 trials"),
    "tpe_startup_not_below_budget": (BASE + """models:
  - name: m
    class: SVC
    startup_trials: 30
    budget: {trials: 30}
    space:
      C: {type: float, low: 0.01, high: 100, log: true}
""", 6, "models[0].startup_trials", "never leave its random startup"),
    "no_test_size": ("""data: {source: sklearn:breast_cancer}
models:
  - {name: m, class: LogisticRegression, metric: roc_auc, method: random, space: {C: [0.1, 1.0]}}
""", 1, "data", "no test_size"),
    "shuffle_with_timeseries": ("""data: {source: sklearn:diabetes, test_size: 0.2}
models:
  - name: m
    class: Ridge
    method: random
    cv: {kind: timeseries, shuffle: true}
    space: {alpha: [0.1, 1.0]}
""", 6, "models[0].cv.shuffle", "is ignored with time-series"),
    "xgboost_kwargs_param": (BASE + """models:
  - name: m
    class: XGBClassifier
    method: random
    init_params: {eta: 0.1}
    space: {max_depth: [2, 3]}
""", 7, "models[0].init_params.eta", "not an explicit parameter of XGBClassifier"),
}


@pytest.mark.parametrize("case", sorted(WARNINGS))
def test_warnings_print_located_and_exit_0_unless_strict(tmp_path, case):
    text, line, path, fragment = WARNINGS[case]
    spec = write(tmp_path, text)
    code, out, err = run("validate", str(spec))
    assert code == 0, err
    warning = next(ln for ln in err.splitlines() if ": warning: " in ln and fragment in ln)
    assert warning.startswith(f"{spec}:{line}:") and f": {path}: warning: " in warning, warning
    assert "warning(s)" in out
    code, _, err = run("validate", str(spec), "--strict")
    assert code == 2 and "--strict" in err and "Traceback" not in err


def test_time_column_with_shuffled_cv_and_accuracy_on_imbalanced_target(tmp_path):
    (tmp_path / "data.csv").write_text((MALFORMED / "data" / "small.csv").read_text())
    spec = write(tmp_path, """data:
  source: data.csv
  target: label
  time: date
  test_size: 0.2
models:
  - name: m
    class: LogisticRegression
    metric: accuracy
    method: random
    space: {C: [0.1, 1.0]}
""")
    code, _, err = run("validate", str(spec))
    assert code == 0
    assert f"{spec}:4:9: data.time: warning: data.time is set but m use(s) non-time-series CV" in err
    assert f"{spec}:9:13: models[0].metric: warning: accuracy on an imbalanced target: predicting always 0 " \
           f"scores 0.90" in err


def test_clean_spec_prints_the_table_with_sizes_and_fits(tmp_path):
    spec = write(tmp_path, BASE + """models:
  - name: forest
    class: RandomForestClassifier
    method: grid
    cv: {folds: 3, repeats: 2}
    param_grid: {n_estimators: [50, 100], max_depth: [4, 8, null]}
  - name: svc
    class: sklearn.svm.SVC
    budget: {trials: 40}
    space:
      C: {type: float, low: 0.01, high: 100, log: true}
      kernel: [rbf, linear]
""")
    result = runner.invoke(app, ["validate", str(spec)])
    assert result.exit_code == 0, result.output
    rows = {ln.split()[0]: ln.split() for ln in result.stdout.splitlines() if ln.startswith(("forest", "svc"))}
    assert rows["forest"] == ["forest", "RandomForestClassifier", "grid", "2", "6", "6", "6", "36"]
    assert rows["svc"] == ["svc", "SVC", "tpe", "2", "continuous", "40", "5", "200"]
    assert "0 warning(s)" in result.stdout
    summary = validate_spec(spec)
    assert [m.estimator for m in summary.models] == ["sklearn.ensemble.RandomForestClassifier", "sklearn.svm.SVC"]
    assert summary.models[0].grid_size == 6 and summary.models[1].grid_size is None
    assert "objective: roc_auc)" in result.stdout  # BASE sets the metric


def test_table_says_what_is_optimised_metric_or_two_objectives():
    root = Path(__file__).parent.parent
    result = runner.invoke(app, ["validate", str(root / "specs" / "two_objectives.yaml")])
    assert result.exit_code == 0, result.output
    assert "objective: roc_auc max, fit_time min (knee)" in " ".join(result.stdout.split())
    assert {m.objective for m in validate_spec(root / "specs" / "breast_cancer.yaml").models} == {"roc_auc"}


# --- layouts users bring -------------------------------------------------------------------------------

MODELS_ONLY = """models:
  - name: logreg
    class: LogisticRegression
    init_params: {max_iter: 2000}
    param_grid:
      C: [0.01, 0.1, 1.0]
  - name: tree
    class: DecisionTreeClassifier
    init_params: {random_state: 0}
    param_grid:
      max_depth: [2, 3, null]
"""


def test_models_only_file_needs_data_and_validates_with_it(tmp_path):
    spec = write(tmp_path, MODELS_ONLY)
    code, _, err = run("validate", str(spec))
    assert code == 2 and "--data" in err and "Traceback" not in err
    code, out, err = run("validate", str(spec), "--data", "sklearn:iris")
    assert code == 0, err
    assert "logreg" in out and "tree" in out
    code, _, err = run("validate", str(spec), "--data", "nowhere.csv")
    assert code == 2 and err.startswith("--data: data file not found")


def test_hydra_typed_entries_fixed_ones_are_not_searched(tmp_path):
    spec = write(tmp_path, """data: {source: sklearn:wine, test_size: 0.2}
models:
  - name: forest
    class: RandomForestClassifier
    method: random
    metric: f1_macro
    hyperparameters:
      n_estimators: {tune: false, type: int, default: 100}
      max_depth: {tune: true, type: int, low: 2, high: 12, step: null, log: false}
      bootstrap: {tune: true, type: bool}
      criterion: {tune: true, type: categorical, values: [gini, entropy]}
""")
    result = validate_spec(spec)
    model = result.spec.models[0]
    assert set(model.space) == {"max_depth", "bootstrap", "criterion"}
    assert model.init_params == {"n_estimators": 100}
    assert result.models[0].dimensions == 3 and result.models[0].grid_size == 11 * 2 * 2


def test_categorical_choices_may_be_lists_mappings_and_null(tmp_path):
    spec = write(tmp_path, """data: {source: sklearn:breast_cancer, test_size: 0.2}
models:
  - name: mlp
    class: MLPClassifier
    method: grid
    metric: roc_auc
    space:
      hidden_layer_sizes: [[50], [100, 50]]
      alpha: [1e-5, 1e-4]
  - name: forest
    class: RandomForestClassifier
    method: grid
    metric: roc_auc
    space:
      max_depth: [4, null]
      class_weight: [null, balanced, {0: 1, 1: 3}]
""")
    code, _, err = run("validate", str(spec))
    assert code == 0, err
    result = validate_spec(spec)
    assert result.spec.models[0].space["alpha"].values == [1e-5, 1e-4]
    assert result.spec.models[1].space["class_weight"].values == [None, "balanced", {0: 1, 1: 3}]  # int keys kept
    assert [m.grid_size for m in result.models] == [4, 6]


def test_model_option_unknown_name_and_check_spec_api(tmp_path):
    spec = write(tmp_path, BASE + "models:\n  - {name: a, class: SVC, method: random, space: {C: [0.1, 1.0]}}\n")
    code, _, err = run("validate", str(spec), "--model", "b")
    assert code == 2 and err.startswith("--model: no model named 'b'")
    from hpo_cli.spec.load import load_spec

    problems = check_spec(load_spec(spec), only=["a"])
    assert all(p.severity == "warning" for p in problems)
    with pytest.raises(InputError):
        validate_spec(MALFORMED / "unknown_scorer.yaml")


def test_empty_space_is_allowed_as_a_one_trial_baseline(tmp_path):
    spec = write(tmp_path, BASE + "models:\n  - {name: base, class: LogisticRegression, budget: {trials: 1}}\n")
    assert validate_spec(spec).models[0].fits == 5


@pytest.mark.parametrize("spec", sorted(p.name for p in SPECS.glob("*.y*ml")) + sorted(
    p.name for p in SPECS.glob("*.json") if p.name != "schema.json"))
def test_bundled_specs_validate_cleanly(spec):
    args = ["validate", str(SPECS / spec)]
    if "models_only" in spec:  # no data: section by design; no test_size then, hence no --strict
        code, _, err = run(*args, "--data", "sklearn:iris")
        assert code == 0, err
        return
    code, _, err = run(*args, "--strict")
    assert code == 0, err


def test_models_of_one_run_share_one_metric(tmp_path):
    """best_model compares scores across models: accuracy against roc_auc would pick a wrong winner."""
    spec = write(tmp_path, """data: {source: sklearn:breast_cancer, test_size: 0.2}
models:
  - {name: lr, class: LogisticRegression, metric: accuracy, space: {C: [0.1, 1.0]}, method: grid}
  - {name: tree, class: DecisionTreeClassifier, metric: roc_auc, space: {max_depth: [2, 3]}, method: grid}
""")
    code, out, err = run("validate", str(spec))
    assert code == 2 and "models[1].metric: 'roc_auc' differs from lr's 'accuracy'" in err and "Traceback" not in err


def test_repeated_preprocess_steps_are_named_as_the_run_names_them(tmp_path: Path):
    """A second ``standard_scaler`` is ``standard_scaler_2`` in the run's Pipeline: validate agrees."""
    spec = BASE + """models:
  - name: m
    class: LogisticRegression
    preprocess: [standard_scaler, standard_scaler]
    method: random
    budget: {trials: 2}
    space: {STEP__with_mean: [true, false]}
"""
    code, _, err = run("validate", str(write(tmp_path, spec.replace("STEP", "standard_scaler_2"))))
    assert code == 0, err
    code, _, err = run("validate", str(write(tmp_path, spec.replace("STEP", "standard_scaler_1"))))
    assert code == 2 and "models[0].space.standard_scaler_1__with_mean" in err

"""Hostile data at `hpo validate` and `hpo tune`: what every trial would fail on is refused before anything runs.

Each file under tests/malformed/data_hostile/ pairs a spec with the data it names; `hpo validate` must
exit 2 with ``FILE:LINE:COL: field.path: message`` and no traceback, and `hpo tune` must refuse the
same spec before it creates the run folder. Symlink loops and FIFOs are built in the test (git would
not keep them portable).
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
from hostile_cli import run

HOSTILE = Path(__file__).parent / "malformed" / "data_hostile"

# file -> (line, field path, fragment of the message)
CORPUS: dict[str, tuple[int, str, str]] = {
    "all_nan_feature.yaml": (4, "models[0].class", "'empty' are empty in every row, which LogisticRegression"),
    "average_precision_on_yes_no.yaml": (5, "models[0].metric", "labels are 'no', 'yes', not 0/1"),
    "binary_data_file.yaml": (1, "data.source", "binary content (NUL bytes), not a CSV text file"),
    "choice_refused_by_estimator.yaml": (7, "models[0].space.solver", "LogisticRegression refuses the value 'sgd'"),
    "class_left_out_of_training_fold.yaml": (5, "models[0].cv.folds", "holds no row of class 'c'"),
    "constant_target_regression.yaml": (3, "data.target", "is constant (7.5 in every row)"),
    "continuous_target_for_a_classifier.yaml": (1, "data.target", "holds continuous values (e.g. 0.104) but the "
                                                                  "models are classifiers"),
    "inf_in_regression_target.yaml": (1, "data.target", "holds infinite values (first at data row 5)"),
    "data_path_is_a_folder.yaml": (2, "data.source", "data path is a folder, not a file"),
    "f1_on_yes_no.yaml": (5, "models[0].metric", "use f1_macro, or encode the target as 0/1"),
    "float_range_for_int_param.json": (8, "models[0].space.n_estimators", "must be an int in the range [1, inf)"),
    "init_param_refused_by_estimator.yaml": (5, "models[0].init_params.max_depth", "Got -3 instead"),
    "nan_feature_scaler_only.yaml": (4, "models[0].class", "'some' have missing values, which SVC cannot fit; "
                                                           "add preprocess: [simple_imputer"),
    "not_a_csv_file.yaml": (1, "data.target", "does not read as comma-separated column names"),
    "poisson_deviance_on_negative_target.yaml": (5, "models[0].metric", "cannot score this target"),
    "precision_in_metrics_on_yes_no.json": (8, "models[0].metrics[1]", "use precision_macro"),
    "r2_on_test_folds_of_one_row.yaml": (5, "models[0].cv.folds", "r2 is undefined"),
    "range_end_refused_by_estimator.yaml": (7, "models[0].space.C", "refuses the value 0.0"),
    "recall_in_defaults_on_yes_no.yaml": (3, "defaults.metric", "use recall_macro"),
    "step_param_refused.yaml": (7, "models[0].space.pca__svd_solver", "PCA refuses the value 'fastest'"),
    "text_feature_forest.json": (6, "models[0].class", "HistGradientBoostingClassifier cannot fit; encode them "
                                                       "first with preprocess: [one_hot]"),
    "text_feature_no_encoder.yaml": (4, "models[0].class", "'city' hold text (e.g. 'paris')"),
    "text_feature_scaler_first.yaml": (5, "models[0].preprocess[0]", "StandardScaler cannot fit"),
    "training_fold_of_one_row.yaml": (5, "models[0].cv.folds", "a training fold holds 1 row(s)"),
}

def assert_located(code: int, out: str, err: str, name: str, line: int, path: str, fragment: str) -> None:
    assert code == 2, out + err
    assert "Traceback" not in out + err
    first = next(ln for ln in err.splitlines() if ln.startswith(name) and ": warning:" not in ln)
    assert re.match(rf"{re.escape(name)}:{line}:\d+: {re.escape(path)}: ", first), first
    assert fragment in first, first


def test_the_corpus_is_complete():
    specs = sorted(p.name for p in HOSTILE.iterdir() if p.suffix in (".yaml", ".json"))
    assert specs == sorted(CORPUS)


@pytest.mark.parametrize("name", sorted(CORPUS))
def test_validate_refuses_hostile_data_with_a_located_line(name):
    assert_located(*run("validate", name, cwd=HOSTILE), name, *CORPUS[name])


def test_a_non_csv_file_is_quoted_by_a_short_prefix_only():
    _, out, err = run("validate", "not_a_csv_file.yaml", cwd=HOSTILE)
    assert "apiVersion" in err
    assert "SECRET_TOKEN_abcdef" not in out + err and "kind: Config" not in out + err


@pytest.mark.parametrize("name", ["text_feature_no_encoder.yaml", "f1_on_yes_no.yaml", "all_nan_feature.yaml",
                                  "constant_target_regression.yaml", "choice_refused_by_estimator.yaml"])
def test_tune_refuses_the_same_before_writing_anything(name, tmp_path):
    out_dir = tmp_path / "run"
    code, out, err = run("tune", str(HOSTILE / name), "--output", str(out_dir), "--no-mlflow", "--trials", "2")
    assert_located(code, out, err, str(HOSTILE / name), *CORPUS[name])
    assert not out_dir.exists() and list(tmp_path.iterdir()) == []


def _spec(tmp_path: Path, source: str, extra: str = "") -> Path:
    spec = tmp_path / "spec.yaml"
    spec.write_text(f"data: {{source: {source}, target: label, test_size: 0.2}}\nmodels:\n"
                    f"  - {{name: m, class: LogisticRegression{extra}, space: {{C: [0.1, 1.0]}}}}\n")
    return spec


def test_a_data_path_in_a_symlink_loop_is_located(tmp_path):
    (tmp_path / "a.csv").symlink_to(tmp_path / "b.csv")
    (tmp_path / "b.csv").symlink_to(tmp_path / "a.csv")
    _spec(tmp_path, "a.csv")
    assert_located(*run("validate", "spec.yaml", cwd=tmp_path), "spec.yaml", 1, "data.source",
                   "data path is a loop of symbolic links")
    code, _, err = run("validate", "spec.yaml", "--data", "b.csv", cwd=tmp_path)
    assert code == 2 and err.startswith("--data: data path is a loop of symbolic links"), err


def test_a_fifo_as_data_is_refused_without_reading_it(tmp_path):
    os.mkfifo(tmp_path / "pipe.csv")  # reading it would block forever
    _spec(tmp_path, "pipe.csv")
    assert_located(*run("validate", "spec.yaml", cwd=tmp_path), "spec.yaml", 1, "data.source",
                   "not a regular file")


def test_fewer_members_of_a_class_than_folds_stays_a_warning(tmp_path):
    (tmp_path / "d.csv").write_bytes((HOSTILE / "few_of_a_class.csv").read_bytes())
    spec = tmp_path / "spec.yaml"
    spec.write_text("data: {source: d.csv, target: label}\nmodels:\n  - name: m\n    class: LogisticRegression\n"
                    "    cv: {kind: stratified, folds: 5}\n    space: {C: [0.1, 1.0]}\n")
    code, out, err = run("validate", "spec.yaml", cwd=tmp_path)
    assert code == 0, err
    line = next(ln for ln in err.splitlines() if "cv.folds" in ln)
    assert re.match(r"spec.yaml:5:\d+: models\[0\].cv.folds: warning: d.csv: class 'c' has only 2 row", line), line
    assert "least populated" not in err  # scikit-learn's own warning is not printed beside it
    assert run("validate", "spec.yaml", "--strict", cwd=tmp_path)[0] == 2


@pytest.mark.parametrize("data, extra", [
    ("text_feature.csv", ", preprocess: [one_hot]"),
    ("yes_no.csv", ", metric: f1_macro, metrics: [roc_auc, accuracy]"),
    ("nan_feature.csv", ", preprocess: [simple_imputer, standard_scaler]"),
])
def test_the_fixes_the_messages_suggest_are_accepted(tmp_path, data, extra):
    (tmp_path / data).write_bytes((HOSTILE / data).read_bytes())
    _spec(tmp_path, data, extra)
    code, out, err = run("validate", "spec.yaml", cwd=tmp_path)
    assert code == 0, err


def test_an_estimator_that_takes_missing_values_needs_no_imputer(tmp_path):
    (tmp_path / "d.csv").write_bytes((HOSTILE / "nan_feature.csv").read_bytes())
    spec = tmp_path / "spec.yaml"
    spec.write_text("data: {source: d.csv, target: label, test_size: 0.2}\nmodels:\n"
                    "  - {name: m, class: HistGradientBoostingClassifier, space: {max_depth: [2, 3]}}\n")
    code, _, err = run("validate", "spec.yaml", cwd=tmp_path)
    assert code == 0, err

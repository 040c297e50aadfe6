"""``hpo best``: every format round-trips the exact values, errors are bad input, and it stays light.

The round trip on a real run (rebuild the estimator, re-score it with the spec's CV) lives at the end and
uses ``hpo tune --no-mlflow`` on a tiny spec.
"""

from __future__ import annotations

import json
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from hpo_cli.core.errors import InputError
from hpo_cli.core.options import BestOptions
from hpo_cli.report.best import export_best

PARAMS = {"C": 0.1, "tol": 1e-05, "third": 1 / 3, "big": 1e20, "l1_ratio": None, "fit_intercept": True,
          "max_iter": 300, "penalty": "l2", "yes_string": "yes", "one_string": "1", "hidden_layer_sizes": [100, 50],
          "class_weight": {"0": 1, "1": 2.5}, "neg": -2.5e-07}
INIT = {"random_state": 0, "max_iter": 5000, "solver": "saga"}


def write_best(run_dir: Path, params: dict[str, Any] | None = None) -> Path:
    """A ``best_parameters.yaml`` exactly as the contract lays it out."""
    run_dir.mkdir(parents=True, exist_ok=True)
    doc = {"best_model": "logreg", "metric": "roc_auc", "direction": "maximize", "models": {
        "logreg": {"estimator": "sklearn.linear_model.LogisticRegression", "params": params or PARAMS,
                   "init_params": INIT, "mean_test_score": 0.99, "std_test_score": 0.01, "test_score": 0.98,
                   "n_trials": 20},
        "forest": {"estimator": "sklearn.ensemble.RandomForestClassifier", "params": {"max_depth": None,
                                                                                     "n_estimators": 200},
                   "init_params": {}, "mean_test_score": 0.98, "std_test_score": 0.01, "n_trials": 4}}}
    (run_dir / "best_parameters.yaml").write_text(yaml.safe_dump(doc, sort_keys=False))
    return run_dir


def parse(text: str, fmt: str, prefix: str = "model") -> dict[str, Any]:
    """Read an export back the way a training stage would (documented per format in the README)."""
    if fmt == "yaml":
        return yaml.safe_load(text) or {}
    if fmt == "json":
        return json.loads(text)
    if fmt == "env":
        out = {}
        for line in text.splitlines():
            key, _, value = line.partition("=")
            out[key] = yaml.safe_load(shlex.split(value)[0] if value else "")
        return out
    words = shlex.split(text)
    if fmt == "hydra":
        pairs = [w.partition("=") for w in words]
        assert all(k.startswith(prefix + ".") for k, _, _ in pairs)
        return {k[len(prefix) + 1:]: yaml.safe_load(v) for k, _, v in pairs}
    assert fmt == "args"
    assert all(w.startswith("--") for w in words[::2])
    return {k[2:]: yaml.safe_load(v) for k, v in zip(words[::2], words[1::2], strict=True)}


@pytest.mark.parametrize("fmt", ["yaml", "json", "env", "hydra", "args"])
def test_every_format_round_trips_types_and_full_precision(tmp_path: Path, fmt: str) -> None:
    run = write_best(tmp_path / "run")
    back = parse(export_best(BestOptions(run, format=fmt)), fmt)
    assert back == PARAMS
    assert [type(v) for v in back.values()] == [type(v) for v in PARAMS.values()]


@pytest.mark.parametrize("fmt", ["yaml", "json", "env", "hydra", "args"])
def test_with_init_merges_fixed_params_and_tuned_win(tmp_path: Path, fmt: str) -> None:
    run = write_best(tmp_path / "run")
    back = parse(export_best(BestOptions(run, format=fmt, with_init=True, prefix="clf")), fmt, prefix="clf")
    assert back == {**INIT, **PARAMS}
    assert back["max_iter"] == 300


def test_model_option_and_formats_look_right(tmp_path: Path) -> None:
    run = write_best(tmp_path / "run")
    assert export_best(BestOptions(run, model="forest")) == "max_depth: null\nn_estimators: 200\n"
    assert export_best(BestOptions(run, model="forest", format="env")) == "max_depth=null\nn_estimators=200\n"
    hydra = export_best(BestOptions(run, model="forest", format="hydra"))
    assert hydra == "model.max_depth=null model.n_estimators=200\n"
    assert export_best(BestOptions(run, model="forest", format="args")) == "--max_depth null --n_estimators 200\n"
    bare = export_best(BestOptions(run, model="forest", format="hydra", prefix=""))
    assert bare == "max_depth=null n_estimators=200\n"
    assert "C: 0.1\ntol: 1.0e-05\n" in export_best(BestOptions(run))


def test_unknown_model_lists_the_models(tmp_path: Path) -> None:
    run = write_best(tmp_path / "run")
    with pytest.raises(InputError, match="unknown model 'svm'; this run has: logreg, forest"):
        export_best(BestOptions(run, model="svm"))


@pytest.mark.parametrize("content, message", [
    (None, "best_parameters.yaml not found"),
    ("models: [unclosed\n", "not valid YAML"),
    ("- just\n- a list\n", "no `models:` mapping"),
    ("best_model: x\nmodels: {}\n", "no `models:` mapping"),
])
def test_missing_or_corrupt_file_is_bad_input(tmp_path: Path, content: str | None, message: str) -> None:
    tmp_path.mkdir(exist_ok=True)
    if content is not None:
        (tmp_path / "best_parameters.yaml").write_text(content)
    with pytest.raises(InputError, match=message):
        export_best(BestOptions(tmp_path))


def test_cli_exit_codes_and_messages(tmp_path: Path) -> None:
    run = write_best(tmp_path / "run")
    hpo = [sys.executable, "-m", "hpo_cli", "best", str(run)]
    bad = subprocess.run([*hpo, "--model", "svm"], capture_output=True, text=True)
    assert bad.returncode == 2 and "this run has: logreg, forest" in bad.stderr and "Traceback" not in bad.stderr
    bad = subprocess.run([*hpo, "--format", "toml"], capture_output=True, text=True)
    assert bad.returncode == 2 and "yaml, json, env, hydra, args" in bad.stderr
    (tmp_path / "empty").mkdir()
    bad = subprocess.run([sys.executable, "-m", "hpo_cli", "best", str(tmp_path / "empty")], capture_output=True,
                         text=True)
    assert bad.returncode == 2 and "best_parameters.yaml not found" in bad.stderr and "Traceback" not in bad.stderr
    out = tmp_path / "sub" / "best.env"
    ok = subprocess.run([*hpo, "--format", "env", "--output", str(out)], capture_output=True, text=True)
    assert ok.returncode == 0 and ok.stdout == ""
    assert parse(out.read_text(), "env") == PARAMS


def test_env_output_is_sourceable_by_the_shell(tmp_path: Path) -> None:
    run = write_best(tmp_path / "run")
    text = export_best(BestOptions(run, format="env"))
    script = text + 'printf "%s\\n" "$C" "$hidden_layer_sizes" "$yes_string"'
    out = subprocess.run(["bash", "-c", script], capture_output=True, text=True, check=True).stdout.splitlines()
    assert [yaml.safe_load(v) for v in out] == [0.1, [100, 50], "yes"]


def test_hpo_best_imports_no_heavy_library(tmp_path: Path) -> None:
    """The training stage must not pay for optuna, mlflow, scikit-learn, pandas or numpy."""
    run = write_best(tmp_path / "run")
    code = (
        "import sys\nfrom hpo_cli.cli.app import main\n"
        f"sys.argv = ['hpo', 'best', {str(run)!r}, '--format', 'json']\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\n"
        "heavy = [m for m in ('optuna', 'mlflow', 'sklearn', 'pandas', 'numpy', 'scipy', 'matplotlib') "
        "if m in sys.modules]\n"
        "print('HEAVY', heavy, file=sys.stderr)\n"
    )
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert "HEAVY []" in res.stderr
    assert json.loads(res.stdout) == PARAMS


# --- the round trip on a real run ------------------------------------------------------------------------

ROUND_TRIP_SPEC = """\
name: iris-best
data: {source: "sklearn:iris"}
defaults:
  cv: {kind: stratified, folds: 5, shuffle: true}
  metric: accuracy
  seed: 3
  method: random
  budget: {trials: 8}
models:
  - name: logreg
    class: LogisticRegression
    init_params: {max_iter: 1000, tol: 1.0e-6}
    space:
      C: {type: float, low: 1.0e-3, high: 100, log: true}
      fit_intercept: [true, false]
  - name: mlp
    class: MLPClassifier
    init_params: {max_iter: 300, random_state: 3}
    space:
      hidden_layer_sizes: [[8], [16, 8]]
      alpha: {type: float, low: 1.0e-5, high: 1.0e-1, log: true}
      activation: [relu, tanh]
tracking: {mlflow: false}
"""


@pytest.fixture(scope="module")
def real_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("best")
    spec = folder / "spec.yaml"
    spec.write_text(ROUND_TRIP_SPEC)
    res = subprocess.run([sys.executable, "-m", "hpo_cli", "tune", str(spec), "--no-mlflow", "--quiet",
                          "--output", str(folder / "run")], capture_output=True, text=True)
    assert res.returncode == 0, res.stderr[-3000:]
    return folder / "run"


@pytest.mark.parametrize("fmt", ["yaml", "json", "env", "hydra", "args"])
@pytest.mark.parametrize("model", ["logreg", "mlp"])
def test_exported_parameters_rebuild_the_scored_model(real_run: Path, fmt: str, model: str) -> None:
    """Estimator(**exported) has the best trial's parameters and reproduces its CV score with the spec's folds."""
    import warnings

    from sklearn.datasets import load_iris
    from sklearn.model_selection import StratifiedKFold, cross_val_score

    from hpo_cli.problem.estimators import resolve_estimator
    from hpo_cli.problem.pipeline import build_estimator
    from hpo_cli.spec.load import load_spec

    res = subprocess.run([sys.executable, "-m", "hpo_cli", "best", str(real_run), "--model", model, "--format", fmt,
                          "--with-init"], capture_output=True, text=True, check=True)
    exported = parse(res.stdout, fmt)
    best = yaml.safe_load((real_run / "best_parameters.yaml").read_text())["models"][model]
    module, _, name = best["estimator"].rpartition(".")
    cls = getattr(__import__(module, fromlist=[name]), name)
    rebuilt = cls(**exported)

    spec = load_spec(real_run.parent / "spec.yaml")
    model_spec = next(m for m in spec.models if m.name == model)
    assert cls is resolve_estimator(model_spec.class_)
    scored = build_estimator(model_spec, best["params"])  # what the search fitted for the best trial
    assert rebuilt.get_params() == scored.get_params()

    X, y = load_iris(return_X_y=True)
    folds = StratifiedKFold(n_splits=5, shuffle=True, random_state=3)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        score = cross_val_score(rebuilt, X, y, cv=folds, scoring="accuracy").mean()
    assert score == pytest.approx(best["mean_test_score"], abs=1e-12)


def test_a_model_without_complete_trials_does_not_hide_the_others(tmp_path):
    """One model whose every trial failed writes params: null; hpo best still prints the winner."""
    import yaml

    from hpo_cli.core.errors import InputError
    from hpo_cli.core.options import BestOptions
    from hpo_cli.report.best import export_best

    (tmp_path / "best_parameters.yaml").write_text(yaml.safe_dump({
        "best_model": "tree", "metric": "accuracy", "direction": "maximize",
        "models": {"tree": {"estimator": "sklearn.tree.DecisionTreeClassifier", "params": {"max_depth": 3},
                            "init_params": {}, "mean_test_score": 0.9, "std_test_score": 0.01, "n_trials": 2},
                   "broken": {"estimator": "sklearn.svm.SVC", "params": None, "init_params": {},
                              "mean_test_score": None, "std_test_score": None, "n_trials": 2}}}, sort_keys=False))
    assert yaml.safe_load(export_best(BestOptions(run_dir=tmp_path))) == {"max_depth": 3}
    with pytest.raises(InputError, match="'broken' has no complete trial.*models with results: tree"):
        export_best(BestOptions(run_dir=tmp_path, model="broken"))


def test_mapping_values_keep_int_keys_in_every_text_format():
    import yaml

    from hpo_cli.report.best import render

    params = {"class_weight": {0: 1, 1: 3}}
    for fmt in ("yaml", "env", "args"):
        text = render(params, fmt)
        value = text.split("=", 1)[1] if fmt == "env" else (text.split(" ", 1)[1] if fmt == "args" else text)
        loaded = yaml.safe_load(value.strip().strip("'")) if fmt != "yaml" else yaml.safe_load(text)["class_weight"]
        assert loaded == {0: 1, 1: 3}, (fmt, text)

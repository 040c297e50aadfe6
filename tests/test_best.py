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

from hpo_cli.best import export_best
from hpo_cli.errors import InputError
from hpo_cli.options import BestOptions

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
        "import sys\nfrom hpo_cli.cli import main\n"
        f"sys.argv = ['hpo', 'best', {str(run)!r}, '--format', 'json']\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\n"
        "heavy = [m for m in ('optuna', 'mlflow', 'sklearn', 'pandas', 'numpy', 'scipy', 'matplotlib') "
        "if m in sys.modules]\n"
        "print('HEAVY', heavy, file=sys.stderr)\n"
    )
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert "HEAVY []" in res.stderr
    assert json.loads(res.stdout) == PARAMS

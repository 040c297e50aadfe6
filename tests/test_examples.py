"""The pipeline examples work: a run folder from ``hpo tune`` feeds ``hpo best`` and examples/train.py.

examples/train.py must reproduce the held-out test score hpo measured (same estimator, parameters,
preprocessing and split), which is the promise a training stage relies on.
"""

from __future__ import annotations

import importlib.util
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
HPO = [sys.executable, "-m", "hpo_cli"]

TINY_SPEC = {
    "name": "tiny",
    "data": {"source": "sklearn:breast_cancer", "test_size": 0.25},
    "defaults": {"cv": {"kind": "stratified", "folds": 3, "shuffle": True}, "metric": "roc_auc", "seed": 0},
    "models": [{
        "name": "logreg", "class": "LogisticRegression", "init_params": {"max_iter": 2000},
        "preprocess": ["standard_scaler"], "method": "grid", "param_grid": {"C": [0.1, 1.0]},
    }],
    "tracking": {"mlflow": False},
}


def run(cmd: list[str], cwd: Path) -> str:
    proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, check=False)
    assert proc.returncode == 0, f"{cmd}\n{proc.stdout}\n{proc.stderr}"
    return proc.stdout


def load_train_module():
    spec = importlib.util.spec_from_file_location("example_train", EXAMPLES / "train.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def tune_best_train(spec_path: Path, tmp_path: Path, extra: list[str]) -> tuple[str, dict]:
    run_dir = tmp_path / "run"
    run([*HPO, "tune", str(spec_path), "--output", str(run_dir), "--no-mlflow", "--quiet", *extra], tmp_path)
    best_yaml = tmp_path / "best.yaml"
    run([*HPO, "best", str(run_dir), "--format", "yaml", "--with-init", "--output", str(best_yaml)], tmp_path)
    out = run([sys.executable, str(EXAMPLES / "train.py"), "--params", str(best_yaml), "--run-dir", str(run_dir),
               "--save", str(tmp_path / "model.pkl"), "--metrics-out", str(tmp_path / "metrics.json")], tmp_path)
    best = yaml.safe_load((run_dir / "best_parameters.yaml").read_text(encoding="utf-8"))
    return out, best


def score_line(out: str, prefix: str) -> float:
    match = re.search(rf"^{prefix} \S+: (-?[0-9.]+)$", out, re.MULTILINE)
    assert match, out
    return float(match.group(1))


def test_train_example_reproduces_hpo_test_score(tmp_path: Path):
    spec_path = tmp_path / "tiny.yaml"
    spec_path.write_text(yaml.safe_dump(TINY_SPEC, sort_keys=False), encoding="utf-8")
    out, best = tune_best_train(spec_path, tmp_path, [])
    entry = best["models"]["logreg"]
    assert entry["estimator"].endswith("LogisticRegression")
    assert score_line(out, "test") == pytest.approx(float(entry["test_score"]), abs=1e-6)
    assert (tmp_path / "model.pkl").stat().st_size > 0
    assert (tmp_path / "metrics.json").is_file()


@pytest.mark.parametrize(("spec", "model"), [("groups.yaml", "logreg"), ("timeseries.yaml", "ridge")])
def test_train_example_reproduces_group_and_time_splits(spec: str, model: str, tmp_path: Path):
    out, best = tune_best_train(ROOT / "specs" / spec, tmp_path, ["--model", model, "--trials", "2"])
    assert score_line(out, "test") == pytest.approx(float(best["models"][model]["test_score"]), abs=1e-6)


def test_train_example_refuses_estimators_outside_sklearn_and_xgboost():
    train = load_train_module()
    assert train.resolve_class("sklearn.linear_model.Ridge").__name__ == "Ridge"
    for dotted in ("os.system", "subprocess.Popen", "builtins.eval", "sklearnx.Thing"):
        with pytest.raises(SystemExit):
            train.resolve_class(dotted)


def test_dvc_pipeline_references_real_files_and_hpo_commands():
    dvc = yaml.safe_load((EXAMPLES / "dvc" / "dvc.yaml").read_text(encoding="utf-8"))
    tune, train = dvc["stages"]["tune"], dvc["stages"]["train"]
    assert "hpo tune specs/breast_cancer.yaml --output runs/dvc --no-mlflow" in tune["cmd"]
    assert "--fresh" in tune["cmd"]  # a re-run of the stage starts over instead of exiting 2
    assert "hpo best runs/dvc --format yaml --with-init" in tune["cmd"]  # best.yaml: what train depends on
    assert "runs/dvc/best.yaml" in train["deps"]
    for stage in (tune, train):
        root = (EXAMPLES / "dvc" / stage["wdir"]).resolve()
        for dep in stage["deps"]:
            if not dep.startswith("runs/"):
                assert (root / dep).is_file(), dep
    metrics = [next(iter(m)) if isinstance(m, dict) else m for m in tune["metrics"]]
    assert "runs/dvc/best_parameters.yaml" in metrics


def test_github_workflow_validates_tunes_and_reports():
    text = (EXAMPLES / "github-actions.yml").read_text(encoding="utf-8")
    workflow = yaml.safe_load(text)
    steps = " ".join(s.get("run", "") for s in workflow["jobs"]["tune"]["steps"])
    for fragment in ("hpo validate --strict", "hpo tune", "hpo report", "--github"):
        assert fragment in steps, fragment

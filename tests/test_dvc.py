"""DVC for real: ``dvc repro`` of examples/dvc/dvc.yaml in a temporary git + DVC repository.

The example's stages run as written; only the spec they name is swapped for a tiny one (a 2- or 3-point
grid on breast_cancer) so the test stays fast. Checks DVC's four cases and ``dvc metrics show``, which
rely on hpo writing byte-equal hand-over files for equal inputs.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
pytestmark = pytest.mark.skipif(not (BIN / "dvc").exists(), reason="dvc is installed with the test extra")


def spec(grid: list[float]) -> str:
    return json.dumps({
        "name": "dvc-tiny",
        "data": {"source": "sklearn:breast_cancer", "test_size": 0.25},
        "defaults": {"cv": {"kind": "stratified", "folds": 3, "shuffle": True}, "metric": "roc_auc", "seed": 0},
        "models": [{"name": "logreg", "class": "LogisticRegression", "init_params": {"max_iter": 500},
                    "preprocess": ["standard_scaler"], "method": "grid", "param_grid": {"C": grid}}],
    }, indent=1) + "\n"


def run(*cmd: str, cwd: Path) -> str:
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}", "PYTHONPATH": str(ROOT),
           "DVC_NO_ANALYTICS": "1", "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t", "GIT_COMMITTER_NAME": "t",
           "GIT_COMMITTER_EMAIL": "t@t"}
    proc = subprocess.run(list(cmd), cwd=cwd, env=env, capture_output=True, text=True, timeout=600, check=False)
    assert proc.returncode == 0, f"{cmd}\n{proc.stdout}\n{proc.stderr}"
    return proc.stdout + proc.stderr


def repro(repo: Path) -> list[str]:
    """The stages ``dvc repro`` ran, in order."""
    out = run("dvc", "repro", "examples/dvc/dvc.yaml", cwd=repo)
    return re.findall(r"Running stage '(?:[^']*:)?(\w+)'", out)


def test_dvc_repro_runs_what_changed_and_reads_the_metrics(tmp_path):
    repo = tmp_path / "repo"
    (repo / "examples" / "dvc").mkdir(parents=True)
    (repo / "specs").mkdir()
    shutil.copy(ROOT / "examples" / "dvc" / "dvc.yaml", repo / "examples" / "dvc" / "dvc.yaml")
    shutil.copy(ROOT / "examples" / "train.py", repo / "examples" / "train.py")
    stage = yaml.safe_load((repo / "examples" / "dvc" / "dvc.yaml").read_text(encoding="utf-8"))["stages"]["tune"]
    assert "--fresh" in stage["cmd"] and "--no-mlflow" in stage["cmd"]
    spec_file = repo / stage["deps"][0]  # the spec the example's tune stage names
    spec_file.write_text(spec([0.01, 1.0]), encoding="utf-8")
    run("git", "init", "-q", cwd=repo)
    run("dvc", "init", "-q", cwd=repo)
    run("git", "add", "-A", cwd=repo)
    run("git", "commit", "-qm", "init", cwd=repo)

    assert repro(repo) == ["tune", "train"]
    hand_over = {n: (repo / "runs" / "dvc" / n).read_bytes() for n in ("best.yaml", "best_parameters.yaml")}
    assert repro(repo) == []  # nothing changed: nothing runs

    # a spec edit that leaves the winner's parameters as they were: tune reruns, its hand-over files are
    # byte-equal (a worse grid point only adds a trial), so train does not
    spec_file.write_text(spec([0.01, 1.0, 1.0e-6]), encoding="utf-8")
    assert repro(repo) == ["tune"]
    assert (repo / "runs" / "dvc" / "best.yaml").read_bytes() == hand_over["best.yaml"]

    # other best parameters: tune and train
    spec_file.write_text(spec([0.001, 0.003]), encoding="utf-8")
    assert repro(repo) == ["tune", "train"]
    assert (repo / "runs" / "dvc" / "best.yaml").read_bytes() != hand_over["best.yaml"]

    # only the training script changed: train alone
    with (repo / "examples" / "train.py").open("a", encoding="utf-8") as fh:
        fh.write("# edited\n")
    assert repro(repo) == ["train"]

    metrics = json.loads(run("dvc", "metrics", "show", "--json", cwd=repo))
    flat = json.dumps(metrics)
    best = yaml.safe_load((repo / "runs" / "dvc" / "best_parameters.yaml").read_text(encoding="utf-8"))
    assert repr(best["models"]["logreg"]["mean_test_score"]) in flat
    assert "test_score" in flat and "train_metrics.json" in flat


def test_equal_inputs_give_byte_equal_hand_over_files(tmp_path):
    """What DVC compares: best_parameters.yaml (and hpo best's export) carry no times, so a rerun is equal."""
    from hpo_cli.core.options import BestOptions, TuneOptions
    from hpo_cli.report.best import export_best
    from hpo_cli.tune.run import run_tune

    spec_file = tmp_path / "s.yaml"
    spec_file.write_text(json.dumps({
        "name": "stable", "data": {"source": "sklearn:iris", "test_size": 0.3},
        "defaults": {"cv": {"kind": "stratified", "folds": 3}, "metric": "accuracy", "seed": 1},
        "models": [{"name": "tree", "class": "DecisionTreeClassifier", "method": "tpe", "budget": {"trials": 4},
                    "space": {"max_depth": {"type": "int", "low": 1, "high": 8}}}],
        "tracking": {"mlflow": False}}), encoding="utf-8")
    seen = []
    for _ in range(2):
        run_tune(TuneOptions(spec=spec_file, output=tmp_path / "run", fresh=True, mlflow=False, quiet=True),
                 observers=[])
        exported = export_best(BestOptions(run_dir=tmp_path / "run", with_init=True))
        seen.append(((tmp_path / "run" / "best_parameters.yaml").read_bytes(), exported))
    assert seen[0] == seen[1]

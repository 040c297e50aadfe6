"""``hpo tune`` end to end: the CLI in-process (CliRunner) and as a real process (exit codes, Ctrl-C)."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import yaml
from typer.testing import CliRunner

from hpo_cli.cli.app import app

GRID = {"n_estimators": [10, 20], "max_depth": [2, 4, None], "criterion": ["gini", "entropy"]}


def _forest_spec(write_spec, **extra) -> Path:
    return write_spec({"name": "cli", "data": {"source": "sklearn:breast_cancer", "test_size": 0.2},
                       "defaults": {"cv": 3, "metric": "roc_auc", "metrics": ["accuracy"], "seed": 5},
                       "models": [{"name": "forest", "class": "RandomForestClassifier", "method": "grid",
                                   "param_grid": GRID, **extra}]})


def test_cli_runner_writes_the_run_folder(write_spec, tmp_path: Path, read_trials) -> None:
    spec = _forest_spec(write_spec)
    out = tmp_path / "run"
    result = CliRunner().invoke(app, ["tune", str(spec), "--no-mlflow", "-o", str(out), "--trials", "4"])
    assert result.exit_code == 0, result.output
    assert {p.name for p in out.iterdir()} >= {"best_parameters.yaml", "trials.csv", "results.md", "run.json",
                                               "study.journal"}
    best = yaml.safe_load((out / "best_parameters.yaml").read_text())
    assert list(best) == ["best_model", "metric", "direction", "models"]
    assert best["best_model"] == "forest" and best["metric"] == "roc_auc" and best["direction"] == "maximize"
    entry = best["models"]["forest"]
    assert list(entry) == ["estimator", "params", "init_params", "preprocess", "mean_test_score", "std_test_score",
                           "test_score", "n_trials"]
    assert entry["estimator"] == "sklearn.ensemble.RandomForestClassifier" and entry["n_trials"] == 4
    rows = read_trials(out)
    assert [r for r in rows if r["rank_test_score"] == "1"][0]["mean_test_score"] == repr(entry["mean_test_score"])
    run = json.loads((out / "run.json").read_text())
    assert run["spec"]["sha256"] and run["data"]["sha256"] and run["versions"]["optuna"]
    assert run["status"] == "finished" and run["storage"].endswith("study.journal")
    assert "forest" in result.output and "Run folder" in result.output


def _hpo(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "hpo_cli", *args], capture_output=True, text=True, cwd=cwd,
                          timeout=300)


def test_bad_data_exits_2_and_writes_nothing(write_spec, tmp_path: Path) -> None:
    (tmp_path / "d.csv").write_text("a,b\n1,0\n2,1\n3,0\n", encoding="utf-8")
    spec = write_spec({"data": {"source": "d.csv", "target": "label"},
                       "models": [{"name": "m", "class": "LogisticRegression", "space": {"C": [1.0, 2.0]}}]})
    out = tmp_path / "never"
    done = _hpo("tune", str(spec), "--no-mlflow", "-o", str(out), cwd=tmp_path)
    assert done.returncode == 2
    assert "d.csv" in done.stderr and "'label'" in done.stderr and "Traceback" not in done.stderr
    assert not out.exists()


def test_all_failed_model_exits_1(write_spec, tmp_path: Path) -> None:
    spec = write_spec({"data": {"source": "sklearn:iris"},
                       "models": [{"name": "lr", "class": "LogisticRegression", "method": "grid", "cv": 3,
                                   "param_grid": {"penalty": ["l1"], "solver": ["lbfgs"]}}]})
    done = _hpo("tune", str(spec), "--no-mlflow", "-o", str(tmp_path / "r"), cwd=tmp_path)
    assert done.returncode == 1
    assert "all 1 trials failed" in done.stdout + done.stderr
    assert (tmp_path / "r" / "trials.csv").exists()


def test_sigint_saves_exits_130_and_resume_completes_the_grid(write_spec, tmp_path: Path, read_trials) -> None:
    spec = _forest_spec(write_spec, init_params={"n_estimators": 10})
    out = tmp_path / "r"
    cmd = [sys.executable, "-m", "hpo_cli", "tune", str(spec), "--no-mlflow", "-o", str(out)]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=tmp_path)
    journal = out / "study.journal"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and (not journal.exists() or journal.read_text().count('"op_code":6') < 2):
        time.sleep(0.05)  # op 6 = a trial's state set: wait for two finished trials
    proc.send_signal(signal.SIGINT)
    _, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 130, stderr
    assert "--resume" in stderr
    rows = read_trials(out)
    assert 0 < len(rows) < 12 and all(r["state"] == "COMPLETE" for r in rows)
    assert json.loads((out / "run.json").read_text())["status"] == "interrupted"
    done = _hpo("tune", str(spec), "--no-mlflow", "-o", str(out), "--resume", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    rows = read_trials(out)
    assert len(rows) == 12
    assert len({(r["param_n_estimators"], r["param_max_depth"], r["param_criterion"]) for r in rows}) == 12

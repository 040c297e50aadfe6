"""MLflow as its users browse it (issue 13), against a real local MLflow store and ``hpo`` run as a command.

One run, then ``--resume``, then ``hpo report --log``, then ``--fresh``, checked from MLflow's own API: the
logged models in the run's experiment (its Models tab) linked to the parents, the parents' and the
experiment's descriptions, the registry's versions and their tags, nothing logged twice.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

HPO = [sys.executable, "-m", "hpo_cli"]
ROOT = Path(__file__).resolve().parent.parent


def hpo(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_")}
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")])
    return subprocess.run([*HPO, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=300)


def spec_file(folder: Path, trials: int = 3) -> Path:
    path = folder / "spec.yaml"
    path.write_text(json.dumps({
        "name": "iris-ui",
        "data": {"source": "sklearn:iris", "test_size": 0.2},
        "defaults": {"cv": 2, "budget": {"trials": trials}, "method": "random", "seed": 3},
        "models": [
            {"name": "logreg", "class": "LogisticRegression", "init_params": {"max_iter": 200},
             "space": {"C": {"type": "float", "low": 0.01, "high": 10, "log": True}}},
            {"name": "tree", "class": "DecisionTreeClassifier", "space": {"max_depth": [1, 2, 3]}},
        ],
        "tracking": {"mlflow": {"register": "iris-best"}},
        "output": "run",
    }), encoding="utf-8")
    return path


def state(uri: str) -> tuple[Any, Any, dict[str, Any], list[Any], list[Any]]:
    """(client, experiment, parent run per model, logged models of the experiment, registered versions)."""
    from mlflow import MlflowClient

    client = MlflowClient(uri)
    exp = client.get_experiment_by_name("iris-ui")
    runs = client.search_runs([exp.experiment_id], "tags.`hpo.role` = 'model'")
    parents = {r.data.tags["hpo.model"]: r for r in runs}
    models = client.search_logged_models(experiment_ids=[exp.experiment_id])
    versions = client.search_model_versions("name = 'iris-best'")
    return client, exp, parents, models, versions


def test_logged_model_descriptions_registry_resume_and_report_log(tmp_path: Path) -> None:
    spec = spec_file(tmp_path)
    done = hpo(tmp_path, "tune", str(spec), "-q")
    assert done.returncode == 0, done.stderr
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"  # MLflow 3's default store in the working directory
    client, exp, parents, models, versions = state(uri)
    assert sorted(parents) == ["logreg", "tree"]

    # The refitted best models are logged models of the run's experiment, one per parent, linked to it.
    assert exp.experiment_id != "0"
    assert sorted(m.source_run_id for m in models) == sorted(p.info.run_id for p in parents.values())
    for model in models:
        parent = next(p for p in parents.values() if p.info.run_id == model.source_run_id)
        assert parent.data.tags["hpo.model_uri"] == f"models:/{model.model_id}"
        assert model.tags["hpo.model"] == parent.data.tags["hpo.model"]
        assert f"/{exp.experiment_id}/" in model.artifact_location
    assert not (tmp_path / "mlruns" / "0").exists()  # nothing lands in the Default experiment

    # Each parent's description is its model's section of the report; the experiment's names spec and folder.
    results = (tmp_path / "run" / "results.md").read_text(encoding="utf-8")
    for name, parent in parents.items():
        note = parent.data.tags["mlflow.note.content"]
        assert f"## {name}" in note and "Best: trial" in note and "complete trial(s)" in note
        best_line = next(line for line in note.splitlines() if line.startswith("Best: trial"))
        assert best_line in results  # the same builder as results.md
    exp_note = exp.tags["mlflow.note.content"]
    assert "spec `spec.yaml`" in exp_note and "run folder `run`" in exp_note

    # The winner's model is registered once, with the parent's tags.
    winner = yaml.safe_load((tmp_path / "run" / "best_parameters.yaml").read_text())["best_model"]
    assert len(versions) == 1
    version = versions[0]
    assert version.run_id == parents[winner].info.run_id
    assert version.tags["hpo.model"] == winner and version.tags["hpo.spec_sha256"] == parents[winner].data.tags[
        "hpo.spec_sha256"]
    assert version.source == parents[winner].data.tags["hpo.model_uri"]

    # --resume with the same budget keeps the same bests: nothing is logged or registered again.
    again = hpo(tmp_path, "tune", str(spec), "-q", "--resume")
    assert again.returncode == 0, again.stderr
    _, _, parents2, models2, versions2 = state(uri)
    assert len(models2) == 2 and len(versions2) == 1
    assert {p.info.run_id for p in parents2.values()} == {p.info.run_id for p in parents.values()}

    # hpo report --log: the plots it draws are attached to each parent.
    report = hpo(tmp_path, "report", "run", "--log", "-o", "report.md")
    assert report.returncode == 0, report.stderr
    for name, parent in parents.items():
        plots = {a.path for a in client.list_artifacts(parent.info.run_id, "plots")}
        assert "plots/history.png" in plots and f"plots/slice_{name}.png" in plots, plots

    # A new run (--fresh) logs a new best model and registers a new version.
    fresh = hpo(tmp_path, "tune", str(spec), "-q", "--fresh")
    assert fresh.returncode == 0, fresh.stderr
    _, _, _, models3, versions3 = state(uri)
    assert len(models3) == 4 and sorted(int(v.version) for v in versions3) == [1, 2]


def test_report_log_without_mlflow_runs_is_bad_input(tmp_path: Path) -> None:
    spec = spec_file(tmp_path, trials=2)
    done = hpo(tmp_path, "tune", str(spec), "-q", "--no-mlflow")
    assert done.returncode == 0, done.stderr
    report = hpo(tmp_path, "report", "run", "--log")
    assert report.returncode == 2
    assert "names no MLflow runs" in report.stderr and "Traceback" not in report.stderr
    assert not (tmp_path / "run" / "plots").exists()  # refused before drawing anything

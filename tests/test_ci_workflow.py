"""The example GitHub Actions workflow: valid for GitHub (check-jsonschema's bundled workflow schema) and
its `run:` steps executed as written, in order, in a small copy of a repository that keeps hpo specs.

Out of reach here, and skipped: `uses:` actions, the install step (the test's environment has hpo) and the
PR comment (it needs GitHub). The secret MLFLOW_TRACKING_URI is absent, as on a fork: the run goes
without MLflow, the branch the workflow takes then.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
WORKFLOW = ROOT / "examples" / "github-actions.yml"
BIN = Path(sys.executable).parent
TINY = {"name": "breast-cancer",
        "data": {"source": "sklearn:breast_cancer", "test_size": 0.25},
        "defaults": {"cv": {"kind": "stratified", "folds": 3, "shuffle": True}, "metric": "roc_auc", "seed": 0},
        "models": [{"name": "logreg", "class": "LogisticRegression", "init_params": {"max_iter": 500},
                    "preprocess": ["standard_scaler"], "method": "grid", "param_grid": {"C": [0.1, 1.0]}}]}


def test_workflow_passes_githubs_workflow_schema():
    proc = subprocess.run([str(BIN / "check-jsonschema"), "--builtin-schema", "vendor.github-workflows",
                           str(WORKFLOW)], capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def _skipped(step: dict) -> bool:
    return "uses" in step or "gh pr comment" in step.get("run", "") or "pip install" in step.get("run", "")


def test_workflow_run_steps_execute_as_written(tmp_path):
    workflow = yaml.safe_load(WORKFLOW.read_text(encoding="utf-8"))
    job = workflow["jobs"]["tune"]
    repo = tmp_path / "repo"
    (repo / "specs").mkdir(parents=True)
    # the repository's specs, with the one the job tunes ($SPEC) swapped for a 2-point grid to stay fast
    shutil.copy(ROOT / "specs" / "models_only.yaml", repo / "specs" / "models_only.yaml")
    shutil.copy(ROOT / "specs" / "schema.json", repo / "specs" / "schema.json")
    (repo / job["env"]["SPEC"]).write_text(json.dumps({**TINY, "tracking": {"mlflow": True}}), encoding="utf-8")
    summary = tmp_path / "step_summary.md"
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}", "PYTHONPATH": str(ROOT),
           "GITHUB_STEP_SUMMARY": str(summary), "GITHUB_EVENT_NAME": "push"}
    for key, value in job["env"].items():
        env[key] = "" if "${{" in str(value) else str(value)  # secrets are absent, as on a fork
    ran = []
    for step in job["steps"]:
        if _skipped(step):
            continue
        script = step["run"]
        assert "${{" not in script, step.get("name")  # GitHub expressions only in the skipped steps
        # GitHub's default shell for `run:` on Linux
        proc = subprocess.run(["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", script], cwd=repo,
                              env={**env, **{k: str(v) for k, v in (step.get("env") or {}).items()}},
                              capture_output=True, text=True, timeout=300, check=False)
        assert proc.returncode == 0, f"{step.get('name')}\n{proc.stdout}\n{proc.stderr}"
        ran.append(step.get("name"))
    assert len(ran) == 4, ran  # validate, tune, report, best
    run_dir = repo / job["env"]["RUN_DIR"]
    assert (run_dir / "best_parameters.yaml").is_file() and not (repo / "mlflow.db").exists()
    report = (run_dir / "report.md").read_text(encoding="utf-8")
    assert report.startswith("# Hyperparameter search: breast-cancer")
    assert summary.read_text(encoding="utf-8").strip() == report.strip()
    assert "C:" in (run_dir / "best.yaml").read_text(encoding="utf-8")

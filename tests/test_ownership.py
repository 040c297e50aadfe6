"""A run folder belongs to one run: no silent deletion of finished trials, no resume of a changed model, one
``hpo tune`` at a time (``tune/ownership.py``, ``storage/identity.py``, ``rundir/lock.py``)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from hpo_cli.cli.app import app
from hpo_cli.core.errors import HpoError
from hpo_cli.storage.identity import differences


def _spec(write_spec, **model) -> Path:
    base = {"name": "logreg", "class": "LogisticRegression", "init_params": {"max_iter": 500},
            "space": {"C": {"type": "float", "low": 0.01, "high": 10, "log": True}}}
    return write_spec({"name": "own", "data": {"source": "sklearn:iris"},
                       "defaults": {"cv": 3, "seed": 7, "method": "random"}, "models": [{**base, **model}]})


def _tune(spec: Path, out: Path, *args: str) -> tuple[int, str]:
    """Exit code and text as ``hpo tune`` would give them (``main`` maps an HpoError to its exit code)."""
    result = CliRunner().invoke(app, ["tune", str(spec), "--no-mlflow", "-q", "-o", str(out), *args])
    if isinstance(result.exception, HpoError):
        return result.exception.exit_code, str(result.exception)
    return result.exit_code, result.output


def _n_trials(out: Path) -> int:
    return yaml.safe_load((out / "best_parameters.yaml").read_text())["models"]["logreg"]["n_trials"]


def test_a_second_fresh_run_is_refused_until_fresh_or_resume(write_spec, tmp_path: Path) -> None:
    spec, out = _spec(write_spec), tmp_path / "run"
    assert _tune(spec, out, "--trials", "3")[0] == 0
    journal = (out / "study.journal").read_bytes()
    code, text = _tune(spec, out, "--trials", "3")
    assert code == 2 and "already holds finished trials of logreg (3)" in text and "--fresh" in text
    assert (out / "study.journal").read_bytes() == journal  # nothing deleted, nothing written
    assert _tune(spec, out, "--trials", "5", "--resume")[0] == 0 and _n_trials(out) == 5
    assert _tune(spec, out, "--trials", "2", "--fresh")[0] == 0 and _n_trials(out) == 2


def test_resume_and_fresh_together_is_bad_input(write_spec, tmp_path: Path) -> None:
    code, text = _tune(_spec(write_spec), tmp_path / "run", "--resume", "--fresh")
    assert code == 2 and "--fresh" in text and not (tmp_path / "run").exists()


@pytest.mark.parametrize(("change", "named"), [
    ({"class": "RidgeClassifier", "space": {"alpha": [0.1, 1.0]}}, "class:"),
    ({"init_params": {"max_iter": 900}}, "init_params.max_iter: 500 -> 900"),
    ({"space": {"C": {"type": "float", "low": 0.1, "high": 10, "log": True}}}, "space.C.low: 0.01 -> 0.1"),
    ({"method": "tpe"}, 'method: "random" -> "tpe"'),
    ({"cv": 4}, "cv.folds: 3 -> 4"),
    ({"preprocess": ["standard_scaler"]}, "preprocess:"),
    ({"metric": "f1_macro"}, 'metric: "accuracy" -> "f1_macro"'),
])
def test_resume_with_a_changed_model_names_the_change_and_leaves_the_journal(write_spec, tmp_path: Path, change,
                                                                            named) -> None:
    out = tmp_path / "run"
    assert _tune(_spec(write_spec), out, "--trials", "2")[0] == 0
    journal, best = (out / "study.journal").read_bytes(), (out / "best_parameters.yaml").read_bytes()
    code, text = _tune(_spec(write_spec, **change), out, "--trials", "4", "--resume")
    assert code == 2, text
    assert "is not the one its 2 stored trial(s) were scored for" in text and named in text
    assert (out / "study.journal").read_bytes() == journal and (out / "best_parameters.yaml").read_bytes() == best


def test_resume_with_another_seed_or_data_is_refused(write_spec, tmp_path: Path) -> None:
    out = tmp_path / "run"
    assert _tune(_spec(write_spec), out, "--trials", "2")[0] == 0
    code, text = _tune(_spec(write_spec), out, "--resume", "--seed", "8")
    assert code == 2 and "cv.seed: 7 -> 8" in text
    code, text = _tune(_spec(write_spec), out, "--resume", "--data", "sklearn:wine")
    assert code == 2 and "data_sha256:" in text


def test_differences_compare_mappings_key_by_key() -> None:
    old = {"class": "a.B", "cv": {"folds": 3, "seed": 1}, "space": {"C": {"low": 1}}}
    assert differences(old, {**old, "cv": {"folds": 3, "seed": 2}}) == ["cv.seed: 1 -> 2"]
    assert differences(old, dict(old)) == []
    assert differences(old, {**old, "space": {"C": {"low": 1}, "D": [1, 2]}}) == ["space.D: null -> [1, 2]"]


def test_one_tune_per_run_folder_at_a_time(write_spec, tmp_path: Path) -> None:
    """A second process on a folder in use exits 2 naming the first's PID; the first finishes untouched."""
    # Fits that sleep: the first run lasts ~6 s however fast or busy the machine (a plain model's 400 trials
    # could end before the second process had started).
    spec = write_spec({"name": "slow", "data": {"source": "sklearn:iris"}, "defaults": {"cv": 2},
                       "allow_modules": ["hpo_test_estimators"],
                       "models": [{"name": "knn", "class": "hpo_test_estimators.SleepyClassifier", "method": "random",
                                   "init_params": {"sleep": 0.02}, "budget": {"trials": 150},
                                   "space": {"alpha": {"type": "float", "low": 0.0, "high": 1.0}}}]})
    out = tmp_path / "run"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(Path(__file__).parent), os.environ.get("PYTHONPATH", "")])}
    first = subprocess.Popen([sys.executable, "-m", "hpo_cli", "tune", str(spec), "--no-mlflow", "-q", "-o",
                              str(out)], stderr=subprocess.PIPE, text=True, env=env)
    try:
        deadline = time.monotonic() + 60
        while not (out / "study.journal").exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        second = subprocess.run([sys.executable, "-m", "hpo_cli", "tune", str(spec), "--no-mlflow", "-q", "-o",
                                 str(out), "--resume"], capture_output=True, text=True, timeout=120, env=env)
        assert second.returncode == 2, second.stderr
        assert f"PID {first.pid}" in second.stderr and "Traceback" not in second.stderr
        assert first.wait(timeout=300) == 0, first.stderr.read() if first.stderr else ""
    finally:
        if first.poll() is None:
            first.kill()
    assert _n_trials_of(out, "knn") == 150


def _n_trials_of(out: Path, model: str) -> int:
    return yaml.safe_load((out / "best_parameters.yaml").read_text())["models"][model]["n_trials"]

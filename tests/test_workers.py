"""``--workers N`` on one machine (journal file): exact budgets, exactly-once grids, MLflow, a killed worker (issue 9).

Real worker processes on the real journal storage; tiny data and fast estimators keep each run to seconds
of work (most of the time is the workers' start-up).
"""

from __future__ import annotations

import collections
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).parent))
from test_tracking import assert_exactly_once, tree  # noqa: E402

TESTS = str(Path(__file__).parent)


def _study(run_dir: Path, name: str) -> Any:
    import optuna

    from hpo_cli.storage.backend import open_storage

    return optuna.load_study(study_name=name, storage=open_storage(run_dir, None))


def grid_spec(write_spec, name: str = "wgrid") -> Path:
    return write_spec({
        "name": name, "data": {"source": "sklearn:iris"},
        "models": [{"name": "tree", "class": "DecisionTreeClassifier", "method": "grid",
                    "cv": {"kind": "kfold", "folds": 2},
                    "space": {"max_depth": [1, 2, 3, 4, 5, 6, 7, 8], "min_samples_leaf": [1, 2, 3, 4, 5]}}],
    }, name=name)


@pytest.mark.parametrize("workers", [2, 4])  # the same on PostgreSQL: test_cluster.py
def test_a_40_point_grid_runs_each_point_exactly_once(workers, write_spec, tune, read_trials, tmp_path) -> None:
    """Also across a resume: the first run's 10 points are not queued again."""
    spec = grid_spec(write_spec)
    assert len(read_trials(tune(spec, workers=workers, trials=10).run_dir)) == 10
    result = tune(spec, workers=workers, resume=True)
    rows = read_trials(tmp_path / "run")
    points = [(r["param_max_depth"], r["param_min_samples_leaf"]) for r in rows]
    assert len(rows) == 40 and len(set(points)) == 40
    assert {r["state"] for r in rows} == {"COMPLETE"}
    study = _study(tmp_path / "run", "wgrid.tree")
    assert collections.Counter(t.state.name for t in study.trials) == {"COMPLETE": 40}  # nothing left queued
    owners = {t.user_attrs["hpo_worker"].rsplit(":", 1)[1] for t in study.trials}
    assert owners <= {str(n) for n in range(workers)}  # taken by this run's workers (how many of them: the OS)
    assert result.models[0].n_complete == 40


@pytest.mark.parametrize("workers", [2, 4])
def test_a_random_budget_of_30_is_exact_and_tracked_once(workers: int, tmp_path: Path) -> None:
    spec = {
        "name": "wrandom", "data": {"source": "sklearn:iris"},
        "models": [{"name": "knn", "class": "KNeighborsClassifier", "method": "random",
                    "cv": {"kind": "kfold", "folds": 2}, "budget": {"trials": 30},
                    "space": {"n_neighbors": {"type": "int", "low": 1, "high": 30}}},
                   {"name": "tree", "class": "DecisionTreeClassifier", "method": "tpe",
                    "cv": {"kind": "kfold", "folds": 2}, "budget": {"trials": 6},
                    "space": {"max_depth": {"type": "int", "low": 1, "high": 12}}}],
        "tracking": {"mlflow": {"uri": f"sqlite:///{tmp_path / 'mlflow.db'}"}}, "output": "run",
    }
    (tmp_path / "spec.yaml").write_text(json.dumps(spec), encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_")}
    env["PYTHONPATH"] = os.pathsep.join([TESTS, env.get("PYTHONPATH", "")])
    done = subprocess.run([sys.executable, "-m", "hpo_cli", "tune", "spec.yaml", "--workers", str(workers), "-q"],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    import csv

    with open(tmp_path / "run" / "trials.csv", newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    assert collections.Counter(r["model"] for r in rows) == {"knn": 30, "tree": 6}
    for name, budget in (("knn", 30), ("tree", 6)):
        study = _study(tmp_path / "run", f"wrandom.{name}")
        assert collections.Counter(t.state.name for t in study.trials) == {"COMPLETE": budget}
    _, parents, children = tree(f"sqlite:///{tmp_path / 'mlflow.db'}", "wrandom")
    assert_exactly_once(parents, children, rows)


def test_a_worker_killed_mid_trial_loses_nothing(tmp_path: Path) -> None:
    """SIGKILL one of two workers while it fits: its trial is failed, queued again, and the budget is still exact."""
    marks = tmp_path / "marks"
    marks.mkdir()
    spec = {
        "name": "wkill", "data": {"source": "sklearn:iris"}, "allow_modules": ["hpo_test_estimators"],
        "models": [{"name": "sleepy", "class": "hpo_test_estimators.SleepyClassifier", "method": "random",
                    "init_params": {"sleep": 0.4}, "cv": {"kind": "kfold", "folds": 2}, "budget": {"trials": 8},
                    "space": {"alpha": {"type": "float", "low": 0.0, "high": 1.0}}}],
        "tracking": {"mlflow": False}, "output": "run",
    }
    (tmp_path / "spec.yaml").write_text(json.dumps(spec), encoding="utf-8")
    env = dict(os.environ, HPO_TEST_SLEEP_MARK=str(marks))
    env["PYTHONPATH"] = os.pathsep.join([TESTS, env.get("PYTHONPATH", "")])
    proc = subprocess.Popen([sys.executable, "-m", "hpo_cli", "tune", "spec.yaml", "--workers", "2", "-q"],
                            cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 240
    while not list(marks.iterdir()) and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.05)
    victim = int(next(iter(marks.iterdir())).name)
    os.kill(victim, signal.SIGKILL)  # mid-fit: the mark is written as the fit starts sleeping
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err
    study = _study(tmp_path / "run", "wkill.sleepy")
    states = collections.Counter(t.state.name for t in study.trials)
    assert states["RUNNING"] == 0 and states["WAITING"] == 0
    from hpo_cli.storage.attrs import finished_trials

    assert len(finished_trials(study)) == 8  # the killed trial is replaced by its retry
    assert states["FAIL"] >= 1  # the killed worker's trial, left out of the count


@pytest.mark.parametrize("args, message", [
    (["--workers", "0"], "--workers: must be at least 1"),
    (["--join"], "--join needs --storage"),
    (["--workers", "2", "--storage", "sqlite:///x.db"], "SQLite cannot serve several worker processes"),
])
def test_bad_worker_options_are_one_line(args, message, write_spec, tmp_path: Path) -> None:
    spec = grid_spec(write_spec)
    done = subprocess.run([sys.executable, "-m", "hpo_cli", "tune", str(spec), "-o", str(tmp_path / "r"), *args],
                          capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert done.returncode == 2, done.stderr
    assert message in done.stderr and len(done.stderr.strip().splitlines()) == 1 and "Traceback" not in done.stderr
    assert not (tmp_path / "r").exists() and not (tmp_path / "x.db").exists()



def test_a_timeout_stops_every_worker_and_leaves_nothing_queued(write_spec, tune, read_trials, tmp_path) -> None:
    spec = write_spec({
        "data": {"source": "sklearn:iris"}, "allow_modules": ["hpo_test_estimators"],
        "models": [{"name": "sleepy", "class": "hpo_test_estimators.SleepyClassifier", "method": "random",
                    "init_params": {"sleep": 0.2}, "cv": {"kind": "kfold", "folds": 2},
                    "budget": {"trials": 40, "timeout": "1s"},  # 40 trials need >= 8 s of fits on 2 workers
                    "space": {"alpha": {"type": "float", "low": 0.0, "high": 1.0}}}],
    })
    result = tune(spec, workers=2)
    assert result.models[0].stop_reason == "timeout"
    assert 1 <= len(read_trials(tmp_path / "run")) < 40
    study = _study(tmp_path / "run", "spec.sleepy")
    assert not [t for t in study.trials if t.state.name in ("RUNNING", "WAITING")]


def test_workers_take_queued_trials_in_order_without_listing_the_queue_per_trial(tmp_path: Path, monkeypatch) -> None:
    """Two workers' ``Popper``s share a 30-ticket queue on the real journal: each ticket is taken exactly once, in
    Optuna's order, a retry queued meanwhile after the rest, a cancelled one never; and the queue is listed a
    constant number of times, not once per trial (that listing filters every trial of the study: O(n) per
    trial, ``bench/bench_soak.py``)."""
    import optuna
    from optuna.trial import TrialState

    from hpo_cli.search import queue
    from hpo_cli.storage.backend import open_storage

    storage = open_storage(tmp_path, None)
    study = optuna.create_study(storage=storage, study_name="q", direction="maximize")
    for _ in range(30):
        study.enqueue_trial({})
    listings: list[int] = []
    real = type(storage).get_all_trials

    def counted(self: Any, study_id: int, deepcopy: bool = True, states: Any = None) -> Any:
        listings.append(study_id)
        return real(self, study_id, deepcopy, states)

    monkeypatch.setattr(type(storage), "get_all_trials", counted)  # counts; the storage works
    a, b = queue.Popper(study), queue.Popper(study)
    taken: list[int] = []
    for i in range(14):  # alternate: each skips the tickets the other took since its listing
        trial_id = (a if i % 2 else b)()
        assert trial_id is not None
        taken.append(trial_id)
        study.tell(optuna.Trial(study, trial_id), 1.0)
    study.enqueue_trial({})  # a retry of a dead worker's trial: queued behind every ticket
    cancelled = storage.get_all_trials(study._study_id, states=(TrialState.WAITING,))[0]._trial_id
    storage.set_trial_state_values(cancelled, state=TrialState.FAIL)  # e.g. queue.cancel_waiting
    listings.clear()
    while (trial_id := (a if len(taken) % 2 else b)()) is not None:
        taken.append(trial_id)
        study.tell(optuna.Trial(study, trial_id), 1.0)
    numbers = [storage.get_trial(t).number for t in taken]
    assert numbers == sorted(numbers) and len(set(numbers)) == 30  # 29 tickets + the retry, each once, in order
    assert numbers[-1] == 30 and storage.get_trial(cancelled).number not in numbers
    assert len(listings) <= 4, f"{len(listings)} listings of the queue for {len(taken) - 14} trials"


def test_the_coordinator_spends_at_most_a_fifth_of_its_time_looking_at_the_storage() -> None:
    """A look costs O(queue) on a database (Optuna's cache re-reads every queued ticket): the pause after it grows
    with it, so a long queue on PostgreSQL cannot make the coordinator take a core from the workers."""
    from hpo_cli.tune.parallel import POLL, POLL_SHARE, poll_pause

    assert poll_pause(0.001) == POLL  # a journal look: the usual quarter second
    for took in (0.05, 0.2, 0.45, 3.0):
        assert took / (took + poll_pause(took)) <= POLL_SHARE + 1e-9

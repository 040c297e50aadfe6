"""Many machines on one PostgreSQL study: a first ``hpo tune --storage`` and three ``--join`` processes (issue 9).

Real processes on the real PostgreSQL at 127.0.0.1:5432 (skipped, saying why, where it is not reachable;
a failure under CI). Each test uses study names of its own and deletes them afterwards.
"""

from __future__ import annotations

import collections
import contextlib
import json
import os
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import pytest
import yaml

sys.path.insert(0, str(Path(__file__).parent))
from test_storage import _postgres_or_skip  # noqa: E402

TESTS = str(Path(__file__).parent)


@pytest.fixture
def cluster(tmp_path: Path):
    """(plain postgresql:// URL as users write it, spec name, spec path, env); the studies are dropped after."""
    url = _postgres_or_skip().replace("postgresql+psycopg://", "postgresql://")
    name = f"cluster-{uuid.uuid4().hex[:8]}"
    spec = {
        "name": name, "data": {"source": "sklearn:iris"},
        "models": [
            {"name": "grid", "class": "DecisionTreeClassifier", "method": "grid", "cv": {"kind": "kfold", "folds": 2},
             "space": {"max_depth": [1, 2, 3, 4, 5, 6, 7, 8], "min_samples_leaf": [1, 2, 3, 4, 5]}},
            {"name": "knn", "class": "KNeighborsClassifier", "method": "tpe", "cv": {"kind": "kfold", "folds": 2},
             "budget": {"trials": 30}, "space": {"n_neighbors": {"type": "int", "low": 1, "high": 40}}},
        ],
        "tracking": {"mlflow": False},
    }
    path = tmp_path / "spec.yaml"
    path.write_text(json.dumps(spec), encoding="utf-8")
    env = dict(os.environ, HPO_JOIN_WAIT="300", HPO_HEARTBEAT_INTERVAL="1", HPO_HEARTBEAT_GRACE="5")
    env["PYTHONPATH"] = os.pathsep.join([TESTS, env.get("PYTHONPATH", "")])
    yield url, name, path, env
    import optuna

    from hpo_cli.storage.backend import driver_url

    for model in ("grid", "knn"):
        with contextlib.suppress(KeyError):
            optuna.delete_study(study_name=f"{name}.{model}", storage=driver_url(url))


_STARTED: list[subprocess.Popen[str]] = []


@pytest.fixture(autouse=True)
def _no_orphans():
    """A failed assertion must not leave joiners waiting on the database for minutes (their workers stop
    with them): every process a test started is ended at its teardown."""
    yield
    while _STARTED:
        proc = _STARTED.pop()
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.communicate(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.communicate()


def _hpo(*args: str, env: dict[str, str], cwd: Path) -> subprocess.Popen[str]:
    return _track(subprocess.Popen([sys.executable, "-m", "hpo_cli", "tune", *args, "-q"], cwd=cwd, env=env,
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))


def _track(proc: subprocess.Popen[str]) -> subprocess.Popen[str]:
    _STARTED.append(proc)
    return proc


def test_a_first_process_and_three_joiners_share_exact_budgets(cluster, tmp_path: Path) -> None:
    url, name, spec, env = cluster
    first = _hpo(str(spec), "--storage", url, "-o", "run0", env=env, cwd=tmp_path)  # 4 workers in all
    joiners = [_hpo(str(spec), "--storage", url, "--join", "-o", f"run{k}", env=env, cwd=tmp_path) for k in (1, 2, 3)]
    for proc in [first, *joiners]:
        out, err = proc.communicate(timeout=900)
        assert proc.returncode == 0, err
    import optuna

    from hpo_cli.storage.attrs import finished_trials
    from hpo_cli.storage.backend import driver_url

    grid, knn = _assert_exact_budgets(url, name)
    owners = {t.user_attrs["hpo_worker"].rsplit(":", 1)[0] for t in [*grid.trials, *knn.trials]}
    assert 1 <= len(owners) <= 4
    bests = []
    for k in range(4):
        best = yaml.safe_load((tmp_path / f"run{k}" / "best_parameters.yaml").read_text(encoding="utf-8"))
        bests.append((best["best_model"], {m: best["models"][m]["params"] for m in ("grid", "knn")},
                      {m: best["models"][m]["n_trials"] for m in ("grid", "knn")}))
    assert all(b == bests[0] for b in bests), bests  # every run folder agrees on the best
    assert bests[0][2] == {"grid": 40, "knn": 30}

    # A joiner whose model is not the study's is refused, naming the difference; the studies stay as they were.
    changed = subprocess.run([sys.executable, "-m", "hpo_cli", "tune", str(spec), "--storage", url, "--join",
                              "--seed", "7", "-o", "run9", "-q"], cwd=tmp_path, env=env, capture_output=True,
                             text=True, timeout=300)
    assert changed.returncode == 2 and "cv.seed: 42 -> 7" in changed.stderr and "Traceback" not in changed.stderr
    assert len(finished_trials(optuna.load_study(study_name=f"{name}.knn", storage=driver_url(url)))) == 30


def test_join_waits_a_bounded_time_then_says_what_to_start(cluster, tmp_path: Path) -> None:
    url, name, spec, env = cluster
    env = dict(env, HPO_JOIN_WAIT="1")
    done = subprocess.run([sys.executable, "-m", "hpo_cli", "tune", str(spec), "--storage", url, "--join", "-q",
                           "-o", "run"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 2 and "--join: no prepared study" in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1


def test_a_password_in_an_unreachable_storage_url_is_never_printed(tmp_path: Path, write_spec) -> None:
    spec = write_spec({"data": {"source": "sklearn:iris"},
                       "models": [{"name": "tree", "class": "DecisionTreeClassifier", "space": {"max_depth": [1, 2]}}]})
    done = subprocess.run([sys.executable, "-m", "hpo_cli", "tune", str(spec), "--workers", "2", "--storage",
                           "postgresql://bob:s3cr3t@127.0.0.1:1/test", "-o", str(tmp_path / "r")],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 2 and "s3cr3t" not in done.stderr + done.stdout and "bob:***@" in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1 and not (tmp_path / "r").exists()


def _ppid(pid: int) -> int:
    with contextlib.suppress(OSError):
        return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
    return -1


def test_a_machine_that_dies_mid_trial_loses_nothing(cluster, tmp_path: Path) -> None:
    """SIGKILL a joined process and its worker mid-fit: the heartbeat goes stale, the trial is retried, exact budget."""
    import signal
    import time

    url, name, _, env = cluster
    marks = tmp_path / "marks"
    marks.mkdir()
    spec = tmp_path / "sleepy.yaml"
    spec.write_text(json.dumps({
        "name": name, "data": {"source": "sklearn:iris"}, "allow_modules": ["hpo_test_estimators"],
        "models": [{"name": "knn", "class": "hpo_test_estimators.SleepyClassifier", "method": "random",
                    "init_params": {"sleep": 0.5}, "cv": {"kind": "kfold", "folds": 2}, "budget": {"trials": 8},
                    "space": {"alpha": {"type": "float", "low": 0.0, "high": 1.0}}}],
        "tracking": {"mlflow": False}}), encoding="utf-8")
    env = dict(env, HPO_TEST_SLEEP_MARK=str(marks))
    first = _hpo(str(spec), "--storage", url, "-o", "run0", env=env, cwd=tmp_path)
    joiner = _hpo(str(spec), "--storage", url, "--join", "-o", "run1", env=env, cwd=tmp_path)
    deadline = time.monotonic() + 300
    victim = None
    while victim is None and time.monotonic() < deadline and joiner.poll() is None:
        # The joiner's worker: forked by its template process (tune.worker_main), the joiner's child.
        victim = next((int(p.name) for p in marks.iterdir() if _ppid(_ppid(int(p.name))) == joiner.pid), None)
        time.sleep(0.05)
    assert victim is not None, "the joined process's worker never started a fit"
    os.kill(joiner.pid, signal.SIGKILL)  # the machine is gone: its coordinator and its worker
    os.kill(victim, signal.SIGKILL)
    joiner.wait()
    out, err = first.communicate(timeout=600)
    assert first.returncode == 0, err
    import optuna

    from hpo_cli.storage.attrs import finished_trials
    from hpo_cli.storage.backend import driver_url

    study = optuna.load_study(study_name=f"{name}.knn", storage=driver_url(url))
    states = collections.Counter(t.state.name for t in study.trials)
    assert states["RUNNING"] == 0 and states["WAITING"] == 0
    assert len(finished_trials(study)) == 8 and states["FAIL"] >= 1  # failed as stale, retried, not counted
    assert any("hpo_retry_of" in t.user_attrs for t in study.trials)


def _tracked_spec(cluster, tmp_path: Path) -> tuple[str, str, Path, dict[str, str], str]:
    """The cluster's spec (a 40-point grid, a random budget of 30) tracked in one shared local MLflow store."""
    url, name, path, env = cluster
    spec = json.loads(path.read_text(encoding="utf-8"))
    spec["models"][1]["method"] = "random"
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    spec["tracking"] = {"mlflow": {"uri": uri}}
    path.write_text(json.dumps(spec), encoding="utf-8")
    return url, name, path, {k: v for k, v in env.items() if not k.startswith("MLFLOW_")}, uri


def _assert_exact_and_tracked(url: str, name: str, uri: str, run_dir: Path) -> None:
    """40 distinct complete grid trials, exactly 30 random ones, nothing left queued or running; in MLflow one
    FINISHED parent per model and one child per trial."""
    import csv

    from test_tracking import assert_exactly_once, tree

    _assert_exact_budgets(url, name)
    with open(run_dir / "trials.csv", newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    assert collections.Counter(r["model"] for r in rows) == {"grid": 40, "knn": 30}
    _, parents, children = tree(uri, name)
    assert_exactly_once(parents, children, rows)
    assert {m: p.info.status for m, p in parents.items()} == {"grid": "FINISHED", "knn": "FINISHED"}


@pytest.mark.parametrize("workers", [2, 4])
def test_workers_on_postgres_are_exact_and_tracked_once(workers, cluster, tmp_path: Path) -> None:
    """Acceptance of issue 9 on the real PostgreSQL, with 2 and 4 worker processes of one ``hpo tune``."""
    url, name, spec, env, uri = _tracked_spec(cluster, tmp_path)
    done = subprocess.run([sys.executable, "-m", "hpo_cli", "tune", str(spec), "--storage", url, "--workers",
                           str(workers), "-o", "run", "-q"], cwd=tmp_path, env=env, capture_output=True, text=True,
                          timeout=600)
    assert done.returncode == 0, done.stderr
    _assert_exact_and_tracked(url, name, uri, tmp_path / "run")


def test_joiners_share_one_mlflow_parent_per_model_closed_by_the_first(cluster, tmp_path: Path) -> None:
    """A first process and 2 joiners, one MLflow store: one parent per model, one child per trial, parents
    FINISHED by the first process; a joiner that arrives once all is done neither reopens them nor logs again.
    Only the first process confirms the winner; every run folder shows that confirmation."""
    url, name, spec, env, uri = _tracked_spec(cluster, tmp_path)
    data = json.loads(spec.read_text(encoding="utf-8"))
    data["models"][1]["confirm"] = {"top": 2, "repeats": 1}
    spec.write_text(json.dumps(data), encoding="utf-8")
    from mlflow import MlflowClient

    # The store's tables first: MLflow's SQLite migrations race when three processes create one file at
    # once ("duplicate column name"); machines of a cluster share a tracking server, which migrates once.
    MlflowClient(uri).search_experiments()
    first = _hpo(str(spec), "--storage", url, "-o", "run0", env=env, cwd=tmp_path)
    joiners = [_hpo(str(spec), "--storage", url, "--join", "-o", f"run{k}", env=env, cwd=tmp_path) for k in (1, 2)]
    for proc in [first, *joiners]:
        out, err = proc.communicate(timeout=900)
        assert proc.returncode == 0, err
    _assert_exact_and_tracked(url, name, uri, tmp_path / "run0")
    late = subprocess.run([sys.executable, "-m", "hpo_cli", "tune", str(spec), "--storage", url, "--join", "-o", "run3",
                           "-q"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert late.returncode == 0, late.stderr
    _assert_exact_and_tracked(url, name, uri, tmp_path / "run0")
    import csv

    confirmed = []
    for k in range(4):
        with open(tmp_path / f"run{k}" / "trials.csv", newline="", encoding="utf-8") as fh:
            confirmed.append({r["trial"]: r["confirmed_mean_test_score"] for r in csv.DictReader(fh)
                              if r["model"] == "knn" and r["confirmed_mean_test_score"]})
        best = yaml.safe_load((tmp_path / f"run{k}" / "best_parameters.yaml").read_text(encoding="utf-8"))
        assert best["models"]["knn"]["params"] == yaml.safe_load(
            (tmp_path / "run0" / "best_parameters.yaml").read_text(encoding="utf-8"))["models"]["knn"]["params"]
    assert len(confirmed[0]) == 2 and all(c == confirmed[0] for c in confirmed), confirmed


def _assert_exact_budgets(url: str, name: str) -> tuple[Any, Any]:
    """The 40-point grid ran every point exactly once; the random model finished exactly its 30 trials."""
    import optuna

    from hpo_cli.storage.attrs import finished_trials
    from hpo_cli.storage.backend import driver_url

    grid = optuna.load_study(study_name=f"{name}.grid", storage=driver_url(url))
    assert collections.Counter(t.state.name for t in grid.trials) == {"COMPLETE": 40}
    assert len({tuple(sorted(t.params.items())) for t in grid.trials}) == 40  # every point once
    knn = optuna.load_study(study_name=f"{name}.knn", storage=driver_url(url))
    assert len(finished_trials(knn)) == 30
    assert not [t for t in knn.trials if t.state.name in ("RUNNING", "WAITING")]
    return grid, knn

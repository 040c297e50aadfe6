"""What MLflow tracking costs a search, per trial: the local default store and a real ``mlflow server``.

Drives ``hpo_cli.tracking.tracker`` exactly as the search does (a real Optuna study in a journal file,
``study_opened``, ``trial_finished`` per trial, ``flush``), in a temporary folder, and prints a Markdown
table. Columns:

- ``enqueue``: time ``trial_finished`` takes on the search's thread (the writes are queued);
- ``writer``: the writer process's time per child run (create + one log_batch + terminate), measured by
  draining trials that take no time: the cost if trials were faster than the tracking;
- ``added``: what tracking adds per trial to a search whose trials fit a small model (~10 ms of CPU),
  against the same loop without tracking; the figure issue 4 targets (<= 20 ms, local store). The
  writes' CPU (~14 ms per child in MLflow/SQLAlchemy) is spent in the writer process: on a machine
  with a free core it costs the search almost nothing, on a saturated one it competes for the cores.

Runnable alone (``.venv/bin/python bench/bench_tracking.py [TRIALS]``); ``rows()`` returns the rows
for bench/run.py. Starting the server takes several seconds and is not counted.
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

SPEC = {"name": "bench-tracking", "data": {"source": "sklearn:iris"},
        "models": [{"name": "logreg", "class": "LogisticRegression", "init_params": {"max_iter": 200},
                    "space": {"C": {"type": "float", "low": 0.01, "high": 10, "log": True},
                              "tol": {"type": "float", "low": 1e-5, "high": 1e-2, "log": True}}}],
        "tracking": {"mlflow": True}}


def _fit_once(X: Any, y: Any, C: float) -> list[float]:
    """A small real trial: 5 fits of a logistic regression (~10 ms of CPU), as the search would."""
    from sklearn.linear_model import LogisticRegression

    scores = []
    for k in range(5):
        rows = [i for i in range(len(y)) if i % 5 != k]
        test = [i for i in range(len(y)) if i % 5 == k]
        model = LogisticRegression(C=C, max_iter=200).fit(X[rows], y[rows])
        scores.append(float(model.score(X[test], y[test])))
    return scores


def _record(model: str, number: int, params: dict[str, Any], scores: list[float]) -> Any:
    from hpo_cli.core.results import COMPLETE, TrialRecord

    mean = statistics.fmean(scores)
    return TrialRecord(model=model, number=number, state=COMPLETE, params=params, mean_test_score=mean,
                       std_test_score=statistics.pstdev(scores), split_scores=scores,
                       metrics={"f1_macro": {"mean": mean, "std": 0.01, "splits": scores}},
                       mean_fit_time=0.002, mean_score_time=0.001, duration=0.01)


def _search(folder: Path, uri: str | None, trials: int, fit: bool, name: str) -> dict[str, float]:
    """One study of ``trials`` trials with (uri) or without (None) tracking; timings in seconds."""
    import numpy as np
    import optuna
    from optuna.storages import JournalStorage
    from optuna.storages.journal import JournalFileBackend
    from sklearn.datasets import load_iris

    from hpo_cli.core.options import TuneOptions
    from hpo_cli.spec.load import load_spec

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    folder.mkdir(parents=True, exist_ok=True)
    spec_path = folder / f"{name}.yaml"
    spec_path.write_text(json.dumps({**SPEC, "name": name}), encoding="utf-8")
    spec = load_spec(spec_path)
    X, y = load_iris(return_X_y=True)
    X, y = np.asarray(X), np.asarray(y)
    storage = JournalStorage(JournalFileBackend(str(folder / f"{name}.journal")))
    study = optuna.create_study(study_name=f"{name}.logreg", storage=storage, direction="maximize",
                                sampler=optuna.samplers.RandomSampler(seed=0))
    out: dict[str, float] = {}
    tracker = None
    if uri is not None:
        from hpo_cli.tracking.tracker import open_tracker

        t0 = time.perf_counter()
        tracker = open_tracker(spec, TuneOptions(spec=spec_path, tracking_uri=uri), folder / "run")
        tracker.study_opened("logreg", study)
        out["open"] = time.perf_counter() - t0
    enqueue = 0.0
    started = time.perf_counter()
    for _ in range(trials):
        trial = study.ask()
        params = {"C": trial.suggest_float("C", 0.01, 10, log=True),
                  "tol": trial.suggest_float("tol", 1e-5, 1e-2, log=True)}
        scores = _fit_once(X, y, params["C"]) if fit else [0.9, 0.95, 0.92, 0.97, 0.91]
        study.tell(trial, statistics.fmean(scores))
        if tracker is not None:
            t0 = time.perf_counter()
            tracker.trial_finished(_record("logreg", trial.number, params, scores))
            enqueue += time.perf_counter() - t0
    out["loop"] = time.perf_counter() - started
    if tracker is not None:
        tracker.flush()
        out["drained"] = time.perf_counter() - started
        out["enqueue"] = enqueue
        tracker.close()
        if tracker.failed:
            raise RuntimeError(tracker.failure)
    return out


def measure(store: str, uri: str, folder: Path, trials: int, reps: int = 3) -> dict[str, Any]:
    """One row: the store's per-trial costs in milliseconds (untracked and tracked runs interleaved)."""
    _search(folder / "warm", uri, 5, fit=True, name="warm")  # imports, tables, server warm-up
    added, base, opened = [], [], []
    for i in range(reps):  # interleaved, so a busy machine's drift hits both sides alike
        untracked = _search(folder / f"base{i}", None, trials, fit=True, name=f"base{i}")
        tracked = _search(folder / f"fit{i}", uri, trials, fit=True, name=f"fit{i}")
        base.append(untracked["loop"])
        added.append(tracked["drained"] - untracked["loop"])
        opened.append(tracked["open"])
    fast = _search(folder / "fast", uri, trials, fit=False, name="fast")
    return {
        "store": store, "trials": trials,
        "open s": round(statistics.median(opened), 2),
        "enqueue ms/trial": round(1000 * fast["enqueue"] / trials, 3),
        "writer ms/child": round(1000 * fast["drained"] / trials, 1),
        "trial ms (no tracking)": round(1000 * statistics.median(base) / trials, 1),
        "added ms/trial": round(1000 * statistics.median(added) / trials, 1),
    }


def rows(trials: int = 60, server: bool = True) -> list[dict[str, Any]]:
    """The bench's rows: the local default store (sqlite:///mlflow.db in a temp cwd) and a real server."""
    out = []
    old_cwd = Path.cwd()
    with tempfile.TemporaryDirectory(prefix="hpo-bench-tracking-") as tmp:
        root = Path(tmp)
        os.chdir(root)
        try:
            out.append(measure("local default (sqlite:///mlflow.db)", f"sqlite:///{root / 'mlflow.db'}",
                               root / "local", trials))
            if server:
                from mlflow_server import MlflowServer

                srv = MlflowServer(root / "server").start()
                try:
                    out.append(measure("mlflow server (127.0.0.1, sqlite backend)", srv.uri, root / "remote",
                                       trials))
                finally:
                    srv.stop()
        finally:
            os.chdir(old_cwd)
    return out


def markdown(table: list[dict[str, Any]]) -> str:
    heads = list(table[0])
    lines = ["| " + " | ".join(heads) + " |", "|" + "---|" * len(heads)]
    lines += ["| " + " | ".join(str(r[h]) for h in heads) + " |" for r in table]
    return "\n".join(lines)


def main() -> None:
    trials = int(sys.argv[1]) if len(sys.argv) > 1 else 60
    print(markdown(rows(trials)))
    print(f"\n{trials} trials per measurement; `added` = median over 3 interleaved pairs of (tracked loop incl. "
          "the final flush - the same loop untracked) per trial. Target (issue 4): added <= 20 ms, local store.")


if __name__ == "__main__":
    main()

"""What ``--workers 2`` buys on this machine, and what a busy core costs one worker (issue 9).

Each figure is the median wall time of ``hpo tune SPEC --no-mlflow -q --fresh`` run as a subprocess (start-up
of the coordinator and of its workers included: what a user waits for), side by side with the other setting:

- ``speed-up``: ``--workers 1`` time / ``--workers 2`` time for a single-threaded estimator whose fit takes
  >= 0.1 s (GradientBoostingClassifier; target >= 1.8), HistGradientBoosting (OpenMP) and XGBoost (target:
  never slower than one worker, i.e. >= 1.0);
- each figure also in parentheses: the search alone (first trial's start to last trial's end, from the
  study), without the interpreter and worker start-up, which a loaded machine stretches to seconds;
- ``busy core``: one worker of HistGradientBoosting while another process spins on one core, over the same
  run on the idle machine (target <= 2.2; issue 9 measured ~15x before threads were limited).

Runnable alone (``.venv/bin/python bench/bench_workers.py [REPS]``); ``rows()``/``markdown()`` serve
bench/run.py. The machine this ran on is shared: other processes' load shows in every figure.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "OMP_WAIT_POLICY")

CASES: dict[str, dict[str, Any]] = {
    "GradientBoosting (1 thread, fit ~0.2 s)": {
        "class": "GradientBoostingClassifier", "init_params": {"n_estimators": 60},
        "space": {"max_depth": {"type": "int", "low": 2, "high": 4},
                  "learning_rate": {"type": "float", "low": 0.01, "high": 0.3, "log": True}}},
    "HistGradientBoosting (OpenMP)": {
        "class": "HistGradientBoostingClassifier", "init_params": {"max_iter": 60},
        "space": {"max_leaf_nodes": {"type": "int", "low": 8, "high": 48},
                  "learning_rate": {"type": "float", "low": 0.01, "high": 0.3, "log": True}}},
    "XGBoost": {
        "class": "XGBClassifier", "init_params": {"n_estimators": 60},
        "space": {"max_depth": {"type": "int", "low": 2, "high": 6},
                  "learning_rate": {"type": "float", "low": 0.01, "high": 0.3, "log": True}}},
}


def _spec(case: dict[str, Any], trials: int) -> dict[str, Any]:
    return {"name": "bench-workers", "data": {"source": "sklearn:breast_cancer"},
            "models": [{"name": "m", "method": "random", "cv": {"kind": "stratified", "folds": 3},
                        "budget": {"trials": trials}, **case}],
            "tracking": {"mlflow": False}}


def _env() -> dict[str, str]:
    """The environment a user has: no thread variables (bench/run.py sets them for its own sections)."""
    env = {k: v for k, v in os.environ.items() if k not in THREAD_VARS}
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")])
    return env


def _span(run: Path) -> float:
    """Seconds from the first trial's start to the last trial's end, read from the study (start-up excluded)."""
    import optuna

    from hpo_cli.storage.backend import open_storage

    study = optuna.load_study(study_name="bench-workers.m", storage=open_storage(run, None))
    trials = [t for t in study.trials if t.datetime_start and t.datetime_complete]
    return (max(t.datetime_complete for t in trials) - min(t.datetime_start for t in trials)).total_seconds()


def _tune(folder: Path, spec: dict[str, Any], workers: int) -> tuple[float, float]:
    """(wall seconds of the whole command, seconds of the search itself)."""
    path = folder / "spec.json"
    path.write_text(json.dumps(spec), encoding="utf-8")
    run = folder / f"run{workers}"
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "hpo_cli", "tune", str(path), "--workers", str(workers), "--fresh",
                           "-q", "-o", str(run)], env=_env(), cwd=folder, capture_output=True, text=True)
    wall = time.perf_counter() - start
    if done.returncode != 0:
        raise RuntimeError(f"hpo tune --workers {workers} exited {done.returncode}: {done.stderr.strip()[-2000:]}")
    return wall, _span(run)


def _spin(stop: Any) -> None:
    while not stop.is_set():
        pass


def _median(folder: Path, spec: dict[str, Any], workers: int, reps: int) -> tuple[float, float]:
    runs = [_tune(folder, spec, workers) for _ in range(reps)]
    return statistics.median(r[0] for r in runs), statistics.median(r[1] for r in runs)


def _row(label: str, a: tuple[float, float], b: tuple[float, float], target: str, speedup: bool) -> list[Any]:
    ratio = (lambda x, y: x / y) if speedup else (lambda x, y: y / x)
    return [label, f"{a[0]:.1f} ({a[1]:.1f})", f"{b[0]:.1f} ({b[1]:.1f})", round(ratio(a[0], b[0]), 2),
            round(ratio(a[1], b[1]), 2), target]


def rows(reps: int = 3, trials: int = 24) -> list[list[Any]]:
    """[what, A wall (search) s, B wall (search) s, ratio of walls, ratio of searches, target] per measurement."""
    out: list[list[Any]] = []
    with tempfile.TemporaryDirectory(prefix="hpo-bench-workers-") as tmp:
        folder = Path(tmp)
        idle_hgb = None
        for label, case in CASES.items():
            spec = _spec(case, trials)
            one = _median(folder, spec, 1, reps)
            two = _median(folder, spec, 2, reps)
            target = ">= 1.8" if "1 thread" in label else ">= 1.0"
            out.append(_row(f"speed-up of --workers 2, {label}", one, two, target, True))
            if label.startswith("HistGradientBoosting"):
                idle_hgb = one
        spec = _spec(CASES["HistGradientBoosting (OpenMP)"], trials)
        stop = multiprocessing.Event()
        hog = multiprocessing.Process(target=_spin, args=(stop,), daemon=True)
        hog.start()
        try:
            busy = _median(folder, spec, 1, reps)
        finally:
            stop.set()
            hog.join(timeout=5)
        assert idle_hgb is not None
        out.append(_row("slowdown of 1 worker (HistGradientBoosting) with one core busy", idle_hgb, busy, "<= 2.2",
                        False))
    return out


def markdown(table: list[list[Any]]) -> str:
    from tabulate import tabulate

    return tabulate(table, headers=["measurement", "A: 1 worker / idle, s: wall (search)",
                                    "B: 2 workers / busy, s: wall (search)", "ratio (wall)", "ratio (search)",
                                    "target"], tablefmt="github")


if __name__ == "__main__":
    print(markdown(rows(int(sys.argv[1]) if len(sys.argv) > 1 else 3)))

"""What ``--workers 2`` buys on this machine, and what a busy core costs one worker (issue 9).

Each figure is the median wall time of ``hpo tune SPEC --no-mlflow -q --fresh`` run as a subprocess (start-up
of the coordinator and of its workers included: what a user waits for), side by side with the other setting:

- ``speed-up``: ``--workers 1`` time / ``--workers 2`` time for a single-threaded estimator whose fit takes
  >= 0.1 s (GradientBoostingClassifier; target >= 1.8), HistGradientBoosting (OpenMP) and XGBoost (target:
  never slower than one worker, i.e. >= 1.0);
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


def _tune(folder: Path, spec: dict[str, Any], workers: int) -> float:
    path = folder / "spec.json"
    path.write_text(json.dumps(spec), encoding="utf-8")
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "hpo_cli", "tune", str(path), "--workers", str(workers), "--fresh",
                    "-q", "-o", str(folder / "run")], check=True, env=_env(), cwd=folder, capture_output=True)
    return time.perf_counter() - start


def _spin(stop: Any) -> None:
    while not stop.is_set():
        pass


def _median(folder: Path, spec: dict[str, Any], workers: int, reps: int) -> float:
    return statistics.median(_tune(folder, spec, workers) for _ in range(reps))


def rows(reps: int = 3, trials: int = 24) -> list[list[Any]]:
    """[what, setting A (s), setting B (s), ratio, target] per measurement."""
    out: list[list[Any]] = []
    with tempfile.TemporaryDirectory(prefix="hpo-bench-workers-") as tmp:
        folder = Path(tmp)
        idle_hgb = None
        for label, case in CASES.items():
            spec = _spec(case, trials)
            one = _median(folder, spec, 1, reps)
            two = _median(folder, spec, 2, reps)
            target = ">= 1.8" if "1 thread" in label else ">= 1.0"
            out.append([f"speed-up of --workers 2, {label}", round(one, 1), round(two, 1), round(one / two, 2), target])
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
        out.append(["slowdown of 1 worker (HistGradientBoosting) with one core busy", round(idle_hgb, 1),
                    round(busy, 1), round(busy / idle_hgb, 2), "<= 2.2"])
    return out


def markdown(table: list[list[Any]]) -> str:
    from tabulate import tabulate

    return tabulate(table, headers=["measurement", "A: 1 worker / idle (s)", "B: 2 workers / busy (s)",
                                    "ratio", "target"], tablefmt="github")


if __name__ == "__main__":
    print(markdown(rows(int(sys.argv[1]) if len(sys.argv) > 1 else 3)))

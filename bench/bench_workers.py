"""What ``--workers 2`` buys on this machine, and what a busy core costs one worker (issue 9).

Each figure is the median wall time of ``hpo tune SPEC --no-mlflow -q --fresh`` run as a subprocess (start-up
of the coordinator and of its workers included: what a user waits for). The settings compared run
interleaved (A B A B ...), so that a change of the machine's load hits both sides alike:

- ``speed-up``: ``--workers 1`` time / ``--workers 2`` time for a single-threaded estimator whose fit takes
  >= 0.1 s (GradientBoostingClassifier; target >= 1.8), HistGradientBoosting (OpenMP) and XGBoost (target:
  never slower than one worker, i.e. >= 1.0);
- ``busy core``: one worker of HistGradientBoosting while another process spins on one core, over the same
  run on the idle machine (target <= 2.2; issue 9 measured ~15x before threads were limited).

The targets are about search capacity, so the searches are long enough to amortise start-up (60 trials,
~25-30 s for one worker on an idle two-core machine) and only the learning rate varies: every trial costs
about the same, whichever points the workers' seeds draw. Each row also shows the search alone (first
trial's start to last trial's end, from the study), the start-up (command start to first trial) and the
end (last trial to exit: refit, run folder). The mean fit time per fold comes from trials.csv.

Runnable alone: ``.venv/bin/python bench/bench_workers.py [--reps N] [--trials N] [--quick]`` (``--quick``:
1 rep of 8 trials, to check the script, not to measure); ``rows()``/``markdown()`` serve bench/run.py.
The machine this ran on is shared: other processes' load shows in every figure.
"""

from __future__ import annotations

import argparse
import csv
import json
import multiprocessing
import os
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "OMP_WAIT_POLICY")
LR = {"learning_rate": {"type": "float", "low": 0.02, "high": 0.3, "log": True}}

CASES: dict[str, dict[str, Any]] = {
    "GradientBoosting (1 thread)": {
        "class": "GradientBoostingClassifier", "init_params": {"n_estimators": 100, "max_depth": 3}, "space": LR},
    "HistGradientBoosting (OpenMP)": {
        "class": "HistGradientBoostingClassifier",
        "init_params": {"max_iter": 100, "max_leaf_nodes": 31, "early_stopping": False}, "space": LR},
    "XGBoost": {
        "class": "XGBClassifier", "init_params": {"n_estimators": 100, "max_depth": 4}, "space": LR},
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


def _phases(run: Path, started: datetime, ended: datetime) -> tuple[float, float, float, float]:
    """(search s, start-up s, end s, mean fit s per fold), read from the study and trials.csv."""
    import optuna

    from hpo_cli.storage.backend import open_storage

    study = optuna.load_study(study_name="bench-workers.m", storage=open_storage(run, None, repair=False))
    trials = [t for t in study.trials if t.datetime_start and t.datetime_complete]
    first, last = min(t.datetime_start for t in trials), max(t.datetime_complete for t in trials)
    with open(run / "trials.csv", newline="", encoding="utf-8") as fh:
        fits = [float(r["mean_fit_time"]) for r in csv.DictReader(fh) if r["mean_fit_time"]]
    return ((last - first).total_seconds(), (first - started).total_seconds(), (ended - last).total_seconds(),
            statistics.mean(fits))


def _tune(folder: Path, spec: dict[str, Any], workers: int) -> dict[str, float]:
    """One run: wall, search, start-up and end seconds, and the mean fit time per fold."""
    path = folder / "spec.json"
    path.write_text(json.dumps(spec), encoding="utf-8")
    run = folder / f"run{workers}"
    started, start = datetime.now(), time.perf_counter()  # naive local time, as Optuna stores it
    done = subprocess.run([sys.executable, "-m", "hpo_cli", "tune", str(path), "--workers", str(workers), "--fresh",
                           "-q", "-o", str(run)], env=_env(), cwd=folder, capture_output=True, text=True)
    wall, ended = time.perf_counter() - start, datetime.now()
    if done.returncode != 0:
        raise RuntimeError(f"hpo tune --workers {workers} exited {done.returncode}: {done.stderr.strip()[-2000:]}")
    search, startup, end, fit = _phases(run, started, ended)
    return {"wall": wall, "search": search, "startup": startup, "end": end, "fit": fit}


def _spin(stop: Any) -> None:
    while not stop.is_set():
        pass


class BusyCore:
    """Another process holding one core for as long as the block runs."""

    def __enter__(self) -> BusyCore:
        self.stop = multiprocessing.Event()
        self.hog = multiprocessing.Process(target=_spin, args=(self.stop,), daemon=True)
        self.hog.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.hog.join(timeout=5)


def _interleaved(reps: int, a: Any, b: Any) -> tuple[dict[str, float], dict[str, float]]:
    """A B A B ...: the medians of each side's measures."""
    runs_a, runs_b = [], []
    for _ in range(reps):
        runs_a.append(a())
        runs_b.append(b())
    return _medians(runs_a), _medians(runs_b)


def _medians(runs: list[dict[str, float]]) -> dict[str, float]:
    return {k: statistics.median(r[k] for r in runs) for k in runs[0]}


def _show(m: dict[str, float]) -> str:
    return f"{m['wall']:.1f} ({m['search']:.1f}; {m['startup']:.1f} + {m['end']:.1f})"


def _row(label: str, a: dict[str, float], b: dict[str, float], target: str, speedup: bool,
         reps: int) -> list[Any]:
    ratio = (lambda k: a[k] / b[k]) if speedup else (lambda k: b[k] / a[k])
    return [label, reps, f"{a['fit']:.3f}", _show(a), _show(b), round(ratio("wall"), 2), round(ratio("search"), 2),
            target]


def rows(reps: int = 3, trials: int = 60) -> list[list[Any]]:
    """Per measurement: what, reps, mean fit s, A and B (wall (search; start-up + end)), ratios, target."""
    out: list[list[Any]] = []
    with tempfile.TemporaryDirectory(prefix="hpo-bench-workers-") as tmp:
        folder = Path(tmp)
        for label, case in CASES.items():
            spec = _spec(case, trials)
            one, two = _interleaved(reps, lambda s=spec: _tune(folder, s, 1), lambda s=spec: _tune(folder, s, 2))
            target = ">= 1.8" if "1 thread" in label else ">= 1.0"
            out.append(_row(f"speed-up of --workers 2, {label}", one, two, target, True, reps))

        def busy(s: dict[str, Any]) -> dict[str, float]:
            with BusyCore():
                return _tune(folder, s, 1)

        spec = _spec(CASES["HistGradientBoosting (OpenMP)"], trials)
        idle, loaded = _interleaved(reps, lambda: _tune(folder, spec, 1), lambda: busy(spec))
        out.append(_row("slowdown of 1 worker (HistGradientBoosting) with one core busy", idle, loaded, "<= 2.2",
                        False, reps))
    return out


def markdown(table: list[list[Any]]) -> str:
    from tabulate import tabulate

    return tabulate(table, headers=["measurement", "reps", "mean fit s (A)",
                                    "A: 1 worker / idle, s: wall (search; start-up + end)",
                                    "B: 2 workers / busy core, s: wall (search; start-up + end)",
                                    "ratio (wall)", "ratio (search)", "target"], tablefmt="github")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--reps", type=int, default=3, help="repetitions of each setting (medians; default 3)")
    parser.add_argument("--trials", type=int, default=60, help="trials per search (default 60)")
    parser.add_argument("--quick", action="store_true", help="1 rep of 8 trials: checks the script, measures nothing")
    args = parser.parse_args(argv)
    reps, trials = (1, 8) if args.quick else (args.reps, args.trials)
    load = os.getloadavg()
    started = time.perf_counter()
    table = rows(reps, trials)
    print(markdown(table))
    print(f"\n{trials} trials per search; load average before {load[0]:.2f}, after {os.getloadavg()[0]:.2f}; "
          f"{time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()

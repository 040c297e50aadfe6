"""What ``--workers 2`` buys on this machine, and what a busy core costs one worker (issue 9).

Each figure is the median wall time of ``hpo tune SPEC -q --fresh`` (the spec turns MLflow off) run as a
subprocess (start-up of the coordinator and of its workers included: what a user waits for). The settings
compared run interleaved (A B A B ...), so that a change of the machine's load hits both sides alike:

- ``gb``, ``hgb``, ``xgb``: ``--workers 1`` time / ``--workers 2`` time for a single-threaded estimator whose
  fit takes >= 0.1 s (GradientBoostingClassifier; target >= 1.8), HistGradientBoosting (OpenMP) and XGBoost
  (target: never slower than one worker, i.e. >= 1.0);
- ``busy``: one worker of HistGradientBoosting while another process spins on one core, over the same run
  on the idle machine (target <= 2.2; issue 9 measured ~15x before threads were limited);
- ``ceiling``: what two cores give two processes at all: one plain Python process running 2K scikit-learn
  ``cross_val_score`` calls of the ``gb`` estimator, over two such processes running K each at the same
  time (imports excluded). No hpo in it: the search phase of ``gb`` cannot beat it. Its "mean fit" is the
  loop's time per fold, scoring included.

The targets are about search capacity, so the searches are long enough to amortise start-up (``gb``: 80
trials, ~45 s for one worker on an idle two-core machine) and only the learning rate varies: every trial
costs about the same, whichever points the workers' seeds draw. Each row also shows the search alone
(first trial's start to last trial's end, from the study), the start-up (command start to first trial)
and the end (last trial to exit: refit, run folder), and the mean fit time per fold of A and B (from
trials.csv: B's higher means the two workers slow each other's fits down, the machine's share).

Every repetition's figures are printed as soon as measured (stderr), each row when its repetitions are
done (stdout, flushed); the table at the end. Runnable alone (~10 min idle with the defaults):

    python bench/bench_workers.py                      # every row, 3 reps, medians
    python bench/bench_workers.py --only gb --reps 5   # rows: gb, hgb, xgb, busy, ceiling
    python bench/bench_workers.py --quick              # 1 rep of 8 trials: checks the script, measures nothing

``rows()``/``markdown()`` serve bench/run.py. The machine this ran on is shared: other processes' load
shows in every figure.
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
    "gb": {"label": "GradientBoosting (1 thread)", "trials": 80, "model": {
        "class": "GradientBoostingClassifier", "init_params": {"n_estimators": 100, "max_depth": 3}, "space": LR}},
    "hgb": {"label": "HistGradientBoosting (OpenMP)", "trials": 60, "model": {
        "class": "HistGradientBoostingClassifier",
        "init_params": {"max_iter": 100, "max_leaf_nodes": 31, "early_stopping": False}, "space": LR}},
    "xgb": {"label": "XGBoost", "trials": 60, "model": {
        "class": "XGBClassifier", "init_params": {"n_estimators": 100, "max_depth": 4}, "space": LR}},
}
ROWS = ("gb", "hgb", "xgb", "busy", "ceiling")


def _spec(model: dict[str, Any], trials: int) -> dict[str, Any]:
    return {"name": "bench-workers", "data": {"source": "sklearn:breast_cancer"},
            "models": [{"name": "m", "method": "random", "cv": {"kind": "stratified", "folds": 3},
                        "budget": {"trials": trials}, **model}],
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


CEILING = """
import sys, time
from sklearn.datasets import load_breast_cancer
from sklearn.ensemble import GradientBoostingClassifier
from sklearn.model_selection import StratifiedKFold, cross_val_score
X, y = load_breast_cancer(return_X_y=True)
cv = StratifiedKFold(3, shuffle=True, random_state=0)
start = time.perf_counter()
for i in range(int(sys.argv[1])):
    cross_val_score(GradientBoostingClassifier(n_estimators=100, max_depth=3, learning_rate=0.02 + 0.01 * (i % 20)),
                    X, y, cv=cv, scoring="roc_auc")
print(time.perf_counter() - start)
"""


def _plain(evaluations: int, processes: int) -> dict[str, float]:
    """``processes`` plain processes running ``evaluations`` cross_val_score calls each, at once (after imports:
    each waits for a go line on stdin); the slowest one's loop time, as ``wall`` and ``search``."""
    env = {**_env(), "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}
    code = "import sys; sys.stdin.readline()\n" + CEILING
    procs = [subprocess.Popen([sys.executable, "-c", code, str(evaluations)], env=env, stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True) for _ in range(processes)]
    time.sleep(3.0)  # imports done (~1 s idle) before any loop starts
    for proc in procs:
        assert proc.stdin is not None
        proc.stdin.write("go\n")
        proc.stdin.flush()
    times = [float(proc.communicate()[0].strip()) for proc in procs]
    slowest = max(times)
    return {"wall": slowest, "search": slowest, "startup": 0.0, "end": 0.0, "fit": slowest / evaluations / 3}


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


def _say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def _interleaved(reps: int, a: Any, b: Any, what: str) -> tuple[dict[str, float], dict[str, float]]:
    """A B A B ...: the medians of each side's measures; each run's figures said as soon as measured."""
    runs_a, runs_b = [], []
    for rep in range(1, reps + 1):
        for side, run, runs in (("A", a, runs_a), ("B", b, runs_b)):
            runs.append(run())
            _say(f"  {what}, rep {rep}/{reps}, {side}: {_show(runs[-1])}, mean fit {runs[-1]['fit']:.3f} s; "
                 f"load average {os.getloadavg()[0]:.2f}")
    return _medians(runs_a), _medians(runs_b)


def _medians(runs: list[dict[str, float]]) -> dict[str, float]:
    return {k: statistics.median(r[k] for r in runs) for k in runs[0]}


def _show(m: dict[str, float]) -> str:
    return f"{m['wall']:.1f} ({m['search']:.1f}; {m['startup']:.1f} + {m['end']:.1f})"


def _row(label: str, trials: int | str, a: dict[str, float], b: dict[str, float], target: str, speedup: bool,
         reps: int) -> list[Any]:
    ratio = (lambda k: a[k] / b[k]) if speedup else (lambda k: b[k] / a[k])
    return [label, reps, trials, f"{a['fit']:.3f} / {b['fit']:.3f}", _show(a), _show(b), round(ratio("wall"), 2),
            round(ratio("search"), 2), target]


def _measure(name: str, folder: Path, reps: int, trials: int | None) -> list[Any]:
    """One row of the table (``ROWS``)."""
    if name in CASES:
        case = CASES[name]
        n = trials or case["trials"]
        spec = _spec(case["model"], n)
        one, two = _interleaved(reps, lambda: _tune(folder, spec, 1), lambda: _tune(folder, spec, 2), name)
        return _row(f"speed-up of --workers 2, {case['label']}", n, one, two, ">= 1.8" if name == "gb" else ">= 1.0",
                    True, reps)
    if name == "busy":
        n = trials or CASES["hgb"]["trials"]
        spec = _spec(CASES["hgb"]["model"], n)

        def busy() -> dict[str, float]:
            with BusyCore():
                return _tune(folder, spec, 1)

        idle, loaded = _interleaved(reps, lambda: _tune(folder, spec, 1), busy, name)
        return _row("slowdown of 1 worker (HistGradientBoosting) with one core busy", n, idle, loaded, "<= 2.2",
                    False, reps)
    if name == "ceiling":
        k = max(2, (trials or CASES["gb"]["trials"]) // 4)
        one, two = _interleaved(reps, lambda: _plain(2 * k, 1), lambda: _plain(k, 2), name)
        return _row(f"ceiling: 1 plain process x {2 * k} cross_val_score over 2 x {k} at once (GradientBoosting)",
                    f"{2 * k} / 2x{k}", one, two, "(the machine's)", True, reps)
    raise ValueError(f"unknown row {name!r}: expected one of {', '.join(ROWS)}")


def rows(reps: int = 3, trials: int | None = None, only: list[str] | None = None,
         show: Any = None) -> list[list[Any]]:
    """Per row (``only``: some of ``ROWS``, in that order): what, reps, trials, mean fit s of A / B, A and B
    (wall (search; start-up + end)), ratios, target. ``trials``: every row's search (default: per row).
    ``show(row)`` hears each row as soon as it is measured."""
    wanted = [r for r in ROWS if r in (only or ROWS)]
    unknown = set(only or ()) - set(ROWS)
    if unknown:
        raise ValueError(f"unknown rows {sorted(unknown)}: expected some of {', '.join(ROWS)}")
    out: list[list[Any]] = []
    with tempfile.TemporaryDirectory(prefix="hpo-bench-workers-") as tmp:
        for name in wanted:
            out.append(_measure(name, Path(tmp), reps, trials))
            if show is not None:
                show(out[-1])
    return out


HEADERS = ["measurement", "reps", "trials", "mean fit s per fold, A / B",
           "A: 1 worker / idle, s: wall (search; start-up + end)",
           "B: 2 workers / busy core, s: wall (search; start-up + end)", "ratio (wall)", "ratio (search)", "target"]


def markdown(table: list[list[Any]]) -> str:
    from tabulate import tabulate

    return tabulate(table, headers=HEADERS, tablefmt="github")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--reps", type=int, default=3, help="repetitions of each setting (medians; default 3)")
    parser.add_argument("--trials", type=int, default=None,
                        help="trials per search for every row (default: gb 80, the others 60)")
    parser.add_argument("--only", default=",".join(ROWS), help=f"rows, comma-separated (default: {','.join(ROWS)})")
    parser.add_argument("--quick", action="store_true", help="1 rep of 8 trials: checks the script, measures nothing")
    args = parser.parse_args(argv)
    reps, trials = (1, 8) if args.quick else (args.reps, args.trials)
    only = [r.strip() for r in args.only.split(",") if r.strip()]
    load = os.getloadavg()
    started = time.perf_counter()
    print(f"load average before: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}; rows {', '.join(only)}; {reps} reps",
          flush=True)

    def show(row: list[Any]) -> None:
        print(" | ".join(str(c) for c in row), flush=True)

    table = rows(reps, trials, only, show)
    print()
    print(markdown(table))
    print(f"\nload average before {load[0]:.2f}, after {os.getloadavg()[0]:.2f}; "
          f"{time.perf_counter() - started:.0f} s", flush=True)


if __name__ == "__main__":
    main()

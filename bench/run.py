"""Speed and quality benchmarks of hpo, printed as Markdown tables (what `make bench` runs).

Why these sections: issue 3 sets two speed targets for the engine and asks for evidence behind two
choices, and each needs a fair baseline run in the same process on the same data and folds:

- ``overhead``  hpo's grid search against scikit-learn's ``GridSearchCV(n_jobs=1)`` on the same 12-point
  grid and 5 stratified folds: the wall-time ratio says what hpo's bookkeeping costs (target <= 1.05).
- ``fixed``     a DummyClassifier study of 1,000 trials, where fitting costs almost nothing, against a
  bare Python loop doing the same fits: the difference per trial is hpo's fixed cost (target <= 10 ms).
- ``storage``   per-trial cost of Optuna's in-memory, journal-file and SQLite storages: why the run folder
  holds a journal file by default.
- ``tpe``       TPE against random sampling and scikit-learn's ``RandomizedSearchCV`` at equal budget over
  several seeds and datasets: does the default method earn its place? (slowest; ``--only tpe``)
- ``tracking`` / ``mlflow_fixed`` / ``report``  run ``bench/bench_tracking.py`` (per trial),
  ``bench/bench_mlflow_fixed.py`` (tracking's fixed cost per run) / ``bench/bench_report.py``.
- ``workers``   ``bench/bench_workers.py``: speed-up of ``--workers 2`` over 1, and one worker's slowdown when
  another process holds a core (issue 9).
- ``pruning``   ``bench/bench_pruning.py``: fits each pruner saves against no pruning at equal trial budget,
  and the best CV mean it costs, per fold count (slow; ``--only pruning``).
- ``soak``      ``bench/bench_soak.py``: 2,000 tracked trials of a fast estimator; memory and per-trial time of
  the first and the last 200 trials must be flat (a leak or an O(n) cost per trial shows here).

hpo is run in-process through ``hpo_cli.search.run_tune`` (imports and interpreter start-up excluded, as
for the scikit-learn baselines); ``overhead`` also shows one subprocess run of the CLI, start-up included.
Nothing here asserts on time: the numbers are for reading (and for bench/RESULTS.md via ``--markdown``).

    python bench/run.py                      # every section, ~5-10 minutes on two cores
    python bench/run.py --only overhead --only fixed
    python bench/run.py --quick              # fewer repetitions/seeds, for a smoke run
    python bench/run.py --markdown bench/RESULTS.md
"""

from __future__ import annotations

import argparse
import cProfile
import datetime as dt
import gc
import io
import os
import platform
import pstats
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from tabulate import tabulate

ROOT = Path(__file__).resolve().parent.parent
SECTIONS = ("overhead", "fixed", "storage", "tpe", "tracking", "mlflow_fixed", "report", "pruning", "workers", "soak")


@dataclass
class Section:
    """One section's output: a title, tables, and notes that explain how to read them."""

    title: str
    tables: list[tuple[list[str], list[list[Any]]]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def markdown(self) -> str:
        parts = [f"## {self.title}", ""]
        for headers, rows in self.tables:
            parts += [tabulate(rows, headers=headers, tablefmt="github", floatfmt="g"), ""]
        parts += [f"- {n}" for n in self.notes]
        return "\n".join(parts).rstrip() + "\n"


# --- helpers ---------------------------------------------------------------------------------------


@contextmanager
def workdir() -> Iterator[Path]:
    """A fresh temporary folder per run, so no run resumes another's study."""
    path = Path(tempfile.mkdtemp(prefix="hpo-bench-"))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def hpo_available() -> str | None:
    """None when the engine can be imported, else why not (the bench still runs its other parts)."""
    try:
        from hpo_cli.tune.run import run_tune  # noqa: F401
    except Exception as exc:  # noqa: BLE001 - any import problem means "not ready", reported as such
        return f"hpo_cli.search.run_tune is not importable ({type(exc).__name__}: {exc})"
    return None


def run_hpo(spec: dict[str, Any], folder: Path, *, profile: cProfile.Profile | None = None,
            storage: str | None = None, collect: bool = True) -> tuple[Any, float]:
    """Write ``spec`` to ``folder`` and tune it in-process without MLflow; returns (RunResult, seconds).

    ``collect=False`` when the caller times the call itself (``timed`` collects first): a collection
    inside the timed window cost 40-70 ms here and was charged to hpo.
    """
    from hpo_cli.core.options import TuneOptions
    from hpo_cli.tune.run import run_tune

    spec_path = folder / "spec.yaml"
    spec_path.write_text(yaml.safe_dump(spec, sort_keys=False), encoding="utf-8")
    options = TuneOptions(spec=spec_path, output=folder / "run", mlflow=False, quiet=True, storage=storage)
    if collect:
        gc.collect()
    start = time.perf_counter()
    if profile is not None:
        profile.enable()
    try:
        result = run_tune(options, observers=[])
    finally:
        if profile is not None:
            profile.disable()
    return result, time.perf_counter() - start


def complete_scores(result: Any) -> list[tuple[dict[str, Any], float]]:
    """(params, mean_test_score) of every finished trial of the first model."""
    model = result.models[0]
    return [(t.params, t.mean_test_score) for t in model.trials if t.mean_test_score is not None]


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def ms(seconds: float) -> float:
    return round(seconds * 1000, 3)


# --- (a) overhead against GridSearchCV ---------------------------------------------------------------

OVERHEAD_C = [0.001, 0.01, 0.1, 1.0, 10.0, 100.0]
OVERHEAD_SOLVERS = ["lbfgs", "liblinear"]


@dataclass
class Timing:
    """Wall and CPU seconds of one run: CPU time is what a busy shared machine distorts least."""

    wall: float
    cpu: float


@contextmanager
def timed(out: list[Timing]) -> Iterator[None]:
    gc.collect()
    wall, cpu = time.perf_counter(), time.process_time()
    yield
    out.append(Timing(time.perf_counter() - wall, time.process_time() - cpu))


def overhead_spec(n_c: int = len(OVERHEAD_C), n_solvers: int = len(OVERHEAD_SOLVERS)) -> dict[str, Any]:
    """The 12-point grid (or a 1-point one), breast_cancer, scaled logistic regression, 5 stratified folds.

    No ``test_size`` and no extra metrics, so hpo does the same fits GridSearchCV(refit=False) does.
    """
    return {
        "name": "bench-overhead",
        "data": {"source": "sklearn:breast_cancer"},
        "models": [{
            "name": "logreg", "class": "LogisticRegression",
            "init_params": {"max_iter": 5000, "random_state": 42},
            "preprocess": ["standard_scaler"], "method": "grid",
            "param_grid": {"C": OVERHEAD_C[:n_c], "solver": OVERHEAD_SOLVERS[:n_solvers]},
            "cv": {"kind": "stratified", "folds": 5, "shuffle": True},
            "metric": "roc_auc", "seed": 42,
        }],
        "tracking": {"mlflow": False},
    }


def make_gridsearch(n_c: int = len(OVERHEAD_C), n_solvers: int = len(OVERHEAD_SOLVERS)) -> tuple[Any, Any, Any]:
    """The scikit-learn baseline: same pipeline, grid, splitter and scorer, one process, no refit."""
    from sklearn.datasets import load_breast_cancer
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import GridSearchCV, StratifiedKFold
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    X, y = load_breast_cancer(return_X_y=True)
    pipe = make_pipeline(StandardScaler(), LogisticRegression(max_iter=5000, random_state=42))
    grid = {"logisticregression__C": OVERHEAD_C[:n_c], "logisticregression__solver": OVERHEAD_SOLVERS[:n_solvers]}
    cv = StratifiedKFold(n_splits=5, shuffle=True, random_state=42)
    return GridSearchCV(pipe, grid, scoring="roc_auc", cv=cv, n_jobs=1, refit=False), X, y


def bench_overhead(reps: int) -> Section:
    section = Section("(a) Overhead: hpo tune --no-mlflow vs GridSearchCV(n_jobs=1), 12-point grid")
    problem = hpo_available()
    runs: dict[str, list[Timing]] = {k: [] for k in ("gs12", "hpo12", "gs1", "hpo1")}
    search = result = None

    def once(which: str) -> None:
        nonlocal search, result
        points = (len(OVERHEAD_C), len(OVERHEAD_SOLVERS)) if which.endswith("12") else (1, 1)
        if which.startswith("gs"):
            gs, X, y = make_gridsearch(*points)
            with timed(runs[which]):
                gs.fit(X, y)
            if which == "gs12":
                search = gs
        elif problem is None:
            with workdir() as d:
                spec = overhead_spec(*points)
                with timed(runs[which]):
                    res, _ = run_hpo(spec, d, collect=False)
            if which == "hpo12":
                result = res

    for which in runs:  # warm-up: imports and first-call caches
        once(which)
    for key in runs:
        runs[key].clear()
    for rep in range(reps):
        order = list(runs) if rep % 2 == 0 else list(reversed(runs))  # alternate: no systematic order bias
        for which in order:
            once(which)

    def stat(key: str, attr: str = "wall", fn: Callable[[list[float]], float] = min) -> float:
        return fn([getattr(t, attr) for t in runs[key]]) if runs[key] else float("nan")

    def row(label: str, key: str, ratio_to: str | None) -> list[Any]:
        ratios = ["", "", ""]
        if ratio_to:
            ratios = [round(stat(key) / stat(ratio_to), 3), round(stat(key, fn=median) / stat(ratio_to, fn=median), 3),
                      round(stat(key, "cpu") / stat(ratio_to, "cpu"), 3)]
        return [label, "in-process", reps, round(stat(key), 3), round(stat(key, fn=median), 3),
                round(stat(key, "cpu"), 3), *ratios]

    rows: list[list[Any]] = [row("GridSearchCV(n_jobs=1, refit=False), 12 points", "gs12", "gs12")]
    if problem is None:
        rows.append(row("hpo run_tune --no-mlflow, 12 points", "hpo12", "gs12"))
        rows.append(row("GridSearchCV, 1 point", "gs1", None))
        rows.append(row("hpo run_tune --no-mlflow, 1 point", "hpo1", None))
        # Per-trial ratio with each runner's start-up removed: (T12 - T1) of hpo over (T12 - T1) of GridSearchCV.
        marginal = [(stat("hpo12", a, f) - stat("hpo1", a, f)) / (stat("gs12", a, f) - stat("gs1", a, f))
                    for a, f in (("wall", min), ("wall", median), ("cpu", min))]
        rows.append(["hpo per trial, start-up excluded: (T12 - T1) / GridSearchCV's (T12 - T1)", "in-process", reps,
                     "", "", "", *(round(m, 3) for m in marginal)])
        ratio = stat("hpo12") / stat("gs12")
        start_up = stat("hpo1") - stat("gs1")
        cli = cli_tune_seconds()
        if cli is not None:
            rows.append(["hpo tune --no-mlflow --quiet, 12 points (CLI)", "subprocess, start-up + imports included", 1,
                         round(cli, 3), "", "", round(cli / stat("gs12"), 3), "", ""])
        section.notes.append(f"target: ratio <= 1.05 for the whole run; measured {ratio:.3f} on the best-of-{reps} "
                             f"wall times ({'met' if ratio <= 1.05 else 'MISSED'}); per trial with start-up excluded "
                             f"{marginal[0]:.3f}")
        section.notes.append(f"hpo's fixed start-up (best 1-point run minus GridSearchCV's): {ms(start_up)} ms "
                             "(spec load + validation, data load, study creation, run-folder files)")
        section.notes.append("data loading is outside the timing on both sides: GridSearchCV gets X, y loaded "
                             "beforehand, and hpo's in-process dataset cache (kept so that the spec check and the "
                             "search share one load) is warm after the warm-up run; the CLI row includes everything")
        section.notes.append(equivalence_note(search, result))
    else:
        section.notes.append(f"hpo rows missing: {problem}")
    section.tables.append((["runner", "how", "reps", "min wall s", "median wall s", "min CPU s", "ratio (min wall)",
                            "ratio (median wall)", "ratio (min CPU)"], rows))
    section.notes.append("same data (all 569 rows, no test split), StandardScaler+LogisticRegression(max_iter=5000), "
                         "C x solver = 6 x 2 grid, StratifiedKFold(5, shuffle, seed 42), roc_auc: 60 fits each; "
                         "runs alternate order, imports excluded by a warm-up run, one BLAS thread; the headline "
                         "uses the best (min) of the repetitions, the estimate least distorted by other jobs sharing "
                         "the cores (medians shown too)")
    return section


def equivalence_note(search: Any, result: Any) -> str:
    """Largest difference between hpo's and GridSearchCV's mean scores: a fair race runs the same fits."""
    try:
        sk = {(p["logisticregression__C"], p["logisticregression__solver"]): s
              for p, s in zip(search.cv_results_["params"], search.cv_results_["mean_test_score"], strict=True)}
        diffs = [abs(sk[(float(p["C"]), p["solver"])] - s) for p, s in complete_scores(result)]
        return f"same fits: {len(diffs)} hpo trials, max |mean_test_score - GridSearchCV| = {max(diffs):.2e}"
    except Exception as exc:  # noqa: BLE001 - a note, not a check
        return f"could not compare scores with GridSearchCV: {type(exc).__name__}: {exc}"


def cli_tune_seconds() -> float | None:
    """One run of the real command line, interpreter start-up and imports included."""
    exe = Path(sys.executable).with_name("hpo")
    cmd = [str(exe)] if exe.exists() else [sys.executable, "-m", "hpo_cli"]
    with workdir() as d:
        spec_path = d / "spec.yaml"
        spec_path.write_text(yaml.safe_dump(overhead_spec(), sort_keys=False), encoding="utf-8")
        start = time.perf_counter()
        proc = subprocess.run([*cmd, "tune", str(spec_path), "--output", str(d / "run"), "--no-mlflow", "--quiet"],
                              capture_output=True, text=True, check=False)
        seconds = time.perf_counter() - start
    return seconds if proc.returncode == 0 else None


# --- (b) fixed cost per trial ------------------------------------------------------------------------

STRATEGIES = ["most_frequent", "prior", "stratified", "uniform"]


def dummy_spec(trials: int) -> dict[str, Any]:
    """DummyClassifier on iris, 2 stratified folds, random method over `strategy`: fitting is ~free."""
    return {
        "name": "bench-dummy",
        "data": {"source": "sklearn:iris"},
        "models": [{
            "name": "dummy", "class": "DummyClassifier", "init_params": {"random_state": 0},
            "method": "random", "space": {"strategy": STRATEGIES},
            "cv": {"kind": "stratified", "folds": 2, "shuffle": True},
            "metric": "accuracy", "budget": {"trials": trials}, "seed": 42,
        }],
        "tracking": {"mlflow": False},
    }


def bare_loop(trials: int) -> float:
    """The same fits and scores with nothing around them: the floor any tuner pays."""
    import numpy as np
    from sklearn.base import clone
    from sklearn.datasets import load_iris
    from sklearn.dummy import DummyClassifier
    from sklearn.metrics import get_scorer
    from sklearn.model_selection import StratifiedKFold

    X, y = load_iris(return_X_y=True)
    folds = list(StratifiedKFold(n_splits=2, shuffle=True, random_state=42).split(X, y))
    scorer = get_scorer("accuracy")
    rng = np.random.default_rng(42)
    base = DummyClassifier(random_state=0)
    gc.collect()
    start = time.perf_counter()
    for _ in range(trials):
        est = clone(base).set_params(strategy=STRATEGIES[int(rng.integers(len(STRATEGIES)))])
        scores = []
        for train, test in folds:
            fitted = clone(est).fit(X[train], y[train])
            scores.append(scorer(fitted, X[test], y[test]))
        float(np.mean(scores))
    return time.perf_counter() - start


def bench_fixed(trials: int, profile: bool, reps: int = 3) -> Section:
    section = Section(f"(b) Fixed cost per trial: DummyClassifier study of {trials} trials (iris, 2 folds)")
    bare = min(bare_loop(trials) for _ in range(reps))
    rows: list[list[Any]] = [["bare loop (clone, fit, score per fold)", trials, round(bare, 3), ms(bare / trials), ""]]
    problem = hpo_available()
    if problem is None:
        with workdir() as d:
            run_hpo(dummy_spec(10), d)  # warm-up
        smalls, totals = [], []
        for _ in range(reps):
            with workdir() as d:
                smalls.append(run_hpo(dummy_spec(10), d)[1])
            with workdir() as d:
                result, total = run_hpo(dummy_spec(trials), d)
                totals.append(total)
        small, total = min(smalls), min(totals)
        n = len(result.models[0].trials)
        marginal = (total - small) / (n - 10) if n > 10 else float("nan")
        fixed = marginal - bare / trials
        rows.append(["hpo run_tune, 10 trials (start-up: data, study, files)", 10, round(small, 3), ms(small / 10), ""])
        rows.append([f"hpo run_tune, {n} trials", n, round(total, 3), ms(total / n), ms(fixed)])
        section.notes.append(f"fixed cost = (T({n}) - T(10)) / {n - 10} - bare loop per trial = {ms(fixed)} ms "
                             f"(target <= 10 ms: {'met' if fixed <= 0.010 else 'MISSED'}); "
                             f"total/trials, start-up included: {ms(total / n)} ms; best of {reps} runs each")
        section.notes.append("bare loop = clone + fit + score per fold in plain Python, the floor any tuner pays; "
                             "hpo adds sampling, the journal storage write per trial, the trial record and warnings "
                             "capture")
        if profile:
            prof = cProfile.Profile()
            with workdir() as d:
                run_hpo(dummy_spec(trials), d, profile=prof)
            section.notes.append("cProfile of one long run (top functions by cumulative time):\n\n```\n"
                                 + profile_text(prof) + "```")
    else:
        section.notes.append(f"hpo rows missing: {problem}")
    section.tables.append((["runner", "trials", "best wall s", "ms per trial", "fixed ms per trial"], rows))
    return section


def profile_text(prof: cProfile.Profile, top: int = 30) -> str:
    buf = io.StringIO()
    stats = pstats.Stats(prof, stream=buf)
    stats.strip_dirs().sort_stats("cumulative").print_stats(top)
    lines = [ln for ln in buf.getvalue().splitlines() if ln.strip()]
    start = next((i for i, ln in enumerate(lines) if ln.lstrip().startswith("ncalls")), 0)
    return "\n".join(lines[start:]) + "\n"


# --- (c) storage ---------------------------------------------------------------------------------------


def optuna_storage_seconds(kind: str, trials: int, folder: Path) -> float:
    """Per-trial storage cost of Optuna alone: a trial that suggests three values and sets an attribute."""
    import optuna
    from optuna.storages import InMemoryStorage, JournalStorage, RDBStorage
    from optuna.storages.journal import JournalFileBackend

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    if kind == "in-memory":
        storage: Any = InMemoryStorage()
    elif kind == "journal file":
        storage = JournalStorage(JournalFileBackend(str(folder / "study.journal")))
    else:
        storage = RDBStorage(f"sqlite:///{folder / 'study.db'}")
    study = optuna.create_study(study_name="bench", storage=storage, direction="maximize",
                                sampler=optuna.samplers.RandomSampler(seed=0))

    def objective(trial: optuna.Trial) -> float:
        x = trial.suggest_float("x", 1e-3, 1e3, log=True)
        n = trial.suggest_int("n", 1, 100)
        trial.suggest_categorical("c", ["a", "b", "c"])
        trial.set_user_attr("split_scores", [0.1, 0.2, 0.3, 0.4, 0.5])
        return -abs(x - 1) + n * 1e-3

    gc.collect()
    start = time.perf_counter()
    study.optimize(objective, n_trials=trials)
    return time.perf_counter() - start


def bench_storage(trials: int, hpo_trials: int) -> Section:
    section = Section("(c) Storage: per-trial cost of Optuna's storages")
    rows: list[list[Any]] = []
    for kind in ("in-memory", "journal file", "sqlite"):
        with workdir() as d:
            seconds = optuna_storage_seconds(kind, trials, d)
        rows.append(["optuna alone", kind, trials, round(seconds, 3), ms(seconds / trials)])
    problem = hpo_available()
    if problem is None:
        with workdir() as d:
            run_hpo(dummy_spec(5), d)  # warm-up
        for kind in ("journal file", "sqlite"):
            with workdir() as d:
                storage = None if kind == "journal file" else f"sqlite:///{d / 'study.db'}"
                try:
                    _, seconds = run_hpo(dummy_spec(hpo_trials), d, storage=storage)
                    rows.append(["hpo DummyClassifier study", kind + (" (default)" if storage is None else ""),
                                 hpo_trials, round(seconds, 3), ms(seconds / hpo_trials)])
                except Exception as exc:  # noqa: BLE001 - report, keep benchmarking
                    rows.append(["hpo DummyClassifier study", kind, hpo_trials, f"failed: {exc}", ""])
    else:
        section.notes.append(f"hpo rows missing: {problem}")
    section.tables.append((["what", "storage", "trials", "wall s", "ms per trial"], rows))
    section.notes.append("optuna alone: RandomSampler, 3 suggested values and one user attribute per trial; the "
                         "journal file and the SQLite database live on the local disk (a temporary folder)")
    return section


# --- (d) TPE vs random vs RandomizedSearchCV ----------------------------------------------------------


@dataclass
class Problem:
    """A dataset with an estimator and a space where the parameters interact (so a smart sampler can help)."""

    dataset: str
    estimator: str
    metric: str
    cv_kind: str
    space: dict[str, tuple[float, float]]  # log-uniform ranges

    def spec(self, method: str, seed: int, trials: int, folds: int) -> dict[str, Any]:
        return {
            "name": f"bench-{self.dataset}-{method}",
            "data": {"source": f"sklearn:{self.dataset}"},
            "models": [{
                "name": self.estimator.lower(), "class": self.estimator, "preprocess": ["standard_scaler"],
                "method": method, "metric": self.metric, "seed": seed, "budget": {"trials": trials},
                "cv": {"kind": self.cv_kind, "folds": folds, "shuffle": True},
                "space": {k: {"type": "float", "low": lo, "high": hi, "log": True}
                          for k, (lo, hi) in self.space.items()},
            }],
            "tracking": {"mlflow": False},
        }

    def randomized(self, seed: int, trials: int, folds: int) -> float:
        """scikit-learn's RandomizedSearchCV with the same distributions, splitter, scorer and budget."""
        from scipy.stats import loguniform
        from sklearn import datasets
        from sklearn.model_selection import KFold, RandomizedSearchCV, StratifiedKFold
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import StandardScaler
        from sklearn.svm import SVC, SVR

        X, y = getattr(datasets, f"load_{self.dataset}")(return_X_y=True)
        est = {"SVC": SVC, "SVR": SVR}[self.estimator]()
        name = self.estimator.lower()
        splitter = StratifiedKFold if self.cv_kind == "stratified" else KFold
        cv = splitter(n_splits=folds, shuffle=True, random_state=seed)
        dists = {f"{name}__{k}": loguniform(lo, hi) for k, (lo, hi) in self.space.items()}
        search = RandomizedSearchCV(make_pipeline(StandardScaler(), est), dists, n_iter=trials, scoring=self.metric,
                                    cv=cv, n_jobs=1, refit=False, random_state=seed)
        search.fit(X, y)
        return float(search.best_score_)


PROBLEMS = [
    Problem("breast_cancer", "SVC", "roc_auc", "stratified", {"C": (1e-2, 1e3), "gamma": (1e-5, 1.0)}),
    Problem("wine", "SVC", "balanced_accuracy", "stratified", {"C": (1e-2, 1e3), "gamma": (1e-5, 1.0)}),
    Problem("diabetes", "SVR", "neg_root_mean_squared_error", "kfold",
            {"C": (1e-1, 1e4), "gamma": (1e-5, 1.0), "epsilon": (1e-2, 1e2)}),
    Problem("digits", "SVC", "accuracy", "stratified", {"C": (1e-2, 1e3), "gamma": (1e-5, 1.0)}),
]


def bench_tpe(seeds: int, trials: int, folds: int) -> Section:
    section = Section(f"(d) TPE vs random vs RandomizedSearchCV: mean best CV score, {trials} trials, "
                      f"{seeds} seeds, {folds}-fold CV")
    problem = hpo_available()
    rows: list[list[Any]] = []
    for prob in PROBLEMS:
        best: dict[str, list[float]] = {"tpe": [], "random": [], "sklearn": []}
        secs: dict[str, float] = {"tpe": 0.0, "random": 0.0, "sklearn": 0.0}
        for seed in range(seeds):
            start = time.perf_counter()
            best["sklearn"].append(prob.randomized(seed, trials, folds))
            secs["sklearn"] += time.perf_counter() - start
            if problem is not None:
                continue
            for method in ("tpe", "random"):
                with workdir() as d:
                    result, seconds = run_hpo(prob.spec(method, seed, trials, folds), d)
                scores = [s for _, s in complete_scores(result)]
                best[method].append(max(scores))
                secs[method] += seconds
        pairs = list(zip(best["tpe"], best["random"], strict=False))
        wins, ties = sum(t > r for t, r in pairs), sum(t == r for t, r in pairs)

        def cell(m: str, best: dict[str, list[float]] = best) -> str:
            v = best[m]
            if not v:
                return "n/a"
            sd = statistics.stdev(v) if len(v) > 1 else 0.0
            return f"{statistics.mean(v):.4f} ± {sd:.4f}"

        rows.append([prob.dataset, f"{prob.estimator} {'/'.join(prob.space)}", prob.metric, cell("tpe"),
                     cell("random"), cell("sklearn"), f"{wins}/{ties}/{len(pairs) - wins - ties}" if pairs else "n/a",
                     f"{secs['tpe']:.0f}/{secs['random']:.0f}/{secs['sklearn']:.0f}"])
    section.tables.append((["dataset", "model / space (log-uniform)", "metric", "hpo tpe", "hpo random",
                            "RandomizedSearchCV", "tpe vs random w/t/l", "wall s tpe/random/sklearn"], rows))
    if problem is not None:
        section.notes.append(f"hpo columns missing: {problem}")
    section.notes.append("mean ± std over seeds of the best trial's mean CV score (greater is better; neg_ scores are "
                         "negated losses). Each seed fixes the CV folds and the sampler for all three methods; "
                         "scaled SVC/SVR so that C and gamma interact")
    section.notes.append("best CV scores of a more exploitative sampler carry more selection bias: "
                         "read small differences with that in mind")
    return section


# --- other engineers' benchmarks ------------------------------------------------------------------------


def bench_script(name: str, trials: int | None = 50, reps: int = 5) -> Section:
    """Run another engineer's bench/<name>.py: through its ``rows()``/``markdown()`` functions when it has
    them (one interpreter, its table inline), else as a script whose output is its table."""
    path = ROOT / "bench" / f"{name}.py"
    section = Section(f"{name}.py")
    if not path.exists():
        section.notes.append(f"{path.relative_to(ROOT)} does not exist yet; skipped")
        return section
    import importlib.util

    spec = importlib.util.spec_from_file_location(f"hpo_bench_{name}", path)
    module = None
    if spec is not None and spec.loader is not None:
        module = importlib.util.module_from_spec(spec)
        try:
            spec.loader.exec_module(module)
        except Exception:  # noqa: BLE001 - fall back to running it as a script
            module = None
    if module is not None and callable(getattr(module, "rows", None)) and callable(getattr(module, "markdown", None)):
        try:
            import inspect

            wanted = inspect.signature(module.rows).parameters
            kwargs = {k: v for k, v in (("trials", trials), ("reps", reps)) if k in wanted}
            table = module.markdown(module.rows(**kwargs)).strip()
            section.notes.append(f"table (its rows({', '.join(f'{k}={v}' for k, v in kwargs.items())})):\n\n{table}\n")
        except Exception as exc:  # noqa: BLE001 - another engineer's bench failing must not stop ours
            section.notes.append(f"its rows() failed: {type(exc).__name__}: {exc}")
        return section
    proc = subprocess.run([sys.executable, str(path)], capture_output=True, text=True, check=False, cwd=ROOT)
    out = proc.stdout.strip()
    section.notes.append(f"run as a script, exit code {proc.returncode}; output:\n\n{out}\n" + (
        f"\nstderr (tail):\n\n```\n{proc.stderr.strip()[-2000:]}\n```" if proc.returncode else ""))
    return section


# --- main -------------------------------------------------------------------------------------------------


def environment() -> str:
    from importlib.metadata import PackageNotFoundError, version

    def v(pkg: str) -> str:
        try:
            return version(pkg)
        except PackageNotFoundError:
            return "-"

    return (f"{dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC · {platform.platform()} · {os.cpu_count()} CPUs · "
            f"Python {platform.python_version()} · optuna {v('optuna')} · scikit-learn {v('scikit-learn')} · "
            f"xgboost {v('xgboost')} · mlflow {v('mlflow')}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="hpo speed and quality benchmarks (Markdown tables).")
    parser.add_argument("--only", action="append", choices=SECTIONS, help="run only this section (repeatable)")
    parser.add_argument("--skip", action="append", choices=SECTIONS, default=[], help="skip this section")
    parser.add_argument("--quick", action="store_true", help="fewer repetitions, trials and seeds (smoke run)")
    parser.add_argument("--reps", type=int, help="repetitions of the overhead race (default 15)")
    parser.add_argument("--seeds", type=int, help="seeds per dataset in the tpe section (default 7)")
    parser.add_argument("--profile", action="store_true", help="cProfile the fixed-cost study and print the top")
    parser.add_argument("--markdown", type=Path, help="also write the tables to this file (e.g. bench/RESULTS.md)")
    args = parser.parse_args(argv)

    warnings.filterwarnings("ignore")
    # One BLAS/OpenMP thread: the baselines run with n_jobs=1, and a second thread on a shared two-core machine
    # adds more noise than speed to these small fits. The variables reach libraries loaded from now on (and
    # the subprocesses); threadpool_limits those already loaded.
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(var, "1")
    import scipy.optimize  # noqa: F401 - load the BLAS builds in use so that the limit reaches them
    import sklearn.linear_model  # noqa: F401
    from threadpoolctl import threadpool_limits

    threadpool_limits(1)
    selected = [s for s in (args.only or SECTIONS) if s not in args.skip]
    reps = args.reps or (3 if args.quick else 15)
    seeds = args.seeds or (2 if args.quick else 7)
    runners: dict[str, Callable[[], Section]] = {
        "overhead": lambda: bench_overhead(reps),
        "fixed": lambda: bench_fixed(200 if args.quick else 1000, args.profile),
        "storage": lambda: bench_storage(100 if args.quick else 500, 50 if args.quick else 300),
        "tpe": lambda: bench_tpe(seeds, 12 if args.quick else 30, 3),
        "tracking": lambda: bench_script("bench_tracking", 20 if args.quick else 50),
        "mlflow_fixed": lambda: bench_script("bench_mlflow_fixed", reps=3 if args.quick else 5),
        "report": lambda: bench_script("bench_report"),
        "soak": lambda: bench_script("bench_soak", 300 if args.quick else 2000),
        "workers": lambda: bench_script("bench_workers", 8 if args.quick else None, reps=1 if args.quick else 3),
        "pruning": lambda: bench_script("bench_pruning", 20 if args.quick else 30),
    }
    header = f"# hpo benchmarks\n\n{environment()}\n"
    print(header)
    parts = [header]
    for name in selected:
        start = time.perf_counter()
        section = runners[name]()
        section.notes.append(f"section wall time: {time.perf_counter() - start:.1f} s")
        text = section.markdown()
        print(text, flush=True)
        parts.append(text)
    if args.markdown:
        args.markdown.write_text("\n".join(parts), encoding="utf-8")
        print(f"wrote {args.markdown}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

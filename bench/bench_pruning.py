"""What each pruner saves and what it costs: fits against no pruning at equal trial budget, and the best score.

For every problem × fold count × seed, one model is searched with TPE (hpo's default) once per pruner, with
the same spec, seed and trial budget. "fits saved" is 1 - fits run / (trials × folds); "best lost" is the
best CV mean without pruning minus the best with it (positive: pruning lost score; TPE's path changes with
pruning, so a run may also find a better one, negative). The search runs through the engine itself
(``search.plan.prepare_model`` and ``search.loop.search_model``, an in-memory Optuna storage): the same
trial loop ``hpo tune`` runs, without the run folder and report.

    .venv/bin/python bench/bench_pruning.py [TRIALS] [SEEDS]     # defaults 30 and 3; prints Markdown
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

PRUNERS = ["none", "median", "percentile", "successive_halving", "hyperband", "wilcoxon"]
FOLDS = [3, 5, 10]


@dataclass
class Problem:
    name: str
    data: str
    estimator: str
    metric: str
    space: dict[str, Any]
    preprocess: tuple[str, ...] = ()


PROBLEMS = [
    Problem("breast_cancer SVC", "breast_cancer", "SVC", "roc_auc",
            {"C": {"type": "float", "low": 1e-2, "high": 1e3, "log": True},
             "gamma": {"type": "float", "low": 1e-5, "high": 1.0, "log": True}}, ("standard_scaler",)),
    Problem("wine kNN", "wine", "KNeighborsClassifier", "accuracy",
            {"n_neighbors": {"type": "int", "low": 1, "high": 80}, "weights": ["uniform", "distance"],
             "p": [1, 2]}, ("standard_scaler",)),
    Problem("digits tree", "digits", "DecisionTreeClassifier", "accuracy",
            {"max_depth": {"type": "int", "low": 1, "high": 20},
             "min_samples_leaf": {"type": "int", "low": 1, "high": 100, "log": True},
             "criterion": ["gini", "entropy"]}),
    Problem("diabetes SVR", "diabetes", "SVR", "neg_root_mean_squared_error",
            {"C": {"type": "float", "low": 1e-1, "high": 1e4, "log": True},
             "gamma": {"type": "float", "low": 1e-5, "high": 1.0, "log": True},
             "epsilon": {"type": "float", "low": 1e-2, "high": 1e2, "log": True}}, ("standard_scaler",)),
]


def run(problem: Problem, pruner: str | dict[str, Any], folds: int, seed: int, trials: int, folder: Path,
        method: str = "tpe") -> list[Any]:
    """The trial records (``core.results.TrialRecord``) of one search through hpo's own trial loop."""
    import optuna

    from hpo_cli.problem.data import load_dataset
    from hpo_cli.search.loop import search_model
    from hpo_cli.search.observers import Observers
    from hpo_cli.search.plan import prepare_model
    from hpo_cli.search.stopping import StopSignal
    from hpo_cli.spec.load import load_spec
    from hpo_cli.tune.prepare import task_of_models

    spec_path = folder / "spec.yaml"
    spec_path.write_text(yaml.safe_dump({
        "name": "bench", "data": {"source": f"sklearn:{problem.data}"}, "tracking": {"mlflow": False},
        "models": [{"name": "m", "class": problem.estimator, "preprocess": list(problem.preprocess),
                    "metric": problem.metric, "method": method, "seed": seed, "budget": {"trials": trials},
                    "cv": folds, "pruner": pruner, "space": problem.space}],
    }))
    spec = load_spec(spec_path)
    dataset = load_dataset(spec, task_of_models(spec, [0]))
    prep = prepare_model(spec, 0, dataset)
    with StopSignal() as stop:
        result, _ = search_model(spec, prep, optuna.storages.InMemoryStorage(), resume=False,
                                 events=Observers([], []), stop=stop)
    return result.trials


def search(problem: Problem, pruner: str | dict[str, Any], folds: int, seed: int, trials: int,
           folder: Path) -> tuple[int, float]:
    """(fits run, best CV mean) of one TPE search through hpo's own trial loop."""
    trials_run = run(problem, pruner, folds, seed, trials, folder)
    fits = sum(len(t.split_scores) for t in trials_run)
    best = max(t.mean_test_score for t in trials_run if t.state == "COMPLETE" and t.mean_test_score is not None)
    return fits, best


def rows(trials: int = 30, seeds: int = 3, folds: list[int] | None = None,
         log: Path | None = None) -> list[dict[str, Any]]:
    """One row per problem × fold count × pruner: fits saved and best-score change, over ``seeds`` seeds.

    ``log``: each row is appended to this JSON-lines file as soon as its problem is done (long runs).
    """
    import json

    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    out = []
    with tempfile.TemporaryDirectory(prefix="hpo-bench-pruning-") as tmp:
        for n_folds in folds or FOLDS:
            for problem in PROBLEMS:
                runs: dict[str, list[tuple[int, float]]] = {p: [] for p in PRUNERS}
                started = time.perf_counter()
                for seed in range(seeds):
                    for pruner in PRUNERS:
                        runs[pruner].append(search(problem, pruner, n_folds, seed, trials, Path(tmp)))
                base = runs["none"]
                for pruner in PRUNERS[1:]:
                    saved = [1 - f / b[0] for (f, _), b in zip(runs[pruner], base, strict=True)]
                    lost = [b[1] - s for (_, s), b in zip(runs[pruner], base, strict=True)]
                    out.append({"folds": n_folds, "problem": problem.name, "pruner": pruner,
                                "saved": statistics.mean(saved), "lost": statistics.mean(lost),
                                "worst_lost": max(lost), "seconds": time.perf_counter() - started})
                    if log is not None:
                        with log.open("a") as fh:
                            fh.write(json.dumps(out[-1]) + "\n")
    return out


def summary(table: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per fold count and pruner: mean fits saved and mean / worst best-score loss over the problems."""
    out = []
    for n_folds in sorted({r["folds"] for r in table}):
        for pruner in PRUNERS[1:]:
            sel = [r for r in table if r["folds"] == n_folds and r["pruner"] == pruner]
            if sel:
                out.append({"folds": n_folds, "pruner": pruner, "saved": statistics.mean(r["saved"] for r in sel),
                            "lost": statistics.mean(r["lost"] for r in sel),
                            "worst_lost": max(r["worst_lost"] for r in sel)})
    return out


def markdown(table: list[dict[str, Any]]) -> str:
    from tabulate import tabulate

    detail = [[r["folds"], r["problem"], r["pruner"], f"{r['saved']:.0%}", f"{r['lost']:+.4f}",
               f"{r['worst_lost']:+.4f}"] for r in table]
    agg = [[r["folds"], r["pruner"], f"{r['saved']:.0%}", f"{r['lost']:+.4f}", f"{r['worst_lost']:+.4f}"]
           for r in summary(table)]
    return "\n".join([
        "Per fold count, over all problems (mean fits saved; best CV mean lost against no pruning, mean and worst "
        "seed):", "",
        tabulate(agg, headers=["folds", "pruner", "fits saved", "best lost (mean)", "best lost (worst)"],
                 tablefmt="github"), "",
        "Per problem:", "",
        tabulate(detail, headers=["folds", "problem", "pruner", "fits saved", "best lost (mean)",
                                  "best lost (worst)"], tablefmt="github"),
    ])


if __name__ == "__main__":
    import warnings

    warnings.filterwarnings("ignore")
    n_trials = int(sys.argv[1]) if len(sys.argv) > 1 else 30
    n_seeds = int(sys.argv[2]) if len(sys.argv) > 2 else 3
    fold_counts = [int(f) for f in sys.argv[3].split(",")] if len(sys.argv) > 3 else None
    start = time.perf_counter()
    print(markdown(rows(n_trials, n_seeds, fold_counts, Path(sys.argv[4]) if len(sys.argv) > 4 else None)))
    print(f"\n{n_trials} trials, {n_seeds} seeds, TPE; wall time {time.perf_counter() - start:.0f} s")

"""What each pruner saves and what it costs: fits against no pruning at equal trial budget, and the best score.

For every problem × fold count × seed, one model is searched with TPE (hpo's default) once per pruner, with
the same spec, seed and trial budget. "fits saved" is 1 - fits run / (trials × folds); "best lost" is the
best CV mean without pruning minus the best with it (positive: pruning lost score; TPE's path changes with
pruning, so a run may also find a better one, negative). The search runs through the engine itself
(``search.plan.prepare_model`` and ``search.loop.search_model``, an in-memory Optuna storage): the same
trial loop ``hpo tune`` runs, without the run folder and report.

    .venv/bin/python bench/bench_pruning.py [TRIALS] [SEEDS] [FOLDS] [LOG.jsonl] [PRUNERS] [PROBLEMS]
    # defaults 30, 3, "3,5,10", no log, every pruner below; prints Markdown
    .venv/bin/python bench/bench_pruning.py --table LOG.jsonl...      # Markdown from logged rows

Each pruner runs at hpo's defaults for it (``spec.pruning``); ``auto`` is what ``pruner: auto`` picks for the
fold count (``search.samplers.auto_pruner``); ``wilcoxon_p0.3`` is Wilcoxon with ``p_threshold: 0.3``, the
least that can prune at 3 folds (2 pairs: smallest p 0.25). The ``bench_pruning_replay.py`` script replays
many more settings on recorded searches.
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

PRUNERS: dict[str, str | dict[str, Any]] = {
    "none": "none", "auto": "auto", "median": "median", "percentile": "percentile",
    "successive_halving": "successive_halving", "hyperband": "hyperband", "wilcoxon": "wilcoxon",
    "wilcoxon_p0.3": {"type": "wilcoxon", "p_threshold": 0.3},
    "sh_rf3": {"type": "successive_halving", "reduction_factor": 3},
    "sh_rf6": {"type": "successive_halving", "reduction_factor": 6},
}
#: Metrics in [0, 1]-like units, where "lose at most 0.002" means what it says (diabetes' RMSE is ~55).
UNIT_METRICS = {"roc_auc", "accuracy", "neg_log_loss"}
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
    Problem("breast_cancer tree", "breast_cancer", "DecisionTreeClassifier", "roc_auc",
            {"max_depth": {"type": "int", "low": 1, "high": 20},
             "min_samples_leaf": {"type": "int", "low": 1, "high": 100, "log": True},
             "ccp_alpha": {"type": "float", "low": 0.0, "high": 0.05}}),
    Problem("breast_cancer logreg", "breast_cancer", "LogisticRegression", "neg_log_loss",
            {"C": {"type": "float", "low": 1e-4, "high": 1e2, "log": True}, "class_weight": [None, "balanced"]},
            ("standard_scaler",)),
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
         log: Path | None = None, pruners: list[str] | None = None,
         problems: list[str] | None = None) -> list[dict[str, Any]]:
    """One row per problem × fold count × pruner: fits saved and best-score change, over ``seeds`` seeds.

    ``log``: each row is appended to this JSON-lines file as soon as its problem is done (long runs).
    """
    import json

    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    names = ["none", *[p for p in (pruners or PRUNERS) if p != "none"]]
    out = []
    with tempfile.TemporaryDirectory(prefix="hpo-bench-pruning-") as tmp:
        for n_folds in folds or FOLDS:
            for problem in [p for p in PROBLEMS if not problems or p.name in problems]:
                runs: dict[str, list[tuple[int, float]]] = {p: [] for p in names}
                started = time.perf_counter()
                for seed in range(seeds):
                    for pruner in names:
                        runs[pruner].append(search(problem, PRUNERS[pruner], n_folds, seed, trials, Path(tmp)))
                base = runs["none"]
                for pruner in names[1:]:
                    saved = [1 - f / b[0] for (f, _), b in zip(runs[pruner], base, strict=True)]
                    lost = [b[1] - s for (_, s), b in zip(runs[pruner], base, strict=True)]
                    out.append({"folds": n_folds, "problem": problem.name, "metric": problem.metric,
                                "pruner": pruner, "saved": statistics.mean(saved), "lost": statistics.mean(lost),
                                "worst_lost": max(lost), "seeds": seeds, "seconds": time.perf_counter() - started})
                    if log is not None:
                        with log.open("a") as fh:
                            fh.write(json.dumps(out[-1]) + "\n")
    return out


def summary(table: list[dict[str, Any]], unit: bool | None = None) -> list[dict[str, Any]]:
    """Per fold count and pruner: mean fits saved and mean / worst best-score loss over the problems
    (``unit``: only those whose metric is in UNIT_METRICS; False: only the others; None: all)."""
    out = []
    for n_folds in sorted({r["folds"] for r in table}):
        for pruner in PRUNERS:
            sel = [r for r in table if r["folds"] == n_folds and r["pruner"] == pruner
                   and (unit is None or (r.get("metric") in UNIT_METRICS) == unit)]
            if sel:
                out.append({"folds": n_folds, "pruner": pruner, "saved": statistics.mean(r["saved"] for r in sel),
                            "lost": statistics.mean(r["lost"] for r in sel),
                            "worst_lost": max(r["worst_lost"] for r in sel)})
    return out


def markdown(table: list[dict[str, Any]]) -> str:
    from tabulate import tabulate

    def agg(unit: bool | None) -> str:
        return tabulate([[r["folds"], r["pruner"], f"{r['saved']:.0%}", f"{r['lost']:+.4f}", f"{r['worst_lost']:+.4f}"]
                         for r in summary(table, unit)],
                        headers=["folds", "pruner", "fits saved", "best lost (mean)", "best lost (worst)"],
                        tablefmt="github")

    detail = [[r["folds"], r["problem"], r["pruner"], f"{r['saved']:.0%}", f"{r['lost']:+.4f}",
               f"{r['worst_lost']:+.4f}"] for r in table]
    return "\n".join([
        "Per fold count, over the accuracy / AUC problems (mean fits saved; best CV mean lost against no pruning, "
        "mean and worst seed):", "", agg(True), "",
        "The same for diabetes SVR (RMSE, best ≈ 55):", "", agg(False), "",
        "Per problem:", "",
        tabulate(detail, headers=["folds", "problem", "pruner", "fits saved", "best lost (mean)",
                                  "best lost (worst)"], tablefmt="github"),
    ])


def table_mode(render: Callable[[list[dict[str, Any]]], str]) -> None:
    """Silence warnings; with ``--table LOG...`` print the table of logged rows and exit (runs can be split).

    The pruning benches run for long, so their rows are appended to JSON-lines logs as they come; this joins
    the logs of several processes into one table without measuring anything again.
    """
    import json
    import warnings

    warnings.filterwarnings("ignore")
    if len(sys.argv) > 1 and sys.argv[1] == "--table":
        print(render([json.loads(line) for f in sys.argv[2:] for line in Path(f).read_text().splitlines()
                      if line]))
        sys.exit(0)


if __name__ == "__main__":
    table_mode(markdown)
    n_trials = int(sys.argv[1]) if len(sys.argv) > 1 else 30
    n_seeds = int(sys.argv[2]) if len(sys.argv) > 2 else 3
    fold_counts = [int(f) for f in sys.argv[3].split(",")] if len(sys.argv) > 3 else None
    log_path = Path(sys.argv[4]) if len(sys.argv) > 4 and sys.argv[4] != "-" else None
    names = sys.argv[5].split(",") if len(sys.argv) > 5 else None
    problem_names = sys.argv[6].split(",") if len(sys.argv) > 6 else None
    start = time.perf_counter()
    print(markdown(rows(n_trials, n_seeds, fold_counts, log_path, names, problem_names)))
    print(f"\n{n_trials} trials, {n_seeds} seeds, TPE; wall time {time.perf_counter() - start:.0f} s")

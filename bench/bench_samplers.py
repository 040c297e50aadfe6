"""Which sampler should be the default: hpo's TPE, Optuna's default TPE and random search at equal budget.

For every problem × budget × seed each sampler searches the same spec (same folds, same seed) through hpo's
own trial loop (``search.loop.search_model``, in-memory storage). Reported: the mean best CV score per
sampler and the share of (problem, seed) pairs where a sampler's best is at least random search's.

- ``tpe``          hpo's method ``tpe``: multivariate, ``group`` for conditional spaces, random start-up of
                   max(10, 2 × dimensions) trials but at most half the budget (``search.samplers``).
- ``tpe_default``  ``optuna.samplers.TPESampler(seed=seed)``: independent, 10 start-up trials.
- ``random``       ``optuna.samplers.RandomSampler(seed=seed)`` (hpo's method ``random``).

    .venv/bin/python bench/bench_samplers.py [SEEDS] [BUDGETS] [LOG.jsonl]   # defaults 5, "20,50"
"""

from __future__ import annotations

import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml

SAMPLERS = ["tpe", "tpe_default", "random"]

PROBLEMS: list[tuple[str, str, str, str, dict[str, Any], list[str]]] = [
    ("breast_cancer SVC", "breast_cancer", "SVC", "roc_auc",
     {"C": {"type": "float", "low": 1e-2, "high": 1e3, "log": True},
      "gamma": {"type": "float", "low": 1e-5, "high": 1.0, "log": True}}, ["standard_scaler"]),
    ("wine kNN", "wine", "KNeighborsClassifier", "accuracy",
     {"n_neighbors": {"type": "int", "low": 1, "high": 60}, "weights": ["uniform", "distance"], "p": [1, 2]},
     ["standard_scaler"]),
    ("digits tree", "digits", "DecisionTreeClassifier", "accuracy",
     {"max_depth": {"type": "int", "low": 1, "high": 20},
      "min_samples_leaf": {"type": "int", "low": 1, "high": 100, "log": True}, "criterion": ["gini", "entropy"]},
     []),
    ("breast_cancer logreg", "breast_cancer", "LogisticRegression", "neg_log_loss",
     {"C": {"type": "float", "low": 1e-4, "high": 1e2, "log": True}, "class_weight": [None, "balanced"]},
     ["standard_scaler"]),
    ("diabetes SVR", "diabetes", "SVR", "neg_root_mean_squared_error",
     {"C": {"type": "float", "low": 1e-1, "high": 1e4, "log": True},
      "gamma": {"type": "float", "low": 1e-5, "high": 1.0, "log": True},
      "epsilon": {"type": "float", "low": 1e-2, "high": 1e2, "log": True}}, ["standard_scaler"]),
]


def search(problem: tuple, sampler: str, seed: int, trials: int, folder: Path) -> float:
    """The best CV mean one search reaches (hpo's trial loop; ``tpe_default`` swaps in Optuna's TPE)."""
    import optuna

    from hpo_cli.problem.data import load_dataset
    from hpo_cli.search import samplers
    from hpo_cli.search.loop import search_model
    from hpo_cli.search.observers import Observers
    from hpo_cli.search.plan import prepare_model
    from hpo_cli.search.stopping import StopSignal
    from hpo_cli.spec.load import load_spec
    from hpo_cli.tune.prepare import task_of_models

    _, data, estimator, metric, space, preprocess = problem
    spec_path = folder / "spec.yaml"
    spec_path.write_text(yaml.safe_dump({
        "name": "bench", "data": {"source": f"sklearn:{data}"}, "tracking": {"mlflow": False},
        "models": [{"name": "m", "class": estimator, "preprocess": preprocess, "metric": metric,
                    "method": "random" if sampler == "random" else "tpe", "seed": seed,
                    "budget": {"trials": trials}, "cv": 3, "space": space}],
    }))
    spec = load_spec(spec_path)
    prep = prepare_model(spec, 0, load_dataset(spec, task_of_models(spec, [0])))
    original = samplers.make_sampler
    if sampler == "tpe_default":
        samplers.make_sampler = lambda model, method, seed, budget: optuna.samplers.TPESampler(seed=seed)
    try:
        with StopSignal() as stop:
            result, _ = search_model(spec, prep, optuna.storages.InMemoryStorage(), resume=False,
                                     events=Observers([], []), stop=stop)
    finally:
        samplers.make_sampler = original
    return max(t.mean_test_score for t in result.trials if t.state == "COMPLETE" and t.mean_test_score is not None)


def rows(seeds: int = 5, budgets: tuple[int, ...] = (20, 50), log: Path | None = None) -> list[dict[str, Any]]:
    """One row per problem × budget × seed × sampler: the best CV mean reached."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    out = []
    with tempfile.TemporaryDirectory(prefix="hpo-bench-samplers-") as tmp:
        for budget in budgets:
            for problem in PROBLEMS:
                for seed in range(seeds):
                    for sampler in SAMPLERS:
                        out.append({"problem": problem[0], "budget": budget, "seed": seed, "sampler": sampler,
                                    "best": search(problem, sampler, seed, budget, Path(tmp))})
                        if log is not None:
                            with log.open("a") as fh:
                                fh.write(json.dumps(out[-1]) + "\n")
    return out


def markdown(table: list[dict[str, Any]]) -> str:
    from tabulate import tabulate

    best = {(r["problem"], r["budget"], r["seed"], r["sampler"]): r["best"] for r in table}
    keys = sorted({(r["problem"], r["budget"]) for r in table}, key=lambda k: (k[1], k[0]))
    lines = []
    share: dict[tuple[int, str], list[bool]] = {}
    for problem, budget in keys:
        seeds = sorted({r["seed"] for r in table if r["problem"] == problem and r["budget"] == budget})
        cells = [problem, budget, len(seeds)]
        for sampler in SAMPLERS:
            vals = [best[(problem, budget, s, sampler)] for s in seeds if (problem, budget, s, sampler) in best]
            cells.append(f"{statistics.mean(vals):.4f}" if vals else "n/a")
        for sampler in SAMPLERS[:2]:
            pairs = [(best[(problem, budget, s, sampler)], best[(problem, budget, s, "random")]) for s in seeds
                     if (problem, budget, s, sampler) in best and (problem, budget, s, "random") in best]
            wins = [a >= b for a, b in pairs]
            share.setdefault((budget, sampler), []).extend(wins)
            cells.append(f"{sum(wins)}/{len(wins)}")
        lines.append(cells)
    agg = [[budget, sampler, f"{sum(v)}/{len(v)} = {sum(v) / len(v):.0%}"]
           for (budget, sampler), v in sorted(share.items())]
    return "\n".join([
        tabulate(lines, headers=["problem", "trials", "seeds", *(f"best {s}" for s in SAMPLERS),
                                 "tpe ≥ random", "tpe_default ≥ random"], tablefmt="github"), "",
        "Share of (problem, seed) pairs where the sampler's best CV mean is at least random search's:", "",
        tabulate(agg, headers=["trials", "sampler", "≥ random"], tablefmt="github"),
    ])


if __name__ == "__main__":
    import warnings

    warnings.filterwarnings("ignore")
    n_seeds = int(sys.argv[1]) if len(sys.argv) > 1 else 5
    budget_list = tuple(int(b) for b in sys.argv[2].split(",")) if len(sys.argv) > 2 else (20, 50)
    start = time.perf_counter()
    print(markdown(rows(n_seeds, budget_list, Path(sys.argv[3]) if len(sys.argv) > 3 else None)))
    print(f"\n{n_seeds} seeds, 3-fold CV; wall time {time.perf_counter() - start:.0f} s")

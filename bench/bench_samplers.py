"""Which sampler should be the default: TPE variants, random, QMC and CMA-ES at equal trial budget.

For every problem × seed each sampler searches the same spec (same folds, same seed) through hpo's own
trial loop (``search.loop.search_model``, in-memory storage, 3-fold CV). Reported: the mean best CV score
per sampler and budget, and the share of (problem, seed) pairs where a sampler's best is at least random
search's. A sampler whose settings do not depend on the budget runs once at the largest budget and is read
at every smaller one from its first trials (sequential Optuna samplers do not know the budget, so the first
20 trials of a 100-trial search are the 20-trial search); one whose start-up depends on the budget runs
once per distinct setting.

- ``hpo_tpe``     hpo's method ``tpe`` before issue 10's distinct points: multivariate, random start-up
                  max(10, 2 × dims) but at most half the budget (``search.samplers.startup_trials``).
- ``tpe_g1``      ``hpo_tpe`` that on a finite space proposes no point twice (``search.distinct``: a repeated
                  proposal becomes a seeded draw among the unseen points); the same sampler as ``hpo_tpe``
                  on a space with a continuous float. hpo's ``tpe`` until its good density held at least
                  two trials (logged as ``tpe`` before that change).
- ``tpe``         hpo's method ``tpe`` now: ``tpe_g1`` whose good density holds at least 2 trials
                  (``search.samplers.good_trials``); the same as ``tpe_g2``.
- ``tpe_default`` ``optuna.samplers.TPESampler(seed=seed)``: Optuna 5's defaults.
- ``tpe_indep``   independent (univariate) TPE, Optuna 4's default.
- ``tpe_s5``      multivariate TPE, start-up max(5, budget // 5).
- ``tpe_s10``     multivariate TPE, start-up max(5, budget // 10).
- ``tpe_ends``    multivariate TPE, start-up max(5, budget // 10), ``consider_endpoints=True``.
- ``tpe_r5``      ``tpe`` that asks TPE up to 5 more times before its draw among the unseen points.
- ``tpe_g25``     ``tpe`` with hyperopt's gamma: the best ceil(25 %) of the trials (at most 25) form the good
                  density, not ceil(10 %): below 20 trials Optuna's gamma models one best trial.
- ``tpe_g2``      ``tpe`` whose good density holds at least the 2 best trials (Optuna's gamma otherwise): below
                  20 trials Optuna's is the single best trial's kernel.
- ``tpe_g25d``    ``tpe_g25`` without the retries (as hpo's ``tpe``: a repeat becomes a draw among unseen points).
- ``tpe_g25_c64`` ``tpe_g25`` with 64 EI candidates instead of 24.
- ``tpe_lhs``     ``tpe`` whose start-up trials are a seeded Latin hypercube (``design``), not random.
- ``random``      ``RandomSampler`` (hpo's method ``random``): the comparator.
- ``random_distinct`` random search without repeats on a finite space (``search.distinct`` around it).
- ``qmc``         scrambled Sobol ``QMCSampler`` (numeric spaces only, as hpo's method ``qmc``).
- ``cmaes``       hpo's method ``cmaes`` (``CmaEsSampler``, start-up min(10, budget // 5); numeric spaces
                  only; needs the ``cmaes`` package).
- ``auto``        hpo's ``method: auto`` as resolved for the model and budget (``search.samplers``).

``constant_liar`` only matters with concurrent workers (it treats running trials as bad); a sequential
search has none, so it is not a variant here. GP (``GPSampler``) needs PyTorch, which hpo does not depend on.

    .venv/bin/python bench/bench_samplers.py [SEEDS|FIRST:END] [BUDGETS] [LOG.jsonl] [SAMPLERS] [PROBLEMS]
    .venv/bin/python bench/bench_samplers.py --table LOG.jsonl...      # Markdown from logged rows
"""

from __future__ import annotations

import json
import math
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

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
    ("diabetes ElasticNet", "diabetes", "ElasticNet", "neg_root_mean_squared_error",
     {"alpha": {"type": "float", "low": 1e-4, "high": 10.0, "log": True},
      "l1_ratio": {"type": "float", "low": 0.0, "high": 1.0}}, ["standard_scaler"]),
    ("breast_cancer tree", "breast_cancer", "DecisionTreeClassifier", "roc_auc",
     {"max_depth": {"type": "int", "low": 1, "high": 20},
      "min_samples_leaf": {"type": "int", "low": 1, "high": 100, "log": True},
      "ccp_alpha": {"type": "float", "low": 0.0, "high": 0.05}}, []),
]

NUMERIC_ONLY = {"qmc", "cmaes"}
_MAKE_SAMPLER: list[Callable[..., Any]] = []  # hpo's own make_sampler, while search() swaps in a factory


def _tpe(startup: Callable[[int], int], **options: Any) -> Callable[[Any, int, int], Any]:
    def make(model: Any, seed: int, budget: int) -> Any:
        import optuna

        return optuna.samplers.TPESampler(seed=seed, n_startup_trials=startup(budget), **options)
    return make


def _hpo(method: str) -> Callable[[Any, int, int], Any]:
    def make(model: Any, seed: int, budget: int) -> Any:
        return _MAKE_SAMPLER[0](model, method, seed, budget)
    return make


def _hpo_tpe_before_auto(model: Any, seed: int, budget: int) -> Any:
    import optuna

    from hpo_cli.problem import space

    startup = max(1, min(max(10, 2 * space.dimensions(model)), budget // 2))
    return optuna.samplers.TPESampler(seed=seed, multivariate=True, group=space.is_conditional(model),
                                      n_startup_trials=startup, constant_liar=False, warn_independent_sampling=False)


def _gamma25(n: int) -> int:
    return min(-(-n // 4), 25)


def _gamma_floor2(n: int) -> int:
    """Optuna's gamma (ceil(10 %), at most 25) but at least 2: below 20 trials Optuna's good density is one
    trial's kernel."""
    return max(2, min(-(-n // 10), 25))


def _hpo_tpe_with(retries: int = 5, **options: Any) -> Callable[[Any, int, int], Any]:
    """hpo's ``tpe`` (with its distinct points) with other TPE options."""
    def make(model: Any, seed: int, budget: int) -> Any:
        import optuna

        from hpo_cli.problem import space
        from hpo_cli.search import distinct, samplers

        tpe = optuna.samplers.TPESampler(seed=seed, multivariate=True, group=space.is_conditional(model),
                                         n_startup_trials=samplers.startup_trials(model, budget), **options)
        return distinct.distinct(tpe, model, seed, retries) if distinct.applies(model) else tpe
    return make


# --- tpe_lhs: TPE's start-up trials from a Latin hypercube (measured, not taken: section (f) of RESULTS.md) ---

def _value(dist: Any, u: float) -> Any:
    """The value at quantile ``u`` in [0, 1) of an Optuna distribution, on the scale TPE models it."""
    from optuna.distributions import CategoricalDistribution, IntDistribution

    if isinstance(dist, CategoricalDistribution):
        return dist.choices[min(int(u * len(dist.choices)), len(dist.choices) - 1)]
    integer = isinstance(dist, IntDistribution)
    step = dist.step if (integer or dist.step is not None) else None
    low, high = float(dist.low), float(dist.high)
    if integer or step is not None:  # every value owns an equal interval around it, as Optuna's sampling does
        half = (step or 1) / 2
        low, high = low - half, high + half
    x = math.exp(math.log(low) + u * (math.log(high) - math.log(low))) if dist.log else low + u * (high - low)
    if step is not None:
        x = dist.low + round((x - dist.low) / step) * step
        x = min(max(x, dist.low), dist.high)
        return int(x) if integer else float(f"{x:.12g}")
    return min(max(x, dist.low), dist.high)


def design(dists: dict[str, Any], rows: int, seed: int) -> list[dict[str, Any]]:
    """``rows`` points, one per stratum of each parameter's quantile range, strata paired at random."""
    import numpy as np

    rng = np.random.RandomState(seed)
    columns = {}
    for name, dist in dists.items():
        order = rng.permutation(rows)
        columns[name] = [_value(dist, (order[i] + rng.uniform()) / rows) for i in range(rows)]
    return [{name: column[i] for name, column in columns.items()} for i in range(rows)]


def _hpo_tpe_lhs(model: Any, seed: int, budget: int) -> Any:
    """hpo's ``tpe`` whose start-up trials are a seeded Latin hypercube: one point per stratum of every
    parameter's range (log scale where the range is), strata paired at random, categories in equal shares."""
    import optuna

    from hpo_cli.problem import space
    from hpo_cli.search import distinct, samplers

    n = samplers.startup_trials(model, budget)
    dists = space.distributions(model)
    rows = design(dists, n, seed) if n > 0 and not space.is_conditional(model) else []

    class LatinTPE(optuna.samplers.TPESampler):
        """TPE whose trials 0 .. n-1 take the rows of ``design``."""

        def infer_relative_search_space(self, study: Any, trial: Any) -> dict[str, Any]:
            if trial.number < len(rows):
                return dict(dists)
            return super().infer_relative_search_space(study, trial)

        def sample_relative(self, study: Any, trial: Any, search_space: dict[str, Any]) -> dict[str, Any]:
            if trial.number < len(rows):
                return {name: rows[trial.number][name] for name in search_space if name in rows[trial.number]}
            return super().sample_relative(study, trial, search_space)

    sampler = LatinTPE(seed=seed, multivariate=True, group=space.is_conditional(model), n_startup_trials=n,
                       warn_independent_sampling=False)
    return distinct.distinct(sampler, model, seed) if distinct.applies(model) else sampler


def _random_distinct(model: Any, seed: int, budget: int) -> Any:
    import optuna

    from hpo_cli.search import distinct

    sampler = optuna.samplers.RandomSampler(seed=seed)
    return distinct.distinct(sampler, model, seed) if distinct.applies(model) else sampler


def _auto(model: Any, seed: int, budget: int) -> Any:
    from hpo_cli.search import samplers

    return _MAKE_SAMPLER[0](model, samplers.resolve_method(model, budget), seed, budget)


#: name -> (factory(model, seed, budget), key(budget): runs whose keys are equal share one search).
SAMPLERS: dict[str, tuple[Callable[[Any, int, int], Any], Callable[[int], Any]]] = {
    "hpo_tpe": (_hpo_tpe_before_auto, lambda b: min(10, b // 2)),
    "tpe_g1": (_hpo_tpe_with(retries=0), lambda b: min(10, b // 2)),
    "tpe": (_hpo("tpe"), lambda b: min(10, b // 2)),
    "tpe_default": (lambda model, seed, budget: __import__("optuna").samplers.TPESampler(seed=seed), lambda b: 0),
    "tpe_indep": (_tpe(lambda b: 10, multivariate=False), lambda b: 0),
    "tpe_s5": (_tpe(lambda b: max(5, b // 5), multivariate=True), lambda b: max(5, b // 5)),
    "tpe_s10": (_tpe(lambda b: max(5, b // 10), multivariate=True), lambda b: max(5, b // 10)),
    "tpe_ends": (_tpe(lambda b: max(5, b // 10), multivariate=True, consider_endpoints=True),
                 lambda b: max(5, b // 10)),
    "tpe_r5": (_hpo_tpe_with(retries=5), lambda b: min(10, b // 2)),
    "tpe_g25": (_hpo_tpe_with(gamma=_gamma25), lambda b: min(10, b // 2)),
    "tpe_g2": (_hpo_tpe_with(retries=0, gamma=_gamma_floor2), lambda b: min(10, b // 2)),
    "tpe_g25d": (_hpo_tpe_with(retries=0, gamma=_gamma25), lambda b: min(10, b // 2)),
    "tpe_g25_c64": (_hpo_tpe_with(gamma=_gamma25, n_ei_candidates=64), lambda b: min(10, b // 2)),
    "tpe_lhs": (_hpo_tpe_lhs, lambda b: min(10, b // 2)),
    "random": (_hpo("random"), lambda b: 0),
    "random_distinct": (_random_distinct, lambda b: 0),
    "qmc": (_hpo("qmc"), lambda b: 0),
    "cmaes": (_hpo("cmaes"), lambda b: min(10, max(1, b // 5))),
    "auto": (_auto, lambda b: b),
}


def search(problem: tuple, sampler: str, seed: int, trials: int,
           folder: Path) -> tuple[list[float | None], list[str]]:
    """Each trial's CV mean (None for a failed trial) and parameters' key, in trial order, of one search."""
    import optuna

    from hpo_cli.problem import space as space_mod
    from hpo_cli.problem.data import load_dataset
    from hpo_cli.search import loop
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
                    "method": "random", "seed": seed, "budget": {"trials": trials}, "cv": 3, "space": space}],
    }))
    spec = load_spec(spec_path)
    prep = prepare_model(spec, 0, load_dataset(spec, task_of_models(spec, [0])))
    factory = SAMPLERS[sampler][0]
    original = loop.samplers.make_sampler
    _MAKE_SAMPLER[:] = [original]
    loop.samplers.make_sampler = lambda model, method, s, budget, concurrent=False: factory(model, s, budget)
    try:
        with StopSignal() as stop:
            result, _ = loop.search_model(spec, prep, optuna.storages.InMemoryStorage(), resume=False,
                                          events=Observers([], []), stop=stop)
    finally:
        loop.samplers.make_sampler = original
    return ([t.mean_test_score if t.state == "COMPLETE" else None for t in result.trials],
            [space_mod.point_key(t.params) for t in result.trials])


def numeric(problem: tuple) -> bool:
    return all(isinstance(v, dict) and v.get("type") in ("float", "int") for v in problem[4].values())


def rows(seeds: int | range = 5, budgets: tuple[int, ...] = (20, 50, 100), log: Path | None = None,
         names: list[str] | None = None, problems: list[str] | None = None) -> list[dict[str, Any]]:
    """One row per problem × budget × seed × sampler: the best CV mean reached within the budget."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    out = []
    with tempfile.TemporaryDirectory(prefix="hpo-bench-samplers-") as tmp:
        for problem in PROBLEMS:
            if problems and problem[0] not in problems:
                continue
            for sampler in names or list(SAMPLERS):
                if sampler in NUMERIC_ONLY and not numeric(problem):
                    continue
                key = SAMPLERS[sampler][1]
                groups: dict[Any, list[int]] = {}
                for b in budgets:
                    groups.setdefault(key(b), []).append(b)
                for seed in seeds if isinstance(seeds, range) else range(seeds):
                    for group in groups.values():
                        scores, keys = search(problem, sampler, seed, max(group), Path(tmp))
                        if len(scores) < max(group):  # SIGTERM/Ctrl-C stop hpo's search, not this loop
                            raise SystemExit(f"{problem[0]} {sampler} seed {seed}: stopped after {len(scores)} "
                                             f"of {max(group)} trials; nothing logged for it")
                        for b in group:
                            best = max(s for s in scores[:b] if s is not None)
                            out.append({"problem": problem[0], "budget": b, "seed": seed, "sampler": sampler,
                                        "best": best, "repeats": b - len(set(keys[:b]))})
                            if log is not None:
                                with log.open("a") as fh:
                                    fh.write(json.dumps(out[-1]) + "\n")
    return out


def share(table: list[dict[str, Any]], sampler: str, budget: int, problems: set[str] | None = None) -> list[bool]:
    """Per (problem, seed) at ``budget``: is ``sampler``'s best at least random search's."""
    best = {(r["problem"], r["seed"], r["sampler"]): r["best"] for r in table if r["budget"] == budget}
    return [best[(p, s, sampler)] >= best[(p, s, "random")] for (p, s, name) in best
            if name == "random" and (p, s, sampler) in best and (problems is None or p in problems)]


def markdown(table: list[dict[str, Any]]) -> str:
    from tabulate import tabulate

    names = [s for s in SAMPLERS if any(r["sampler"] == s for r in table)]
    best = {(r["problem"], r["budget"], r["seed"], r["sampler"]): r["best"] for r in table}
    budgets = sorted({r["budget"] for r in table})
    problems = [p[0] for p in PROBLEMS if any(r["problem"] == p[0] for r in table)]
    lines = []
    for budget in budgets:
        for problem in problems:
            cells: list[Any] = [problem, budget]
            for sampler in names:
                vals = [v for (p, b, _, s), v in best.items() if p == problem and b == budget and s == sampler]
                cells.append(f"{statistics.mean(vals):.4f}" if vals else "")
            lines.append(cells)
    agg = []
    numeric_problems = {p[0] for p in PROBLEMS if numeric(p)}
    for budget in budgets:
        cells = [budget]
        for sampler in names:
            every, num = share(table, sampler, budget), share(table, sampler, budget, numeric_problems)
            numbers = f" ({sum(num) / len(num):.0%})" if num else ""
            cells.append(f"{sum(every) / len(every):.0%}{numbers}" if every and sampler not in NUMERIC_ONLY
                         else numbers.strip())
        agg.append(cells)
    return "\n".join([
        "Mean best CV score over the seeds:", "",
        tabulate(lines, headers=["problem", "trials", *names], tablefmt="github"), "",
        "Share of (problem, seed) pairs where the sampler's best CV mean is at least random search's: all "
        "problems (in brackets: the all-numeric ones, the only ones qmc and cmaes search):", "",
        tabulate(agg, headers=["trials", *names], tablefmt="github"),
    ])


if __name__ == "__main__":
    import warnings

    warnings.filterwarnings("ignore")
    if len(sys.argv) > 1 and sys.argv[1] == "--table":
        logged = [json.loads(line) for f in sys.argv[2:] for line in Path(f).read_text().splitlines() if line]
        print(markdown(logged))
        sys.exit(0)
    first, _, last = sys.argv[1].rpartition(":") if len(sys.argv) > 1 else ("", "", "5")
    n_seeds: int | range = range(int(first), int(last)) if first else int(last)  # "N" or "FIRST:END"
    budget_list = tuple(int(b) for b in sys.argv[2].split(",")) if len(sys.argv) > 2 else (20, 50, 100)
    log_path = Path(sys.argv[3]) if len(sys.argv) > 3 and sys.argv[3] != "-" else None
    sampler_names = sys.argv[4].split(",") if len(sys.argv) > 4 else None
    problem_names = sys.argv[5].split(",") if len(sys.argv) > 5 else None
    start = time.perf_counter()
    print(markdown(rows(n_seeds, budget_list, log_path, sampler_names, problem_names)))
    print(f"\nseeds {n_seeds}, 3-fold CV; wall time {time.perf_counter() - start:.0f} s")

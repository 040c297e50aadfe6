"""Optuna samplers and pruners for a model's ``method`` and ``pruner``, seeded for reproducibility.

Grid search does not use Optuna's ``GridSampler``: it cannot express ``when:`` conditions and it
picks its next point by itself, which makes "never a point twice across a resume" hard to promise.
``PointSampler`` instead hands Optuna the one point that ``search`` chose from a seeded permutation
of ``space.grid_points`` minus the points already in the storage.

A resumed study gets a sampler seed derived from the seed and the number of finished trials: with
the original seed, a random sampler would replay the very parameter sets it drew before the stop.
"""

from __future__ import annotations

import functools
import importlib.util
import math
import warnings
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from hpo_cli.problem import space
from hpo_cli.search import distinct
from hpo_cli.search.evaluate import mean_std
from hpo_cli.spec.models import CategoricalParam, ModelSpec
from hpo_cli.spec.pruning import PrunerSpec

if TYPE_CHECKING:
    import optuna


def resume_seed(seed: int, n_finished: int) -> int:
    """The sampler seed: the spec's seed on a fresh study, a distinct derived one after a resume."""
    return seed if n_finished == 0 else (seed * 1_000_003 + n_finished) % (2**32)


def worker_seed(seed: int, n_finished: int, worker: int) -> int:
    """Worker ``worker``'s sampler seed: distinct per worker, so parallel workers never draw the same points.

    Worker 0 keeps ``resume_seed``; the same spec, seed and number of workers give the same seeds (what
    each worker then draws still depends on what the others finished first: see README, workers).
    """
    base = resume_seed(seed, n_finished)
    return base if worker == 0 else (base * 1_000_033 + 7_919 * worker) % (2**32)


def startup_trials(model: ModelSpec, budget: int) -> int:
    """TPE's random warm-up: the spec's ``startup_trials``, else max(10, 2 x dimensions), at most half the budget.

    TPE models the good and bad regions from the trials it has; below ~2 trials per dimension its
    model is noise, and with a small budget it still needs half of it to exploit what it learned.
    """
    if model.startup_trials:
        return model.startup_trials
    return max(1, min(max(10, 2 * space.dimensions(model)), budget // 2))


def good_trials(n_finished: int) -> int:
    """How many of ``n_finished`` trials form TPE's "good" density: Optuna's ceil(10 %), at most 25, but at least 2.

    After the 10 start-up trials Optuna's rule puts a single trial in the good density, so the first guided
    proposal is drawn around that one trial's kernel; two give TPE a spread. Measured in
    ``bench/RESULTS.md`` (f): at least random search's best in 84 / 85 / 91 % of 140 (problem, seed) pairs at
    20 / 50 / 100 trials against 79 / 81 / 91 % with Optuna's rule, and 81 / 85 / 89 % (Optuna's: 79 / 81 /
    90 %) on 140 pairs of seeds run after the choice.
    """
    return max(2, min(math.ceil(0.1 * n_finished), 25))


def auto_method(model: ModelSpec, budget: int) -> str:
    """What ``method: auto`` searches with: chosen by the space and the trial budget only.

    Never by which optional packages are installed (one spec searches the same way everywhere). A finite
    space (categoricals, int ranges, floats with a step) no larger than the budget is a grid: every point
    once, so its best is the space's best, which no sampler can beat at that budget, and in fewer
    trials. Anything else is TPE: measured in ``bench/RESULTS.md`` (f) against random search, Optuna's
    other TPE settings, QMC and CMA-ES on seven problems x up to forty seeds at 20, 50 and 100 trials.
    """
    size = space.grid_size(model)
    if size is not None and size <= budget:
        return "grid"
    return "tpe"


def unsupported_reason(model: ModelSpec, method: str) -> str | None:
    """Why Optuna's sampler for ``method`` cannot search this space, or None when it can."""
    categorical = [n for n, p in model.space.items() if isinstance(p, CategoricalParam)]
    conditional = [n for n, p in model.space.items() if p.when]
    if method == "grid":
        for name, param in model.space.items():
            if space.param_values(param) is None:
                return (f"grid search needs a finite grid, but '{name}' is a continuous float range; give it a "
                        f"`step`, or use method tpe/random")
    if method in ("qmc", "cmaes") and categorical:
        return (f"{method} samples numeric ranges only, but {', '.join(categorical)} "
                f"{'is' if len(categorical) == 1 else 'are'} categorical; use tpe or random for this model")
    if method in ("qmc", "cmaes", "gp") and conditional:
        return f"{method} cannot handle `when:` conditions ({', '.join(conditional)}); use tpe or random"
    if method == "cmaes" and importlib.util.find_spec("cmaes") is None:
        return "method cmaes needs the 'cmaes' package (pip install cmaes); or use tpe"
    if method == "gp" and importlib.util.find_spec("torch") is None:
        return "method gp needs PyTorch (pip install torch); or use tpe"
    return None


@functools.cache
def _point_sampler_class() -> type:
    import optuna

    class PointSampler(optuna.samplers.BaseSampler):
        """Returns the values of the grid point ``search`` chose for the next trial (``.point``)."""

        def __init__(self, seed: int) -> None:
            self.point: dict[str, Any] = {}
            self._fallback = optuna.samplers.RandomSampler(seed=seed)

        def infer_relative_search_space(self, study: Any, trial: Any) -> dict[str, Any]:
            return {}

        def sample_relative(self, study: Any, trial: Any, search_space: dict[str, Any]) -> dict[str, Any]:
            return {}

        def sample_independent(self, study: Any, trial: Any, param_name: str, param_distribution: Any) -> Any:
            if param_name in self.point:
                return self.point[param_name]
            return self._fallback.sample_independent(study, trial, param_name, param_distribution)

        def reseed_rng(self) -> None:
            self._fallback.reseed_rng()

    return PointSampler


def make_sampler(model: ModelSpec, method: str, seed: int, budget: int,
                 concurrent: bool = False) -> optuna.samplers.BaseSampler:
    """The seeded Optuna sampler for ``method`` (``seed`` already adjusted by ``resume_seed``).

    ``concurrent``: other workers run trials of the same study meanwhile; TPE then treats their running
    trials as bad (``constant_liar``) so that the workers do not all sample the same promising point.
    """
    import optuna

    if method == "grid":
        return _point_sampler_class()(seed)
    if method == "random":
        return optuna.samplers.RandomSampler(seed=seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # ExperimentalWarning for multivariate/group/qmc
        if method == "tpe":
            tpe = optuna.samplers.TPESampler(
                seed=seed, multivariate=True, group=space.is_conditional(model),
                n_startup_trials=startup_trials(model, budget), constant_liar=concurrent,
                warn_independent_sampling=False, gamma=good_trials,
            )
            return distinct.distinct(tpe, model, seed) if distinct.applies(model) else tpe
        if method == "qmc":
            return optuna.samplers.QMCSampler(seed=seed, scramble=True, warn_independent_sampling=False)
        if method == "cmaes":
            return optuna.samplers.CmaEsSampler(seed=seed, warn_independent_sampling=False,
                                                n_startup_trials=min(10, max(1, budget // 5)))
        if method == "gp":
            return optuna.samplers.GPSampler(seed=seed, n_startup_trials=startup_trials(model, budget))
        if method == "nsga2":
            return optuna.samplers.NSGAIISampler(seed=seed, population_size=max(4, min(50, budget // 4)))
    raise ValueError(f"unknown method {method!r}")


def auto_pruner(n_folds: int) -> PrunerSpec:
    """What ``pruner: auto`` prunes with at ``n_folds`` folds (all folds x repeats).

    Measured in ``bench/RESULTS.md`` (e) (TPE, 30 trials, five accuracy/AUC/log-loss problems; replayed x
    five seeds and run end to end x three): successive halving from the first fold saved the most fits
    for a mean loss of best CV mean within 0.002. Below 5 folds it has one rung, after fold 1, and keeping
    the best sixth there (reduction factor 6) saved 41-44 % of fits, a quarter (4) 38 %; from 5 folds a
    second rung follows, and a third (3) saved 46-47 %, as much as 4, which lost more on the regression
    problem. With 2 folds, one fold is half the data: no pruning.
    """
    from hpo_cli.spec.pruning import NonePruner, SuccessiveHalvingPruner

    if n_folds < 3:
        return NonePruner(type="none")
    return SuccessiveHalvingPruner(type="successive_halving", min_resource=1,
                                   reduction_factor=6 if n_folds < 5 else 3)


def pruner_step(fold: int) -> int:
    """The step a trial reports after fold index ``fold``: the number of folds scored so far (1..n_folds).

    Pruners treat the step as the resource spent: successive halving and Hyperband put their first rung
    at step ``min_resource`` >= 1, so with fold indices (0-based) they could never stop a trial after its
    first fold, which is where pruning saves most (at 3 folds: 2/3 of the trial). Measured in
    ``bench/RESULTS.md`` (e): successive halving saved 21 % of fits at 3 folds with fold indices, 38 %
    with folds scored, at no loss of best CV mean.
    """
    return fold + 1


def make_pruner(pruner: PrunerSpec, n_folds: int) -> optuna.pruners.BasePruner:
    """Optuna's pruner for ``pruner`` (``spec.pruning``), its steps being the folds scored 1..n_folds."""
    import optuna

    if pruner.type == "auto":  # resolved by search.plan.resolve_auto; here for a caller that did not
        return make_pruner(auto_pruner(n_folds), n_folds)
    options = pruner.model_dump(exclude={"type"})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # ExperimentalWarning (WilcoxonPruner)
        if pruner.type == "median":
            return optuna.pruners.MedianPruner(**options)
        if pruner.type == "percentile":
            return optuna.pruners.PercentilePruner(**options)
        if pruner.type == "successive_halving":
            return optuna.pruners.SuccessiveHalvingPruner(**options)
        if pruner.type == "hyperband":
            options["max_resource"] = options["max_resource"] or max(n_folds, 2)
            return optuna.pruners.HyperbandPruner(**options)
        if pruner.type == "wilcoxon":
            return optuna.pruners.WilcoxonPruner(**options)
    return optuna.pruners.NopPruner()


def reported_value(pruner: PrunerSpec) -> Callable[[list[float]], float]:
    """What a trial reports after each fold: the fold's own score for Wilcoxon, which pairs fold k of
    this trial with fold k of the best trial; the running CV mean for the others, which compare trials
    at the same step and would otherwise judge a whole configuration on one fold's luck."""
    if pruner.type == "wilcoxon":
        return lambda scores: scores[-1]
    return lambda scores: mean_std(scores)[0]


def should_prune(trial: optuna.Trial) -> bool:
    """``trial.should_prune()`` without Optuna's warnings (e.g. Wilcoxon's "best trial has no intermediate
    values" after a resume) being counted as the trial's own fit warnings."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return trial.should_prune()

"""Warnings for a pruner that cannot act with the model's fold count or budget.

A pruner's step is the number of folds scored (1..folds) and a trial is never pruned after its last
fold, so a pruner acts only at steps 1..folds-1. Optuna accepts settings that can never prune there (a
Wilcoxon test on too few folds to reach its p threshold, a warm-up as long as the CV); such a spec
would run a full search while the user believes fits are being saved, so ``hpo validate`` says so.
"""

from __future__ import annotations

import math

from hpo_cli.core.errors import Problem
from hpo_cli.search.plan import planned_folds, planned_trials
from hpo_cli.spec.models import ModelSpec, Spec


def wilcoxon_min_p(n_pairs: int) -> float:
    """The smallest one-sided p-value of the exact signed-rank test on ``n_pairs`` pairs: all differences
    of one sign has probability 1 / 2**n under the null (3 folds: 0.125, 5 folds: 0.03125)."""
    return 0.5 ** n_pairs


def _first_step(model: ModelSpec) -> int | None:
    """The first number of folds scored after which the pruner may prune (None: depends on the trials)."""
    p = model.pruner
    if p.type in ("median", "percentile"):
        return max(1, p.n_warmup_steps)  # type: ignore[union-attr]
    if p.type == "successive_halving":
        if p.min_resource == "auto":  # type: ignore[union-attr]
            return None
        return p.min_resource * p.reduction_factor ** p.min_early_stopping_rate  # type: ignore[union-attr]
    if p.type == "hyperband":
        return p.min_resource  # type: ignore[union-attr]
    if p.type == "wilcoxon":
        return max(2, p.n_startup_steps)  # type: ignore[union-attr]
    return None


def check_pruning(spec: Spec, index: int, model: ModelSpec) -> list[Problem]:
    """Warnings for a pruner that can never prune this model's trials."""
    pruner = model.pruner
    if pruner.type == "none":
        return []
    folds = planned_folds(model)
    last = folds - 1  # the last number of folds scored after which pruning still saves a fit
    path = ("models", index, "pruner")
    first = _first_step(model)
    if first is not None and first > last:
        return [spec.problem(path, f"{pruner.type} cannot prune with {folds} folds: it may act once {first} folds "
                                   f"are scored, but a trial is never pruned after its last fold; lower its "
                                   f"warm-up or use more folds", severity="warning")]
    if pruner.type == "wilcoxon":
        p_min = wilcoxon_min_p(folds - 1)
        if p_min >= pruner.p_threshold:  # type: ignore[union-attr]
            need = math.floor(math.log2(1 / pruner.p_threshold)) + 2  # type: ignore[union-attr]
            return [spec.problem(path, f"wilcoxon cannot prune with {folds} folds: its test on the {folds - 1} "
                                       f"folds before the last never gives p below {p_min:g} (p_threshold "
                                       f"{pruner.p_threshold:g}); use at least {need} folds (or cv.repeats), a "  # type: ignore[union-attr]
                                       f"higher p_threshold, or the median pruner", severity="warning")]
    startup = getattr(pruner, "n_startup_trials", 0)
    trials = planned_trials(model, None) if model.method != "grid" else model.budget.trials
    if startup and trials is not None and startup >= trials:
        return [spec.problem(path, f"{pruner.type} starts pruning after {startup} complete trials, but the budget "
                                   f"is {trials} trials: it will never prune", severity="warning")]
    return []

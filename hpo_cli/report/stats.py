"""The judgements a reviewer needs from a search: is the winner really better, what is the
one-standard-error choice, and which parameters mattered.

Pure functions over plain numbers and ``TrialRecord``s; scipy and optuna are imported inside the functions
that need them, so importing this module stays cheap.
"""

from __future__ import annotations

import math
import statistics
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from hpo_cli.core.results import TrialRecord

# Below this many complete trials an importance estimate is mostly noise; say so instead of drawing bars.
MIN_TRIALS_FOR_IMPORTANCE = 10
# Optuna's fANOVA fits a random forest and takes over a minute past ~1,000 trials; PED-ANOVA is linear
# in the number of trials (about a second for 10,000), so it is what the report uses.
IMPORTANCE_EVALUATOR = "PED-ANOVA (optuna.importance.PedAnovaImportanceEvaluator)"
SIGNIFICANCE_LEVEL = 0.05
# The one-SE pick must fit in at most this share of the best trial's time, else the best trial stays.
MEANINGFULLY_CHEAPER = 0.8
MIN_FIT_GAP = 0.005  # seconds; below this, fit times of fast models are timing noise


@dataclass
class PairedComparison:
    """The fold-by-fold comparison of two trials scored on the same folds (winner minus runner-up)."""

    mean_diff: float
    n_folds: int
    n_better: int  # folds on which the winner scored higher
    t_stat: float
    p_value: float
    corrected: bool  # Nadeau-Bengio correction applied (it is, whenever the folds are k-fold splits)

    @property
    def significant(self) -> bool:
        return self.p_value < SIGNIFICANCE_LEVEL


def paired_comparison(winner: Sequence[float], runner_up: Sequence[float],
                      n_folds_per_repeat: int | None = None) -> PairedComparison | None:
    """Nadeau-Bengio corrected paired t-test on fold scores (winner - runner-up).

    Fold scores share training data, so the plain paired t-test is overconfident; Nadeau & Bengio (2003)
    inflate the variance by ``n_test / n_train``, which is ``1 / (k - 1)`` for k-fold CV. With repeated
    CV, ``n_folds_per_repeat`` is k (the number of folds in one repeat); by default every split is one
    fold of a single k-fold. Returns None when there are fewer than two paired folds.
    """
    if len(winner) != len(runner_up) or len(winner) < 2:
        return None
    from scipy import stats as sps

    diffs = [a - b for a, b in zip(winner, runner_up, strict=True)]
    n = len(diffs)
    k = n_folds_per_repeat or n
    ratio = 1.0 / (k - 1) if k > 1 else 0.0
    mean = statistics.fmean(diffs)
    var = statistics.variance(diffs)
    n_better = sum(d > 0 for d in diffs)
    if var == 0.0:
        t_stat = 0.0 if mean == 0.0 else math.copysign(math.inf, mean)
        p_value = 1.0 if mean == 0.0 else 0.0
    else:
        t_stat = mean / math.sqrt((1.0 / n + ratio) * var)
        p_value = float(2.0 * sps.t.sf(abs(t_stat), df=n - 1))
    return PairedComparison(mean, n, n_better, t_stat, p_value, ratio > 0)


def describe_comparison(cmp: PairedComparison, winner: str, runner_up: str, metric: str) -> str:
    """The comparison in plain words, for a reviewer who does not want to read a p-value table."""
    diff = f"{cmp.mean_diff:+.4f} {metric}" if abs(cmp.mean_diff) >= 1e-3 else f"{cmp.mean_diff:+.2g} {metric}"
    folds = f"higher on {cmp.n_better} of {cmp.n_folds} folds"
    test = f"corrected paired t-test p = {cmp.p_value:.3g}"
    if cmp.significant:
        verdict = (f"**{winner}** beats **{runner_up}** beyond fold noise: {diff} on average, {folds} "
                   f"({test} < {SIGNIFICANCE_LEVEL}).")
    else:
        verdict = (f"**{winner}** and **{runner_up}** are **within fold noise** of each other: {diff} on "
                   f"average, {folds} ({test} ≥ {SIGNIFICANCE_LEVEL}). Prefer the simpler or cheaper one.")
    return verdict + (" Both best trials were picked from many, so the gap is, if anything, optimistic.")


@dataclass
class OneSEChoice:
    """The one-standard-error rule's pick within one model."""

    best: TrialRecord
    chosen: TrialRecord
    threshold: float  # best mean minus one standard error of the best trial's mean
    n_within: int  # complete trials whose mean reaches the threshold


def one_standard_error(records: Sequence[TrialRecord]) -> OneSEChoice | None:
    """Among complete trials within one standard error of the best, the cheapest to fit.

    The standard error is that of the best trial's mean over its folds (std / sqrt(n_folds)), as in
    Breiman's one-SE rule. "Simplest" has no general definition across estimators (fewer trees? stronger
    regularization? depends on the class), so the rule here is the one that holds for every estimator:
    the trial with the smallest mean fit time, ties broken by the higher mean score, and only if it fits in
    at most 80% of the best trial's time and at least 5 ms faster (smaller gaps are timing noise). A
    cheaper model that scores the same within noise is usually the smaller or more regularized one.
    """
    scored = [(r, r.mean_test_score) for r in records
              if r.mean_test_score is not None and not math.isnan(r.mean_test_score)]
    if not scored:
        return None
    best, top = max(scored, key=lambda p: p[1])
    n_folds = max(len(best.split_scores), 1)
    std = best.std_test_score or 0.0
    threshold = top - (std / math.sqrt(n_folds) if n_folds > 1 else 0.0)
    within = [(r, mean) for r, mean in scored if mean >= threshold]
    timed = [(r, mean, r.mean_fit_time) for r, mean in within if r.mean_fit_time is not None]
    chosen, chosen_fit = best, best.mean_fit_time
    if timed:
        chosen, _, chosen_fit = min(timed, key=lambda p: (p[2], -p[1]))
    best_fit = best.mean_fit_time
    if best_fit is not None and chosen_fit is not None and (chosen_fit > MEANINGFULLY_CHEAPER * best_fit
                                                            or best_fit - chosen_fit < MIN_FIT_GAP):
        chosen = best  # a few percent, or a few milliseconds, of fit time is timing noise, not a simpler model
    return OneSEChoice(best, chosen, threshold, len(within))


def param_importance(study: Any, max_trials: int | None = None) -> dict[str, float] | None:
    """PED-ANOVA importances of a study's parameters, or None when there are too few complete trials.

    Takes an Optuna study (from the storage, or rebuilt in memory from trials.csv). Parameters that never
    vary are left out by Optuna. ``max_trials`` is not needed for PED-ANOVA (it is fast) but kept so a
    caller can cap the work on a huge study.
    """
    import optuna

    trials = study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,))
    if len(trials) < MIN_TRIALS_FOR_IMPORTANCE:
        return None
    if not any(len(t.distributions) for t in trials):
        return None
    if max_trials is not None and len(trials) > max_trials:
        import random

        sample = random.Random(0).sample(trials, max_trials)
        study = optuna.create_study(directions=study.directions)
        study.add_trials(sample)
    evaluator = optuna.importance.PedAnovaImportanceEvaluator()
    try:
        with warnings.catch_warnings():  # "few trials in some regime": the report states the trial count
            warnings.simplefilter("ignore")
            return dict(optuna.importance.get_param_importances(study, evaluator=evaluator))
    except (ValueError, RuntimeError, ZeroDivisionError):
        return None

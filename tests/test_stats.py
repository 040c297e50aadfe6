"""The report's statistics: the corrected paired t-test and the one-standard-error rule."""

from __future__ import annotations

import math

import pytest
from scipy import stats as sps

from hpo_cli.core.results import TrialRecord
from hpo_cli.report import stats


def test_uncorrected_limit_matches_scipy_paired_t_test() -> None:
    """With k -> infinity the Nadeau-Bengio correction vanishes; check the formula against scipy's ttest_rel."""
    a = [0.91, 0.93, 0.92, 0.95, 0.94]
    b = [0.90, 0.92, 0.93, 0.91, 0.92]
    cmp = stats.paired_comparison(a, b, n_folds_per_repeat=10**9)
    ref = sps.ttest_rel(a, b)
    assert cmp is not None
    assert cmp.t_stat == pytest.approx(ref.statistic)
    assert cmp.p_value == pytest.approx(ref.pvalue)


def test_correction_inflates_variance_by_test_over_train() -> None:
    a = [0.91, 0.93, 0.92, 0.95, 0.94]
    b = [0.90, 0.92, 0.93, 0.91, 0.92]
    cmp = stats.paired_comparison(a, b)  # 5-fold: n_test / n_train = 1/4
    d = [x - y for x, y in zip(a, b, strict=True)]
    mean = sum(d) / 5
    var = sum((x - mean) ** 2 for x in d) / 4
    assert cmp is not None and cmp.corrected
    assert cmp.t_stat == pytest.approx(mean / math.sqrt((1 / 5 + 1 / 4) * var))
    assert cmp.n_better == 4 and cmp.n_folds == 5
    assert cmp.p_value > sps.ttest_rel(a, b).pvalue  # more honest, less confident


def test_identical_and_constant_differences() -> None:
    same = stats.paired_comparison([0.9, 0.8, 0.7], [0.9, 0.8, 0.7])
    assert same is not None and same.p_value == 1.0 and not same.significant
    shifted = stats.paired_comparison([0.9, 0.8, 0.7], [0.8, 0.7, 0.6])
    assert shifted is not None and shifted.significant
    assert stats.paired_comparison([0.9], [0.8]) is None
    assert stats.paired_comparison([0.9, 0.8], [0.8]) is None


def test_describe_says_within_noise_or_beyond() -> None:
    noisy = stats.paired_comparison([0.91, 0.93, 0.92, 0.95, 0.94], [0.90, 0.92, 0.93, 0.91, 0.92])
    assert noisy is not None
    assert "within fold noise" in stats.describe_comparison(noisy, "a", "b", "accuracy")
    clear = stats.paired_comparison([0.95, 0.96, 0.97, 0.96, 0.95], [0.90, 0.91, 0.915, 0.905, 0.90])
    assert clear is not None
    assert "beyond fold noise" in stats.describe_comparison(clear, "a", "b", "accuracy")


def _row(trial: int, mean: float, std: float, fit: float | None) -> TrialRecord:
    return TrialRecord("m", trial, "COMPLETE", {}, mean_test_score=mean, std_test_score=std, split_scores=[mean] * 4,
                       mean_fit_time=fit)


def test_one_standard_error_picks_the_cheapest_within_one_se() -> None:
    rows = [_row(0, 0.95, 0.02, 5.0), _row(1, 0.945, 0.01, 1.0), _row(2, 0.93, 0.01, 0.1), _row(3, 0.944, 0.0, 2.0)]
    choice = stats.one_standard_error(rows)
    assert choice is not None
    assert choice.best.number == 0
    assert choice.threshold == pytest.approx(0.95 - 0.02 / 2)  # std / sqrt(4 folds)
    assert choice.chosen.number == 1  # trial 2 is cheaper but beyond one SE
    assert choice.n_within == 3


def test_one_standard_error_without_fit_times_keeps_the_best() -> None:
    choice = stats.one_standard_error([_row(0, 0.9, 0.1, None), _row(1, 0.89, 0.1, None)])
    assert choice is not None and choice.chosen.number == 0
    assert stats.one_standard_error([]) is None

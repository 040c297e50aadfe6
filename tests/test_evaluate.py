"""One trial: fold scores, failures with their text, warnings counted, fold-level pruning hook."""

from __future__ import annotations

import numpy as np
from sklearn.datasets import load_iris
from sklearn.model_selection import StratifiedKFold

from hpo_cli.problem.data import Dataset
from hpo_cli.search.evaluate import Evaluator, error_text, mean_std
from hpo_cli.spec.models import ModelSpec


def _evaluator(cls: str, **model) -> Evaluator:
    X, y = load_iris(return_X_y=True)
    ds = Dataset(X=X, y=y, groups=None, feature_names=[f"f{i}" for i in range(4)], target="target",
                 task="classification", sha256="", source="sklearn:iris")
    folds = list(StratifiedKFold(3, shuffle=True, random_state=0).split(X, y))
    return Evaluator(ModelSpec.model_validate({"name": "m", "class": cls, **model}), ds, folds)


def test_scores_metrics_and_times() -> None:
    ev = _evaluator("DecisionTreeClassifier", metric="accuracy", metrics=["f1_macro", "accuracy"])
    out = ev.evaluate({"max_depth": 2})
    assert out.state == "COMPLETE" and len(out.split_scores) == 3 and list(out.metrics) == ["f1_macro"]
    assert len(out.fit_times) == 3 and out.mean == mean_std(out.split_scores)[0]


def test_failure_carries_error_text_and_warnings_are_counted() -> None:
    ev = _evaluator("LogisticRegression")
    bad = ev.evaluate({"penalty": "l1", "solver": "lbfgs"})
    assert bad.state == "FAIL" and bad.error is not None
    assert bad.error.startswith("ValueError: Solver lbfgs supports only 'l2' or None penalties")
    noisy = ev.evaluate({"max_iter": 1})
    assert noisy.state == "COMPLETE" and noisy.n_warnings >= 3 and "ConvergenceWarning" in (noisy.warning or "")


def test_pruning_and_stop_between_folds() -> None:
    ev = _evaluator("DummyClassifier")
    reported: list[tuple[int, list[float]]] = []
    pruned = ev.evaluate({}, report=lambda k, v: reported.append((k, list(v))) or True)
    assert pruned.state == "PRUNED" and reported == [(0, pruned.split_scores)] and len(pruned.split_scores) == 1
    kept: list[int] = []
    complete = ev.evaluate({}, report=lambda k, v: kept.append(k) or k == len(ev.folds) - 1)
    assert complete.state == "COMPLETE" and kept == list(range(len(ev.folds)))  # the last fold is reported too
    stopped = ev.evaluate({}, should_stop=lambda: True)
    assert stopped.state == "INTERRUPTED" and stopped.split_scores == []


def test_mean_std_match_numpy_population_std() -> None:
    scores = [0.9, 0.95, 0.85, 1.0]
    mean, std = mean_std(scores)
    assert mean == np.mean(scores) and abs(std - np.std(scores)) < 1e-15
    assert error_text(ValueError("a\n  b")) == "ValueError: a b"

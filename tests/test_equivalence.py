"""Equivalence: hpo's fold scores equal scikit-learn's own (GridSearchCV / cross_val_score) to the bit.

The acceptance bar of the search engine: a user reproducing a run with scikit-learn, the same
splitter and the same seed gets the same ``splitK_test_score``, ``mean_test_score`` and best params.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import load_breast_cancer, load_diabetes
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.model_selection import (
    GridSearchCV,
    GroupKFold,
    KFold,
    StratifiedKFold,
    TimeSeriesSplit,
    cross_val_score,
    train_test_split,
)
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.tree import DecisionTreeClassifier

TOL = 1e-9


def _by_params(rows: list[dict[str, str]], names: list[str]) -> dict[tuple[str, ...], dict[str, str]]:
    return {tuple(r[f"param_{n}"] for n in names): r for r in rows}


def _cell(value: object) -> str:
    return "None" if value is None else str(value)


def test_grid_with_pipeline_equals_gridsearchcv(write_spec, tune, read_trials) -> None:
    grid = {"C": [0.01, 0.1, 1.0, 10.0], "class_weight": [None, "balanced"]}
    spec = write_spec({
        "data": {"source": "sklearn:breast_cancer"},
        "models": [{"name": "lr", "class": "LogisticRegression", "init_params": {"max_iter": 3000},
                    "preprocess": ["standard_scaler"], "method": "grid", "param_grid": grid,
                    "cv": {"kind": "stratified", "folds": 5}, "metric": "roc_auc", "metrics": ["accuracy"],
                    "seed": 7}],
    })
    result = tune(spec)
    X, y = load_breast_cancer(return_X_y=True)
    pipe = Pipeline([("standard_scaler", StandardScaler()),
                     ("model", LogisticRegression(max_iter=3000, random_state=7))])
    gs = GridSearchCV(pipe, {f"model__{k}": v for k, v in grid.items()},
                      cv=StratifiedKFold(5, shuffle=True, random_state=7),
                      scoring={"score": "roc_auc", "accuracy": "accuracy"}, refit="score", n_jobs=1).fit(X, y)
    rows = _by_params(read_trials(result.run_dir), ["C", "class_weight"])
    assert len(rows) == len(gs.cv_results_["params"]) == 8
    for i, params in enumerate(gs.cv_results_["params"]):
        row = rows[(_cell(params["model__C"]), _cell(params["model__class_weight"]))]
        assert abs(float(row["mean_test_score"]) - gs.cv_results_["mean_test_score"][i]) <= TOL
        assert abs(float(row["std_test_score"]) - gs.cv_results_["std_test_score"][i]) <= TOL
        assert abs(float(row["mean_test_accuracy"]) - gs.cv_results_["mean_test_accuracy"][i]) <= TOL
        assert int(row["rank_test_score"]) == gs.cv_results_["rank_test_score"][i]
        for k in range(5):
            assert abs(float(row[f"split{k}_test_score"]) - gs.cv_results_[f"split{k}_test_score"][i]) <= TOL
    best = result.models[0].best
    assert best is not None
    assert {f"model__{k}": v for k, v in best.params.items()} == gs.best_params_
    assert best.mean_test_score == pytest.approx(gs.best_score_, abs=TOL)


def test_regression_grid_with_test_split_equals_gridsearchcv(write_spec, tune, read_trials) -> None:
    grid = {"alpha": [0.01, 0.1, 1.0, 10.0, 100.0]}
    spec = write_spec({
        "data": {"source": "sklearn:diabetes", "test_size": 0.25},
        "models": [{"name": "ridge", "class": "Ridge", "method": "grid", "param_grid": grid,
                    "cv": {"kind": "auto", "folds": 4}, "seed": 3}],
    })
    result = tune(spec)
    X, y = load_diabetes(return_X_y=True)
    X_tr, X_te, y_tr, y_te = train_test_split(X, y, test_size=0.25, random_state=3)
    gs = GridSearchCV(Ridge(random_state=3), grid, cv=KFold(4, shuffle=True, random_state=3)).fit(X_tr, y_tr)
    rows = _by_params(read_trials(result.run_dir), ["alpha"])
    for i, params in enumerate(gs.cv_results_["params"]):
        row = rows[(_cell(params["alpha"]),)]
        for k in range(4):
            assert abs(float(row[f"split{k}_test_score"]) - gs.cv_results_[f"split{k}_test_score"][i]) <= TOL
    model = result.models[0]
    assert model.best is not None and model.best.params == gs.best_params_
    assert model.test_score == pytest.approx(gs.score(X_te, y_te), abs=TOL)  # refit on all training rows


def _groups_csv(path: Path) -> pd.DataFrame:
    rng = np.random.default_rng(1)
    n = 120
    g = rng.integers(0, 15, n)
    x1, x2 = rng.normal(size=n), rng.normal(size=n)
    frame = pd.DataFrame({"patient": g, "x1": x1, "x2": x2 + g * 0.1,
                          "y": ((x1 + 0.3 * g / 15 + rng.normal(scale=0.5, size=n)) > 0.2).astype(int)})
    frame.to_csv(path, index=False)
    return frame


def test_group_cv_equals_cross_val_score(tmp_path: Path, write_spec, tune, read_trials) -> None:
    frame = _groups_csv(tmp_path / "g.csv")
    spec = write_spec({
        "data": {"source": "g.csv", "target": "y", "groups": "patient"},
        "models": [{"name": "tree", "class": "DecisionTreeClassifier", "method": "grid",
                    "param_grid": {"max_depth": [2, 4, None]}, "cv": {"kind": "group", "folds": 5},
                    "metric": "balanced_accuracy", "seed": 11}],
    })
    result = tune(spec)
    X, y, g = frame[["x1", "x2"]].to_numpy(), frame["y"].to_numpy(), frame["patient"].to_numpy()
    rows = _by_params(read_trials(result.run_dir), ["max_depth"])
    assert len(rows) == 3
    for depth in (2, 4, None):
        scores = cross_val_score(DecisionTreeClassifier(max_depth=depth, random_state=11), X, y, groups=g,
                                 cv=GroupKFold(5, shuffle=True, random_state=11), scoring="balanced_accuracy")
        row = rows[(_cell(depth),)]
        assert [float(row[f"split{k}_test_score"]) for k in range(5)] == pytest.approx(list(scores), abs=TOL)
        assert float(row["mean_test_score"]) == pytest.approx(scores.mean(), abs=TOL)


def test_timeseries_cv_equals_cross_val_score(tmp_path: Path, write_spec, tune, read_trials) -> None:
    rng = np.random.default_rng(2)
    n = 90
    t = rng.permutation(n)  # file rows out of order: hpo orders them by `t`
    frame = pd.DataFrame({"t": t, "x": np.sin(t / 5.0) + rng.normal(scale=0.1, size=n), "z": rng.normal(size=n)})
    frame["y"] = 2 * frame["x"] + 0.5 * frame["z"] + rng.normal(scale=0.2, size=n)
    frame.to_csv(tmp_path / "ts.csv", index=False)
    spec = write_spec({
        "data": {"source": "ts.csv", "target": "y", "time": "t"},
        "models": [{"name": "ridge", "class": "Ridge", "method": "grid", "param_grid": {"alpha": [0.1, 1.0, 10.0]},
                    "cv": {"kind": "timeseries", "folds": 4, "gap": 2, "max_train_size": 40},
                    "metric": "neg_mean_absolute_error"}],
    })
    result = tune(spec)
    ordered = frame.sort_values("t", kind="stable")
    X, y = ordered[["x", "z"]].to_numpy(), ordered["y"].to_numpy()
    rows = _by_params(read_trials(result.run_dir), ["alpha"])
    for alpha in (0.1, 1.0, 10.0):
        scores = cross_val_score(Ridge(alpha=alpha, random_state=42), X, y, scoring="neg_mean_absolute_error",
                                 cv=TimeSeriesSplit(4, gap=2, max_train_size=40))
        row = rows[(_cell(alpha),)]
        assert [float(row[f"split{k}_test_score"]) for k in range(4)] == pytest.approx(list(scores), abs=TOL)

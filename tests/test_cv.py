"""CV: the spec's cv maps to the plain scikit-learn splitter, seeded; bad combinations are InputErrors."""

from __future__ import annotations

import pytest
from sklearn import model_selection as ms

from hpo_cli.problem.cv import describe, make_splitter
from hpo_cli.spec.models import CVSpec


@pytest.mark.parametrize(("cv", "task", "groups", "expected"), [
    ({}, "classification", False, ms.StratifiedKFold),
    ({}, "regression", False, ms.KFold),
    ({}, "classification", True, ms.StratifiedGroupKFold),
    ({"kind": "group"}, "regression", True, ms.GroupKFold),
    ({"kind": "timeseries", "gap": 2, "max_train_size": 50}, "regression", False, ms.TimeSeriesSplit),
    ({"kind": "stratified", "repeats": 3}, "classification", False, ms.RepeatedStratifiedKFold),
    ({"kind": "kfold", "repeats": 2}, "regression", False, ms.RepeatedKFold),
])
def test_splitter_kinds(cv: dict, task: str, groups: bool, expected: type) -> None:
    splitter = make_splitter(CVSpec(**cv), task, 7, has_groups=groups)
    assert type(splitter) is expected


def test_seed_and_shuffle_defaults() -> None:
    kfold = make_splitter(CVSpec(kind="kfold", folds=4), "regression", 9)
    assert (kfold.n_splits, kfold.shuffle, kfold.random_state) == (4, True, 9)
    fixed = make_splitter(CVSpec(kind="kfold", shuffle=False), "regression", 9)
    assert fixed.random_state is None
    ts = make_splitter(CVSpec(kind="timeseries", gap=2, max_train_size=50), "regression", 9)
    assert (ts.gap, ts.max_train_size) == (2, 50)
    assert describe(CVSpec(kind="stratified"), "classification") == "stratified 5-fold, shuffled"


def test_unsupported_combinations() -> None:
    with pytest.raises(ValueError, match="repeats"):
        make_splitter(CVSpec(kind="group", repeats=2), "regression", 1, has_groups=True)
    ordered = make_splitter(CVSpec(kind="timeseries", shuffle=True), "regression", 1)
    assert type(ordered).__name__ == "TimeSeriesSplit"  # shuffle ignored (validate warns), never a leak


def test_fewer_groups_than_folds_is_input_error(tmp_path, write_spec, tune) -> None:
    import pandas as pd

    from hpo_cli.core.errors import InputError

    pd.DataFrame({"g": [1, 1, 2, 2, 3, 3], "x": range(6), "y": [0, 1, 0, 1, 0, 1]}).to_csv(tmp_path / "d.csv",
                                                                                          index=False)
    spec = write_spec({"data": {"source": "d.csv", "target": "y", "groups": "g"},
                       "models": [{"name": "m", "class": "DummyClassifier", "space": {"strategy": ["prior"]},
                                   "cv": {"kind": "group", "folds": 5}}]})
    with pytest.raises(InputError, match="groups|folds"):
        tune(spec)
    assert not (tmp_path / "run").exists()

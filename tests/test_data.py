"""Data loading: bundled sets, CSV/Parquet columns, held-out splits, and bad data as located InputErrors."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import load_breast_cancer
from sklearn.model_selection import train_test_split

from hpo_cli.core.errors import InputError
from hpo_cli.problem.data import load_dataset
from hpo_cli.spec.load import load_spec


def _spec(tmp_path: Path, data: dict, cls: str = "LogisticRegression") -> Path:
    path = tmp_path / "s.yaml"
    path.write_text(json.dumps({"data": data, "models": [{"name": "m", "class": cls}]}), encoding="utf-8")
    return path


def _load(tmp_path: Path, data: dict, task: str = "classification", seed: int = 42, **kw):
    return load_dataset(load_spec(_spec(tmp_path, data)), task, seed, **kw)


def test_sklearn_dataset_matches_sklearn_split(tmp_path: Path) -> None:
    ds = _load(tmp_path, {"source": "sklearn:breast_cancer", "test_size": 0.2})
    X, y = load_breast_cancer(return_X_y=True)
    X_tr, X_te, y_tr, y_te = train_test_split(X, y, test_size=0.2, random_state=42, stratify=y)
    assert np.array_equal(ds.X, X_tr) and np.array_equal(ds.y, y_tr)
    assert np.array_equal(ds.X_test, X_te) and ds.test_split == "stratified"
    assert len(ds.sha256) == 64 and ds.sha256 == _load(tmp_path, {"source": "sklearn:breast_cancer"}).sha256


def test_csv_columns_time_order_and_time_split(tmp_path: Path) -> None:
    frame = pd.DataFrame({"day": [3, 1, 2, 5, 4, 6, 8, 7, 9, 10], "x": np.arange(10.0), "junk": 1,
                          "y": np.arange(10.0) * 2})
    frame.to_csv(tmp_path / "d.csv", index=False)
    ds = _load(tmp_path, {"source": "d.csv", "target": "y", "time": "day", "drop": ["junk"], "test_size": 0.2},
               task="regression")
    assert ds.feature_names == ["x"]
    assert ds.X[:, 0].tolist() == [1.0, 2.0, 0.0, 4.0, 3.0, 5.0, 7.0, 6.0]  # ordered by day, last rows held out
    assert ds.X_test[:, 0].tolist() == [8.0, 9.0] and ds.test_split == "time"


def test_group_split_keeps_groups_whole(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"g": np.repeat(np.arange(10), 4), "x": rng.normal(size=40), "y": rng.integers(0, 2, 40)})
    frame.to_parquet(tmp_path / "d.parquet")
    ds = _load(tmp_path, {"source": "d.parquet", "target": "y", "groups": "g", "test_size": 0.3})
    assert ds.test_split == "group" and not set(ds.groups) & set(ds.groups_test)


@pytest.mark.parametrize(("frame", "data", "task", "message"), [
    (pd.DataFrame({"a": [1, 2], "yy": [0, 1]}), {"target": "y"}, "classification", "no column 'y'; did you mean 'yy'"),
    (pd.DataFrame({"a": [1, 2, 3], "y": [0, None, 1]}), {"target": "y"}, "classification", "1 missing value"),
    (pd.DataFrame({"a": [1, 2, 3], "y": ["a", "b", "c"]}), {"target": "y"}, "regression", "is not numeric"),
    (pd.DataFrame({"a": [1, 2, 3], "y": [1, 1, 1]}), {"target": "y"}, "classification", "one class only"),
    (pd.DataFrame({"a": [1, 2, 3], "y": [1, 0, 1]}), {"target": "y", "groups": "grp"}, "classification",
     "no column 'grp'"),
])
def test_bad_data_is_located_input_error(tmp_path: Path, frame: pd.DataFrame, data: dict, task: str,
                                         message: str) -> None:
    frame.to_csv(tmp_path / "d.csv", index=False)
    with pytest.raises(InputError) as info:
        _load(tmp_path, {"source": "d.csv", **data}, task=task)
    text = str(info.value)
    assert message in text and "d.csv" in text and "s.yaml:1:" in text


def test_empty_and_missing_files(tmp_path: Path) -> None:
    (tmp_path / "empty.csv").write_text("", encoding="utf-8")
    with pytest.raises(InputError, match="empty"):
        _load(tmp_path, {"source": "empty.csv", "target": "y"})
    with pytest.raises(InputError, match="not found"):
        _load(tmp_path, {"source": "nope.csv", "target": "y"})
    with pytest.raises(InputError, match="did you mean 'iris'"):
        _load(tmp_path, {"source": "sklearn:iriss"})


def test_mixed_numeric_and_bool_features_are_float64(tmp_path: Path) -> None:
    """A bool column beside numbers made X an object array, which XGBoost's refit refused."""
    pd.DataFrame({"a": [0.5, 1.5, 2.5, 3.5], "b": [1, 2, 3, 4], "flag": [True, False, True, False],
                  "y": [0, 1, 0, 1]}).to_csv(tmp_path / "d.csv", index=False)
    ds = _load(tmp_path, {"source": "d.csv", "target": "y"})
    assert ds.X.dtype == np.float64 and ds.X[:, 2].tolist() == [1.0, 0.0, 1.0, 0.0]


@pytest.mark.parametrize(("data", "message"), [
    ({"features": ["a", "y"]}, "'y' is the target; it cannot be a feature too"),
    ({"features": ["a", "g"], "groups": "g"}, "'g' is the groups column"),
    ({"groups": "g"}, "groups column 'g' is empty in 1 row(s)"),
])
def test_leaks_and_missing_groups_are_bad_input(tmp_path: Path, data: dict, message: str) -> None:
    pd.DataFrame({"a": [1.0, 2.0, 3.0, 4.0], "g": ["p1", None, "p2", "p2"],
                  "y": [0, 1, 0, 1]}).to_csv(tmp_path / "d.csv", index=False)
    with pytest.raises(InputError) as info:
        _load(tmp_path, {"source": "d.csv", "target": "y", **data})
    assert message in str(info.value) and "s.yaml:" in str(info.value)

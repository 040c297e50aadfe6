"""The data of a run: loading, the columns a spec names, the held-out test split, and its sha256.

Every problem with the data is an ``InputError`` located at the spec key that named the file or
column, and says what exists instead, so that ``hpo tune`` exits 2 before anything is written.

The search loop gets numpy arrays (fancy indexing a numpy array costs microseconds, a DataFrame
``iloc`` costs tens of them); a frame with non-numeric feature columns stays a DataFrame so that
column-aware preprocessing keeps working. Train rows keep the order scikit-learn's own
``train_test_split`` returns, so that a plain script splitting with the same seed gets the same rows
in the same order and hence the same folds.
"""

from __future__ import annotations

import hashlib
import math
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from hpo_cli.core.errors import InputError
from hpo_cli.core.text import suggest
from hpo_cli.problem.datafile import check_target, listed_columns, short, unreadable_file
from hpo_cli.spec.load import data_path
from hpo_cli.spec.models import DEFAULT_SEED, Spec

SKLEARN_DATASETS = ("iris", "wine", "breast_cancer", "digits", "diabetes")


@dataclass
class Dataset:
    """Training rows (what the search sees) and, if ``test_size``, the held-out test rows."""

    X: Any  # np.ndarray, or a DataFrame when some feature is not numeric
    y: np.ndarray
    groups: np.ndarray | None
    feature_names: list[str]
    target: str
    task: str  # "classification" | "regression"
    sha256: str
    source: str
    X_test: Any = None
    y_test: np.ndarray | None = None
    groups_test: np.ndarray | None = None
    test_split: str = ""  # how the test rows were chosen: stratified | random | group | time
    frame_columns: list[str] = field(default_factory=list)

    @property
    def n_rows(self) -> int:
        return len(self.y)

    def frame(self, X: Any) -> pd.DataFrame:
        """``X`` with its column names: the refitted model learns them (serving, MLflow signatures)."""
        if isinstance(X, pd.DataFrame):
            return X
        return pd.DataFrame(X, columns=self.feature_names)


def _located(spec: Spec, key: str, message: str) -> InputError:
    return InputError(spec.problem(("data", key), message))


def read_table(path: Path, head: bytes | None = None) -> pd.DataFrame:
    """A CSV/TSV (optionally gzipped) or Parquet file as a frame; ``ValueError`` says what is wrong with it.

    The one reader of data files: ``hpo tune``/``validate`` (through the spec) and ``hpo init`` use it.
    ``head``: the file's first bytes when the caller has read them already (binary content is refused).
    """
    suffix = path.suffix.lower()
    text = suffix in (".csv", ".txt", ".tsv") or path.name.endswith((".csv.gz", ".tsv.gz"))
    if not text and suffix not in (".parquet", ".pq"):
        raise ValueError(f"unsupported data format '{suffix}' (use .csv or .parquet)")
    if text and not path.name.endswith(".gz"):
        if head is None:
            with path.open("rb") as fh:
                head = fh.read(8192)
        if b"\x00" in head:
            raise ValueError("binary content (NUL bytes), not a CSV text file")
    try:
        frame = pd.read_csv(path, sep="\t" if ".tsv" in path.name else ",") if text else pd.read_parquet(path)
    except pd.errors.EmptyDataError:
        raise ValueError("the file is empty") from None
    except Exception as exc:  # a parser error is the user's file, not a bug
        first = str(exc).split("\n")[0][:120]
        raise ValueError(f"cannot read the file: {type(exc).__name__}: {first}") from None
    if frame.empty or len(frame.columns) == 0:
        raise ValueError("the file has no data rows")
    return frame


def _read_frame(spec: Spec) -> tuple[pd.DataFrame, str, str, str]:
    """(frame, default target, sha256, display name) of the spec's source."""
    assert spec.data is not None
    source = spec.data.source
    if source.startswith("sklearn:"):
        name = source.removeprefix("sklearn:")
        if name not in SKLEARN_DATASETS:
            raise _located(spec, "source", f"unknown scikit-learn dataset '{name}'{suggest(name, SKLEARN_DATASETS)} "
                                           f"(bundled: {', '.join(SKLEARN_DATASETS)})")
        import sklearn.datasets

        frame = getattr(sklearn.datasets, f"load_{name}")(as_frame=True).frame
        digest = hashlib.sha256()
        digest.update("\x1f".join(map(str, frame.columns)).encode())
        digest.update(pd.util.hash_pandas_object(frame, index=True).to_numpy().tobytes())
        return frame, "target", digest.hexdigest(), source
    path = data_path(spec)
    assert path is not None
    shown = source
    reason = unreadable_file(path)
    if reason:
        raise _located(spec, "source", reason)
    raw = path.read_bytes()
    digest = hashlib.sha256(raw).hexdigest()
    try:
        frame = read_table(path, raw[:8192])
    except ValueError as exc:
        raise _located(spec, "source", f"{shown}: {exc}") from None
    return frame, "", digest, shown


def _column(spec: Spec, frame: pd.DataFrame, key: str, name: str, shown: str) -> None:
    if name not in frame.columns:
        columns = [short(str(c), 60) for c in frame.columns]  # for messages only
        if len(columns) == 1 and len(columns[0]) > 24:  # one long "column": the file is not comma-separated data
            raise _located(spec, key, f"{shown}: no column '{name}': the first line ({short(columns[0])!r}) does not "
                                      f"read as comma-separated column names; is it a CSV file?")
        raise _located(spec, key, f"{shown} has no column '{name}'{suggest(name, columns)} (columns: "
                                  f"{listed_columns(frame)})")


def _split(spec: Spec, y: np.ndarray, groups: np.ndarray | None, task: str, seed: int,
           time_ordered: bool, shown: str) -> tuple[np.ndarray, np.ndarray, str]:
    """Train and test row indices of the held-out split, and how they were chosen."""
    assert spec.data is not None and spec.data.test_size is not None
    n = len(y)
    size = spec.data.test_size
    n_test = math.ceil(n * size)
    if n_test < 1 or n - n_test < 2:
        raise _located(spec, "test_size", f"{shown}: {n} rows are too few for test_size {size}")
    index = np.arange(n)
    if time_ordered:
        return index[: n - n_test], index[n - n_test:], "time"
    from sklearn.model_selection import GroupShuffleSplit, train_test_split

    if groups is not None:
        if len(np.unique(groups)) < 2:
            raise _located(spec, "groups", f"{shown}: one group only; a group-wise test split needs at least two")
        train, test = next(GroupShuffleSplit(n_splits=1, test_size=size, random_state=seed).split(index, y, groups))
        return train, test, "group"
    if task == "classification":
        try:
            train, test = train_test_split(index, test_size=size, random_state=seed, stratify=y)
        except ValueError as exc:
            raise _located(spec, "test_size", f"{shown}: cannot stratify the test split: {exc}") from None
        return train, test, "stratified"
    train, test = train_test_split(index, test_size=size, random_state=seed)
    return train, test, "random"


def split_seed(spec: Spec) -> int:
    """The held-out split's seed, one per run so every model is tested on the same rows.

    ``defaults.seed`` (``--seed`` sets it), else the first model's seed in spec order, so a one-model
    spec with its own ``seed`` splits with that seed.
    """
    seed = spec.defaults.get("seed")
    if isinstance(seed, int) and not isinstance(seed, bool):
        return seed
    return spec.models[0].seed if spec.models else DEFAULT_SEED


def is_time_series(spec: Spec) -> bool:
    """Rows are ordered in time: the test rows are the last ones, never a random draw."""
    return (spec.data is not None and spec.data.time is not None) or any(m.cv.kind == "timeseries"
                                                                         for m in spec.models)


# ``hpo tune`` checks the spec (which loads the data) and then searches on the same data: one load.
_LAST: tuple[tuple[Any, ...], Dataset] | None = None


def _cache_key(spec: Spec, task: str, seed: int, time_series: bool) -> tuple[Any, ...] | None:
    assert spec.data is not None
    file = data_path(spec)
    try:
        stamp = (file.stat().st_mtime_ns, file.stat().st_size) if file is not None else None
    except OSError:
        return None
    return (spec.data.model_dump_json(), str(file), stamp, task, seed, time_series)


def load_dataset(spec: Spec, task: str, seed: int | None = None, *, time_series: bool | None = None) -> Dataset:
    """The spec's data: X, y, groups, the held-out test rows, and the data's sha256.

    ``task`` is the estimators' task (``data.task`` wins when set); ``seed`` draws the test split
    (default: ``split_seed``); ``time_series`` keeps the file order and holds out the last rows
    (default: ``is_time_series``). The last load is kept, so the check and the search share it; the
    search never modifies a ``Dataset``.
    """
    global _LAST
    assert spec.data is not None
    task = spec.data.task if spec.data.task != "auto" else task
    seed = split_seed(spec) if seed is None else seed
    time_series = is_time_series(spec) if time_series is None else time_series
    key = _cache_key(spec, task, seed, time_series)
    if key is not None and _LAST is not None and _LAST[0] == key:
        return _LAST[1]
    dataset = _load(spec, task, seed, time_series)
    _LAST = (key, dataset) if key is not None else None
    return dataset


def _load(spec: Spec, task: str, seed: int, time_series: bool) -> Dataset:
    assert spec.data is not None
    ds = spec.data
    if ds.task != "auto":
        task = ds.task
    frame, default_target, sha, shown = _read_frame(spec)
    target = ds.target or default_target
    if not target:
        raise _located(spec, "source", f"{shown}: name the column to predict with data.target (columns: "
                                       f"{listed_columns(frame)})")
    _column(spec, frame, "target", target, shown)
    for key in ("groups", "time"):
        name = getattr(ds, key)
        if name is not None:
            _column(spec, frame, key, name, shown)
    for i, name in enumerate(ds.drop):
        if name not in frame.columns:
            columns = [short(str(c), 60) for c in frame.columns]  # for messages only
            raise InputError(spec.problem(("data", "drop", i), f"{shown} has no column '{name}'"
                                                               f"{suggest(name, columns)}"))
    if ds.time is not None:
        time = frame[ds.time]
        if not pd.api.types.is_numeric_dtype(time) and not pd.api.types.is_datetime64_any_dtype(time):
            try:
                with warnings.catch_warnings():  # "could not infer format": the error below says it better
                    warnings.simplefilter("ignore")
                    time = pd.to_datetime(time)
            except (ValueError, TypeError, OverflowError) as exc:
                raise _located(spec, "time", f"{shown}: time column '{ds.time}' is neither numeric nor dates: "
                                             f"{exc}") from None
        frame = frame.iloc[np.argsort(time.to_numpy(), kind="stable")].reset_index(drop=True)
    if ds.features is not None:
        for i, name in enumerate(ds.features):
            if name not in frame.columns:
                columns = [short(str(c), 60) for c in frame.columns]  # for messages only
                raise InputError(spec.problem(("data", "features", i), f"{shown} has no column '{name}'"
                                                                       f"{suggest(name, columns)}"))
            role = {target: "the target", ds.groups: "the groups column", ds.time: "the time column"}.get(name)
            if role:  # the target as a feature is a leak; groups/time are not features either
                raise InputError(spec.problem(("data", "features", i), f"'{name}' is {role}; it cannot be a "
                                                                       f"feature too"))
        features = list(ds.features)
    else:
        excluded = {target, ds.groups, ds.time, *ds.drop}
        features = [c for c in frame.columns if c not in excluded]
    if not features:
        raise _located(spec, "features", f"{shown}: no feature columns left besides the target")
    y_series = frame[target]
    check_target(spec, y_series, task, shown, target)
    X_frame = frame[features]
    numeric = all(pd.api.types.is_numeric_dtype(t) or pd.api.types.is_bool_dtype(t) for t in X_frame.dtypes)
    # float64, not object: a bool column beside numbers would otherwise make every value an object.
    X: Any = X_frame.to_numpy(dtype=np.float64) if numeric else X_frame
    y = y_series.to_numpy()
    if ds.groups is not None and frame[ds.groups].isna().any():
        raise _located(spec, "groups", f"{shown}: groups column '{ds.groups}' is empty in "
                                       f"{int(frame[ds.groups].isna().sum())} row(s); every row needs a group")
    groups = frame[ds.groups].to_numpy() if ds.groups is not None else None
    dataset = Dataset(X=X, y=y, groups=groups, feature_names=[str(c) for c in features], target=target,
                      task=task, sha256=sha, source=shown, frame_columns=[str(c) for c in frame.columns])
    if ds.test_size is not None:
        train, test, dataset.test_split = _split(spec, y, groups, task, seed, time_series or ds.time is not None,
                                                 shown)
        take = (lambda a, idx: a.iloc[idx].reset_index(drop=True)) if not numeric else (lambda a, idx: a[idx])
        dataset.X, dataset.X_test = take(X, train), take(X, test)
        dataset.y, dataset.y_test = y[train], y[test]
        if groups is not None:
            dataset.groups, dataset.groups_test = groups[train], groups[test]
        if task == "classification" and len(np.unique(dataset.y)) < 2:
            raise _located(spec, "test_size", f"{shown}: the training rows hold one class only after the test split")
    return dataset


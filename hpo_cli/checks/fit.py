"""Checks of a model against the rows it will be fitted and scored on: what every trial would otherwise fail on.

``hpo tune`` would discover each of these trial by trial, after writing a run folder: string columns
reaching a step that needs numbers, missing values reaching one that cannot take them (scikit-learn's
``allow_nan`` tag says which), a scorer that cannot score these labels (tried on the labels with a
``Dummy`` estimator, through the same ``check_scoring`` the search uses), and folds whose training rows
miss a class or are too few. Fewer members of a class than folds stays a warning, as in scikit-learn.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np

from hpo_cli.core.errors import Problem
from hpo_cli.core.pareto import COSTS
from hpo_cli.core.values import plain
from hpo_cli.problem.data import Dataset
from hpo_cli.problem.datafile import short
from hpo_cli.spec.models import ModelSpec, Spec

_ENCODERS = ("Encoder", "Vectorizer", "ColumnTransformer", "Hasher")
_NATIVE_STRINGS = ("catboost",)  # estimators that take string columns themselves
_R2_LIKE = (None, "r2", "explained_variance")
_SHOWN = 3  # column names quoted in a message


def _names(columns: list[str]) -> str:
    shown = ", ".join(f"'{short(c, 40)}'" for c in columns[:_SHOWN])
    return shown + (f" and {len(columns) - _SHOWN} more" if len(columns) > _SHOWN else "")


def _steps(spec: Spec, model: ModelSpec) -> list[Any] | None:
    """Fresh preprocess step objects, or None when they cannot be built (another check reports it)."""
    from hpo_cli.problem.pipeline import resolve_preprocess

    try:
        return [obj for _, obj in resolve_preprocess(model.preprocess, spec.allow_modules)]
    except Exception:
        return None


def _is_sklearn(obj: Any) -> bool:
    return _module(obj) == "sklearn"


def _module(obj: Any) -> str:
    return type(obj).__module__.split(".")[0]


def _allows_nan(obj: Any) -> bool | None:
    """scikit-learn's ``allow_nan`` tag; None when the object carries no tags."""
    from sklearn.utils import get_tags

    try:
        return bool(get_tags(obj).input_tags.allow_nan)
    except Exception:
        return None


def _feature_columns(dataset: Dataset) -> tuple[list[str], list[str], list[str]]:
    """(string columns, columns with some missing values, columns missing in every row) of the training rows."""
    import pandas as pd

    X = dataset.X
    if isinstance(X, pd.DataFrame):
        strings = [str(c) for c, t in X.dtypes.items()
                   if not (pd.api.types.is_numeric_dtype(t) or pd.api.types.is_bool_dtype(t))]
        missing = X.isna()
        some = [str(c) for c in X.columns[missing.any().to_numpy()]]
        every = [str(c) for c in X.columns[missing.all().to_numpy()]]
        return strings, some, every
    missing = np.isnan(X)
    names = np.asarray(dataset.feature_names, dtype=object)
    return [], list(names[missing.any(axis=0)]), list(names[missing.all(axis=0)])


def check_features(spec: Spec, i: int, model: ModelSpec, dataset: Dataset) -> list[Problem]:
    """String columns need an encoding step first; missing values need a step or estimator that takes them."""
    from hpo_cli.problem.estimators import resolve_estimator

    strings, some, every = _feature_columns(dataset)
    steps = _steps(spec, model)
    if steps is None or not (strings or some):
        return []
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            estimator = resolve_estimator(model.class_, spec.allow_modules)()
    except Exception:  # an unresolvable or unbuildable class is another check's finding
        return []
    problems = []
    if strings and estimator is not None:
        first = steps[0] if steps else estimator
        encodes = any(word in type(first).__name__ for word in _ENCODERS) or (not _is_sklearn(first) if steps else
                                                                             _module(first) in _NATIVE_STRINGS)
        if not encodes:
            where = ("models", i, "preprocess", 0) if steps else ("models", i, "class")
            problems.append(spec.problem(where, f"{dataset.source}: column(s) {_names(strings)} hold text (e.g. "
                                                f"{_example(dataset, strings[0])}), which "
                                                f"{type(first).__name__} cannot fit; encode them first with "
                                                f"preprocess: [one_hot{', ...' if steps else ''}] (or drop them "
                                                f"with data.drop)"))
            return problems
    if some:
        problems += _check_missing(spec, i, steps, estimator, some, every, dataset.source)
    return problems


def _example(dataset: Dataset, column: str) -> str:
    values = dataset.X[column].dropna()
    value = next((v for v in values if isinstance(v, str)), values.iloc[0] if len(values) else None)
    return repr(short(value, 20) if isinstance(value, str) else plain(value))


def _check_missing(spec: Spec, i: int, steps: list[Any], estimator: Any, some: list[str], every: list[str],
                   source: str) -> list[Problem]:
    """Follow missing values through the steps: an imputer or encoder removes them; a step refusing them fails."""
    for j, obj in enumerate([*steps, estimator]):
        name = type(obj).__name__
        if obj is None or name.endswith("Imputer") or any(w in name for w in _ENCODERS):
            return []
        allowed = _allows_nan(obj)
        if allowed is None and not _is_sklearn(obj):
            return []
        if allowed:
            continue
        where = ("models", i, "preprocess", j) if j < len(steps) else ("models", i, "class")
        what = (f"column(s) {_names(every)} are empty in every row" if every
                else f"column(s) {_names(some)} have missing values")
        if every and set(every) == set(some):
            fix = "drop them with data.drop"
        else:
            fix = "add preprocess: [simple_imputer, ...] first" + (" (or drop the empty ones with data.drop)"
                                                                  if every else "")
        return [spec.problem(where, f"{source}: {what}, which {name} cannot fit; {fix}")]
    return []


def check_labels(spec: Spec, i: int, model: ModelSpec, dataset: Dataset, skip: set[str | None]) -> list[Problem]:
    """Every scorer of the model, tried on the training labels with a Dummy estimator: a refusal is an error."""
    from sklearn.dummy import DummyClassifier, DummyRegressor
    from sklearn.metrics import check_scoring, get_scorer_names

    targets = [(("models", i, "metric"), model.metric)] if model.metric else []
    targets += [(("models", i, "metrics", j), m) for j, m in enumerate(model.metrics)]
    second = (model.objectives or [])[1:]  # a scorer as second objective is scored like the others
    targets += [(("models", i, "objectives", 1, "metric"), o.metric) for o in second if o.metric not in COSTS]
    y = dataset.y
    X = np.zeros((len(y), 1))
    dummy = DummyClassifier(strategy="prior") if dataset.task == "classification" else DummyRegressor()
    problems = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            dummy.fit(X, y)
        except ValueError:  # a target no estimator takes is the target check's finding
            return []
        for path, name in targets:
            if name in skip:
                continue
            try:
                check_scoring(dummy, scoring=name)(dummy, X, y)
            except Exception as exc:
                text = str(exc).split("\n")[0][:160]
                if "pos_label" in text:
                    labels = ", ".join(repr(v) for v in np.unique(y)[:2])
                    macro = f"{name}_macro" if f"{name}_macro" in get_scorer_names() else "roc_auc or f1_macro"
                    problems.append(spec.problem(path, f"'{name}' scores one positive class, but the target's labels "
                                                       f"are {labels}, not 0/1 ({text}); use {macro}, or encode the "
                                                       f"target as 0/1"))
                else:
                    problems.append(spec.problem(path, f"scorer '{name}' cannot score this target: {text}"))
    return problems


def check_fold_rows(spec: Spec, i: int, model: ModelSpec, dataset: Dataset, folds: list[Any]) -> list[Problem]:
    """Training folds missing a class or with too few rows (errors); rare classes (a warning, as scikit-learn)."""
    where = ("models", i, "cv", "folds")
    src = dataset.source
    smallest = min(len(tr) for tr, _ in folds)
    if smallest < 2:
        return [spec.problem(where, f"{src}: a training fold holds {smallest} row(s); a fit needs at least 2: use "
                                    f"fewer folds (or a larger max_train_size)")]
    if dataset.task != "classification":
        if model.metric in _R2_LIKE and min(len(te) for _, te in folds) < 2:
            return [spec.problem(where, f"{src}: a test fold holds 1 row, on which "
                                        f"{model.metric or 'the default score r2'} is undefined; use fewer folds")]
        return []
    labels, counts = np.unique(dataset.y, return_counts=True)
    for k, (train, _) in enumerate(folds):
        missing = np.setdiff1d(labels, dataset.y[train])
        if len(missing):
            n = int(counts[labels == missing[0]][0])
            return [spec.problem(where, f"{src}: training fold {k + 1} holds no row of class {plain(missing[0])!r} "
                                        f"({n} row(s) in all), so its model never learns that class; use fewer "
                                        f"folds, or merge or drop the rare class")]
    rare = [(lab, int(c)) for lab, c in zip(labels, counts, strict=True) if c < model.cv.folds]
    if rare:
        label, count = rare[0]
        return [spec.problem(where, f"{src}: class {plain(label)!r} has only {count} row(s), fewer than the "
                                    f"{model.cv.folds} folds, so some test folds hold none of it (scikit-learn warns "
                                    f"the same)", severity="warning")]
    return []

"""Cross-validation: the scikit-learn splitter a spec's ``cv`` names, seeded with the model's seed.

The splitter is a plain scikit-learn object on purpose: a user who builds the same splitter with the
same seed in a script (``StratifiedKFold(5, shuffle=True, random_state=42)``) gets the same folds,
hence the same fold scores as ``hpo``. Folds are computed once per model, not once per trial.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np

from hpo_cli.core.errors import InputError
from hpo_cli.problem.data import Dataset
from hpo_cli.spec.models import CVSpec, Spec

Folds = list[tuple[np.ndarray, np.ndarray]]


def resolve_kind(cv: CVSpec, task: str, has_groups: bool = False) -> str:
    """``auto`` → stratified for classifiers, kfold for regressors (group variants when data has groups)."""
    if cv.kind != "auto":
        return cv.kind
    if has_groups:
        return "stratified_group" if task == "classification" else "group"
    return "stratified" if task == "classification" else "kfold"


def make_splitter(cv: CVSpec, task: str, seed: int, *, has_groups: bool = False) -> Any:
    """The scikit-learn splitter for ``cv``; ``ValueError`` for combinations scikit-learn lacks.

    Shuffling defaults to on (off for time series, whose order is the point, so ``shuffle: true`` is
    ignored there and ``hpo validate`` warns); ``random_state`` is set only when shuffling, as
    scikit-learn requires.
    """
    from sklearn import model_selection as ms

    kind = resolve_kind(cv, task, has_groups)
    shuffle = cv.shuffle if cv.shuffle is not None else kind != "timeseries"
    state = seed if shuffle else None
    if cv.repeats > 1:
        if kind == "kfold":
            return ms.RepeatedKFold(n_splits=cv.folds, n_repeats=cv.repeats, random_state=seed)
        if kind == "stratified":
            return ms.RepeatedStratifiedKFold(n_splits=cv.folds, n_repeats=cv.repeats, random_state=seed)
        raise ValueError(f"repeats > 1 works with kfold and stratified CV, not with {kind} "
                         f"(scikit-learn has no repeated {kind} splitter)")
    if kind == "kfold":
        return ms.KFold(n_splits=cv.folds, shuffle=shuffle, random_state=state)
    if kind == "stratified":
        return ms.StratifiedKFold(n_splits=cv.folds, shuffle=shuffle, random_state=state)
    if kind == "group":
        return ms.GroupKFold(n_splits=cv.folds, shuffle=shuffle, random_state=state)
    if kind == "stratified_group":
        return ms.StratifiedGroupKFold(n_splits=cv.folds, shuffle=shuffle, random_state=state)
    if kind == "timeseries":  # shuffle is ignored: the folds follow the row order (validate warns)
        return ms.TimeSeriesSplit(n_splits=cv.folds, gap=cv.gap, max_train_size=cv.max_train_size)
    raise ValueError(f"unknown cv kind {kind!r}")


def make_folds(spec: Spec, model_index: int, dataset: Dataset) -> Folds:
    """Train/test row indices of every fold of one model; bad combinations are located InputErrors."""
    model = spec.models[model_index]
    cv = model.cv
    where = ("models", model_index, "cv")
    has_groups = dataset.groups is not None
    kind = resolve_kind(cv, dataset.task, has_groups)
    if kind in ("group", "stratified_group") and not has_groups:
        raise InputError(spec.problem((*where, "kind"), f"{kind} CV needs the groups column: add data.groups"))
    if kind == "stratified" and dataset.task != "classification":
        raise InputError(spec.problem((*where, "kind"), "stratified CV needs a classification target; use kfold "
                                                        "for regression"))
    if dataset.n_rows < cv.folds + (1 if kind == "timeseries" else 0):
        raise InputError(spec.problem((*where, "folds"), f"{dataset.source}: {dataset.n_rows} training rows are "
                                                         f"fewer than the {cv.folds} folds"))
    if kind in ("group", "stratified_group"):
        n_groups = len(np.unique(dataset.groups))
        if n_groups < cv.folds:
            raise InputError(spec.problem((*where, "folds"), f"{dataset.source}: {n_groups} groups in "
                                                             f"'{spec.data.groups if spec.data else ''}' are fewer "
                                                             f"than the {cv.folds} folds"))
    try:
        splitter = make_splitter(cv, dataset.task, model.seed, has_groups=has_groups)
        with warnings.catch_warnings():  # a class rarer than the folds: hpo validate says so, once
            warnings.filterwarnings("ignore", message="The least populated class", category=UserWarning)
            folds = [(np.asarray(tr), np.asarray(te))
                     for tr, te in splitter.split(dataset.X, dataset.y, dataset.groups)]
    except ValueError as exc:
        raise InputError(spec.problem((*where, "kind"), f"{dataset.source}: {exc}")) from None
    if any(len(te) == 0 or len(tr) == 0 for tr, te in folds):
        raise InputError(spec.problem(where, f"{dataset.source}: a fold came out empty; use fewer folds"))
    return folds


def describe(cv: CVSpec, task: str, has_groups: bool = False) -> str:
    """Short text of the CV (``stratified 5-fold, shuffled``) for summaries and tracking tags."""
    kind = resolve_kind(cv, task, has_groups)
    shuffle = cv.shuffle if cv.shuffle is not None else kind != "timeseries"
    text = f"{kind} {cv.folds}-fold"
    if cv.repeats > 1:
        text += f" x{cv.repeats}"
    if shuffle and kind != "timeseries":
        text += ", shuffled"
    if kind == "timeseries" and (cv.gap or cv.max_train_size):
        text += f", gap {cv.gap}" + (f", max_train_size {cv.max_train_size}" if cv.max_train_size else "")
    return text

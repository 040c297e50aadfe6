"""Checks of what a model is scored on: the CV scheme against the spec, then the data file itself.

The CV checks need only the spec, so they run on every ``hpo validate``. The data checks run last and
only on a spec without errors: they load a small file once and hand it to ``problem.cv.make_folds``,
the very function ``hpo tune`` splits with, so folds against rows and groups are refused here exactly
as the run would refuse them. Larger files are only checked for existence, to keep validation fast.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any

from hpo_cli.checks.fit import check_features, check_fold_rows, check_labels
from hpo_cli.core.errors import InputError, Problem
from hpo_cli.core.text import suggest
from hpo_cli.core.values import plain
from hpo_cli.spec.load import data_path
from hpo_cli.spec.models import ModelSpec, Spec

IMBALANCE_RATIO = 3.0  # majority class at least 3x the minority: accuracy flatters a constant guess
MAX_INSPECTED_BYTES = 50_000_000  # larger data files are only checked for existence
_GROUP_KINDS = ("group", "stratified_group")
_BINARY_ONLY = ("roc_auc", "average_precision", "f1", "precision", "recall", "jaccard")


def check_cv(spec: Spec, i: int, model: ModelSpec, task: str | None) -> list[Problem]:
    """The CV kind against data.groups and the task, before any data is read."""
    problems = []
    kind, path, data = model.cv.kind, ("models", i, "cv", "kind"), spec.data
    if kind in _GROUP_KINDS and (data is None or data.groups is None):
        problems.append(spec.problem(path, f"cv kind '{kind}' needs data.groups (the column whose rows must stay "
                                           f"in one fold)"))
    if kind in ("stratified", "stratified_group") and task == "regression":
        problems.append(spec.problem(path, f"cv kind '{kind}' stratifies class labels, but {model.class_} is a "
                                           f"regressor; use kfold{' or group' if kind == 'stratified_group' else ''}"))
    if kind == "timeseries" and model.cv.shuffle:
        problems.append(spec.problem(("models", i, "cv", "shuffle"), "shuffle: true is ignored with time-series "
                                     "CV, whose folds would otherwise train on the future; remove it",
                                     severity="warning"))
    if task and not problems:
        from hpo_cli.problem.cv import make_splitter

        try:  # the combinations scikit-learn has no splitter for (repeats with group CV, ...)
            make_splitter(model.cv, task, model.seed, has_groups=data is not None and data.groups is not None)
        except ValueError as exc:
            problems.append(spec.problem(("models", i, "cv"), str(exc)))
    return problems


def check_time_order(spec: Spec, only: Sequence[str]) -> list[Problem]:
    """Time-ordered rows (data.time) split by a CV that is not time-series train on the future."""
    mixed = [m.name for m in spec.models if m.cv.kind != "timeseries" and (not only or m.name in only)]
    if spec.data is None or spec.data.time is None or not mixed:
        return []
    return [spec.problem(("data", "time"), f"data.time is set but {', '.join(mixed)} use(s) non-time-series CV: "
                                           f"folds will train on the future; use cv: {{kind: timeseries}}",
                         severity="warning")]


def check_data(spec: Spec, tasks: list[str], metrics: list[tuple[int, str | None]]) -> list[Problem]:
    """The data file or dataset exists; when it is small, load it once to check columns and the target."""
    from hpo_cli.problem.data import SKLEARN_DATASETS
    from hpo_cli.problem.datafile import unreadable_file

    assert spec.data is not None
    problems: list[Problem] = []
    source, path = spec.data.source, ("data", "source")
    if source.startswith("sklearn:"):
        name = source.removeprefix("sklearn:")
        if name not in SKLEARN_DATASETS:
            return [spec.problem(path, f"unknown scikit-learn dataset '{name}'{suggest(name, SKLEARN_DATASETS)} "
                                       f"(available: {', '.join(SKLEARN_DATASETS)})")]
    else:
        file = data_path(spec)
        assert file is not None
        reason = unreadable_file(file)
        if reason:
            return [spec.problem(path, reason)]
        if file.stat().st_size > MAX_INSPECTED_BYTES:
            return []
    if spec.data.test_size is None:
        problems.append(spec.problem(("data",), "no test_size: every row is seen by the search, so the best score "
                                                "is optimistic; add data.test_size (e.g. 0.2) for an untouched "
                                                "test set", severity="warning"))
    if not tasks or len(set(tasks)) > 1:
        return problems
    with warnings.catch_warnings():  # numpy's and scikit-learn's own warnings: the problems below say it once
        warnings.simplefilter("ignore")
        return problems + _check_loaded(spec, tasks[0], metrics)


def _check_loaded(spec: Spec, task: str, metrics: list[tuple[int, str | None]]) -> list[Problem]:
    """The data loaded as ``hpo tune`` loads it, then each model's features, scorers and folds against it."""
    from hpo_cli.problem.data import load_dataset

    problems: list[Problem] = []
    try:
        dataset = load_dataset(spec, task)
    except InputError as exc:
        return exc.problems
    from hpo_cli.problem.cv import make_folds

    if dataset.task == "classification":
        problems += _check_target_balance(spec, dataset.y, metrics)
    refused = {p.path for p in problems if p.severity == "error"}
    for i, model in enumerate(spec.models):  # folds vs rows and groups, empty folds: what tune would refuse
        if (i, model.metric) in metrics:
            problems += check_features(spec, i, model, dataset)
            metric_refused = spec.display_path(("models", i, "metric")) in refused  # binary scorer on multiclass
            problems += check_labels(spec, i, model, dataset, {model.metric} if metric_refused else set())
            try:
                folds = make_folds(spec, i, dataset)
            except InputError as exc:
                problems += exc.problems
                continue
            problems += check_fold_rows(spec, i, model, dataset, folds)
    return problems


def _check_target_balance(spec: Spec, y: Any, metrics: list[tuple[int, str | None]]) -> list[Problem]:
    """Binary-only scorers on a multiclass target (an error), accuracy on an imbalanced one (a warning)."""
    import numpy as np

    labels, counts = np.unique(y, return_counts=True)
    problems = []
    for i, metric in metrics:
        where = ("models", i, "metric")
        if len(labels) > 2 and metric in _BINARY_ONLY:
            suffix = "_ovr" if metric == "roc_auc" else "_macro"
            problems.append(spec.problem(where, f"'{metric}' is for a binary target but it has {len(labels)} "
                                                f"classes; use {metric}{suffix}"))
        elif metric in (None, "accuracy") and counts.max() >= IMBALANCE_RATIO * counts.min():
            share = counts.max() / counts.sum()
            what = "accuracy" if metric else "the default score (accuracy)"
            problems.append(spec.problem(where if metric else ("models", i, "name"),
                                         f"{what} on an imbalanced target: predicting always "
                                         f"{plain(labels[counts.argmax()])!r} scores {share:.2f}; use "
                                         f"balanced_accuracy, f1 or roc_auc", severity="warning"))
    return problems

"""Semantic checks and best-practice warnings: everything wrong with a spec, before anything runs.

``spec.load_spec`` guarantees shapes and types; this module checks what needs scikit-learn:
estimator names and their parameters, scorers and whether they suit the task, CV against the data
keys, the space against the method, the data file itself. Errors stop ``hpo validate`` and
``hpo tune`` (exit 2); warnings are HPO practice (a budget too small for TPE, a linear range over
orders of magnitude) and fail only ``--strict``. Every finding is located with ``spec.problem``,
which follows values merged from ``defaults`` back to where the user wrote them.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hpo_cli.core.errors import InputError, Location, Problem
from hpo_cli.core.text import suggest
from hpo_cli.search.plan import planned_trials
from hpo_cli.spec.load import data_path, load_spec
from hpo_cli.spec.models import (
    CategoricalParam,
    FloatParam,
    ModelSpec,
    Spec,
)

if TYPE_CHECKING:
    from rich.console import Console

TPE_TRIALS_PER_DIMENSION = 10
IMBALANCE_RATIO = 3.0  # majority class at least 3x the minority: accuracy flatters a constant guess
MAX_INSPECTED_BYTES = 50_000_000  # larger data files are only checked for existence
_GROUP_KINDS = ("group", "stratified_group")
_BINARY_ONLY = ("roc_auc", "average_precision", "f1", "precision", "recall", "jaccard")


@dataclass
class ModelSummary:
    """One row of the ``hpo validate`` table: what a model's search will cost."""

    name: str
    estimator: str
    method: str
    dimensions: int
    grid_size: int | None  # None: the space has a continuous range
    trials: int
    folds: int  # folds x repeats
    fits: int  # trials x folds x repeats (the search; the final refit is not counted)
    timeout: float | None = None


@dataclass
class ValidationResult:
    spec: Spec
    models: list[ModelSummary] = field(default_factory=list)
    errors: list[Problem] = field(default_factory=list)
    warnings: list[Problem] = field(default_factory=list)


# --- scorers -------------------------------------------------------------------------------------------

def scorer_task(name: str) -> str | None:
    """``classification``/``regression`` for a scikit-learn scorer name (by its metric's module), else None."""
    from sklearn.metrics import get_scorer

    module = get_scorer(name)._score_func.__module__
    if "regression" in module:
        return "regression"
    return "classification" if any(m in module for m in ("_classification", "_ranking", "_scorer", "cluster")) \
        else None


def _check_scorers(spec: Spec, i: int, model: ModelSpec, task: str | None) -> list[Problem]:
    from sklearn.metrics import get_scorer_names

    names = get_scorer_names()
    problems = []
    targets = [(("models", i, "metric"), model.metric)] if model.metric else []
    targets += [(("models", i, "metrics", j), m) for j, m in enumerate(model.metrics)]
    for path, name in targets:
        if name not in names:
            hint = suggest(name, names) or " (see sklearn.metrics.get_scorer_names())"
            problems.append(spec.problem(path, f"unknown scorer '{name}'{hint}"))
            continue
        kind = scorer_task(name)
        if task and kind and kind != task:
            fit = "r2, neg_mean_squared_error" if task == "regression" else "accuracy, roc_auc, f1"
            problems.append(spec.problem(path, f"scorer '{name}' is for {kind} but {model.class_} is a "
                                               f"{'regressor' if task == 'regression' else 'classifier'}; "
                                               f"use a {task} scorer such as {fit}"))
    return problems


# --- estimator and parameters --------------------------------------------------------------------------

def _check_params(spec: Spec, i: int, model: ModelSpec, cls: type, steps: dict[str, type]) -> list[Problem]:
    """Every init_params / space name must be an estimator parameter, or ``<step>__<param>``."""
    from hpo_cli.problem.estimators import accepts_extra_params, estimator_params

    own = estimator_params(cls)
    problems = []
    for section, names in (("init_params", list(model.init_params)), ("space", list(model.space))):
        for name in names:
            head, sep, rest = name.partition("__")
            target, known, param = (steps[head], estimator_params(steps[head]), rest) if sep and head in steps \
                else (cls, own, head)
            if param in known:
                continue
            hint = suggest(param, sorted(known)) or f" (its parameters: {', '.join(sorted(known))})"
            where = f"preprocess step '{head}' ({target.__name__})" if target is not cls else cls.__name__
            path = ("models", i, section, name)
            if target is cls and accepts_extra_params(cls):
                problems.append(spec.problem(path, f"'{param}' is not an explicit parameter of {where}"
                                                   f"{suggest(param, sorted(known))}; it goes through **kwargs "
                                                   f"unchecked (check the spelling)", severity="warning", key=True))
            else:
                problems.append(spec.problem(path, f"{where} has no parameter '{param}'{hint}", key=True))
    for name in sorted(set(model.init_params) & set(model.space)):
        problems.append(spec.problem(("models", i, "init_params", name), f"'{name}' is both fixed here and searched "
                                     f"in the space; the searched value wins", severity="warning", key=True))
    return problems


def _check_estimator(spec: Spec, i: int, model: ModelSpec) -> tuple[list[Problem], type | None, str | None]:
    from hpo_cli.problem.estimators import estimator_path, resolve_estimator, resolve_preprocess, task_of

    try:
        cls = resolve_estimator(model.class_, spec.allow_modules)
        task = task_of(cls)
    except ValueError as exc:
        return [spec.problem(("models", i, "class"), str(exc))], None, None
    problems: list[Problem] = []
    steps: dict[str, type] = {}
    for j, step in enumerate(model.preprocess):
        try:
            name, obj = resolve_preprocess([step], spec.allow_modules)[0]
        except ValueError as exc:
            problems.append(spec.problem(("models", i, "preprocess", j), str(exc).removeprefix("preprocess[0]: ")))
            continue
        steps[name if name not in steps else f"{name}_{j}"] = type(obj)
    if spec.data and spec.data.task not in ("auto", task):
        problems.append(spec.problem(("models", i, "class"), f"{estimator_path(cls)} is a {task} estimator but "
                                                              f"data.task is {spec.data.task}"))
    problems += _check_params(spec, i, model, cls, steps)
    return problems, cls, task


# --- space, method and budget --------------------------------------------------------------------------

def _span_warning(spec: Spec, path: tuple, model: ModelSpec, param: Any) -> Problem | None:
    """A range or numeric choice list over >= 2 orders of magnitude, spread linearly (HPO practice: log)."""
    if isinstance(param, CategoricalParam):
        nums = [v for v in param.values if isinstance(v, int | float) and not isinstance(v, bool)]
        positive = sorted(v for v in nums if v > 0)
        if len(nums) != len(param.values) or len(positive) < 3 or positive[-1] / positive[0] < 100:
            return None
        kind = "int" if all(isinstance(v, int) for v in positive) else "float"
        log_range = f"{{type: {kind}, low: {positive[0]}, high: {positive[-1]}, log: true}}"
        if model.method != "grid":
            return spec.problem(path, f"numeric choices spanning {_decades(positive)} orders of magnitude are "
                                      f"sampled as unordered categories; a log range {log_range} lets the sampler "
                                      f"use their order and values in between", severity="warning")
        top = sum(v >= positive[-1] / 10 for v in positive)
        if top * 2 > len(positive):
            return spec.problem(path, f"grid values spanning {_decades(positive)} orders of magnitude are spread "
                                      f"linearly ({top} of {len(positive)} in the top decade); space them "
                                      f"logarithmically, e.g. {_log_spaced(positive[0], positive[-1], len(positive))}",
                                severity="warning")
        return None
    if param.log or param.low <= 0 or param.high / param.low < 100 or param.step is not None:
        return None
    return spec.problem(path, f"the range {param.low}..{param.high} spans {_decades([param.low, param.high])} orders "
                              f"of magnitude on a linear scale (90% of samples land above {param.high / 10:g}); "
                              f"add `log: true`", severity="warning")


def _decades(values: Sequence[float]) -> int:
    return round(math.log10(max(values) / min(values)))


def _log_spaced(low: float, high: float, n: int) -> str:
    values = [low * (high / low) ** (k / (n - 1)) for k in range(n)]
    return "[" + ", ".join(f"{v:.3g}" for v in values) + "]"


def _check_space(spec: Spec, i: int, model: ModelSpec) -> list[Problem]:
    from hpo_cli.problem.space import dimensions, grid_size, ordered_params

    problems: list[Problem] = []
    base = ("models", i)
    if not model.space and model.budget.trials != 1:
        return [spec.problem(base + ("name",), f"model '{model.name}' has nothing to search: add a `space:` "
                                               f"(or param_grid/hyperparameters), or set budget: {{trials: 1}} to "
                                               f"score its init_params once as a baseline")]
    for name, param in model.space.items():
        path = base + ("space", name)
        if model.method == "grid" and isinstance(param, FloatParam) and param.step is None:
            problems.append(spec.problem(path, f"method grid needs a finite set of values: give '{name}' a `step` "
                                               f"or list the values (a float range without step is continuous)"))
        for parent, expected in (param.when or {}).items():
            where = path + ("when", parent)
            if parent not in model.space:
                problems.append(spec.problem(where, f"`when:` names '{parent}', which is not a searched parameter"
                                                    f"{suggest(parent, [n for n in model.space if n != name])}",
                                             key=True))
                continue
            choices = getattr(model.space[parent], "values", None)
            wanted = expected if isinstance(expected, list) and expected not in (choices or []) else [expected]
            missing = [w for w in wanted if choices is not None and w not in choices]
            if missing:
                problems.append(spec.problem(where, f"'{parent}' never takes the value {missing[0]!r} (its choices: "
                                                    f"{', '.join(map(repr, choices or []))})"))
        warning = _span_warning(spec, path, model, param)
        if warning:
            problems.append(warning)
    try:
        ordered_params(model)
    except ValueError as exc:
        problems.append(spec.problem(base + ("space",), str(exc)))
    if model.method != "grid":  # the sampler's own limits (categoricals for cmaes, `when:` for qmc/gp ...)
        from hpo_cli.search.samplers import unsupported_reason

        reason = unsupported_reason(model, model.method)
        if reason:
            problems.append(spec.problem(base + ("method",), reason))
    if any(p.severity == "error" for p in problems):
        return problems
    grid, dims = grid_size(model), dimensions(model)
    if model.method == "grid" and grid is not None and model.budget.trials and model.budget.trials < grid:
        problems.append(spec.problem(base + ("budget", "trials"), f"the grid has {grid} points but the budget is "
                                     f"{model.budget.trials} trials: {grid - model.budget.trials} points will never "
                                     f"be evaluated", severity="warning"))
    trials = planned_trials(model, grid)
    if model.method == "tpe" and dims:
        needed = TPE_TRIALS_PER_DIMENSION * dims
        if trials < needed:
            problems.append(spec.problem(base + ("budget", "trials") if model.budget.trials else base + ("method",),
                                         f"TPE with {dims} dimensions needs about {needed} trials "
                                         f"({TPE_TRIALS_PER_DIMENSION} x dimensions) to improve on its random "
                                         f"startup, but the budget is {trials}; raise budget.trials or use method: "
                                         f"random", severity="warning"))
        elif model.startup_trials and model.startup_trials >= trials:
            problems.append(spec.problem(base + ("startup_trials",), f"startup_trials ({model.startup_trials}) is not "
                                         f"below the budget ({trials}): TPE would never leave its random startup",
                                         severity="warning"))
    return problems


# --- CV and data ---------------------------------------------------------------------------------------

def _check_cv(spec: Spec, i: int, model: ModelSpec, task: str | None) -> list[Problem]:
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


def _check_data(spec: Spec, tasks: list[str], metrics: list[tuple[int, str | None]]) -> list[Problem]:
    """The data file or dataset exists; when it is small, load it once to check columns and the target."""
    from hpo_cli.problem.data import SKLEARN_DATASETS, load_dataset

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
        if not file.is_file():
            return [spec.problem(path, f"data file not found: {file.resolve()}")]
        if file.stat().st_size > MAX_INSPECTED_BYTES:
            return []
    if spec.data.test_size is None:
        problems.append(spec.problem(("data",), "no test_size: every row is seen by the search, so the best score "
                                                "is optimistic; add data.test_size (e.g. 0.2) for an untouched "
                                                "test set", severity="warning"))
    if not tasks or len(set(tasks)) > 1:
        return problems
    try:
        dataset = load_dataset(spec, tasks[0])
    except InputError as exc:
        return problems + exc.problems
    from hpo_cli.problem.cv import make_folds

    for i, model in enumerate(spec.models):  # folds vs rows and groups, empty folds: what tune would refuse
        if (i, model.metric) in metrics:
            try:
                make_folds(spec, i, dataset)
            except InputError as exc:
                problems += exc.problems
    if dataset.task == "classification":
        problems += _check_target_balance(spec, dataset.y, metrics)
    return problems


def _check_target_balance(spec: Spec, y: Any, metrics: list[tuple[int, str | None]]) -> list[Problem]:
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
                                         f"{labels[counts.argmax()].item()!r} scores {share:.2f}; use "
                                         f"balanced_accuracy, f1 or roc_auc", severity="warning"))
    return problems


# --- entry points --------------------------------------------------------------------------------------

def check_spec(spec: Spec, only: Sequence[str] = ()) -> list[Problem]:
    """Every error and warning of a loaded spec (``severity`` tells them apart), in file order.

    ``only`` restricts the model checks to these names (``hpo tune --model``); an unknown name is an
    error. ``hpo tune`` calls this too, so it never starts on a spec that ``hpo validate`` rejects.
    """
    problems: list[Problem] = []
    names = [m.name for m in spec.models]
    for name in only:
        if name not in names:
            problems.append(Problem(f"no model named '{name}'{suggest(name, names)} (models: {', '.join(names)})",
                                    Location("--model")))
    seen: set[str] = set()
    tasks: list[str] = []
    metrics: list[tuple[int, str | None]] = []
    for i, model in enumerate(spec.models):
        if model.name in seen:
            problems.append(spec.problem(("models", i, "name"), f"duplicate model name '{model.name}'; each "
                                                                f"model needs its own (it names the study)"))
        seen.add(model.name)
        if only and model.name not in only:
            continue
        found, cls, task = _check_estimator(spec, i, model)
        problems += found
        if task:
            tasks.append(task)
            metrics.append((i, model.metric))
        problems += _check_scorers(spec, i, model, task)
        problems += _check_cv(spec, i, model, task)
        problems += _check_space(spec, i, model)
    labels = {i: m or ("accuracy" if t == "classification" else "r2") for (i, m), t in zip(metrics, tasks, strict=True)}
    first = next(iter(labels), None)  # the winner is picked by comparing scores: one metric for all models
    problems += [spec.problem(("models", i, "metric"), f"'{label}' differs from {spec.models[first].name}'s "
                              f"'{labels[first]}'; models of one run are compared by one metric (set it in "
                              f"defaults, or split the spec)") for i, label in labels.items() if label != labels[first]]
    mixed = [m.name for m in spec.models if m.cv.kind != "timeseries" and (not only or m.name in only)]
    if spec.data is not None and spec.data.time is not None and mixed:
        problems.append(spec.problem(("data", "time"), f"data.time is set but {', '.join(mixed)} use(s) "
                                                       f"non-time-series CV: folds will train on the future; use "
                                                       f"cv: {{kind: timeseries}}", severity="warning"))
    if not any(p.severity == "error" for p in problems) and spec.data is not None:
        problems += _check_data(spec, tasks, metrics)
    unique = {(str(p.location), p.path, p.message, p.severity): p for p in problems}
    return sorted(unique.values(), key=_order)


def _order(p: Problem) -> tuple:
    loc = p.location
    return (loc is None or loc.line is None, loc.file if loc else "", loc.line or 0 if loc else 0,
            (loc.col or 0) if loc else 0)


def summarize(spec: Spec, model: ModelSpec) -> ModelSummary:
    """The table row of one model: dimensions, grid size, trials, folds and fits."""
    from hpo_cli.problem.estimators import estimator_path, resolve_estimator
    from hpo_cli.problem.space import dimensions, grid_size

    grid = grid_size(model)
    trials = planned_trials(model, grid)
    folds = model.cv.folds * model.cv.repeats
    return ModelSummary(model.name, estimator_path(resolve_estimator(model.class_, spec.allow_modules)),
                        model.method, dimensions(model), grid, trials, folds, trials * folds, model.budget.timeout)


def validate_spec(path: str | Path, data_override: str | None = None, only: Sequence[str] = ()) -> ValidationResult:
    """Load and check a spec; ``InputError`` with every error, else the summary and the warnings."""
    spec = load_spec(path, data_override)
    problems = check_spec(spec, only)
    errors = [p for p in problems if p.severity == "error"]
    if errors:
        raise InputError(errors)
    models = [m for m in spec.models if not only or m.name in only]
    return ValidationResult(spec, [summarize(spec, m) for m in models], [],
                            [p for p in problems if p.severity != "error"])


def render_validation(result: ValidationResult, out: Console, err: Console) -> None:
    """The table of models on ``out``; warnings as ``FILE:LINE:COL: path: warning: ...`` lines on ``err``."""
    from rich import box
    from rich.table import Table

    spec = result.spec
    source = spec.data.source if spec.data else "-"
    columns = ("model", "estimator", "method", "dims", "grid", "trials", "folds", "fits")
    rows = []
    for row in result.models:
        trials = str(row.trials) + (f" (<={row.timeout:g}s)" if row.timeout else "")
        rows.append((row.name, row.estimator.rsplit(".", 1)[-1], row.method, str(row.dimensions),
                     "continuous" if row.grid_size is None else str(row.grid_size), trials, str(row.folds),
                     str(row.fits)))
    table = Table(title=f"{spec.name}: {spec.path.name if spec.path else 'spec'} (data: {source})",
                  box=box.SIMPLE_HEAD, pad_edge=False, show_edge=False)
    for i, column in enumerate(columns):
        table.add_column(column, justify="left" if i < 3 else "right", no_wrap=True)
    for cells in rows:
        table.add_row(*cells)
    # Never truncate a name to fit an 80-column pipe: a wider line beats an ellipsis in CI logs.
    needed = sum(max(len(c), *(len(r[i]) for r in rows)) for i, c in enumerate(columns)) + 3 * len(columns)
    width = out.width
    out.width = max(width, needed)
    try:
        out.print(table)
    finally:
        out.width = width
    for w in result.warnings:
        prefix = ": ".join(x for x in (str(w.location) if w.location else "", w.path) if x)
        err.print(f"{prefix}: warning: {w.message}", markup=False)
    total = sum(r.fits for r in result.models)
    out.print(f"ok: {len(result.models)} model(s), {total} fits, {len(result.warnings)} warning(s)", markup=False)

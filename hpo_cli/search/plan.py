"""A model made ready to search: its folds, its evaluator, its trial budget and (for grids) its points.

The budget rule lives here once: ``hpo validate`` counts trials and fits with :func:`planned_trials`, and the
search stops at the same number.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from hpo_cli.core.errors import InputError
from hpo_cli.core.values import plain
from hpo_cli.problem import space
from hpo_cli.problem.cv import describe, make_folds, resolve_kind
from hpo_cli.problem.data import Dataset
from hpo_cli.problem.estimators import effective_init_params, estimator_dotted
from hpo_cli.search import samplers
from hpo_cli.search.evaluate import Evaluator, metric_label
from hpo_cli.spec.models import DEFAULT_TRIALS, ModelSpec, Spec
from hpo_cli.spec.pruning import NonePruner


def planned_trials(model: ModelSpec, grid_size: int | None) -> int:
    """Trials the search will run: the budget (default 50), a grid's size when it has no budget, at most the grid."""
    is_grid = model.method == "grid" and grid_size is not None
    trials = model.budget.trials or (grid_size if is_grid else DEFAULT_TRIALS)
    assert trials is not None
    return min(trials, grid_size) if is_grid and grid_size is not None else trials


def planned_folds(model: ModelSpec) -> int:
    """Fits per complete trial: folds x repeats (a time-series split has no repeats)."""
    return model.cv.folds * (model.cv.repeats if model.cv.kind != "timeseries" else 1)


def resolve_auto(spec: Spec) -> Spec:
    """The spec with every ``method: auto`` and ``pruner: auto`` replaced by what they choose.

    ``samplers.auto_method`` picks by the space and the budget, ``samplers.auto_pruner`` by the fold
    count. Called once the budget is final (after ``--trials``/``--method``), before any check or search
    reads them: everything downstream (grid points, the sampler, run.json, the resume identity) sees what
    runs; ``ModelSpec._auto_method`` remembers that the method was chosen.
    """
    if not any(m.method == "auto" or m.pruner.type == "auto" for m in spec.models):
        return spec
    models = []
    for model in spec.models:
        if model.pruner.type == "auto":  # two objectives: nothing can prune them (checks.objectives), so none
            pruner = samplers.auto_pruner(planned_folds(model)) if not model.objectives else NonePruner(type="none")
            model = model.model_copy(update={"pruner": pruner})
        if model.method == "auto":
            model = model.model_copy(update={"method": samplers.auto_method(model, planned_trials(model, None))})
            model._auto_method = True
        models.append(model)
    new = spec.model_copy(update={"models": models})
    new.path, new.sha256, new.doc, new.data_from_cli = spec.path, spec.sha256, spec.doc, spec.data_from_cli
    return new


@dataclass
class Prepared:
    """A model ready to search: its place in the spec, its evaluator (with the folds), budget and grid points."""

    index: int
    model: ModelSpec
    evaluator: Evaluator
    budget: int
    grid: list[dict[str, Any]] | None


def prepare_model(spec: Spec, index: int, dataset: Dataset, threads: int | None = None) -> Prepared:
    """Folds, scorers and grid of one model; what only the data can reveal is a located InputError.

    ``threads``: what one trial may use (``problem.threads.threads_per_worker``); None: the libraries' defaults.
    """
    model = spec.models[index]
    reason = samplers.unsupported_reason(model, model.method)
    if reason:
        raise InputError(spec.problem(("models", index, "method"), reason))
    folds = make_folds(spec, index, dataset)
    try:
        evaluator = Evaluator(model, dataset, folds, spec.allow_modules, n_jobs=threads)
    except ValueError as exc:
        key = "metrics" if "scor" in str(exc) or "metric" in str(exc) else "class"
        key = "metric" if model.metric and model.metric in str(exc) else key
        raise InputError(spec.problem(("models", index, key), str(exc))) from None
    grid = space.grid_points(model) if model.method == "grid" else None
    return Prepared(index, model, evaluator, planned_trials(model, len(grid) if grid is not None else None), grid)


def model_info(spec: Spec, model: ModelSpec, evaluator: Evaluator) -> dict[str, Any]:
    """The study's ``hpo_model`` attribute: enough to read the study without the spec."""
    ds = evaluator.dataset
    return plain({
        "name": model.name, "estimator": estimator_dotted(model, spec.allow_modules),
        "init_params": effective_init_params(model, spec.allow_modules),
        "metric": metric_label(model.metric, ds.task), "metrics": list(model.metrics), "method": model.method,
        "cv": describe(model.cv, ds.task, ds.groups is not None), "n_splits": len(evaluator.folds),
        "seed": model.seed, "space": list(model.space), **objectives_info(model),
    })


def objectives_info(model: ModelSpec) -> dict[str, Any]:
    """``objectives`` and ``select`` for ``hpo_model``; nothing for a single-objective model (its attribute
    stays as it was)."""
    if not model.objectives:
        return {}
    return {"objectives": [o.model_dump() for o in model.objectives], "select": model.select or "best_first"}


def model_identity(spec: Spec, model: ModelSpec, dataset: Dataset) -> dict[str, Any]:
    """What ``--resume`` and ``--join`` require to be unchanged (``storage.identity`` compares and words it)."""
    cv = model.cv
    kind = resolve_kind(cv, dataset.task, dataset.groups is not None)
    return plain({
        "class": estimator_dotted(model, spec.allow_modules),
        "init_params": model.init_params,
        "preprocess": model.preprocess,
        "space": {name: param.model_dump(exclude_none=True) for name, param in model.space.items()},
        "method": model.method,
        "cv": {"kind": kind, "folds": cv.folds, "repeats": cv.repeats,
               "shuffle": cv.shuffle if cv.shuffle is not None else kind != "timeseries",
               "gap": cv.gap, "max_train_size": cv.max_train_size, "seed": model.seed},
        "metric": metric_label(model.metric, dataset.task),
        **({"objectives": [o.model_dump() for o in model.objectives]} if model.objectives else {}),
        "test_size": spec.data.test_size if spec.data else None,
        "data_sha256": dataset.sha256,
    })

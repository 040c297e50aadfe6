"""Semantic checks and best-practice warnings: everything wrong with a spec, before anything runs.

``spec.load_spec`` guarantees shapes and types; the checks here need scikit-learn: estimator names
and their parameters, scorers and whether they suit the task (``estimator``), the space against the
method and the budget (``space``), CV against the data keys and the data file itself (``data``).
Errors stop ``hpo validate`` and ``hpo tune`` (exit 2); warnings are HPO practice (a budget too small
for TPE, a linear range over orders of magnitude) and fail only ``--strict``. Every finding is located
with ``spec.problem``, which follows values merged from ``defaults`` back to where the user wrote them.
This module holds the entry points and the summary of what a search will cost.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from hpo_cli.checks.data import check_cv, check_data, check_time_order
from hpo_cli.checks.estimator import check_estimator, check_one_metric, check_scorers
from hpo_cli.checks.objectives import check_objectives, check_same_objectives
from hpo_cli.checks.pruning import check_pruning
from hpo_cli.checks.space import check_space
from hpo_cli.core.errors import InputError, Location, Problem
from hpo_cli.core.text import suggest
from hpo_cli.search.plan import planned_trials, resolve_auto
from hpo_cli.spec.load import load_spec
from hpo_cli.spec.models import ModelSpec, Spec


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
    #: What the search optimises, as the table shows it: ``roc_auc``, ``score`` (the estimator's own), or two
    #: objectives with their directions and the ``select`` rule, so a two-objective spec is visible before it runs.
    objective: str = "score"


@dataclass
class ValidationResult:
    spec: Spec
    models: list[ModelSummary] = field(default_factory=list)
    errors: list[Problem] = field(default_factory=list)
    warnings: list[Problem] = field(default_factory=list)


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
    checked: list[int] = []
    for i, model in enumerate(spec.models):
        if model.name in seen:
            problems.append(spec.problem(("models", i, "name"), f"duplicate model name '{model.name}'; each "
                                                                f"model needs its own (it names the study)"))
        seen.add(model.name)
        if only and model.name not in only:
            continue
        found, task = check_estimator(spec, i, model)
        problems += found
        if task:
            tasks.append(task)
            metrics.append((i, model.metric))
        problems += check_scorers(spec, i, model, task)
        problems += check_cv(spec, i, model, task)
        problems += check_space(spec, i, model)
        problems += check_pruning(spec, i, model)
        problems += check_objectives(spec, i, model, task)
        checked.append(i)
    problems += check_one_metric(spec, [(i, metric, task) for (i, metric), task in zip(metrics, tasks, strict=True)])
    problems += check_same_objectives(spec, checked)
    problems += check_time_order(spec, only)
    if not any(p.severity == "error" for p in problems) and spec.data is not None:
        problems += check_data(spec, tasks, metrics)
    unique = {(str(p.location), p.path, p.message, p.severity): p for p in problems}
    return sorted(unique.values(), key=_order)


def _order(p: Problem) -> tuple:
    loc = p.location
    return (loc is None or loc.line is None, loc.file if loc else "", loc.line or 0 if loc else 0,
            (loc.col or 0) if loc else 0)


def summarize(spec: Spec, model: ModelSpec) -> ModelSummary:
    """The table row of one model: dimensions, grid size, trials, folds and fits."""
    from hpo_cli.problem.estimators import estimator_dotted
    from hpo_cli.problem.space import dimensions, grid_size

    grid = grid_size(model)
    trials = planned_trials(model, grid)
    folds = model.cv.folds * model.cv.repeats
    method = f"{model.method} (auto)" if model._auto_method else model.method
    return ModelSummary(model.name, estimator_dotted(model, spec.allow_modules), method, dimensions(model),
                        grid, trials, folds, trials * folds, model.budget.timeout, objective_label(model))


def objective_label(model: ModelSpec) -> str:
    """``roc_auc``; ``score`` for the estimator's own; ``roc_auc max, fit_time min (knee)`` for two objectives."""
    from hpo_cli.core.pareto import COSTS, select_label

    if not model.objectives:
        return model.metric or "score"
    parts = [f"{o.metric} {(o.direction or ('minimize' if o.metric in COSTS else 'maximize'))[:3]}"
             for o in model.objectives]
    return f"{', '.join(parts)} ({select_label(model.select)})"


def validate_spec(path: str | Path, data_override: str | None = None, only: Sequence[str] = ()) -> ValidationResult:
    """Load and check a spec; ``InputError`` with every error, else the summary and the warnings."""
    spec = resolve_auto(load_spec(path, data_override))
    problems = check_spec(spec, only)
    errors = [p for p in problems if p.severity == "error"]
    if errors:
        raise InputError(errors)
    models = [m for m in spec.models if not only or m.name in only]
    return ValidationResult(spec, [summarize(spec, m) for m in models], [],
                            [p for p in problems if p.severity != "error"])

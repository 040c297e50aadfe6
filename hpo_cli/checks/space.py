"""Checks of what a model searches: the space against the method, and the budget against the space.

Errors are spaces a method cannot search (a continuous range on a grid, a sampler's own limits, a
``when:`` naming nothing); warnings are HPO practice: a budget too small for TPE, a grid cut short by
the budget, a range over orders of magnitude spread linearly. Trials are counted with the search's
own budget rule (``search.plan.planned_trials``).
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from typing import Any

from hpo_cli.core.errors import Problem
from hpo_cli.core.text import preview, suggest
from hpo_cli.search.plan import planned_trials
from hpo_cli.spec.models import CategoricalParam, FloatParam, ModelSpec, Spec

TPE_TRIALS_PER_DIMENSION = 10
# YAML 1.1's timestamp: 2024-01-01, 2024-01-01 10:30:00, 2024-01-01T10:30:00Z ...
_DATE = re.compile(r"\d{4}-\d{1,2}-\d{1,2}(?:[Tt ]\d{1,2}:\d{2}(?::\d{2}(?:\.\d*)?)?\s*"
                   r"(?:Z|[-+]\d{1,2}(?::?\d{2})?)?)?")


def _date_choice(spec: Spec, path: tuple, param: Any) -> Problem | None:
    """A date among the choices: YAML 1.1 tools read it as a date object, and no estimator takes one."""
    if not isinstance(param, CategoricalParam):
        return None
    for k, value in enumerate(param.values):
        if isinstance(value, str) and _DATE.fullmatch(value.strip()):
            return spec.problem(path + ("values", k), f"{value[:40]!r} is a date; no estimator parameter takes a date "
                                                      f"(choices are numbers, words, true/false or null)")
    return None


def _grid_too_large(spec: Spec, base: tuple, model: ModelSpec) -> Problem | None:
    """A grid counted, not built: beyond ``MAX_GRID_POINTS`` it is refused, pointing at its widest axis."""
    from hpo_cli.problem.space import MAX_GRID_POINTS, grid_size, param_size

    size = grid_size(model)
    if size is None or size <= MAX_GRID_POINTS:
        return None
    widest = max(model.space, key=lambda n: param_size(model.space[n]) or 0)
    conditional = any(p.when for p in model.space.values())  # counted only up to the limit
    count = f"more than {MAX_GRID_POINTS:,} points" if conditional else \
        f"{size:,} points, over the limit of {MAX_GRID_POINTS:,}"
    return spec.problem(base + ("space", widest),
                        f"the grid has {count} ('{widest}' alone has {param_size(model.space[widest]) or 0:,} "
                        f"values): list fewer values, give ranges a larger step, or use method: tpe or random")


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


def _check_when(spec: Spec, path: tuple, model: ModelSpec, name: str, param: Any) -> list[Problem]:
    """A ``when:`` condition must name another searched parameter and one of its choices."""
    problems = []
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
            shown = ", ".join(preview(repr(c), 40) for c in (choices or [])[:10])
            more = f", ... {len(choices or []):,} in all" if len(choices or []) > 10 else ""
            problems.append(spec.problem(where, f"'{parent}' never takes the value {preview(repr(missing[0]), 40)} "
                                                f"(its choices: {shown}{more})"))
    return problems


def _budget_warnings(spec: Spec, i: int, model: ModelSpec) -> list[Problem]:
    """A grid cut short by the budget, a TPE budget too small to leave its random startup."""
    from hpo_cli.problem.space import dimensions, grid_size

    problems = []
    base = ("models", i)
    grid, dims = grid_size(model), dimensions(model)
    if model.method == "grid" and grid is not None and model.budget.trials and model.budget.trials < grid:
        problems.append(spec.problem(base + ("budget", "trials"), f"the grid has {grid} points but the budget is "
                                     f"{model.budget.trials} trials: {grid - model.budget.trials} points will never "
                                     f"be evaluated", severity="warning"))
    trials = planned_trials(model, grid)
    if model.method == "tpe" and dims:
        needed = TPE_TRIALS_PER_DIMENSION * dims
        if trials < needed and not model._auto_method:  # auto chose TPE at this budget from measurements
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


def check_space(spec: Spec, i: int, model: ModelSpec) -> list[Problem]:
    """The space's errors first; the budget is judged only against a space the method can search."""
    from hpo_cli.problem.space import ordered_params

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
        problems += _check_when(spec, path, model, name, param)
        date = _date_choice(spec, path, param)
        if date:
            problems.append(date)
        warning = _span_warning(spec, path, model, param)
        if warning:
            problems.append(warning)
    try:
        ordered_params(model)
    except ValueError as exc:
        problems.append(spec.problem(base + ("space",), str(exc)))
    if model.method == "grid" and not any(p.severity == "error" for p in problems):
        too_large = _grid_too_large(spec, base, model)
        if too_large:
            problems.append(too_large)
    if model.method != "grid":  # the sampler's own limits (categoricals for cmaes, `when:` for qmc/gp ...)
        from hpo_cli.search.samplers import unsupported_reason

        reason = unsupported_reason(model, model.method)
        if reason:
            problems.append(spec.problem(base + ("method",), reason))
    if any(p.severity == "error" for p in problems):
        return problems
    return problems + _budget_warnings(spec, i, model)

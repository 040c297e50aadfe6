"""What two objectives (``objectives:``) cannot be combined with, and names that are neither scorer nor cost.

Optuna cannot prune a multi-objective trial (``Trial.report`` refuses it: there is no single intermediate
value to compare) and a ``target`` is a threshold on one value, so both are refused rather than ignored.
``confirm`` re-ranks by one confirmed mean, which has no meaning on a front; CMA-ES is single-objective
in Optuna. ``select`` without objectives would silently do nothing. Models of one run share their
objectives and ``select``, since the run's winner is picked by that rule across their fronts.
"""

from __future__ import annotations

from hpo_cli.checks.estimator import scorer_task
from hpo_cli.core.errors import Problem
from hpo_cli.core.pareto import COSTS
from hpo_cli.core.text import suggest
from hpo_cli.spec.models import ModelSpec, Spec

_WHY_NO_PRUNING = ("Optuna cannot prune a multi-objective trial (there is no single intermediate value to "
                   "compare); remove `pruner` (or set it to none) or use one objective")


def check_objectives(spec: Spec, i: int, model: ModelSpec, task: str | None) -> list[Problem]:
    """Errors for one model's ``objectives``/``select`` (see the module docstring)."""
    base = ("models", i)
    if not model.objectives:
        if model.select is not None:
            return [spec.problem((*base, "select"), "select picks a point of a Pareto front and needs two "
                                                    "`objectives:`; remove it or add objectives")]
        return []
    problems: list[Problem] = []
    first = model.objectives[0].metric
    if model.metric != first:
        problems.append(spec.problem((*base, "metric"), f"metric '{model.metric}' differs from the first objective "
                                                        f"'{first}', which is the optimised metric; drop `metric` "
                                                        f"or make them equal"))
    second = model.objectives[1].metric
    known = True
    if second not in COSTS:
        from sklearn.metrics import get_scorer_names

        names = get_scorer_names()
        if second not in names:
            known = False
            hint = suggest(second, [*COSTS, *names]) or f" (a cost: {', '.join(COSTS)}, or see " \
                                                         f"sklearn.metrics.get_scorer_names())"
            problems.append(spec.problem((*base, "objectives", 1, "metric"),
                                         f"'{second}' is neither a scikit-learn scorer nor a cost hpo records"
                                         f"{hint}"))
        elif task and (kind := scorer_task(second)) and kind != task:
            problems.append(spec.problem((*base, "objectives", 1, "metric"),
                                         f"scorer '{second}' is for {kind} but the model is a {task} model"))
    if model.pruner.type != "none":
        problems.append(spec.problem((*base, "pruner"), f"pruning is refused with two objectives: {_WHY_NO_PRUNING}"))
    if model.budget.target is not None:
        problems.append(spec.problem((*base, "budget", "target"), "a target is refused with two objectives: it "
                                                                  "stops at one value reaching a threshold, and a "
                                                                  "front has no single value; remove it"))
    if model.confirm is not None:
        problems.append(spec.problem((*base, "confirm"), "confirm is refused with two objectives: it re-ranks "
                                                         "by one confirmed mean, which does not order a Pareto "
                                                         "front; remove it or use one objective"))
    if model.method == "cmaes":
        problems.append(spec.problem((*base, "method"), "cmaes is single-objective in Optuna; use tpe, nsga2, "
                                                        "random, qmc or grid with two objectives"))
    if isinstance(model.select, dict):
        (key,) = model.select
        cost = key.removeprefix("max_")
        if known and cost != second:
            problems.append(spec.problem((*base, "select"), f"{key} limits the objective '{cost}', but the second "
                                                            f"objective is '{second}'; limit {second} or use "
                                                            f"best_first / knee"))
    return problems


def check_same_objectives(spec: Spec, indices: list[int]) -> list[Problem]:
    """Every checked model has the first one's objectives and select: the run's winner is picked by that rule."""
    if not indices:
        return []
    ref = spec.models[indices[0]]

    def key(m: ModelSpec) -> tuple:
        return ([(o.metric, o.direction) for o in m.objectives or []], m.select if m.objectives else None)

    problems = []
    for i in indices[1:]:
        model = spec.models[i]
        if key(model) != key(ref):
            path = ("models", i, "objectives") if model.objectives else ("models", i, "name")
            problems.append(spec.problem(path, f"objectives/select differ from {ref.name}'s; the run's winner is "
                                               f"picked across models by one rule on one pair of objectives (set "
                                               f"them in defaults, or split the spec)"))
    return problems

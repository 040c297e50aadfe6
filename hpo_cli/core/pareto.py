"""Two objectives (``objectives:``): each trial's objective values, the Pareto front, and the ``select:`` rules.

One home for the arithmetic the search (which point a model exports), the run folder (``pareto`` in
trials.csv, the winner across models) and the report share. Objective 1 is always a scikit-learn scorer
and is the trial's ``mean_test_score``; objective 2 is another scorer (its ``mean_test_<name>``) or a
cost hpo records: ``fit_time`` (``mean_fit_time``, seconds) or ``model_size`` (``mean_model_size``, bytes of
the pickled fitted estimator, mean over the folds).

``select`` is a plain value (as stored in the study and best_parameters.yaml): ``"best_first"``, ``"knee"``
or ``{"max_fit_time": seconds}`` / ``{"max_model_size": bytes}``:

- ``best_first``: the front point with the best objective 1 (the single-objective winner: ties go to the
  better objective 2, then the earlier trial);
- ``knee``: both objectives min-max normalised over the front (1 = the best value on the front, 0 = the
  worst), the point nearest (Euclidean) to the utopia point (1, 1); ties go to the earlier trial;
- ``max_<cost>``: among front points whose cost is at most the limit, the best objective 1; when none is,
  the point of lowest cost, and the rule is reported as not met.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from hpo_cli.core.results import COMPLETE, TrialRecord

#: Costs hpo records for every trial, usable as objective 2 (always minimized).
COSTS = ("fit_time", "model_size")
SELECT_RULES = ("best_first", "knee")


@dataclass(frozen=True)
class Objective:
    """One objective: its name (a scorer or a cost) and ``maximize``/``minimize``."""

    name: str
    direction: str


def objectives_of(value: Any) -> list[Objective]:
    """``[Objective, Objective]`` from their plain form (``[{"metric": .., "direction": ..}, ..]``), [] if none."""
    return [Objective(str(o["metric"]), str(o["direction"])) for o in value or []]


def value_column(objective: Objective, index: int) -> str:
    """The trials.csv column that holds the objective's value (scikit-learn ``cv_results_`` naming)."""
    if index == 0:
        return "mean_test_score"
    return f"mean_{objective.name}" if objective.name in COSTS else f"mean_test_{objective.name}"


def objective_value(record: TrialRecord, objective: Objective, index: int) -> float | None:
    """The trial's value of one objective (the mean over its folds), None when it has none."""
    if index == 0:
        value = record.mean_test_score
    elif objective.name == "fit_time":
        value = record.mean_fit_time
    elif objective.name == "model_size":
        value = record.mean_model_size
    else:
        value = (record.metrics.get(objective.name) or {}).get("mean")
    return float(value) if isinstance(value, int | float) and math.isfinite(value) else None


def values_of(record: TrialRecord, objectives: list[Objective]) -> list[float] | None:
    """The objective values of a COMPLETE trial, oriented so that greater is better; None if one is missing."""
    if record.state != COMPLETE:
        return None
    out = []
    for i, objective in enumerate(objectives):
        value = objective_value(record, objective, i)
        if value is None:
            return None
        out.append(value if objective.direction == "maximize" else -value)
    return out


def _dominates(a: list[float], b: list[float]) -> bool:
    return all(x >= y for x, y in zip(a, b, strict=True)) and any(x > y for x, y in zip(a, b, strict=True))


def pareto_front(records: list[TrialRecord], objectives: list[Objective]) -> list[TrialRecord]:
    """The non-dominated COMPLETE trials (Optuna's ``best_trials`` rule), in trial order.

    Trials with equal values are all on the front (neither dominates the other).
    """
    scored = [(r, v) for r in records if (v := values_of(r, objectives)) is not None]
    return sorted((r for r, v in scored if not any(_dominates(w, v) for _, w in scored)), key=lambda r: r.number)


def select_point(front: list[TrialRecord], objectives: list[Objective],
                 select: Any) -> tuple[TrialRecord | None, bool]:
    """The front point ``select`` picks (see the module docstring), and whether the rule was met."""
    scored = [(r, v) for r in front if (v := values_of(r, objectives)) is not None]
    if not scored:
        return None, True
    if select == "knee":
        return _knee(scored), True
    if isinstance(select, dict) and select:
        (key, limit), = select.items()
        cost = Objective(key.removeprefix("max_"), "minimize")
        index = next((i for i, o in enumerate(objectives) if o.name == cost.name), 1)
        feasible = [(r, v) for r, v in scored if (c := objective_value(r, cost, index)) is not None and c <= limit]
        if not feasible:
            return max(scored, key=lambda rv: (rv[1][index], -rv[0].number))[0], False
        scored = feasible
    return max(scored, key=lambda rv: (rv[1][0], rv[1][1], -rv[0].number))[0], True


def _knee(scored: list[tuple[TrialRecord, list[float]]]) -> TrialRecord:
    lows = [min(v[k] for _, v in scored) for k in range(2)]
    highs = [max(v[k] for _, v in scored) for k in range(2)]

    def distance(v: list[float]) -> float:
        norm = [(v[k] - lows[k]) / (highs[k] - lows[k]) if highs[k] > lows[k] else 1.0 for k in range(2)]
        return math.hypot(1.0 - norm[0], 1.0 - norm[1])

    return min(scored, key=lambda rv: (distance(rv[1]), rv[0].number))[0]


def select_label(select: Any) -> str:
    """How a rule is written in the spec: ``best_first``, ``knee``, ``max_fit_time: 0.1``."""
    if isinstance(select, dict) and select:
        (key, limit), = select.items()
        return f"{key}: {limit:g}"
    return str(select or "best_first")


def winner_across(fronts: list[tuple[str, list[TrialRecord]]], objectives: list[Objective], select: Any) -> str | None:
    """The run's winner: ``select`` applied to the non-dominated points of the union of the models' fronts.

    A model whose whole front is dominated by another model's points cannot win. For ``best_first`` and
    ``max_<cost>`` the point chosen is the winner's own exported point; for ``knee`` the union's knee names
    the winning model, which still exports its own front's knee. Ties go to the model first in the spec.
    """
    owner: dict[int, str] = {}
    union: list[TrialRecord] = []
    for name, front in fronts:
        for record in front:
            owner[id(record)] = name
            union.append(record)
    chosen, _ = select_point(pareto_front(union, objectives), objectives, select)
    return owner[id(chosen)] if chosen is not None else None

"""The ``objectives:`` and ``select:`` keys of a model: two objectives and which Pareto point is exported.

``objectives: [{metric: roc_auc}, {metric: fit_time, direction: minimize}]``: exactly two. The first is a
scikit-learn scorer (resolved as ``metric`` is, and it *is* the model's ``metric``: ``normalize`` copies it
there, so the search's ``mean_test_score`` is objective 1); the second is another scorer or a cost hpo
records (``core.pareto.COSTS``). Scorers follow scikit-learn (greater is better, so ``maximize``), costs
are minimized; ``direction`` may be written but never contradict that, since a flipped scorer would make
hpo search for the worst model. ``select`` is ``best_first``, ``knee`` or ``{max_fit_time: 0.1s}`` /
``{max_model_size: 1000000}`` (the string ``"max_fit_time: 0.1s"`` is read the same); the rules are
``core.pareto``'s. Checks that need scikit-learn (scorer names) or other keys are ``checks.objectives``.
"""

from __future__ import annotations

from typing import Any, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

from hpo_cli.core.pareto import COSTS, SELECT_RULES
from hpo_cli.core.text import suggest
from hpo_cli.spec.duration import parse_duration

N_OBJECTIVES = 2
LIMITS = tuple(f"max_{cost}" for cost in COSTS)


class ObjectiveSpec(BaseModel):
    """One objective: a scikit-learn scorer name or a cost (``fit_time``, ``model_size``)."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    metric: str = Field(min_length=1)
    direction: Literal["maximize", "minimize"] | None = None  # None: maximize a scorer, minimize a cost

    @model_validator(mode="after")
    def _direction(self) -> Self:
        natural = "minimize" if self.metric in COSTS else "maximize"
        if self.direction is not None and self.direction != natural:
            what = "a cost hpo records" if self.metric in COSTS else \
                "a scikit-learn scorer (greater is better; losses are the neg_* scorers)"
            raise ValueError(f"'{self.metric}' is {what}, so its direction is {natural}; drop `direction` or "
                             f"write {natural}")
        self.direction = natural
        return self


def check_count(objectives: list[ObjectiveSpec] | None) -> list[ObjectiveSpec] | None:
    """Exactly two: Pareto fronts, their plot and ``select``'s rules are defined for two objectives."""
    if objectives is not None and len(objectives) != N_OBJECTIVES:
        raise ValueError(f"exactly {N_OBJECTIVES} objectives are supported (a scorer, then a scorer or a cost: "
                         f"{', '.join(COSTS)}), got {len(objectives)}; for one objective write `metric:` instead")
    if objectives and objectives[0].metric in COSTS:
        raise ValueError(f"the first objective must be a scikit-learn scorer (it is the model's metric and "
                         f"mean_test_score), got the cost '{objectives[0].metric}'; list it second")
    return objectives


def parse_select(value: Any) -> Any:
    """``best_first`` | ``knee`` | ``{max_fit_time: seconds}`` | ``{max_model_size: bytes}`` in one plain form."""
    if value is None:
        return None
    if isinstance(value, str) and ":" in value:
        key, _, limit = value.partition(":")
        value = {key.strip(): limit.strip()}
    if isinstance(value, str):
        if value in SELECT_RULES:
            return value
        options = [*SELECT_RULES, *LIMITS]
        raise ValueError(f"unknown select rule '{value}'; expected best_first, knee or {{max_fit_time: 0.1s}}"
                         f"{suggest(value, options)}")
    if not isinstance(value, dict) or len(value) != 1:
        raise ValueError("select is best_first, knee, or one limit such as {max_fit_time: 0.1s} or "
                         "{max_model_size: 1000000}")
    (key, limit), = value.items()
    if key not in LIMITS:
        raise ValueError(f"unknown select limit '{key}'; expected one of {', '.join(LIMITS)}"
                         f"{suggest(str(key), LIMITS)}")
    try:
        number = parse_duration(limit) if key == "max_fit_time" else _number(limit)
    except ValueError:
        number = None
    if number is None or not number > 0:
        unit = "a duration such as 0.1s or 2m" if key == "max_fit_time" else "a number of bytes"
        raise ValueError(f"{key} must be {unit} above 0, got {limit!r}")
    return {key: number}


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, str):
        return float(value)
    return float(value) if isinstance(value, int | float) else None

"""The ``pruner:`` and ``confirm:`` keys of a model: fold-level pruning and re-scoring the winner.

Each pruner is one typed model whose fields are the Optuna constructor's parameters (same names, same
meaning), so ``pruner: {type: median, n_startup_trials: 10}`` reads as Optuna's documentation does and
a parameter of another pruner is an "unknown key" error at its own line. A bare name (``pruner:
median``) is rewritten into ``{type: median}`` by ``normalize``. The step a pruner sees is the number
of folds scored so far (1, 2, ... across CV repeats: ``search.samplers.pruner_step``), so a warm-up of
``n_warmup_steps`` folds and a ``min_resource`` of folds mean what they say; ``search.samplers.make_pruner``
builds the Optuna object. Defaults differ from Optuna's only where folds as the resource make Optuna's
unusable or costly (median/percentile wait for two folds, as their measured "careful" setting; the fold
count as Hyperband's maximum resource; successive halving's first rung after one fold).
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

PRUNERS = ("none", "auto", "median", "percentile", "successive_halving", "hyperband", "wilcoxon")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class NonePruner(_Strict):
    """No pruning: every trial runs every fold."""

    type: Literal["none"]


class AutoPruner(_Strict):
    """The pruner measured best for the model's fold count (``search.samplers.auto_pruner``)."""

    type: Literal["auto"]


class MedianPruner(_Strict):
    """Prune when the running CV mean is below the median of earlier trials' at the same fold."""

    type: Literal["median"]
    n_startup_trials: int = Field(5, ge=0)
    n_warmup_steps: int = Field(2, ge=0, description="folds scored before pruning may start")
    interval_steps: int = Field(1, ge=1)
    n_min_trials: int = Field(1, ge=1)


class PercentilePruner(MedianPruner):
    """Prune when the running CV mean is below the given percentile of earlier trials' (median = 50)."""

    type: Literal["percentile"]  # type: ignore[assignment]
    percentile: float = Field(25.0, ge=0, le=100)


class SuccessiveHalvingPruner(_Strict):
    """Asynchronous successive halving with the folds scored as the resource (first rung: after one fold)."""

    type: Literal["successive_halving"]
    min_resource: int | Literal["auto"] = Field(1, ge=1)
    reduction_factor: int = Field(4, ge=2)
    min_early_stopping_rate: int = Field(0, ge=0)
    bootstrap_count: int = Field(0, ge=0)


class HyperbandPruner(_Strict):
    """Hyperband over the folds; ``max_resource`` defaults to the number of folds."""

    type: Literal["hyperband"]
    min_resource: int = Field(1, ge=1)
    max_resource: int | Literal["auto"] | None = Field(None, ge=1, description="null: the number of folds")
    reduction_factor: int = Field(3, ge=2)
    bootstrap_count: int = Field(0, ge=0)


class WilcoxonPruner(_Strict):
    """Wilcoxon signed-rank test of the fold scores against the best trial's on the same folds."""

    type: Literal["wilcoxon"]
    p_threshold: float = Field(0.1, ge=0, le=1)
    n_startup_steps: int = Field(2, ge=0)


PrunerSpec = Annotated[NonePruner | AutoPruner | MedianPruner | PercentilePruner | SuccessiveHalvingPruner
                       | HyperbandPruner | WilcoxonPruner, Field(discriminator="type")]


class ConfirmSpec(_Strict):
    """Re-score the ``top`` configurations with ``repeats`` further CV shuffles; the best by confirmed mean."""

    top: int = Field(3, ge=1)
    repeats: int = Field(2, ge=1)


def pruner_fields() -> dict[str, tuple[str, ...]]:
    """Each pruner's keys: the "did you mean" candidates for a misspelled pruner parameter."""
    classes = (NonePruner, AutoPruner, MedianPruner, PercentilePruner, SuccessiveHalvingPruner, HyperbandPruner,
               WilcoxonPruner)
    return {cls.model_fields["type"].annotation.__args__[0]: tuple(cls.model_fields) for cls in classes}

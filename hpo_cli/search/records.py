"""One evaluated trial, as it is stored (the ``hpo`` attribute) and as every later stage sees it (``TrialRecord``)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from hpo_cli.core.pareto import Objective, objective_value, objectives_of, pareto_front, select_point
from hpo_cli.core.results import COMPLETE, TrialRecord
from hpo_cli.core.values import from_typed_json, to_typed_json
from hpo_cli.search.evaluate import TrialOutcome, mean_std
from hpo_cli.spec.models import ModelSpec
from hpo_cli.storage.attrs import average


def outcome_attrs(params: dict[str, Any], outcome: TrialOutcome, duration: float) -> dict[str, Any]:
    """The ``hpo`` user attribute of one evaluated trial (its keys: ``storage.attrs``)."""
    metrics = {}
    for name, splits in outcome.metrics.items():
        mean, std = mean_std(splits) if splits else (None, None)
        metrics[name] = {"mean": mean, "std": std, "splits": splits}
    return {
        "params": to_typed_json(params),  # JSON in the study: integer keys kept (core.values)
        "split_scores": outcome.split_scores,
        "mean_test_score": outcome.mean,
        "std_test_score": outcome.std,
        "metrics": metrics,
        "fit_times": outcome.fit_times,
        "score_times": outcome.score_times,
        **({"model_sizes": outcome.model_sizes} if outcome.model_sizes else {}),
        "n_warnings": outcome.n_warnings,
        "warning": outcome.warning,
        "duration": duration,
    }


def record_of(model: str, number: int, outcome: TrialOutcome, attrs: dict[str, Any], start: datetime) -> TrialRecord:
    """The ``TrialRecord`` of a trial this process just evaluated (equal to what the storage gives back)."""
    return TrialRecord(
        model=model, number=number, state=outcome.state, params=from_typed_json(attrs["params"]),
        mean_test_score=attrs["mean_test_score"], std_test_score=attrs["std_test_score"],
        split_scores=list(outcome.split_scores), metrics=attrs["metrics"],
        mean_fit_time=average(outcome.fit_times), mean_score_time=average(outcome.score_times),
        mean_model_size=average(outcome.model_sizes),
        duration=attrs["duration"], n_warnings=outcome.n_warnings, error=outcome.error,
        datetime_start=start.isoformat(timespec="seconds"),
        datetime_complete=datetime.now(UTC).isoformat(timespec="seconds"),
    )


def model_objectives(model: ModelSpec) -> list[Objective]:
    """The model's two objectives (``core.pareto``), [] for a single-objective model."""
    return objectives_of([o.model_dump() for o in model.objectives or []])


def told_values(record: TrialRecord, objectives: list[Objective]) -> float | list[float] | None:
    """What Optuna is told for a COMPLETE trial: the mean, or one value per objective."""
    if not objectives:
        return record.mean_test_score
    return [objective_value(record, o, i) for i, o in enumerate(objectives)]  # type: ignore[misc]


def best_of(records: list[TrialRecord], objectives: list[Objective] | None = None,
            select: Any = None) -> TrialRecord | None:
    """The highest mean among COMPLETE trials; the earlier trial wins a tie (as ``rank_test_score`` orders).

    With two objectives: the point of the Pareto front that ``select`` picks (``core.pareto``).
    """
    if objectives:
        return select_point(pareto_front(records, objectives), objectives, select or "best_first")[0]
    complete = [r for r in records if r.state == COMPLETE and r.mean_test_score is not None]
    return max(complete, key=lambda r: (r.mean_test_score, -r.number)) if complete else None

"""Typed results shared by the search, tracking, progress and report modules.

These are the seams between modules: the search produces ``TrialRecord``s and ``ModelResult``s and
hands them to ``RunObserver``s (progress display, MLflow tracking) without knowing what they do.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

COMPLETE, FAIL, PRUNED, RUNNING = "COMPLETE", "FAIL", "PRUNED", "RUNNING"


@dataclass
class TrialRecord:
    """One trial as the run folder and MLflow see it; scores follow scikit-learn (greater is better)."""

    model: str
    number: int
    state: str
    params: dict[str, Any]
    mean_test_score: float | None = None
    std_test_score: float | None = None
    split_scores: list[float] = field(default_factory=list)
    # extra metrics: name -> {"mean": .., "std": .., "splits": [..]}
    metrics: dict[str, dict[str, Any]] = field(default_factory=dict)
    mean_fit_time: float | None = None
    mean_score_time: float | None = None
    duration: float | None = None
    n_warnings: int = 0
    error: str | None = None
    datetime_start: str | None = None
    datetime_complete: str | None = None


@dataclass
class ModelResult:
    """Everything known about one model's search when it ends (or is interrupted)."""

    name: str
    estimator: str  # dotted path of the estimator class
    init_params: dict[str, Any]
    study_name: str
    method: str
    trials: list[TrialRecord] = field(default_factory=list)
    best: TrialRecord | None = None
    test_score: float | None = None
    test_metrics: dict[str, float] = field(default_factory=dict)
    preprocess: list[Any] = field(default_factory=list)  # the spec's steps, fitted before the estimator
    wall_time: float = 0.0
    stop_reason: str = ""

    @property
    def n_complete(self) -> int:
        return sum(t.state == COMPLETE for t in self.trials)

    @property
    def n_failed(self) -> int:
        return sum(t.state == FAIL for t in self.trials)

    @property
    def n_pruned(self) -> int:
        return sum(t.state == PRUNED for t in self.trials)


@dataclass
class RunResult:
    """The outcome of ``hpo tune``: what the CLI summarises and maps to an exit code."""

    run_dir: Path
    spec_name: str
    metric: str
    direction: str
    models: list[ModelResult] = field(default_factory=list)
    best_model: str | None = None
    failed_models: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    exit_code: int = 0


class RunObserver(Protocol):
    """Receives the search's events as they happen; implementations must not raise into the search."""

    def model_started(self, model: str, study_name: str, budget: int | None, n_existing: int) -> None: ...

    def trial_finished(self, record: TrialRecord) -> None: ...

    def model_finished(self, result: ModelResult) -> None: ...

    def run_finished(self, result: RunResult) -> None: ...

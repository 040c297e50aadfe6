"""The shapes every stage shares: one trial (``TrialRecord``), one model's search, one run, and the observer events.

``TrialRecord`` is the only shape of a trial above the storage: the search builds it, the storage rebuilds it
from an Optuna trial, the run folder writes it, the report reads it back. The search hands records and
results to ``RunObserver``s (progress display, MLflow tracking) without knowing what they do.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

COMPLETE, FAIL, PRUNED, RUNNING = "COMPLETE", "FAIL", "PRUNED", "RUNNING"
INTERRUPTED = "INTERRUPTED"  # a trial cut short by a stop, or left RUNNING by a run that was killed


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
    mean_model_size: float | None = None  # bytes of the pickled fitted estimator; only for objective model_size
    duration: float | None = None
    n_warnings: int = 0
    error: str | None = None
    datetime_start: str | None = None
    datetime_complete: str | None = None
    # ``confirm:`` only: mean and std over every fold of the R further CV shuffles (``search.confirm``)
    confirmed_mean: float | None = None
    confirmed_std: float | None = None


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
    # two objectives only (``core.pareto``): [{"metric", "direction"}, ...] and the ``select`` rule that chose ``best``
    objectives: list[dict[str, str]] = field(default_factory=list)
    select: Any = None

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


@dataclass
class FittedBest:
    """A model's best parameters refitted on every training row, for observers that keep models (MLflow).

    ``X``/``y`` are the held-out test rows when the spec has ``test_size`` (``on_test``), else the
    training rows; ``X`` is a DataFrame so the model keeps its feature names.
    """

    model: str
    estimator: Any
    X: Any
    y: Any
    task: str
    on_test: bool
    trial: int | None = None  # the best trial's number: a resumed run with the same best does not log it again


class RunObserver:
    """What the search tells about a run as it happens: the one interface of progress display and tracking.

    Every event is a no-op here, so an observer implements only what it needs. Events come in this order:
    ``run_started(data_sha256)``; per model ``model_started``, ``study_opened`` (before any of its trials
    runs), ``trial_finished`` per trial, ``best_refitted`` (only when some observer sets
    ``wants_best_model``, or the spec has a test set), ``model_finished``; then ``run_finished`` after the
    run folder is written, and ``close()`` always, also after an error or Ctrl-C. An observer that raises
    is reported once and never stops the search.
    """

    #: True when the observer wants the refitted best model even without a held-out test set.
    wants_best_model: bool = False

    def run_started(self, data_sha256: str) -> None:
        """Before the first model, once the data is loaded."""

    def model_started(self, model: str, study_name: str, budget: int | None, n_existing: int) -> None:
        """A model's search begins; ``n_existing`` trials are already in its study (``--resume``)."""

    def study_opened(self, model: str, study: Any) -> None:
        """The model's Optuna study exists; its trials have not started (tracking binds its parent run here)."""

    def trial_finished(self, record: TrialRecord) -> None:
        """One trial ended (COMPLETE, FAIL or PRUNED) and is stored."""

    def best_refitted(self, fitted: FittedBest) -> None:
        """The model's best parameters were refitted on every training row."""

    def model_finished(self, result: ModelResult) -> None:
        """The model's search ended; ``result.trials`` holds every trial of its study."""

    def run_finished(self, result: RunResult) -> None:
        """The run folder is written; an observer may still set ``result.exit_code`` and add warnings."""

    def close(self) -> None:
        """Release what the observer holds (the tracker flushes its writer process)."""


def ranks(records: list[TrialRecord]) -> dict[int, int]:
    """scikit-learn's ``rank_test_score`` (method "min": ties share the better rank) over COMPLETE trials."""
    scores = sorted((r.mean_test_score for r in records if r.state == COMPLETE and r.mean_test_score is not None),
                    reverse=True)
    first: dict[float, int] = {}
    for i, s in enumerate(scores):
        first.setdefault(s, i + 1)
    return {r.number: first[r.mean_test_score] for r in records
            if r.state == COMPLETE and r.mean_test_score is not None}


def confirmed_winner(records: list[TrialRecord]) -> TrialRecord | None:
    """The best of the re-scored trials (``confirm:``) by confirmed mean, the earlier on a tie; None unconfirmed."""
    confirmed = [r for r in records if r.state == COMPLETE and r.confirmed_mean is not None]
    return max(confirmed, key=lambda r: (r.confirmed_mean, -r.number)) if confirmed else None

"""One trial: fit and score a parameter set on every fold, the way ``GridSearchCV`` does.

Per fold: a fresh estimator (``pipeline.build_estimator``, the equivalent of ``clone(...).set_params``),
``fit`` on the train rows, the scikit-learn scorer on the test rows. The numbers therefore equal
``cv_results_`` of ``GridSearchCV`` given the same splitter; mean and std use its exact formulas.

The hot loop is kept lean because a study may run thousands of cheap trials: fold arrays are sliced
once per model, scorers are built once per model, and no pandas or deep copies happen per trial.
A fit that raises becomes a FAIL outcome carrying ``ExceptionType: message``; warnings
(ConvergenceWarning and friends) are counted per trial instead of being printed.
"""

from __future__ import annotations

import math
import pickle
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from hpo_cli.core.pareto import COSTS
from hpo_cli.core.results import COMPLETE, FAIL, INTERRUPTED, PRUNED
from hpo_cli.problem.cv import Folds
from hpo_cli.problem.data import Dataset
from hpo_cli.problem.threads import limited
from hpo_cli.spec.models import ModelSpec

_MAIN = "__main__"
_PRESLICE_BYTES = 512 * 1024 * 1024


@dataclass
class TrialOutcome:
    """What one evaluation produced; ``search`` turns it into Optuna state and a ``TrialRecord``."""

    state: str
    split_scores: list[float] = field(default_factory=list)
    metrics: dict[str, list[float]] = field(default_factory=dict)
    fit_times: list[float] = field(default_factory=list)
    score_times: list[float] = field(default_factory=list)
    model_sizes: list[int] = field(default_factory=list)  # pickled bytes per fold (objective model_size only)
    n_warnings: int = 0
    warning: str | None = None  # the first warning's text, as a hint in reports
    error: str | None = None

    @property
    def mean(self) -> float | None:
        return mean_std(self.split_scores)[0] if self.split_scores else None

    @property
    def std(self) -> float | None:
        return mean_std(self.split_scores)[1] if self.split_scores else None


def mean_std(scores: Sequence[float]) -> tuple[float, float]:
    """Mean and (population) std with ``GridSearchCV``'s exact arithmetic, so they match to the bit."""
    arr = np.asarray(scores, dtype=np.float64)
    mean = np.average(arr)
    std = np.sqrt(np.average((arr - mean) ** 2))
    return float(mean), float(std)


def error_text(exc: BaseException) -> str:
    """``ValueError: Solver lbfgs supports only ...``: the type and the message, one line, bounded."""
    message = " ".join(str(exc).split())
    text = f"{type(exc).__name__}: {message}" if message else type(exc).__name__
    return text if len(text) <= 500 else text[:497] + "..."


def metric_label(metric: str | None, task: str) -> str:
    """The optimized metric's name; the estimator's own ``score`` is accuracy for classifiers, r2 else."""
    if metric:
        return metric
    return "accuracy" if task == "classification" else "r2"


class Evaluator:
    """Scores parameter sets of one model on precomputed folds (built once per model).

    ``n_jobs``: the threads one trial may use (``problem.threads``): the estimator's thread parameter,
    and the cap on OpenMP/BLAS pools during every fit and score; None leaves both to the libraries.
    """

    def __init__(self, model: ModelSpec, dataset: Dataset, folds: Folds,
                 allow_modules: Sequence[str] = (), *, n_jobs: int | None = None) -> None:
        from sklearn.metrics import check_scoring

        from hpo_cli.problem.pipeline import build_estimator

        self.model = model
        self.dataset = dataset
        self.folds = folds
        self.allow_modules = tuple(allow_modules)
        self.n_jobs = n_jobs
        self._build = build_estimator
        template = build_estimator(model, {}, self.allow_modules, n_jobs=n_jobs)
        # a scorer as second objective is scored like an extra metric (its mean is the objective's value)
        scored = [*model.metrics, *(o.metric for o in (model.objectives or [])[1:] if o.metric not in COSTS)]
        self.extra = [m for m in dict.fromkeys(scored) if m != model.metric]
        self.measure_size = any(o.metric == "model_size" for o in model.objectives or [])
        if self.extra:
            scoring: dict[str, Any] = {_MAIN: model.metric or check_scoring(template)}
            scoring.update({m: m for m in self.extra})
            self.scorer = check_scoring(template, scoring=scoring)
        else:
            self.scorer = check_scoring(template, scoring=model.metric)
        X = dataset.X
        self._take = (lambda a, idx: a.iloc[idx]) if hasattr(X, "iloc") else (lambda a, idx: a[idx])
        nbytes = getattr(X, "nbytes", _PRESLICE_BYTES)
        self._slices: list[tuple[Any, Any, Any, Any]] | None = None
        if nbytes * max(len(folds), 1) < _PRESLICE_BYTES:
            self._slices = [self._fold(tr, te) for tr, te in folds]

    def _fold(self, train: np.ndarray, test: np.ndarray) -> tuple[Any, Any, Any, Any]:
        X, y = self.dataset.X, self.dataset.y
        return self._take(X, train), y[train], self._take(X, test), y[test]

    def build(self, params: dict[str, Any]) -> Any:
        return self._build(self.model, params, self.allow_modules, n_jobs=self.n_jobs)

    def evaluate(self, params: dict[str, Any], report: Callable[[int, list[float]], bool] | None = None,
                 should_stop: Callable[[], bool] = lambda: False) -> TrialOutcome:
        """Fit and score ``params`` on every fold.

        ``report(fold index, fold scores so far)`` is called after every fold, the last one included (a
        complete trial's per-fold values are what Wilcoxon compares later trials with); True prunes the
        trial unless it was its last fold. ``should_stop`` is checked between folds so that Ctrl-C ends
        the run after the current fold, not mid-fit.
        """
        out = TrialOutcome(state=COMPLETE)
        with limited(self.n_jobs), warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                for k in range(len(self.folds)):
                    if should_stop():
                        out.state = INTERRUPTED
                        break
                    X_tr, y_tr, X_te, y_te = self._slices[k] if self._slices is not None \
                        else self._fold(*self.folds[k])
                    estimator = self.build(params)
                    t0 = time.perf_counter()
                    estimator.fit(X_tr, y_tr)
                    t1 = time.perf_counter()
                    scores = self.scorer(estimator, X_te, y_te)
                    out.score_times.append(time.perf_counter() - t1)
                    out.fit_times.append(t1 - t0)
                    if self.measure_size:
                        out.model_sizes.append(len(pickle.dumps(estimator, protocol=pickle.HIGHEST_PROTOCOL)))
                    main = float(scores[_MAIN] if self.extra else scores)
                    if math.isnan(main):
                        raise ValueError(f"the scorer returned NaN on fold {k}")
                    out.split_scores.append(main)
                    for name in self.extra:
                        out.metrics.setdefault(name, []).append(float(scores[name]))
                    if report is not None and report(k, out.split_scores) and k < len(self.folds) - 1:
                        out.state = PRUNED
                        break
            except Exception as exc:  # any fit/score error is this trial's failure, not the run's
                out.state = FAIL
                out.error = error_text(exc)
            finally:
                out.n_warnings = len(caught)
                if caught:
                    out.warning = f"{caught[0].category.__name__}: {' '.join(str(caught[0].message).split())}"[:300]
        return out

    def refit_and_test(self, params: dict[str, Any]) -> tuple[Any, float | None, dict[str, float]]:
        """Refit ``params`` on every training row; score once on the held-out test rows if there are any.

        The refit sees a DataFrame so the model keeps its feature names for whoever loads it later.
        """
        ds = self.dataset
        with limited(self.n_jobs), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            estimator = self.build(params)
            estimator.fit(ds.frame(ds.X), ds.y)
            if ds.X_test is None or ds.y_test is None:
                return estimator, None, {}
            scores = self.scorer(estimator, ds.frame(ds.X_test), ds.y_test)
        if self.extra:
            return estimator, float(scores[_MAIN]), {m: float(scores[m]) for m in self.extra}
        return estimator, float(scores), {}

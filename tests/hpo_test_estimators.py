"""Estimators for tests of threads and workers (named in specs as ``hpo_test_estimators.<Class>``).

In their own module so that worker processes can import them too (their PYTHONPATH holds ``tests/``).
"""

from __future__ import annotations

import os
import time
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin

#: What each fit saw, in this process: (n_jobs it was given, {threadpool api: num_threads}).
SEEN: list[tuple[Any, dict[str, int]]] = []


class ThreadProbe(ClassifierMixin, BaseEstimator):
    """Predicts the majority class; remembers its ``n_jobs`` and the OpenMP/BLAS thread limits during fit."""

    def __init__(self, n_jobs: int | None = None, alpha: float = 0.0) -> None:
        self.n_jobs = n_jobs
        self.alpha = alpha

    def fit(self, X: Any, y: Any) -> ThreadProbe:
        from threadpoolctl import threadpool_info

        SEEN.append((self.n_jobs, {i["internal_api"]: i["num_threads"] for i in threadpool_info()}))
        self.classes_, counts = np.unique(y, return_counts=True)
        self.majority_ = self.classes_[np.argmax(counts)]
        return self

    def predict(self, X: Any) -> Any:
        return np.full(len(X), self.majority_)


class SleepyClassifier(ClassifierMixin, BaseEstimator):
    """Sleeps ``sleep`` seconds per fit, then scores by ``alpha`` (higher alpha, more often right).

    The sleep makes a trial last long enough to kill its worker mid-trial; ``HPO_TEST_SLEEP_MARK``, when
    set, names a folder where each fit drops a file ``<pid>`` (a test waits for it before the kill).
    """

    def __init__(self, alpha: float = 0.5, sleep: float = 0.0) -> None:
        self.alpha = alpha
        self.sleep = sleep

    def fit(self, X: Any, y: Any) -> SleepyClassifier:
        mark = os.environ.get("HPO_TEST_SLEEP_MARK")
        if mark:
            with open(os.path.join(mark, str(os.getpid())), "a", encoding="utf-8") as fh:
                fh.write("fit\n")
        if self.sleep:
            time.sleep(self.sleep)
        self.classes_ = np.unique(y)
        self.y_ = np.asarray(y)
        return self

    def predict(self, X: Any) -> Any:
        rng = np.random.RandomState(len(X))
        right = rng.random_sample(len(X)) < self.alpha
        guess = self.classes_[rng.randint(len(self.classes_), size=len(X))]
        truth = self.y_[: len(X)] if len(self.y_) >= len(X) else np.resize(self.y_, len(X))
        return np.where(right, truth, guess)

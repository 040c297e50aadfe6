"""A test estimator whose ``fit`` can hang like ``n_estimators: 10**9``: the stop tests' fit that never returns.

Imported by a ``hpo tune`` subprocess (``allow_modules: [sleepy_estimator]``, this folder on PYTHONPATH).
With ``HPO_TEST_HANG=<marker file>`` in the environment, ``fit`` creates the marker (so the test knows a fit
is running) and sleeps forever; without it, ``fit`` is instant and predicts the majority class.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin


class SleepyClassifier(ClassifierMixin, BaseEstimator):
    """Majority-class classifier; ``alpha`` is only there to have something to search."""

    def __init__(self, alpha: float = 1.0) -> None:
        self.alpha = alpha

    def fit(self, X: Any, y: Any) -> SleepyClassifier:
        marker = os.environ.get("HPO_TEST_HANG")
        if marker:
            Path(marker).touch()
            while True:  # like a C extension that never checks for signals: only a process exit ends it
                time.sleep(3600)
        self.classes_, counts = np.unique(y, return_counts=True)
        self.majority_ = self.classes_[np.argmax(counts)]
        return self

    def predict(self, X: Any) -> np.ndarray:
        return np.full(len(X), self.majority_)

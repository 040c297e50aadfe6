"""Distinct points on a finite space: TPE never proposes a point a trial of the study already has.

On a space where every parameter has finitely many values (int ranges, categoricals, floats with a
``step``), TPE re-proposes points it has evaluated once its model concentrates on a region (its random
start-up repeats by chance too). The folds and the estimator's ``random_state`` are fixed, so a repeat
scores exactly what the first evaluation scored: no information, one trial of the budget lost. Measured
in ``bench/RESULTS.md`` (f): on wine kNN and the digits tree TPE repeated 27-28 % of 100 trials and
10 % of 50 (random search 7-19 % of 100).

``DistinctSampler`` wraps the sampler: it proposes the whole point at once (``sample_relative``), and
when the point equals the parameters of a COMPLETE, PRUNED or RUNNING trial (another worker's too) it
takes a seeded uniform draw from the points not yet evaluated instead (``RETRIES``: asking TPE again first
cost CPU and found nothing better).
Only when every point of the space has been evaluated is a repeat returned. The draws come from seeded
generators in a fixed order, so the same seed gives the same trials.
"""

from __future__ import annotations

import functools
import json
from typing import TYPE_CHECKING, Any

from hpo_cli.problem import space
from hpo_cli.spec.models import ModelSpec

if TYPE_CHECKING:
    import optuna

#: The wrapped sampler's further proposals before a draw among the unseen points. Zero: asking TPE again
#: costs a TPE proposal each (8.5 against 3.6 ms of CPU per trial at 100 trials on wine kNN's 240 points),
#: and 5 more proposals found no better points in bench/RESULTS.md (f) (within one pair of 20 either way).
RETRIES = 0


def applies(model: ModelSpec) -> bool:
    """True for a finite space without ``when:`` conditions (elsewhere a float makes repeats impossible)."""
    return bool(model.space) and not space.is_conditional(model) and space.grid_size(model) is not None


def _key(dists: dict[str, Any], params: dict[str, Any]) -> tuple[tuple[str, Any], ...]:
    """Canonical form of an Optuna point (floats to 12 digits: a stepped float is stored as 0.30000000000000004)."""
    out = []
    for name in sorted(params):
        value = dists[name].to_internal_repr(params[name]) if name in dists else params[name]
        out.append((name, float(f"{value:.12g}") if isinstance(value, float) else repr(value)))
    return tuple(out)


@functools.cache
def _sampler_class() -> type:
    import numpy as np
    import optuna
    from optuna.trial import TrialState

    seen_states = (TrialState.COMPLETE, TrialState.PRUNED, TrialState.RUNNING)

    class DistinctSampler(optuna.samplers.BaseSampler):
        """``inner``'s proposals, never a point already evaluated while unseen points remain (module doc)."""

        def __init__(self, inner: optuna.samplers.BaseSampler, model: ModelSpec, seed: int, retries: int) -> None:
            self.inner = inner
            self._retries = retries
            self._model = model
            self._dists = space.distributions(model)
            self._rng = np.random.RandomState(seed)
            self._random = optuna.samplers.RandomSampler(seed=seed)
            self._points: list[dict[str, Any]] | None = None
            self._size = space.grid_size(model) or 0

        def infer_relative_search_space(self, study: Any, trial: Any) -> dict[str, Any]:
            return dict(self._dists)

        def _propose(self, study: Any, trial: Any) -> dict[str, Any]:
            inner_space = self.inner.infer_relative_search_space(study, trial)
            params = dict(self.inner.sample_relative(study, trial, inner_space))
            for name, dist in self._dists.items():  # hpo's suggest order: the start-up draws equal random's
                if name not in params:
                    params[name] = self.inner.sample_independent(study, trial, name, dist)
            return params

        def _unseen(self, study: Any, trial: Any, seen: set[Any]) -> dict[str, Any] | None:
            if self._size > space.MAX_GRID_POINTS:  # too many points to list: seeded draws, a repeat is rare
                for _ in range(100):
                    point = {n: self._random.sample_independent(study, trial, n, d) for n, d in self._dists.items()}
                    if _key(self._dists, point) not in seen:
                        return point
                return None
            if self._points is None:
                self._points = [space.encode_params(self._model, p) for p in space.grid_points(self._model)]
            unseen = [p for p in self._points if _key(self._dists, p) not in seen]
            return unseen[self._rng.randint(len(unseen))] if unseen else None

        def sample_relative(self, study: Any, trial: Any, search_space: dict[str, Any]) -> dict[str, Any]:
            trials = study.get_trials(deepcopy=False, states=seen_states)
            seen = {_key(self._dists, t.params) for t in trials if t.number != trial.number}
            params = self._propose(study, trial)
            if len(seen) >= self._size:  # every point evaluated: a repeat is unavoidable, ask nothing more
                return params
            for _ in range(self._retries):
                if _key(self._dists, params) not in seen:
                    return params
                params = self._propose(study, trial)
            if _key(self._dists, params) in seen:
                params = self._unseen(study, trial, seen) or params
                self._share(study, trial, params)
            return params

        def _share(self, study: Any, trial: Any, params: dict[str, Any]) -> None:
            """TPE's ``constant_liar`` reads a running trial's point from its system attributes, written by
            its ``sample_relative``: overwrite them with the point this trial really runs."""
            if not getattr(self.inner, "_constant_liar", False):
                return
            from optuna.samplers._tpe.sampler import _RELATIVE_PARAMS_KEY

            text = json.dumps(params)
            study._storage.set_trial_system_attr(trial._trial_id, f"{_RELATIVE_PARAMS_KEY}:0", text)

        def sample_independent(self, study: Any, trial: Any, param_name: str, param_distribution: Any) -> Any:
            return self.inner.sample_independent(study, trial, param_name, param_distribution)

        def before_trial(self, study: Any, trial: Any) -> None:
            self.inner.before_trial(study, trial)

        def after_trial(self, study: Any, trial: Any, state: Any, values: Any) -> None:
            self.inner.after_trial(study, trial, state, values)

        def reseed_rng(self) -> None:
            self.inner.reseed_rng()
            self._random.reseed_rng()
            self._rng.seed()

    return DistinctSampler


def distinct(inner: optuna.samplers.BaseSampler, model: ModelSpec, seed: int,
             retries: int = RETRIES) -> optuna.samplers.BaseSampler:
    """``inner`` wrapped so that it proposes no point twice on ``model``'s finite space (module doc)."""
    return _sampler_class()(inner, model, seed, retries)

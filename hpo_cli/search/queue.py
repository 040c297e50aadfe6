"""The work queue of a model's study: exact budgets and exactly-once grids across workers and machines.

Optuna's ``n_trials`` counts per process (optuna#1865) and its GridSampler repeats points under concurrency
(optuna#2039). So the process that prepares a study enqueues the work itself (:func:`enqueue_missing`):
every grid point still to run with its parameters, or, for random/TPE/..., as many empty tickets as the
budget lacks (the worker's sampler fills them). Workers only ever take a WAITING trial (:class:`Popper`); the
storage hands each one to exactly one of them (Optuna's WAITING -> RUNNING change is atomic in its journal
and RDB storages), and never create trials of their own. The study attributes ``hpo_queue`` (ready, with
the budget) and ``hpo_stop`` (timeout/target/max_failed: every worker stops taking trials) are the shared
state (``storage.attrs``).

Counting: a trial counts when it finished and was not interrupted (``attrs.finished_trials``); WAITING and
RUNNING trials are *active*. Enqueueing tops the active ones up to ``budget - counted``, so a resume, a
retry of a dead worker's trial or a second preparing process never makes the total exceed the budget.
"""

from __future__ import annotations

import collections
import contextlib
from typing import Any

from hpo_cli.problem import space
from hpo_cli.search.plan import Prepared
from hpo_cli.storage import attrs as st


def _trials(study: Any, states: tuple[Any, ...]) -> list[Any]:
    return list(study._storage.get_all_trials(study._study_id, deepcopy=False, states=states))


def active_trials(study: Any) -> list[Any]:
    """Queued (WAITING) and running trials."""
    from optuna.trial import TrialState

    return _trials(study, (TrialState.WAITING, TrialState.RUNNING))


def running_trials(study: Any) -> list[Any]:
    from optuna.trial import TrialState

    return _trials(study, (TrialState.RUNNING,))


def grid_order(prep: Prepared) -> list[dict[str, Any]]:
    """The grid points in the seeded order every run of this spec and seed visits them."""
    import numpy as np

    assert prep.grid is not None
    return [prep.grid[i] for i in np.random.RandomState(prep.model.seed).permutation(len(prep.grid))]


def _point_key(prep: Prepared, trial: Any) -> str:
    info = trial.user_attrs.get(st.ATTR) or {}
    if info.get("params") is not None:
        return space.point_key(info["params"])
    stored = trial.system_attrs.get("fixed_params") or trial.params
    return space.point_key(space.decode_params(prep.model, dict(stored)))


def enqueue_missing(study: Any, prep: Prepared) -> int:
    """Queue what the budget still lacks (grid: the next points not yet run or queued); return how many."""
    counted = st.finished_trials(study)
    active = active_trials(study)
    missing = prep.budget - len(counted) - len(active)
    if missing <= 0:
        return 0
    if prep.grid is None:
        for _ in range(missing):
            study.enqueue_trial({})
        return missing
    taken = {_point_key(prep, t) for t in [*counted, *active]}
    added = 0
    for point in grid_order(prep):
        if added >= missing:
            break
        if space.point_key(point) not in taken:
            study.enqueue_trial(space.encode_params(prep.model, point))
            added += 1
    return added


class Popper:
    """Take one WAITING trial for this worker (RUNNING now), or None when the queue is empty.

    What Optuna's private ``Study._pop_waiting_trial_id`` does, but unlike ``study.ask()`` it never creates
    a trial when the queue is empty, which is what keeps the budget exact; and without its per-pop listing
    of the WAITING trials, which filters every trial of the study (the journal: in memory, ~0.35 µs per
    stored trial; a cached RDB storage also reads every unfinished trial, i.e. every queued ticket, from
    the database again): O(n) per trial. The queue only grows at its end (tickets, grid points and the
    retries of dead workers' trials get new, higher numbers than every trial listed before), so a list
    taken once keeps Optuna's order: its trials are tried in turn, the storage refuses atomically one that
    another worker took meanwhile (skipped), and the queue is listed again only when the list runs out.
    Each worker skips each trial at most once: O(1) storage work per trial, amortised. One per worker
    and study (``worker.work_model``).
    """

    def __init__(self, study: Any) -> None:
        self.study = study
        self.candidates: collections.deque[int] = collections.deque()

    def __call__(self) -> int | None:
        from optuna.trial import TrialState

        listed = False
        while True:
            while self.candidates:
                trial_id = self.candidates.popleft()
                if self._take(trial_id):
                    return trial_id
            if listed:
                return None
            self.candidates.extend(int(t._trial_id) for t in _trials(self.study, (TrialState.WAITING,)))
            listed = True

    def _take(self, trial_id: int) -> bool:
        import optuna
        from optuna.trial import TrialState

        try:
            return bool(self.study._storage.set_trial_state_values(trial_id, state=TrialState.RUNNING))
        except optuna.exceptions.UpdateFinishedTrialError:  # taken and finished (or cancelled) meanwhile
            return False


class Asker:
    """``study.ask()`` for a study no other process adds trials to, without Optuna's per-ask scan of every trial.

    Optuna's ``ask`` first looks for a WAITING trial by filtering all the study's trials (optuna#5948): in
    the journal storage ~0.35 µs per stored trial, 0.7 ms per ask at 2,000 trials, the one per-trial cost
    of a one-process search that grows with the study (``bench/bench_soak.py``). Here the WAITING trials
    are counted once: while any is left (tickets of a killed ``--workers`` run, a user's
    ``enqueue_trial``) ``ask`` takes them in Optuna's order, then trials are created directly, which is
    what ``ask`` itself does when it finds none (the cache of trials samplers read is reset, as ``ask``
    does). Only for the one-process loop: in queue mode other processes enqueue (``Popper``).
    """

    def __init__(self, study: Any) -> None:
        from optuna.trial import TrialState

        self.study = study
        self.waiting = len(_trials(study, (TrialState.WAITING,)))

    def __call__(self) -> Any:
        import optuna

        study = self.study
        if self.waiting or not hasattr(study, "_thread_local"):  # an Optuna without the cache: its own ask
            self.waiting = max(0, self.waiting - 1)
            return study.ask()
        study._thread_local.cached_all_trials = None
        return optuna.Trial(study, study._storage.create_new_trial(study._study_id))


def mark_ready(study: Any, budget: int) -> None:
    """Tell joining processes the queue is complete (they wait for this before taking trials)."""
    study.set_user_attr(st.STUDY_QUEUE, {"budget": budget, "ready": True})
    study.set_user_attr(st.STUDY_STOP, "")


def is_ready(study: Any) -> bool:
    return bool((study.user_attrs.get(st.STUDY_QUEUE) or {}).get("ready"))


def request_stop(study: Any, reason: str) -> None:
    """Every worker of every process stops taking this model's trials (timeout, target, max_failed)."""
    if not stop_reason(study):
        study.set_user_attr(st.STUDY_STOP, reason)


def stop_reason(study: Any) -> str:
    return str(study._storage.get_study_user_attrs(study._study_id).get(st.STUDY_STOP) or "")


def cancel_waiting(study: Any) -> int:
    """Queued trials no one will run (this run stopped): interrupted FAILs, left out of every count."""
    from optuna.trial import TrialState

    n = 0
    for trial in _trials(study, (TrialState.WAITING,)):
        with contextlib.suppress(Exception):  # a worker took it meanwhile
            study._storage.set_trial_user_attr(trial._trial_id, st.ATTR_INTERRUPTED, True)
            if study._storage.set_trial_state_values(trial._trial_id, state=TrialState.FAIL):
                n += 1
    return n


def fail_worker_trials(study: Any, owner: str) -> int:
    """A dead worker's RUNNING trials: failed (uncounted, see ``storage.heartbeat``) and queued again."""
    from optuna.trial import TrialState

    from hpo_cli.storage.heartbeat import retry_stale_trial

    n = 0
    for trial in running_trials(study):
        if trial.user_attrs.get(st.ATTR_WORKER) != owner:
            continue
        with contextlib.suppress(Exception):
            if study._storage.set_trial_state_values(trial._trial_id, state=TrialState.FAIL):
                retry_stale_trial(study, trial)
                n += 1
    return n

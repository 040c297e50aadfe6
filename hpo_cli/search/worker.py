"""A worker's loop: take queued trials of each model's study, evaluate them, until the queue is empty.

Started by ``tune.parallel`` (``--workers N``, ``--join``) in processes of their own; any number of them,
on any number of machines, share one storage. A worker never creates a trial (``queue.Popper`` only takes
the ones the preparing process enqueued), so the budget is exact and a grid point runs once. It leaves a
model when its queue is empty and no trial of it is running anywhere (a running one may still fail as
stale and come back as a retry), or when ``hpo_stop`` is set (timeout, target, max_failed), or when the
user stops it (Ctrl-C/SIGTERM: the current trial is abandoned and goes back to the queue on ``--resume``).
"""

from __future__ import annotations

import os
import time
from typing import Any

from hpo_cli.core.trace import clock, trace
from hpo_cli.search import queue, samplers
from hpo_cli.search.loop import study_name
from hpo_cli.search.plan import Prepared
from hpo_cli.search.stopping import StopSignal
from hpo_cli.search.trial import run_trial
from hpo_cli.spec.models import Spec
from hpo_cli.storage import attrs as st
from hpo_cli.storage.heartbeat import beating, fail_stale

POLL = 0.3  # seconds between looks at an empty queue while other workers' trials still run
STEP = 0.02  # seconds between looks at the stop flag and the parent meanwhile: the run's end waits for no POLL


def work(spec: Spec, prepared: list[Prepared], storage: Any, *, worker: int, owner: str, stop: StopSignal,
         seed_offset: int = 0) -> int:
    """Run queued trials of every model in order; return how many this worker finished.

    ``owner`` (``host:pid:n``) is written on each trial it takes; ``worker`` (+ ``seed_offset``) derives
    its sampler seed (``samplers.worker_seed``).
    """
    parent = os.getppid()
    done = 0
    for prep in prepared:
        done += work_model(spec, prep, storage, worker=worker + seed_offset, owner=owner, stop=stop,
                           alive=lambda: os.getppid() == parent)
        if stop.is_set():
            break
    return done


def idle(stop: StopSignal, alive: Any, seconds: float) -> None:
    """Wait ``seconds`` for other workers' trials, but return as soon as the user or the coordinator stops
    this worker (SIGTERM at the run's end) or its parent is gone."""
    end = time.monotonic() + seconds
    while time.monotonic() < end and not stop.is_set() and alive():
        time.sleep(STEP)


def work_model(spec: Spec, prep: Prepared, storage: Any, *, worker: int, owner: str, stop: StopSignal,
               alive: Any = lambda: True) -> int:
    """One model's share of the work (see the module docstring)."""
    import optuna

    model, who = prep.model, f"worker{worker}"
    since = clock()
    study = optuna.load_study(study_name=study_name(spec, model), storage=storage)
    n_finished = len(st.finished_trials(study))
    study.sampler = samplers.make_sampler(model, model.method, samplers.worker_seed(model.seed, n_finished, worker),
                                          prep.budget, concurrent=True)
    study.pruner = samplers.make_pruner(model.pruner, len(prep.evaluator.folds))
    pop = queue.Popper(study)
    trace(who, "load study", since)
    done = 0
    since = clock()
    while not stop.is_set() and alive():
        if queue.stop_reason(study):
            break
        fail_stale(study)
        trial_id = pop()
        if trial_id is None:
            if not queue.running_trials(study):
                break
            idle(stop, alive, POLL)
            continue
        trace(who, "take trial", since)  # the queue's cost per trial (stop flag, stale check, pop)
        trial = optuna.Trial(study, trial_id)
        try:
            since = clock()
            trial.set_user_attr(st.ATTR_WORKER, owner)
            with beating(study._storage, trial_id):
                record = run_trial(study, trial, spec, prep, stop)
            trace(who, f"trial {trial.number}", since)
            since = clock()
        except optuna.exceptions.UpdateFinishedTrialError:
            continue  # failed as stale meanwhile (a frozen machine): its retry is queued
        if record is None:
            break
        done += 1
    trace(who, "queue empty", since)
    return done

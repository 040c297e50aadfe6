"""Dead workers on a database storage: heartbeats, and a stale trial failed and queued again.

Optuna 5 keeps heartbeats on its RDB storage only: a worker records one every ``HEARTBEAT_INTERVAL``
seconds while it runs a trial (:func:`beating`); a RUNNING trial without one for ``GRACE_PERIOD`` seconds
belonged to a worker that died (SIGKILL, a machine gone). Any process's :func:`fail_stale` then fails it
(Optuna lets exactly one process win that change) and the winner queues its retry
(:func:`retry_stale_trial`): the same grid point, or a fresh ticket the sampler fills. The failed trial
has no ``hpo`` attribute, so ``attrs.is_interrupted`` leaves it out of the budget: it counts as its retry.

``HPO_HEARTBEAT_INTERVAL`` / ``HPO_HEARTBEAT_GRACE`` (seconds) change the defaults (tests use 1 / 3).
A trial may run far longer than the grace period: its worker's heartbeat thread keeps beating.
"""

from __future__ import annotations

import contextlib
import os
import threading
import warnings
from collections.abc import Iterator
from typing import Any

HEARTBEAT_INTERVAL = int(os.environ.get("HPO_HEARTBEAT_INTERVAL", "10"))
GRACE_PERIOD = int(os.environ.get("HPO_HEARTBEAT_GRACE", str(4 * HEARTBEAT_INTERVAL)))
#: The user attribute a retry carries: the number of the trial it replaces.
ATTR_RETRY_OF = "hpo_retry_of"


def retry_stale_trial(study: Any, trial: Any) -> None:
    """Queue the retry of a trial failed as stale: the same fixed parameters (a grid point), else a ticket."""
    fixed = trial.system_attrs.get("fixed_params")
    study.enqueue_trial(dict(fixed) if fixed else {}, user_attrs={ATTR_RETRY_OF: trial.number})


def heartbeat_enabled(storage: Any) -> bool:
    from optuna.storages._heartbeat import is_heartbeat_enabled

    return bool(is_heartbeat_enabled(storage))


def fail_stale(study: Any) -> None:
    """Fail the study's trials whose worker stopped beating, and queue their retries (RDB storages only)."""
    if not heartbeat_enabled(study._storage):
        return
    import optuna

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # ExperimentalWarning
        optuna.storages.fail_stale_trials(study)


@contextlib.contextmanager
def beating(storage: Any, trial_id: int) -> Iterator[None]:
    """Record the trial's heartbeat on a thread while the block runs (nothing without heartbeats)."""
    if not heartbeat_enabled(storage):
        yield
        return
    done = threading.Event()
    interval = storage.get_heartbeat_interval()

    def beat() -> None:
        while True:
            with contextlib.suppress(Exception):  # a lost connection: the next beat tries again
                storage.record_heartbeat(trial_id)
            if done.wait(interval):
                return

    thread = threading.Thread(target=beat, name=f"hpo-heartbeat-{trial_id}", daemon=True)
    thread.start()
    try:
        yield
    finally:
        done.set()
        thread.join(timeout=5)

"""The study-attribute schema: every key hpo writes into a study, so a run folder can be rebuilt from the storage alone.

Trial user attributes (written once per trial, one journal line each):

- ``hpo``: ``{"params": {...}, "split_scores": [...], "mean_test_score": f, "std_test_score": f,
  "metrics": {name: {"mean": f, "std": f, "splits": [...]}}, "fit_times": [...], "score_times": [...],
  "model_sizes": [...] (only with the objective ``model_size``: pickled bytes per fold), "n_warnings": n,
  "warning": str|None, "duration": seconds}``. ``params`` are the values the estimator
  received (Optuna's own ``trial.params`` hold the JSON text of list/mapping choices).
- ``error``: ``"ValueError: ..."`` on a FAIL trial.
- ``interrupted``: ``true`` on a trial abandoned by Ctrl-C or found RUNNING after a killed run; such
  trials are not part of the search (not counted in the budget, not in ``trials.csv``). A FAIL trial
  without ``hpo`` is one too: its worker died before it finished (failed by heartbeat or by the
  coordinator, which cannot write attributes into a finished trial), and its retry is queued.
- ``hpo_worker``: ``host:pid:n``, the worker process that took a queued trial (``--workers``/``--join``),
  so a coordinator logs its own trials to MLflow and fails a dead worker's.

Study user attributes: ``hpo_model`` (name, estimator, init_params, metric, metrics, method, cv, n_splits,
seed, space; with two objectives also ``objectives`` ``[{"metric", "direction"}, ...]`` and ``select``),
``hpo_identity`` (what ``--resume`` and ``--join`` compare: ``storage.identity``), once
the model finished ``hpo_test`` (``{"score": f, "metrics": {...}}``), with ``confirm:`` ``hpo_confirm``
(``{"top": K, "repeats": R, "seeds": [...], "trials": {number: {"mean": f, "std": f, "splits": [[...] per
seed]}}}``: the re-scored configurations, which are not trials), and with MLflow
tracking ``mlflow_parent_run_id`` (the model's parent run, shared by ``--resume`` and workers), and
``hpo_format`` (``FORMAT_VERSION`` of the hpo that created the study; a newer one is refused on resume).

Reading goes through :func:`record_from_trial`: above the storage a trial is a ``TrialRecord``, never an
Optuna ``FrozenTrial``.
"""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING, Any

from hpo_cli.core.results import COMPLETE, FAIL, PRUNED, RUNNING, TrialRecord
from hpo_cli.core.values import from_typed_json

if TYPE_CHECKING:
    import optuna

ATTR = "hpo"
ATTR_ERROR = "error"
ATTR_INTERRUPTED = "interrupted"
STUDY_MODEL = "hpo_model"
STUDY_TEST = "hpo_test"
STUDY_MLFLOW_PARENT = "mlflow_parent_run_id"
STUDY_IDENTITY = "hpo_identity"
STUDY_CONFIRM = "hpo_confirm"
STUDY_QUEUE = "hpo_queue"
STUDY_STOP = "hpo_stop"
ATTR_WORKER = "hpo_worker"
STUDY_FORMAT = "hpo_format"
#: The layout of what hpo writes (study attributes, run.json), recorded as ``hpo_format`` in both. 1 (absent):
#: releases before it; they recorded no identity and stored mapping keys as strings. 2: identity, typed keys
#: (``core.values.to_typed_json``), run.json naming its journal relative to the run folder.
FORMAT_VERSION = 2


def average(values: list[float] | None) -> float | None:
    return sum(values) / len(values) if values else None


def is_interrupted(trial: optuna.trial.FrozenTrial) -> bool:
    """Abandoned (Ctrl-C, a killed run) or failed because its worker died: not part of the search."""
    if trial.user_attrs.get(ATTR_INTERRUPTED):
        return True
    return trial.state.name == FAIL and ATTR not in trial.user_attrs and ATTR_ERROR not in trial.user_attrs


def record_from_trial(model: str, trial: optuna.trial.FrozenTrial) -> TrialRecord:
    """Rebuild the ``TrialRecord`` of a stored trial (what ``trials.csv`` and reports show)."""
    info: dict[str, Any] = trial.user_attrs.get(ATTR) or {}
    state = trial.state.name
    if state not in (COMPLETE, FAIL, PRUNED):
        state = RUNNING
    params = from_typed_json(info.get("params"))
    if params is None:
        params = dict(trial.params)
    duration = info.get("duration")
    if duration is None and trial.datetime_start and trial.datetime_complete:
        duration = (trial.datetime_complete - trial.datetime_start).total_seconds()
    return TrialRecord(
        model=model,
        number=trial.number,
        state=state,
        params=params,
        mean_test_score=info.get("mean_test_score"),
        std_test_score=info.get("std_test_score"),
        split_scores=list(info.get("split_scores") or []),
        metrics=info.get("metrics") or {},
        mean_fit_time=average(info.get("fit_times")),
        mean_score_time=average(info.get("score_times")),
        mean_model_size=average(info.get("model_sizes")),
        duration=duration,
        n_warnings=int(info.get("n_warnings") or 0),
        error=trial.user_attrs.get(ATTR_ERROR),
        datetime_start=trial.datetime_start.isoformat() if trial.datetime_start else None,
        datetime_complete=trial.datetime_complete.isoformat() if trial.datetime_complete else None,
    )


def finished_trials(study: optuna.Study) -> list[optuna.trial.FrozenTrial]:
    """Trials that count: COMPLETE, FAIL and PRUNED, minus those abandoned by an interruption."""
    from optuna.trial import TrialState

    done = (TrialState.COMPLETE, TrialState.FAIL, TrialState.PRUNED)
    return [t for t in study.get_trials(deepcopy=False) if t.state in done and not is_interrupted(t)]


def fail_stale_trials(study: optuna.Study) -> int:
    """Mark trials left RUNNING (or queued, WAITING) by a killed run as interrupted FAILs.

    Only for a storage no other process uses (``--resume`` of the run folder's own journal, which the
    run-folder lock holds): on a shared database, live workers' trials are failed by heartbeat instead.
    """
    from optuna.trial import TrialState

    n = 0
    for trial in study.get_trials(deepcopy=False, states=(TrialState.RUNNING, TrialState.WAITING)):
        with contextlib.suppress(Exception):  # another process may have finished it meanwhile
            study._storage.set_trial_user_attr(trial._trial_id, ATTR_INTERRUPTED, True)
            study._storage.set_trial_user_attr(trial._trial_id, ATTR_ERROR, "interrupted before it finished")
            study._storage.set_trial_state_values(trial._trial_id, TrialState.FAIL)
            n += 1
    return n


def apply_confirmation(records: list[TrialRecord], confirm: dict[str, Any] | None) -> None:
    """Put the study's ``hpo_confirm`` means and stds on the records of the trials it re-scored."""
    trials = (confirm or {}).get("trials") or {}
    for record in records:
        entry = trials.get(str(record.number))
        if entry:
            record.confirmed_mean, record.confirmed_std = entry.get("mean"), entry.get("std")

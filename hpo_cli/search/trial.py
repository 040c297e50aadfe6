"""One trial from Optuna's side: suggest the parameters, evaluate on the folds, store and tell the outcome.

Shared by the one-process loop (``loop``) and the workers (``worker``), so that a trial is stored the same
way whoever ran it: the ``hpo`` attribute first (``records.outcome_attrs``), then the state.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

from hpo_cli.core.errors import InputError
from hpo_cli.core.results import COMPLETE, FAIL, PRUNED, TrialRecord
from hpo_cli.problem import space
from hpo_cli.search import samplers
from hpo_cli.search.evaluate import INTERRUPTED
from hpo_cli.search.plan import Prepared
from hpo_cli.search.records import model_objectives, outcome_attrs, record_of, told_values
from hpo_cli.search.stopping import StopSignal, abandon_trial
from hpo_cli.spec.models import ModelSpec, Spec
from hpo_cli.storage import attrs as st


def suggest(study: Any, trial: Any, spec: Spec, index: int, model: ModelSpec) -> dict[str, Any]:
    """``space.suggest``; Optuna refuses a parameter whose distribution differs from the stored trials'."""
    try:
        return space.suggest(trial, model)
    except ValueError as exc:  # only possible on --resume after the space was edited
        abandon_trial(study, trial)
        raise InputError(spec.problem(("models", index, "space"), f"the search space changed since the stored "
                                      f"trials ({exc}); run without --resume to start this model over")) from None


def run_trial(study: Any, trial: Any, spec: Spec, prep: Prepared, stop: StopSignal) -> TrialRecord | None:
    """Evaluate ``trial`` and tell Optuna; None when the user stopped it (the trial is then abandoned)."""
    from optuna.trial import TrialState

    model, evaluator = prep.model, prep.evaluator
    report_value = samplers.reported_value(model.pruner)
    stop.trial_started(study, trial, model.name)  # the watchdog marks it if its fit never returns
    t_start, when = time.perf_counter(), datetime.now(UTC)
    try:
        params = suggest(study, trial, spec, prep.index, model)

        def report(step: int, scores: list[float], trial: Any = trial) -> bool:
            trial.report(report_value(scores), samplers.pruner_step(step))
            return step < len(evaluator.folds) - 1 and samplers.should_prune(trial)

        outcome = evaluator.evaluate(params, report if model.pruner.type != "none" else None, stop.is_set)
    except KeyboardInterrupt:
        outcome = None
    finally:
        stop.trial_ended()
    if outcome is None or outcome.state == INTERRUPTED:
        abandon_trial(study, trial)
        return None
    attrs = outcome_attrs(params, outcome, time.perf_counter() - t_start)
    record = record_of(model.name, trial.number, outcome, attrs, when)
    values = told_values(record, model_objectives(model)) if outcome.state == COMPLETE else None
    if isinstance(values, list) and None in values:  # e.g. a second scorer that gave NaN: no point to place
        missing = model_objectives(model)[values.index(None)].name
        outcome.state, outcome.error = FAIL, f"ValueError: the objective '{missing}' has no finite value"
        record.state, record.error = outcome.state, outcome.error
    trial.set_user_attr(st.ATTR, attrs)
    if outcome.error:
        trial.set_user_attr(st.ATTR_ERROR, outcome.error)
    if outcome.state == COMPLETE:
        study.tell(trial, values)
    else:
        study.tell(trial, state=TrialState.PRUNED if outcome.state == PRUNED else TrialState.FAIL)
    return record

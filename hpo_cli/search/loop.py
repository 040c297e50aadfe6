"""The trial loop of one model: ask Optuna, evaluate on the folds, tell Optuna, tell the observers, until a budget ends.

Fresh run vs ``--resume``: a fresh study holds no trials (the caller deleted the old one); on resume, finished
trials stay, RUNNING leftovers of a killed run are marked interrupted and retried, and only the remaining
budget runs (a grid continues with the points left). Budgets: trials, timeout, target, max_failed, and the
user's stop (Ctrl-C, SIGTERM), checked between trials and, through ``should_stop``, between folds.
"""

from __future__ import annotations

import time
from typing import Any

from hpo_cli.core.results import COMPLETE, FAIL, FittedBest, ModelResult, confirmed_winner
from hpo_cli.core.trace import clock, trace
from hpo_cli.core.values import to_typed_json
from hpo_cli.problem import space
from hpo_cli.problem.data import Dataset
from hpo_cli.problem.estimators import effective_init_params, estimator_dotted
from hpo_cli.search import samplers
from hpo_cli.search.observers import Observers
from hpo_cli.search.plan import Prepared, model_info
from hpo_cli.search.queue import Asker
from hpo_cli.search.records import best_of, model_objectives
from hpo_cli.search.stopping import StopSignal
from hpo_cli.search.trial import run_trial
from hpo_cli.spec.models import ModelSpec, Spec
from hpo_cli.storage import attrs as st
from hpo_cli.storage.backend import study_names
from hpo_cli.storage.identity import record_identity


def study_name(spec: Spec, model: ModelSpec) -> str:
    """``<spec name>.<model name>``: the study of one model in the storage."""
    return f"{spec.name}.{model.name}"


def open_study(storage: Any, name: str, model: ModelSpec | None = None) -> Any:
    """The model's study, created when absent: maximized (scikit-learn scorers are greater-is-better), or
    with two objectives one direction each (``objectives:``)."""
    import optuna

    objectives = model_objectives(model) if model is not None else []
    directions = {"directions": [o.direction for o in objectives]} if objectives else {"direction": "maximize"}
    return optuna.create_study(storage=storage, study_name=name, load_if_exists=True,
                               sampler=optuna.samplers.RandomSampler(seed=0), **directions)


def _result(spec: Spec, model: ModelSpec, name: str, trials: list[Any]) -> ModelResult:
    return ModelResult(name=model.name, estimator=estimator_dotted(model, spec.allow_modules),
                       preprocess=model.preprocess, init_params=effective_init_params(model, spec.allow_modules),
                       study_name=name, method=model.method, trials=trials,
                       objectives=[o.model_dump() for o in model.objectives or []],
                       select=(model.select or "best_first") if model.objectives else None)


def _stop_reason(result: ModelResult, prep: Prepared, started: float, n_failed: int, stop: StopSignal) -> str:
    budget, best = prep.model.budget, result.best
    if len(result.trials) >= prep.budget:
        return "budget"
    if budget.timeout is not None and time.perf_counter() - started >= budget.timeout:
        return "timeout"
    if budget.target is not None and best is not None and (best.mean_test_score or 0) >= budget.target:
        return "target"
    if budget.max_failed is not None and n_failed >= budget.max_failed:
        return "max_failed"
    return "interrupted" if stop.is_set() else ""


def search_model(spec: Spec, prep: Prepared, storage: Any, *, resume: bool, events: Observers,
                 stop: StopSignal, identity: dict[str, Any] | None = None) -> tuple[ModelResult, Any]:
    """Run (or continue) one model's study until its budget, timeout, target or max_failed; return the study."""

    model, evaluator = prep.model, prep.evaluator
    name = study_name(spec, model)
    study = open_study(storage, name, model)
    if resume:
        st.fail_stale_trials(study)
    existing = [st.record_from_trial(model.name, t) for t in st.finished_trials(study)]
    sampler = samplers.make_sampler(model, model.method, samplers.resume_seed(model.seed, len(existing)),
                                    prep.budget)
    study.sampler = sampler
    study.pruner = samplers.make_pruner(model.pruner, len(evaluator.folds))
    study.set_user_attr(st.STUDY_MODEL, to_typed_json(model_info(spec, model, evaluator)))
    if identity is not None:
        record_identity(study, identity)
    if st.STUDY_FORMAT not in study.user_attrs:
        study.set_user_attr(st.STUDY_FORMAT, st.FORMAT_VERSION)
    events.emit("study_opened", model.name, study)
    result = _result(spec, model, name, list(existing))
    result.best = best_of(existing, model_objectives(model), model.select)
    events.emit("model_started", model.name, name, prep.budget, len(existing))
    order: list[dict[str, Any]] = []
    seen: set[str] = set()
    if prep.grid is not None:
        import numpy as np

        order = [prep.grid[i] for i in np.random.RandomState(model.seed).permutation(len(prep.grid))]
        seen = {space.point_key(r.params) for r in existing}
    n_failed = sum(r.state == FAIL for r in existing)
    ask = Asker(study)
    started = time.perf_counter()
    while not (stop_reason := _stop_reason(result, prep, started, n_failed, stop)):
        if prep.grid is not None:
            point = next((p for p in order if space.point_key(p) not in seen), None)
            if point is None:
                stop_reason = "grid exhausted"
                break
            seen.add(space.point_key(point))
            sampler.point = space.encode_params(model, point)
        since = clock()
        trial = ask()
        record = run_trial(study, trial, spec, prep, stop)
        trace("search", f"trial {trial.number}", since)
        if record is None:
            stop_reason = "interrupted"
            break
        result.trials.append(record)
        n_failed += record.state == FAIL
        if record.state == COMPLETE and (result.best is None or
                                         (record.mean_test_score or 0) > (result.best.mean_test_score or 0)):
            result.best = record
        events.emit("trial_finished", record)
    result.trials.sort(key=lambda r: r.number)
    if model.objectives:  # the front's chosen point: the running maximum above is objective 1's only
        result.best = best_of(result.trials, model_objectives(model), model.select)
    result.wall_time = time.perf_counter() - started
    result.stop_reason = stop_reason
    return result, study


def refit_best(prep: Prepared, result: ModelResult, study: Any, dataset: Dataset, events: Observers,
               warnings_out: list[str]) -> None:
    """Refit the best parameters on every training row; score once on the held-out rows (if any).

    The refitted model goes to the observers that want it (``best_refitted``), evaluated on the test
    rows when there are some, else on the training rows.
    """
    wanted = events.want_best_model
    if result.best is None or (dataset.X_test is None and not wanted):
        return
    try:
        estimator, test_score, test_metrics = prep.evaluator.refit_and_test(result.best.params)
    except Exception as exc:
        warnings_out.append(f"{result.name}: refitting the best parameters failed: {type(exc).__name__}: {exc}")
        return
    result.test_score, result.test_metrics = test_score, test_metrics
    if wanted:
        on_test = dataset.X_test is not None
        X_eval, y_eval = (dataset.X_test, dataset.y_test) if on_test else (dataset.X, dataset.y)
        events.emit("best_refitted", FittedBest(result.name, estimator, dataset.frame(X_eval), y_eval, dataset.task,
                                                on_test, result.best.number))
    if test_score is not None:
        study.set_user_attr(st.STUDY_TEST, {"score": test_score, "metrics": test_metrics})


def earlier_result(spec: Spec, model: ModelSpec, storage: Any) -> ModelResult | None:
    """A model of the spec not searched in this run (``--model`` filter) but present in the storage."""
    import optuna

    name = study_name(spec, model)
    if name not in study_names(storage):
        return None
    result = stored_result(spec, model, optuna.load_study(study_name=name, storage=storage))
    result.stop_reason = "earlier run"
    return result


def stored_result(spec: Spec, model: ModelSpec, study: Any) -> ModelResult:
    """A model's result read back from its study: every counted trial, the best, the test score if refitted."""
    name = study_name(spec, model)
    result = _result(spec, model, name, [st.record_from_trial(model.name, t) for t in st.finished_trials(study)])
    test = study.user_attrs.get(st.STUDY_TEST) or {}
    st.apply_confirmation(result.trials, study.user_attrs.get(st.STUDY_CONFIRM))
    result.best = confirmed_winner(result.trials) or best_of(result.trials, model_objectives(model), model.select)
    result.test_score, result.test_metrics = test.get("score"), test.get("metrics") or {}
    result.stop_reason = "earlier run"
    return result

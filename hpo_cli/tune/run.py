"""``hpo tune``: from a spec to a run folder, one Optuna study per model.

Everything that can be wrong with the input (spec, overrides, estimators, data, CV) is checked
before the run folder or the storage is touched, so bad input writes nothing. Then, per model: a
study ``<spec name>.<model name>`` in the storage, a seeded sampler, the trial loop with its budgets
(trials, timeout, target, max_failed), observers told about every finished trial, and the run folder
rewritten after the model so that an interruption loses nothing.

Fresh run vs ``--resume``: without ``--resume`` a model's old study in the storage is deleted and
the search starts over; with it, finished trials stay, RUNNING leftovers of a killed run are marked
interrupted and retried, and only the remaining budget runs (a grid continues with the points left).
"""

from __future__ import annotations

import logging
import signal
import threading
import time
from datetime import UTC, datetime
from typing import Any

from hpo_cli.core.errors import InputError, Interrupted, Problem
from hpo_cli.core.options import TuneOptions
from hpo_cli.core.results import COMPLETE, FAIL, PRUNED, ModelResult, RunObserver, RunResult, TrialRecord
from hpo_cli.problem import space
from hpo_cli.problem.cv import make_folds
from hpo_cli.problem.data import Dataset, load_dataset, split_seed
from hpo_cli.rundir import writers as export
from hpo_cli.search import samplers
from hpo_cli.search.evaluate import INTERRUPTED, Evaluator, metric_label
from hpo_cli.spec.models import DEFAULT_TRIALS, ModelSpec, Spec, load_spec, suggest
from hpo_cli.storage import study as st

log = logging.getLogger("hpo")


# --- input: spec, overrides, checks ---------------------------------------------------------------------

def apply_overrides(spec: Spec, options: TuneOptions) -> Spec:
    """The spec as this run sees it: ``--model`` filter, ``--method/--trials/--timeout/--seed/--output``."""
    names = [m.name for m in spec.models]
    for wanted in options.models:
        if wanted not in names:
            raise InputError(f"--model {wanted}: no such model in the spec{suggest(wanted, names)} "
                             f"(models: {', '.join(names)})", spec.locate(("models",)), "models")
    models = []
    for model in spec.models:
        update: dict[str, Any] = {}
        if options.method:
            if options.method not in ("grid", "random", "tpe", "qmc", "cmaes", "gp", "nsga2"):
                raise InputError(f"--method {options.method}: expected grid, random, tpe, qmc, cmaes, gp or nsga2"
                                 f"{suggest(options.method, ['grid', 'random', 'tpe'])}")
            update["method"] = options.method
        budget: dict[str, Any] = {}
        if options.trials is not None:
            budget["trials"] = options.trials
        if options.timeout is not None:
            budget["timeout"] = options.timeout
        if budget:
            update["budget"] = model.budget.model_copy(update=budget)
        if options.seed is not None:
            update["seed"] = options.seed
        models.append(model.model_copy(update=update) if update else model)
    update_spec: dict[str, Any] = {"models": models}
    if options.seed is not None:  # the held-out split follows --seed too (data.split_seed reads defaults)
        update_spec["defaults"] = {**spec.defaults, "seed": options.seed}
    if options.output is not None:
        update_spec["output"] = str(options.output)
    new = spec.model_copy(update=update_spec)
    new.path, new.sha256, new.doc = spec.path, spec.sha256, spec.doc
    return new


def _check_spec(spec: Spec, only: list[str]) -> list[str]:
    """``validate.check_spec``: errors raise (exit 2) before anything is written; warnings come back as text."""
    from hpo_cli.checks.validate import check_spec

    problems: list[Problem] = check_spec(spec, only)
    errors = [p for p in problems if p.severity == "error"]
    if errors:
        raise InputError(errors)
    return [str(p) for p in problems]


def _task(spec: Spec, selected: list[int]) -> str:
    from hpo_cli.problem.estimators import resolve_estimator, task_of

    assert spec.data is not None
    tasks = {}
    for i in selected:
        try:
            tasks[i] = task_of(resolve_estimator(spec.models[i].class_, spec.allow_modules))
        except ValueError as exc:
            raise InputError(spec.problem(("models", i, "class"), str(exc))) from None
    if spec.data.task != "auto":
        return spec.data.task
    kinds = set(tasks.values())
    if len(kinds) > 1:
        first = next(i for i in selected if tasks[i] != tasks[selected[0]])
        raise InputError(spec.problem(("models", first, "class"), "the models mix classifiers and regressors on "
                                                                  "one target; set data.task or split the spec"))
    return kinds.pop()


class _Prepared:
    """A model ready to search: its spec, folds, evaluator and budget."""

    def __init__(self, index: int, model: ModelSpec, evaluator: Evaluator, budget: int, grid: list[dict] | None):
        self.index, self.model, self.evaluator, self.budget, self.grid = index, model, evaluator, budget, grid


def _prepare(spec: Spec, index: int, dataset: Dataset) -> _Prepared:
    model = spec.models[index]
    reason = samplers.unsupported_reason(model, model.method)
    if reason:
        raise InputError(spec.problem(("models", index, "method"), reason))
    folds = make_folds(spec, index, dataset)
    try:
        evaluator = Evaluator(model, dataset, folds, spec.allow_modules)
    except ValueError as exc:
        key = "metrics" if "scor" in str(exc) or "metric" in str(exc) else "class"
        key = "metric" if model.metric and model.metric in str(exc) else key
        raise InputError(spec.problem(("models", index, key), str(exc))) from None
    grid = space.grid_points(model) if model.method == "grid" else None
    budget = model.budget.trials or (len(grid) if grid is not None else DEFAULT_TRIALS)
    if grid is not None:
        budget = min(budget, len(grid))
    return _Prepared(index, model, evaluator, budget, grid)


# --- observers and signals ---------------------------------------------------------------------------------

class _Observers:
    """Fans events out; an observer that raises is reported once and never stops the search."""

    def __init__(self, observers: list[Any], warnings_out: list[str]) -> None:
        self.observers = [o for o in observers if o is not None]
        self.broken: set[int] = set()
        self.warnings_out = warnings_out

    def emit(self, event: str, *args: Any) -> None:
        for obs in self.observers:
            self.call(obs, event, *args)

    def call(self, obs: Any, event: str, *args: Any) -> None:
        method = getattr(obs, event, None)
        if method is None:
            return
        try:
            method(*args)
        except Exception as exc:
            if id(obs) not in self.broken:
                self.broken.add(id(obs))
                text = f"{type(obs).__name__}.{event} failed: {type(exc).__name__}: {exc}"
                log.warning(text)
                self.warnings_out.append(text)


class StopSignal:
    """First Ctrl-C/SIGTERM: finish the current fold, save, exit 130. Second: stop at once."""

    def __init__(self) -> None:
        self.requested = False
        self._old: dict[int, Any] = {}

    def _handle(self, signum: int, frame: Any) -> None:
        if self.requested:
            raise KeyboardInterrupt
        self.requested = True

    def __enter__(self) -> StopSignal:
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGINT, signal.SIGTERM):
                self._old[sig] = signal.signal(sig, self._handle)
        return self

    def __exit__(self, *exc: object) -> None:
        for sig, old in self._old.items():
            signal.signal(sig, old)

    def is_set(self) -> bool:
        return self.requested


# --- the search of one model ------------------------------------------------------------------------

def _open_study(storage: Any, name: str) -> Any:
    import optuna

    return optuna.create_study(storage=storage, study_name=name, direction="maximize", load_if_exists=True,
                               sampler=optuna.samplers.RandomSampler(seed=0))


def _record(model: str, number: int, params: dict[str, Any], outcome: Any, duration: float, start: datetime,
            attrs: dict[str, Any]) -> TrialRecord:
    return TrialRecord(
        model=model, number=number, state=outcome.state, params=params,
        mean_test_score=attrs["mean_test_score"], std_test_score=attrs["std_test_score"],
        split_scores=list(outcome.split_scores), metrics=attrs["metrics"],
        mean_fit_time=st._avg(outcome.fit_times), mean_score_time=st._avg(outcome.score_times),
        duration=duration, n_warnings=outcome.n_warnings, error=outcome.error,
        datetime_start=start.isoformat(timespec="seconds"),
        datetime_complete=datetime.now(UTC).isoformat(timespec="seconds"),
    )


def _best(records: list[TrialRecord]) -> TrialRecord | None:
    complete = [r for r in records if r.state == COMPLETE and r.mean_test_score is not None]
    return max(complete, key=lambda r: (r.mean_test_score, -r.number)) if complete else None


def _suggest(study: Any, trial: Any, spec: Spec, index: int, model: ModelSpec) -> dict[str, Any]:
    """``space.suggest``; Optuna refuses a parameter whose distribution differs from the stored trials'."""
    try:
        return space.suggest(trial, model)
    except ValueError as exc:  # only possible on --resume after the space was edited
        _abandon(study, trial)
        raise InputError(spec.problem(("models", index, "space"), f"the search space changed since the stored "
                                      f"trials ({exc}); run without --resume to start this model over")) from None


def _abandon(study: Any, trial: Any) -> None:
    """A trial cut short by an interruption: FAIL, flagged so it is neither counted nor shown."""
    from optuna.trial import TrialState

    trial.set_user_attr(st.ATTR_INTERRUPTED, True)
    trial.set_user_attr(st.ATTR_ERROR, "interrupted before it finished")
    study.tell(trial, state=TrialState.FAIL, skip_if_finished=True)


def search_model(spec: Spec, prep: _Prepared, storage: Any, options: TuneOptions, events: _Observers,
                 tracker: Any, stop: StopSignal) -> tuple[ModelResult, Any]:
    """Run (or continue) one model's study until its budget, timeout, target or max_failed; return the study."""
    from optuna.trial import TrialState

    model, evaluator = prep.model, prep.evaluator
    study_name = f"{spec.name}.{model.name}"
    study = _open_study(storage, study_name)
    if options.resume:
        st.fail_stale_trials(study)
    existing = [st.record_from_trial(model.name, t) for t in st.finished_trials(study)]
    sampler = samplers.make_sampler(model, model.method, samplers.resume_seed(model.seed, len(existing)),
                                    prep.budget)
    study.sampler = sampler
    study.pruner = samplers.make_pruner(model.pruner, len(evaluator.folds))
    study.set_user_attr(st.STUDY_MODEL, export.model_info(spec, model, evaluator))
    if tracker is not None:
        events.call(tracker, "bind_study", model.name, study)
    result = ModelResult(name=model.name, estimator=export.estimator_dotted(spec, model), preprocess=model.preprocess,
                         init_params=export.init_params_used(spec, model), study_name=study_name,
                         method=model.method, trials=list(existing))
    events.emit("model_started", model.name, study_name, prep.budget, len(existing))
    order: list[dict[str, Any]] = []
    seen: set[str] = set()
    if prep.grid is not None:
        import numpy as np

        order = [prep.grid[i] for i in np.random.RandomState(model.seed).permutation(len(prep.grid))]
        seen = {space.point_key(r.params) for r in existing}
    n_failed = sum(r.state == FAIL for r in existing)
    best = _best(existing)
    budget = model.budget
    started = time.perf_counter()
    pruning = model.pruner != "none"
    stop_reason = ""
    while True:
        if len(result.trials) >= prep.budget:
            stop_reason = "budget"
        elif budget.timeout is not None and time.perf_counter() - started >= budget.timeout:
            stop_reason = "timeout"
        elif budget.target is not None and best is not None and (best.mean_test_score or 0) >= budget.target:
            stop_reason = "target"
        elif budget.max_failed is not None and n_failed >= budget.max_failed:
            stop_reason = "max_failed"
        elif stop.is_set():
            stop_reason = "interrupted"
        if stop_reason:
            break
        if prep.grid is not None:
            point = next((p for p in order if space.point_key(p) not in seen), None)
            if point is None:
                stop_reason = "grid exhausted"
                break
            seen.add(space.point_key(point))
            sampler.point = space.encode_params(model, point)
        trial = study.ask()
        t_start, when = time.perf_counter(), datetime.now(UTC)
        try:
            params = _suggest(study, trial, spec, prep.index, model)

            def report(step: int, value: float, trial: Any = trial) -> bool:
                trial.report(value, step)
                return trial.should_prune()

            outcome = evaluator.evaluate(params, report if pruning else None, stop.is_set)
        except KeyboardInterrupt:
            _abandon(study, trial)
            stop_reason = "interrupted"
            break
        duration = time.perf_counter() - t_start
        if outcome.state == INTERRUPTED:
            _abandon(study, trial)
            stop_reason = "interrupted"
            break
        attrs = st.outcome_attrs(params, outcome, duration)
        trial.set_user_attr(st.ATTR, attrs)
        if outcome.error:
            trial.set_user_attr(st.ATTR_ERROR, outcome.error)
        if outcome.state == COMPLETE:
            study.tell(trial, outcome.mean)
        else:
            study.tell(trial, state=TrialState.PRUNED if outcome.state == PRUNED else TrialState.FAIL)
        record = _record(model.name, trial.number, params, outcome, duration, when, attrs)
        result.trials.append(record)
        n_failed += record.state == FAIL
        if record.state == COMPLETE and (best is None or (record.mean_test_score or 0) > (best.mean_test_score or 0)):
            best = record
        events.emit("trial_finished", record)
    result.trials.sort(key=lambda r: r.number)
    result.best = best
    result.wall_time = time.perf_counter() - started
    result.stop_reason = stop_reason
    return result, study


def _refit(prep: _Prepared, result: ModelResult, study: Any, dataset: Dataset, tracker: Any, events: _Observers,
           warnings_out: list[str]) -> None:
    """Refit the best parameters on every training row; score once on the held-out rows (if any).

    The refitted model goes to the tracker (``log_best_model``), evaluated on the test rows when there
    are some, else on the training rows.
    """
    if result.best is None or (dataset.X_test is None and tracker is None):
        return
    try:
        estimator, test_score, test_metrics = prep.evaluator.refit_and_test(result.best.params)
    except Exception as exc:
        warnings_out.append(f"{result.name}: refitting the best parameters failed: {type(exc).__name__}: {exc}")
        return
    result.test_score, result.test_metrics = test_score, test_metrics
    if tracker is not None:
        on_test = dataset.X_test is not None
        X_eval, y_eval = (dataset.X_test, dataset.y_test) if on_test else (dataset.X, dataset.y)
        X_eval = dataset.frame(X_eval)
        events.call(tracker, "log_best_model", result.name, estimator, X_eval, y_eval, dataset.task, on_test)
    if test_score is not None:
        study.set_user_attr(st.STUDY_TEST, {"score": test_score, "metrics": test_metrics})


def _earlier_result(spec: Spec, model: ModelSpec, storage: Any) -> ModelResult | None:
    """A model of the spec not searched in this run (``--model`` filter) but present in the storage."""
    import optuna

    name = f"{spec.name}.{model.name}"
    if name not in st.study_names(storage):
        return None
    study = optuna.load_study(study_name=name, storage=storage)
    trials = [st.record_from_trial(model.name, t) for t in st.finished_trials(study)]
    test = study.user_attrs.get(st.STUDY_TEST) or {}
    return ModelResult(name=model.name, estimator=export.estimator_dotted(spec, model), preprocess=model.preprocess,
                       init_params=export.init_params_used(spec, model), study_name=name, method=model.method,
                       trials=trials,
                       best=_best(trials), test_score=test.get("score"), test_metrics=test.get("metrics") or {},
                       stop_reason="earlier run")


# --- the run --------------------------------------------------------------------------------------------

def run_tune(options: TuneOptions, observers: list[RunObserver] | None = None) -> RunResult:
    """Run every selected model's search and write the run folder; see the module docstring."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    started_at = datetime.now(UTC)
    spec = apply_overrides(load_spec(options.spec, options.data), options)
    warnings_out = _check_spec(spec, options.models)
    selected = [i for i, m in enumerate(spec.models) if not options.models or m.name in options.models]
    task = _task(spec, selected)
    dataset = load_dataset(spec, task)  # the check above loaded it: this is the same object
    prepared = [_prepare(spec, i, dataset) for i in selected]
    metric = metric_label(spec.models[selected[0]].metric, task)
    run_dir = spec.output_dir
    tracker = None
    if spec.tracking.mlflow.enabled and options.mlflow:
        from hpo_cli.tracking.tracker import open_tracker

        tracker = open_tracker(spec, options, run_dir)  # an unusable store is bad input: exit 2, nothing written
    # Nothing was written up to here: bad input exits 2 with the run folder untouched.
    try:
        storage = st.open_storage(run_dir, options.storage or spec.storage)
        if not options.resume:  # a fresh run: no selected model may show (or resume) an older run's trials
            for i in selected:
                st.delete_study_if_exists(storage, f"{spec.name}.{spec.models[i].name}")
    except BaseException:
        if tracker is not None:
            tracker.close()
        raise
    if tracker is not None and hasattr(tracker, "set_data_sha256"):
        tracker.set_data_sha256(dataset.sha256)
    info = export.RunInfo(spec, options, dataset, st.storage_url(run_dir, options.storage or spec.storage),
                          started_at, split_seed(spec))
    events = _Observers([*(observers or []), tracker], warnings_out)
    result = RunResult(run_dir=run_dir, spec_name=spec.name, metric=metric, direction="maximize",
                       warnings=warnings_out)
    done: dict[str, ModelResult] = {}
    param_order = list(dict.fromkeys(p for m in spec.models for p in m.space))
    with_test = dataset.X_test is not None

    def write(status: str) -> None:
        ordered = []
        for m in spec.models:
            res = done.get(m.name) or (None if m.name in done else _earlier_result(spec, m, storage))
            if res is not None:
                ordered.append(res)
        info.finish(status, ordered, tracker)
        export.write_run_folder(run_dir, ordered, metric, spec.name, info.as_dict(), with_test=with_test,
                                param_order=param_order)
        result.models = [r for r in ordered if r.name in {spec.models[i].name for i in selected}]
        result.best_model = export.best_model_name(ordered)

    try:
        with StopSignal() as stop:
            for prep in prepared:
                model_result, study = search_model(spec, prep, storage, options, events, tracker, stop)
                if model_result.stop_reason != "interrupted":
                    _refit(prep, model_result, study, dataset, tracker, events, warnings_out)
                done[model_result.name] = model_result
                if model_result.n_complete == 0 and model_result.trials and model_result.stop_reason != "interrupted":
                    result.failed_models.append(model_result.name)
                    warnings_out.append(export.failure_summary(model_result))
                events.emit("model_finished", model_result)
                if stop.is_set():
                    break
                if prep is not prepared[-1]:  # the final write below covers the last model
                    write("running")
            interrupted = stop.is_set()
        result.exit_code = 1 if result.failed_models else 0
        write("interrupted" if interrupted else ("failed" if result.failed_models else "finished"))
        events.emit("run_finished", result)
    finally:
        if tracker is not None and hasattr(tracker, "close"):
            try:
                tracker.close()
            except Exception as exc:  # closing must not hide the run's own outcome
                log.warning("closing the tracker failed: %s: %s", type(exc).__name__, exc)
    if interrupted:
        raise Interrupted(str(run_dir))
    return result

"""``hpo tune``: from a spec to a run folder, one Optuna study per model; the one place that knows every stage.

The order of one run: the spec with the command line's overrides, every check (``tune.prepare``), each model
prepared (``search.plan``), the tracker opened (an unusable store is bad input) — nothing is written up to
here — then the storage, and per model the trial loop (``search.loop``), the refit, and the run folder
rewritten (``rundir.writers``, with ``results.md`` from ``report``) so that an interruption loses nothing.
The run folder writers never import the report: this module hands them the Markdown.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from hpo_cli.core.errors import Interrupted, resume_command
from hpo_cli.core.options import TuneOptions
from hpo_cli.core.results import ModelResult, RunObserver, RunResult
from hpo_cli.core.trace import clock, trace
from hpo_cli.problem.data import load_dataset, split_seed
from hpo_cli.problem.threads import threads_per_worker
from hpo_cli.report.markdown import results_markdown
from hpo_cli.rundir import writers
from hpo_cli.rundir.lock import RunFolderLock
from hpo_cli.rundir.provenance import RunInfo
from hpo_cli.search.confirm import await_confirmation, confirm_top
from hpo_cli.search.evaluate import metric_label
from hpo_cli.search.loop import earlier_result, refit_best, search_model, study_name
from hpo_cli.search.observers import Observers
from hpo_cli.search.plan import model_identity, prepare_model
from hpo_cli.search.stopping import StopSignal
from hpo_cli.spec.load import load_spec
from hpo_cli.spec.models import Spec
from hpo_cli.storage.backend import delete_study_if_exists, open_storage, storage_url
from hpo_cli.tune.early import writer_for
from hpo_cli.tune.ownership import check_existing_studies, join_wait, wait_for_join
from hpo_cli.tune.parallel import Coordinator
from hpo_cli.tune.prepare import apply_overrides, check, check_output_dir, check_workers, task_of_models
from hpo_cli.tune.template import WorkerTemplate, queue_mode


def failure_summary(result: ModelResult) -> str:
    """``forest: all 12 trials failed; 8x ValueError: ...``: the errors users must fix, most common first."""
    counts: dict[str, int] = {}
    for t in result.trials:
        if t.error:
            counts[t.error] = counts.get(t.error, 0) + 1
    top = sorted(counts.items(), key=lambda kv: -kv[1])[:3]
    shown = "; ".join(f"{n}x {err}" for err, n in top)
    return f"{result.name}: all {len(result.trials)} trials failed: {shown}"


def _open_tracker(spec: Spec, options: TuneOptions, run_dir: Path, writer: Any) -> RunObserver | None:
    """The MLflow observer when tracking is on; mlflow itself is imported only by its writer process."""
    if not (spec.tracking.mlflow.enabled and options.mlflow):
        if writer is not None:
            writer.abort()
        return None
    from hpo_cli.tracking.tracker import open_tracker

    return open_tracker(spec, options, run_dir, writer)  # an unusable store is bad input: exit 2, nothing written


def run_tune(options: TuneOptions, observers: list[RunObserver] | None = None, writer: Any = None,
             template: WorkerTemplate | None = None) -> RunResult:
    """Run every selected model's search and write the run folder; see the module docstring.

    ``writer``: the tracking writer process (``tracking.channel.start_writer``), which the CLI starts
    before it imports this module, so that MLflow's imports overlap ours (``tune.early``); started here
    when not given and tracking is on. It touches no store until ``_open_tracker`` gives it one, and is
    ended here when the run stops before (bad input) or, as soon as the spec is read, when tracking is off
    in it (its imports would take a core from the workers' template and the checks).

    ``template``: the workers' template process, which the CLI starts beside the writer when the command
    line asks for workers (``tune.early``); started here when only the spec does. Ended here.
    """
    started_at = datetime.now(UTC)
    try:
        since = clock()
        spec = apply_overrides(load_spec(options.spec, options.data), options)
        trace("search", "load spec", since)
        writer = writer_for(spec, options, writer)
        check_workers(spec, options)
        threads = threads_per_worker(options.workers, options.threads)
        if template is None and queue_mode(options, spec):
            since = clock()
            # The workers' template imports and loads the data meanwhile, on the other core (tune.worker_main).
            template = WorkerTemplate(options, threads)
            trace("search", "start template", since)
        import optuna

        optuna.logging.set_verbosity(optuna.logging.WARNING)
        return _run(spec, options, observers, started_at, threads, template, writer)
    except BaseException:
        if writer is not None and not writer.opened:
            writer.abort()  # never given a store, it wrote nothing: bad input leaves no trace
        raise
    finally:
        if template is not None:
            template.close()  # the coordinator closed it already, unless the run ended before the search


def _run(spec: Spec, options: TuneOptions, observers: list[RunObserver] | None, started_at: datetime,
         threads: int, template: WorkerTemplate | None, writer: Any) -> RunResult:
    since = clock()
    warnings_out = check(spec, options.models)
    selected = [i for i, m in enumerate(spec.models) if not options.models or m.name in options.models]
    task = task_of_models(spec, selected)
    dataset = load_dataset(spec, task)  # the check above loaded it: this is the same object
    prepared = [prepare_model(spec, i, dataset, threads) for i in selected]
    metric = metric_label(spec.models[selected[0]].metric, task)
    run_dir = spec.output_dir
    check_output_dir(spec, options, run_dir)
    trace("search", "check and prepare", since)
    tracker = _open_tracker(spec, options, run_dir, writer)
    # Nothing was written up to here: bad input exits 2 with the run folder untouched.
    events = Observers([*(observers or []), tracker], warnings_out)
    names = {spec.models[i].name: study_name(spec, spec.models[i]) for i in selected}
    identities = {prep.model.name: model_identity(spec, prep.model, dataset) for prep in prepared}
    lock = RunFolderLock(run_dir)
    since = clock()
    try:
        storage = open_storage(run_dir, options.storage or spec.storage)  # before the lock: a bad URL creates no folder
        lock.acquire()
        if options.join:  # never deletes or resets: the first process owns the studies
            wait_for_join(spec, names, identities, storage, options.storage or spec.storage or "")
        else:
            check_existing_studies(spec, names, identities, storage, options, run_dir)
        if not options.resume and not options.join:  # a fresh run: start the selected models over
            for name in names.values():
                delete_study_if_exists(storage, name)
    except BaseException:
        lock.release()
        events.close()
        raise
    trace("search", "open storage", since)
    events.emit("run_started", dataset.sha256)
    info = RunInfo(spec, options, dataset, storage_url(run_dir, options.storage or spec.storage), started_at,
                   split_seed(spec))
    result = RunResult(run_dir=run_dir, spec_name=spec.name, metric=metric, direction="maximize",
                       warnings=warnings_out)
    done: dict[str, ModelResult] = {}
    searching: list[str] = []  # the model whose search runs now, for a forced stop's write
    command = resume_command(str(options.spec), str(run_dir), options.storage)
    param_order = list(dict.fromkeys(p for m in spec.models for p in m.space))
    selected_names = {spec.models[i].name for i in selected}

    def write(status: str) -> None:
        ordered = []
        for m in spec.models:
            res = done.get(m.name) or (None if m.name in done else earlier_result(spec, m, storage))
            if res is not None:
                if m.name in searching and m.name not in done:  # stopped by force in the middle of its search
                    res.stop_reason = "interrupted"
                ordered.append(res)
        info.finish(status, ordered, getattr(tracker, "run_ids", None))
        writers.write_run_folder(run_dir, ordered, metric, info.as_dict(),
                                 lambda: results_markdown(run_dir, ordered, metric, spec.name),
                                 with_test=dataset.X_test is not None, param_order=param_order)
        result.models = [r for r in ordered if r.name in selected_names]
        result.best_model = writers.best_model_name(ordered)

    def forced_stop() -> str:
        """The watchdog's last act before the process ends: the run folder, and how to continue."""
        write("interrupted")
        return f"the run folder {run_dir} is written; continue with: {command}"

    writers.write_run_json(run_dir, info.info)  # at once: a killed run's folder says what it was
    try:
        coordinator: Coordinator | None = None
        with StopSignal(on_force=forced_stop) as stop, contextlib.ExitStack() as workers:
            searches: Iterable[tuple[ModelResult, Any]]
            if template is not None:
                coordinator = workers.enter_context(Coordinator(spec, options, prepared, storage, events, identities,
                                                                threads, stop, warnings_out, template))
                since = clock()
                coordinator.prepare()
                trace("search", "prepare studies", since)
                coordinator.start()
                searches = coordinator.results()
            else:
                def one_by_one() -> Iterable[tuple[ModelResult, Any]]:
                    for prep in prepared:
                        searching[:] = [prep.model.name]
                        yield search_model(spec, prep, storage, resume=options.resume, events=events, stop=stop,
                                           identity=identities[prep.model.name])

                searches = one_by_one()
            for prep, (model_result, study) in zip(prepared, searches, strict=False):
                since = clock()
                if model_result.stop_reason != "interrupted" and not options.join:  # the first process ends a model
                    confirm_top(prep, model_result, study, warnings_out)  # before the refit: it may change the best
                    refit_best(prep, model_result, study, dataset, events, warnings_out)
                elif model_result.stop_reason != "interrupted":  # a joiner shows the first process's winner
                    await_confirmation(prep, model_result, study, warnings_out, join_wait())
                done[model_result.name] = model_result
                if model_result.n_complete == 0 and model_result.trials and model_result.stop_reason != "interrupted":
                    result.failed_models.append(model_result.name)
                    warnings_out.append(failure_summary(model_result))
                trace("search", f"end of {model_result.name}", since)
                events.emit("model_finished", model_result)
                if stop.is_set():
                    break
                if prep is not prepared[-1]:  # the final write below covers the last model
                    write("running")
            interrupted = stop.is_set()
            since = clock()
        trace("search", "stop workers", since)
        since = clock()
        result.exit_code = 1 if result.failed_models or (coordinator and coordinator.failure) else 0
        write("interrupted" if interrupted else ("failed" if result.failed_models else "finished"))
        trace("search", "write run folder", since)
        events.emit("run_finished", result)
    except KeyboardInterrupt:  # Ctrl-C after the search: stop at once; --resume logs what tracking missed
        events.close(abort=True)
        raise
    finally:
        events.close()
        lock.release()
    if interrupted:
        raise Interrupted(str(run_dir), command)
    return result

"""MLflow tracking of a search: one parent run per model, one child run per trial, exactly once.

How the search uses it (only when ``tracking_enabled(spec, options)``; this module imports mlflow
inside functions, so importing it is cheap, but do not import it at all with ``--no-mlflow``)::

    from hpo_cli.tracking import open_tracker
    tracker = open_tracker(spec, options, run_dir)   # InputError (exit 2) if the store is unusable;
                                                     # call it before writing anything
    observers.append(tracker)                        # a results.RunObserver
    try:
        for each model:
            model_started(...)                       # via the observers
            tracker.bind_study(model_name, study)    # once the study exists, BEFORE its trials run
            ... trial_finished(record) per trial (also for trials re-sent on --resume: skipped if logged)
            tracker.log_best_model(model_name, fitted_pipeline, X_eval, y_eval, task, on_test)  # optional
            model_finished(result)                   # result.trials = every trial of the study
        run_finished(run_result)                     # after export wrote the run folder files
    finally:
        tracker.close()                              # flushes the writer; also on Ctrl-C
    if tracker.failed: exit code 1, message tracker.failure   (run_finished already sets
                                                     result.exit_code=1 and adds a warning)

Guarantees and choices:

- The run tree is owned through ``MlflowClient`` and explicit run ids (no fluent active run). The
  parent's id is stored in the study's user attribute ``mlflow_parent_run_id``, so ``--resume`` and
  extra workers reuse it (bind in the main process before starting workers: attribute writes are
  last-writer-wins).
- Exactly once: at bind, the parent's children are listed once (tag ``hpo.trial``) and cached; a trial
  with a child is never logged again. A child is created with its ``hpo.trial`` tag, then filled and
  terminated; one left RUNNING by a crash is completed (not duplicated) when the trial comes again.
  ``model_finished`` logs trials that finished before this process bound the study and still lack a
  child (what a lost server left out), so ``--resume`` completes the tree even for a model whose
  budget was already spent, provided the search binds and finishes every model on resume.
- Writes run on one writer thread draining a FIFO queue, off the search's critical path; ``close()``
  and ``run_finished`` wait for it. A trial state maps to a run status: COMPLETE -> FINISHED,
  FAIL -> FAILED (tag ``hpo.error``), PRUNED -> KILLED (tags ``hpo.state=PRUNED``, ``hpo.pruned``).
- A server lost mid-run: the first failed write warns once on stderr, every later write is dropped
  (no retry storms), the search goes on; ``failed`` becomes True and the run must exit 1.
- ``tracking.mlflow.max_child_runs``: see ``mlflow_logging.ChildCap``.
"""

from __future__ import annotations

import contextlib
import logging
import queue
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hpo_cli import mlflow_logging as ml
from hpo_cli.options import TuneOptions
from hpo_cli.results import COMPLETE, FAIL, ModelResult, RunResult, TrialRecord
from hpo_cli.spec import Spec
from hpo_cli.tracking_setup import resolve_tracking_uri, tracking_enabled

__all__ = ["Tracker", "open_tracker", "resolve_tracking_uri", "tracking_enabled"]

PARENT_ATTR = "mlflow_parent_run_id"
CLOSE_TIMEOUT = 300.0  # seconds close() waits for queued writes (a model upload can be slow)
_log = logging.getLogger("hpo.tracking")


def open_tracker(spec: Spec, options: TuneOptions, run_dir: Path) -> Tracker:
    """Check the tracking store is usable and return the tracker; InputError (exit 2) before anything runs."""
    from hpo_cli.tracking_setup import connect

    client, uri, experiment_id = connect(spec, options)
    return Tracker(client, uri, experiment_id, spec, options, run_dir)


@dataclass
class _Model:
    """What the tracker knows about one model's parent run and its children."""

    name: str
    study_name: str
    parent_id: str = ""
    cap: ml.ChildCap = field(default_factory=lambda: ml.ChildCap(None))
    logged: set[int] = field(default_factory=set)  # trials with a (finished or queued) child run
    skipped: set[int] = field(default_factory=set)  # left out by max_child_runs
    incomplete: dict[int, tuple[str, set[str], bool]] = field(default_factory=dict)  # run id, params, has metrics
    preexisting: set[int] = field(default_factory=set)  # finished in the study before we bound it
    finished: bool = False


class Tracker:
    """The MLflow ``RunObserver``; see the module docstring for the protocol the search follows."""

    def __init__(self, client: Any, uri: str, experiment_id: str, spec: Spec, options: TuneOptions,
                 run_dir: Path) -> None:
        self.client = client
        self.tracking_uri = uri
        self.experiment_id = experiment_id
        self.spec = spec
        self.options = options
        self.run_dir = Path(run_dir)
        self.failed = False
        self.failure: str | None = None
        self.warnings: list[str] = []
        self.data_sha256: str | None = None
        self._models: dict[str, _Model] = {}
        self._lock = threading.RLock()
        self._queue: queue.Queue[tuple[Callable[[], None], bool | None] | None] = queue.Queue()
        self._thread = threading.Thread(target=self._drain, name="hpo-mlflow-writer", daemon=True)
        self._thread.start()
        self._run_done = False
        self._closed = False

    # --- the writer thread ---------------------------------------------------------------------------

    def _submit(self, job: Callable[[], None], critical: bool = True) -> None:
        if not self.failed and not self._closed:
            self._queue.put((job, critical))

    def _drain(self) -> None:
        while True:
            item = self._queue.get()
            try:
                if item is None:
                    return
                job, critical = item
                if self.failed and critical is not None:
                    continue  # the server is gone: drop, a later --resume logs what is missing
                try:
                    job()
                except Exception as exc:  # never into the search
                    if critical:
                        self._lose(exc)
                    else:
                        self._warn(f"MLflow: {exc}".splitlines()[0][:300])
            finally:
                self._queue.task_done()

    def flush(self, timeout: float = CLOSE_TIMEOUT) -> bool:
        """Wait until every queued write is done; False when it did not finish in time."""
        done = threading.Event()
        self._queue.put((done.set, None))  # None: runs even after a loss
        return done.wait(timeout)

    def _lose(self, exc: BaseException) -> None:
        from hpo_cli.tracking_setup import describe_error

        first = describe_error(exc)
        if self.failed:
            return
        self.failed = True
        self.failure = (f"MLflow tracking at {self.tracking_uri} was lost ({first}); the search went on and "
                        f"every trial is in trials.csv; rerun with --resume once it is back to log what is missing")
        print(f"warning: {self.failure}", file=sys.stderr, flush=True)

    def _warn(self, message: str) -> None:
        self.warnings.append(message)
        _log.warning(message)

    # --- parents -------------------------------------------------------------------------------------

    def _model_spec(self, name: str) -> Any:
        return next((m for m in self.spec.models if m.name == name), None)

    def _state(self, model: str, study_name: str | None = None) -> _Model:
        with self._lock:
            st = self._models.get(model)
            if st is None:
                st = _Model(model, study_name or f"{self.spec.name}.{model}",
                            cap=ml.ChildCap(self.spec.tracking.mlflow.max_child_runs))
                self._models[model] = st
            return st

    def model_started(self, model: str, study_name: str, budget: int | None, n_existing: int) -> None:
        self._state(model, study_name).study_name = study_name

    def bind_study(self, model: str, study: Any) -> None:
        """Find or create the model's parent run (id kept in the study) and learn which trials are logged.

        Synchronous on purpose: the trials of this study must not start before their parent is known.
        It still runs on the writer thread (after what is queued), so one thread alone talks to the
        store: two writers on a SQLite store could meet "database is locked".
        """
        st = self._state(model, getattr(study, "study_name", None))
        self._run_sync(lambda: self._bind(st, study))

    def _run_sync(self, fn: Callable[[], None]) -> None:
        if self.failed or self._closed:
            return
        done = threading.Event()

        def job() -> None:
            try:
                if not self.failed:
                    fn()
            except Exception as exc:
                self._lose(exc)
            finally:
                done.set()

        self._queue.put((job, None))
        if not done.wait(CLOSE_TIMEOUT):
            self._lose(TimeoutError(f"the tracking store did not answer within {CLOSE_TIMEOUT:.0f}s"))

    def _bind(self, st: _Model, study: Any) -> None:
        st.study_name = getattr(study, "study_name", st.study_name)
        parent_id = study.user_attrs.get(PARENT_ATTR) if study is not None else None
        if parent_id and not self._usable_parent(parent_id):
            parent_id = None
        if parent_id:
            self.client.update_run(parent_id, status="RUNNING")
        else:
            parent_id = self._create_parent(st)
            if study is not None:
                study.set_user_attr(PARENT_ATTR, parent_id)
                winner = study.user_attrs.get(PARENT_ATTR)
                if winner and winner != parent_id and self._usable_parent(winner):
                    self.client.delete_run(parent_id)  # another worker bound first: use its parent
                    parent_id = winner
        st.parent_id = parent_id
        self._scan_children(st)
        if study is not None:
            self._seed_from_study(st, study)

    def _usable_parent(self, run_id: str) -> bool:
        try:
            run = self.client.get_run(run_id)
        except Exception as exc:
            if "RESOURCE_DOES_NOT_EXIST" in str(exc) or "not found" in str(exc).lower():
                return False
            raise
        return run.info.lifecycle_stage == "active" and run.info.experiment_id == self.experiment_id

    def _create_parent(self, st: _Model) -> str:
        model = self._model_spec(st.name)
        tags = ml.parent_tags(model, self.spec, st.study_name, self.run_dir) if model is not None else {}
        if self.data_sha256:
            tags["hpo.data_sha256"] = self.data_sha256
        run = self.client.create_run(self.experiment_id, run_name=st.name, tags=tags)
        params = {str(k): ml.param_value(v) for k, v in (model.init_params if model is not None else {}).items()}
        if params:
            ml.batches(self.client, run.info.run_id, params=params)
        return str(run.info.run_id)

    def _children(self, parent_id: str) -> list[Any]:
        out: list[Any] = []
        token = None
        while True:
            page = self.client.search_runs([self.experiment_id], f"tags.mlflow.parentRunId = '{parent_id}'",
                                           max_results=1000, page_token=token)
            out.extend(page)
            token = page.token
            if not token:
                return out

    def _scan_children(self, st: _Model) -> None:
        """One listing of the parent's children: which trials are logged, which were left half-written."""
        found = self._children(st.parent_id)
        with self._lock:
            for run in found:
                try:
                    number = int(run.data.tags.get("hpo.trial", ""))
                except ValueError:
                    continue
                if run.info.status == "RUNNING":
                    st.incomplete[number] = (run.info.run_id, set(run.data.params), bool(run.data.metrics))
                elif number not in st.logged:
                    st.logged.add(number)
                    if run.data.tags.get("hpo.state") != FAIL:
                        st.cap.n_logged += 1
                    st.cap.observe(number, run.data.metrics.get("mean_test_score"))

    def _seed_from_study(self, st: _Model, study: Any) -> None:
        """Remember the trials finished before this process (backfilled at model_finished if missing)."""
        try:
            import optuna

            sign = 1.0
            with contextlib.suppress(Exception):
                sign = -1.0 if study.direction == optuna.study.StudyDirection.MINIMIZE else 1.0
            for trial in study.get_trials(deepcopy=False):
                if trial.state.is_finished():
                    st.preexisting.add(trial.number)
                    if trial.state == optuna.trial.TrialState.COMPLETE and trial.value is not None \
                            and len(trial.values or []) == 1:
                        st.cap.observe(trial.number, sign * trial.value)
        except Exception as exc:  # a foreign study object: no backfill, no harm
            self._warn(f"MLflow: could not read the study's past trials: {exc}")

    # --- children ------------------------------------------------------------------------------------

    def trial_finished(self, record: TrialRecord) -> None:
        """Queue the trial's child run unless it already has one (or the cap leaves it out)."""
        if record.state not in ml.RUN_STATUS or self.failed:
            return
        st = self._state(record.model)
        if not st.parent_id:
            self._bind_late(st)  # outside the lock: the writer thread takes it while binding
            if not st.parent_id:
                return
        with self._lock:
            if record.number in st.logged or record.number in st.skipped:
                if record.state == COMPLETE:
                    st.cap.observe(record.number, record.mean_test_score)
                return
            if not st.cap.admit(record):
                st.skipped.add(record.number)
                return
            st.logged.add(record.number)
            partial = st.incomplete.pop(record.number, None)
        self._submit(lambda: self._write_child(st, record, partial))

    def _bind_late(self, st: _Model) -> None:
        """The search did not call bind_study: an unshared parent, so at least nothing is lost."""
        self._run_sync(lambda: self._bind(st, None))

    def _write_child(self, st: _Model, record: TrialRecord, partial: tuple[str, set[str], bool] | None) -> None:
        model = self._model_spec(record.model)
        params = ml.trial_params(record, model.init_params if model is not None else {})
        metrics = ml.trial_metrics(record)
        tags = ml.trial_tags(record, st.parent_id, st.study_name)
        end = ml.to_millis(record.datetime_complete)
        if partial is None:
            run = self.client.create_run(self.experiment_id, start_time=ml.to_millis(record.datetime_start, end),
                                         tags=tags, run_name=f"{record.model} #{record.number}")
            run_id = run.info.run_id
            ml.batches(self.client, run_id, metrics=metrics, params=params, timestamp=end)
        else:  # completing a child a crash left RUNNING: only what it lacks
            run_id, has_params, has_metrics = partial
            ml.batches(self.client, run_id, metrics=None if has_metrics else metrics,
                    params={k: v for k, v in params.items() if k not in has_params}, tags=tags, timestamp=end)
        self.client.set_terminated(run_id, ml.RUN_STATUS[record.state], end_time=end)

    # --- model and run ends --------------------------------------------------------------------------

    def model_finished(self, result: ModelResult) -> None:
        """Log the missing past trials, the model's best and test scores, and close its parent run."""
        st = self._state(result.name, result.study_name)
        if self.failed or not st.parent_id:
            return
        status = "KILLED" if "interrupt" in (result.stop_reason or "").lower() else (
            "FINISHED" if result.n_complete else "FAILED")
        st.finished = True  # before close() may queue a KILLED for it
        self._submit(lambda: self._finish_model(st, result, status))

    def _finish_model(self, st: _Model, result: ModelResult, status: str) -> None:
        missing = [t for t in result.trials if t.number in st.preexisting and t.number not in st.logged]
        if missing:
            self._scan_children(st)  # fresh: another worker may have logged some meanwhile
            for record in missing:
                with self._lock:
                    if record.number in st.logged or record.state not in ml.RUN_STATUS:
                        continue
                    if record.number in st.skipped or not st.cap.admit(record):
                        st.skipped.add(record.number)
                        continue
                    st.logged.add(record.number)
                    partial = st.incomplete.pop(record.number, None)
                self._write_child(st, record, partial)
        metrics, tags = ml.parent_summary(result)
        ml.batches(self.client, st.parent_id, metrics=metrics, tags=tags)
        self.client.set_terminated(st.parent_id, status)

    def log_best_model(self, model: str, estimator: Any, X: Any, y: Any, task: str, on_test: bool) -> None:
        """Queue the refitted best model (right flavour, signature, input example) and its diagnostics.

        ``X, y``: the held-out test set when the spec has ``test_size`` (``on_test=True``), else the
        training data; ``task`` is ``classification`` or ``regression``. Do not mutate the estimator after.
        """
        st = self._state(model)
        if self.failed or not st.parent_id:
            return

        def job() -> None:
            from hpo_cli.tracking_model import log_diagnostics, log_model

            if self.spec.tracking.mlflow.log_models != "none":
                uri = log_model(st.parent_id, estimator, X)
                self.client.set_tag(st.parent_id, "hpo.model_uri", uri)
            log_diagnostics(self.client, st.parent_id, estimator, X, y, task, on_test)

        self._submit(job, critical=False)

    def log_artifacts(self, model: str, paths: list[Path], artifact_path: str | None = None) -> None:
        """Queue files for the model's parent run (missing ones are skipped)."""
        st = self._state(model)
        if self.failed or not st.parent_id:
            return

        def job() -> None:
            for path in paths:
                if Path(path).is_file():
                    self.client.log_artifact(st.parent_id, str(path), artifact_path)

        self._submit(job)

    def set_data_sha256(self, sha256: str) -> None:
        """Tag every parent (and future ones) with the data's sha256."""
        self.data_sha256 = sha256
        with self._lock:
            parents = [st.parent_id for st in self._models.values() if st.parent_id]
        for parent in parents:
            self._submit(lambda p=parent: self.client.set_tag(p, "hpo.data_sha256", sha256))

    def run_finished(self, result: RunResult) -> None:
        """Log the run folder's files and plots on every parent, wait for all writes, report a loss."""
        self._run_done = True
        if not self.failed:
            self.data_sha256 = self.data_sha256 or ml.data_sha256_from_run_json(self.run_dir)
            plots = sorted(p for p in self.run_dir.rglob("*.png") if p.is_file())
            for name, st in list(self._models.items()):
                if not st.parent_id:
                    continue
                tags = {"hpo.best_model": result.best_model or "", "hpo.is_best": str(name == result.best_model)}
                if self.data_sha256:
                    tags["hpo.data_sha256"] = self.data_sha256
                self._submit(lambda p=st.parent_id, t=tags: ml.batches(self.client, p, tags=t))
                self.log_artifacts(name, ml.run_folder_files(self.spec.path, self.run_dir))
                self.log_artifacts(name, plots, "plots")
        if not self.flush():
            self._lose(TimeoutError(f"writes not done after {CLOSE_TIMEOUT:.0f}s"))
        if self.failed and self.failure:
            result.exit_code = result.exit_code or 1
            if self.failure not in result.warnings:
                result.warnings.append(self.failure)

    @property
    def run_ids(self) -> dict[str, str]:
        """Parent run id per model, for run.json."""
        return {name: st.parent_id for name, st in self._models.items() if st.parent_id}

    def close(self) -> None:
        """Flush every queued write (also after Ctrl-C); parents of an unfinished run end KILLED (resumable)."""
        if self._closed:
            return
        if not self._run_done and not self.failed:
            for st in list(self._models.values()):
                if st.parent_id and not st.finished:
                    self._submit(lambda p=st.parent_id: self.client.set_terminated(p, "KILLED"))
        if not self.flush():
            self._lose(TimeoutError(f"writes not done after {CLOSE_TIMEOUT:.0f}s"))
        self._closed = True
        self._queue.put(None)
        self._thread.join(timeout=5)

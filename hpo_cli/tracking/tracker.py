"""MLflow tracking of a search: one parent run per model, one child run per trial, exactly once.

How the search uses it (only when ``tracking_enabled(spec, options)``; mlflow is imported only in
the writer process this starts, but do not import this module at all with ``--no-mlflow``)::

    from hpo_cli.tracking.tracker import open_tracker
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

Also: ``set_data_sha256(sha)`` (tags every parent), ``log_artifacts(model, paths, artifact_path)``,
``flush()``, ``run_ids`` (model -> parent run id, for run.json), ``warnings`` (non-fatal problems,
e.g. a best model that could not be logged).

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
- Writes run in one writer process (``tracking_worker``) draining a FIFO queue, off the search's
  critical path and its GIL; ``close()`` and ``run_finished`` wait for it. A trial state maps to a
  run status: COMPLETE -> FINISHED, FAIL -> FAILED (tag ``hpo.error``), PRUNED -> KILLED (tags
  ``hpo.state=PRUNED``, ``hpo.pruned``).
- A server lost mid-run: the first failed write warns once on stderr, every later write is dropped
  (no retry storms), the search goes on; ``failed`` becomes True and the run must exit 1.
- ``tracking.mlflow.max_child_runs``: see ``mlflow_logging.ChildCap``.
"""

from __future__ import annotations

import contextlib
import logging
import pickle
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hpo_cli.core.options import TuneOptions
from hpo_cli.core.results import COMPLETE, FAIL, FittedBest, ModelResult, RunObserver, RunResult, TrialRecord
from hpo_cli.spec.models import Spec
from hpo_cli.storage.attrs import STUDY_MLFLOW_PARENT
from hpo_cli.tracking import names as ml
from hpo_cli.tracking.setup import resolve_tracking_uri, tracking_enabled
from hpo_cli.tracking.worker import Channel, Lost

__all__ = ["Tracker", "open_tracker", "resolve_tracking_uri", "tracking_enabled"]

CLOSE_TIMEOUT = 300.0  # seconds close() waits for queued writes (a model upload can be slow)
CONNECT_TIMEOUT = 120.0  # a fresh interpreter importing mlflow and creating the SQLite tables, on a busy machine
_log = logging.getLogger("hpo.tracking")


def open_tracker(spec: Spec, options: TuneOptions, run_dir: Path) -> Tracker:
    """Check the tracking store is usable and return the tracker; InputError (exit 2) before anything runs."""
    from hpo_cli.tracking.setup import check_uri, unusable

    uri, source, where = check_uri(spec, options)
    tracker = Tracker(uri, spec, options, run_dir)
    try:
        tracker.experiment_id = tracker.channel.connect(CONNECT_TIMEOUT)
    except Lost as exc:
        tracker.channel.stop()
        raise unusable(uri, source, where, str(exc)) from None
    return tracker


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


class Tracker(RunObserver):
    """The MLflow ``RunObserver``; see the module docstring for the protocol the search follows."""

    wants_best_model = True

    def __init__(self, uri: str, spec: Spec, options: TuneOptions, run_dir: Path) -> None:
        self.tracking_uri = uri
        self.experiment_id = ""
        self.spec = spec
        self.options = options
        self.run_dir = Path(run_dir)
        self.failed = False
        self.failure: str | None = None
        self.warnings: list[str] = []
        self.data_sha256: str | None = None
        self._models: dict[str, _Model] = {}
        self._lock = threading.RLock()
        self._run_done = False
        self._closed = False
        self.channel = Channel(uri, spec.tracking.mlflow.experiment or spec.name, self._on_error)

    # --- the writer process --------------------------------------------------------------------------

    def _send(self, op: str, *args: Any, critical: bool = True) -> None:
        if not self.failed and not self._closed:
            self.channel.send(op, *args, critical=critical)

    def _call(self, op: str, *args: Any) -> Any:
        """A request whose answer the tracker needs now (binding); raises Lost."""
        if self.failed or self._closed:
            raise Lost(self.failure or "tracking is closed")
        return self.channel.call(op, *args, timeout=CLOSE_TIMEOUT)

    def _on_error(self, message: str, critical: bool) -> None:
        if critical:
            self._lose(RuntimeError(message))
        else:
            self._warn(f"MLflow: {message}")

    def flush(self, timeout: float = CLOSE_TIMEOUT) -> bool:
        """Wait until every queued write is done; False when it did not finish in time."""
        try:
            self.channel.call("flush", timeout=timeout, critical=False)
        except Lost:
            return self.failed
        return True

    def _lose(self, exc: BaseException) -> None:
        first = str(exc)
        if self.failed:
            return
        self.failed = True
        self.failure = (f"MLflow tracking at {self.tracking_uri} was lost ({first}); the search went on and "
                        f"every trial is in trials.csv; rerun with --resume once it is back to log what is missing")
        _log.warning("warning: %s", self.failure)  # once; the run's summary repeats it and exits 1

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

    def study_opened(self, model: str, study: Any) -> None:
        """Find or create the model's parent run (id kept in the study) and learn which trials are logged.

        Synchronous on purpose: the trials of this study must not start before their parent is known.
        The store is still only touched by the writer process (after what it has queued).
        """
        st = self._state(model, getattr(study, "study_name", None))
        self._bind_safely(st, study)

    def _bind_safely(self, st: _Model, study: Any) -> None:
        if self.failed or self._closed:
            return
        try:
            self._bind(st, study)
        except Exception as exc:  # Lost, or the study's storage: never into the search
            self._lose(exc)

    def _bind(self, st: _Model, study: Any) -> None:
        st.study_name = getattr(study, "study_name", st.study_name)
        parent_id = study.user_attrs.get(STUDY_MLFLOW_PARENT) if study is not None else None
        if parent_id and not self._call("usable_parent", parent_id):
            parent_id = None
        if parent_id:
            self._call("status", parent_id, "RUNNING")
        else:
            parent_id = self._create_parent(st)
            if study is not None:
                study.set_user_attr(STUDY_MLFLOW_PARENT, parent_id)
                winner = study.user_attrs.get(STUDY_MLFLOW_PARENT)
                if winner and winner != parent_id and self._call("usable_parent", winner):
                    self._call("delete", parent_id)  # another worker bound first: use its parent
                    parent_id = winner
        st.parent_id = parent_id
        self._scan_children(st)
        if study is not None:
            self._seed_from_study(st, study)

    def _create_parent(self, st: _Model) -> str:
        model = self._model_spec(st.name)
        tags = ml.parent_tags(model, self.spec, st.study_name, self.run_dir) if model is not None else {}
        if self.data_sha256:
            tags["hpo.data_sha256"] = self.data_sha256
        params = {str(k): ml.param_value(v) for k, v in (model.init_params if model is not None else {}).items()}
        return str(self._call("create_parent", st.name, tags, params))

    def _scan_children(self, st: _Model) -> None:
        """One listing of the parent's children: which trials are logged, which were left half-written."""
        found = self._call("children", st.parent_id)
        with self._lock:
            for number, run_id, status, state, params, has_metrics, score in found:
                if status == "RUNNING":
                    st.incomplete[number] = (run_id, set(params), has_metrics)
                elif number not in st.logged:
                    st.logged.add(number)
                    if state != FAIL:
                        st.cap.n_logged += 1
                    st.cap.observe(number, score)

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
            self._bind_safely(st, None)  # the search did not bind: an unshared parent, nothing lost
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
        self._write_child(st, record, partial)

    def _write_child(self, st: _Model, record: TrialRecord, partial: tuple[str, set[str], bool] | None) -> None:
        model = self._model_spec(record.model)
        params = ml.trial_params(record, model.init_params if model is not None else {})
        metrics = ml.trial_metrics(record)
        tags = ml.trial_tags(record, st.parent_id, st.study_name)
        end = ml.to_millis(record.datetime_complete)
        self._send("child", {"partial": partial, "tags": tags, "params": params, "metrics": metrics, "end": end,
                             "start": ml.to_millis(record.datetime_start, end), "status": ml.RUN_STATUS[record.state],
                             "name": f"{record.model} #{record.number}"})

    # --- model and run ends --------------------------------------------------------------------------

    def model_finished(self, result: ModelResult) -> None:
        """Log the missing past trials, the model's best and test scores, and close its parent run."""
        st = self._state(result.name, result.study_name)
        if self.failed or not st.parent_id:
            return
        status = "KILLED" if "interrupt" in (result.stop_reason or "").lower() else (
            "FINISHED" if result.n_complete else "FAILED")
        st.finished = True  # before close() may queue a KILLED for it
        try:
            self._finish_model(st, result, status)
        except Lost as exc:
            self._lose(exc)

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
        self._send("log", st.parent_id, metrics, tags)
        self._send("status", st.parent_id, status)

    def best_refitted(self, fitted: FittedBest) -> None:
        """Queue the refitted best model (right flavour, signature, input example) and its diagnostics.

        ``fitted.X, fitted.y``: the held-out test set when the spec has ``test_size`` (``on_test``), else
        the training data. The estimator must not be mutated after.
        """
        model, estimator, X, y, task, on_test = (fitted.model, fitted.estimator, fitted.X, fitted.y, fitted.task,
                                                 fitted.on_test)
        st = self._state(model)
        if self.failed or not st.parent_id:
            return
        try:
            pickle.dumps((estimator, X, y))  # it travels to the writer process
        except Exception as exc:
            self._warn(f"MLflow: the best model of {model} cannot be pickled, not logged: {exc}")
            return
        self._send("best_model", st.parent_id, estimator, X, y, task, on_test,
                   self.spec.tracking.mlflow.log_models != "none", critical=False)

    def log_artifacts(self, model: str, paths: list[Path], artifact_path: str | None = None) -> None:
        """Queue files for the model's parent run (missing ones are skipped)."""
        st = self._state(model)
        if not self.failed and st.parent_id:
            self._send("artifacts", st.parent_id, [str(p) for p in paths], artifact_path)

    def run_started(self, data_sha256: str) -> None:
        """Tag every parent (and future ones) with the data's sha256."""
        sha256 = data_sha256
        self.data_sha256 = sha256
        with self._lock:
            parents = [st.parent_id for st in self._models.values() if st.parent_id]
        for parent in parents:
            self._send("log", parent, None, {"hpo.data_sha256": sha256})

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
                self._send("log", st.parent_id, None, tags)
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
                    self._send("status", st.parent_id, "KILLED")
        if not self.flush():
            self._lose(TimeoutError(f"writes not done after {CLOSE_TIMEOUT:.0f}s"))
        self._closed = True
        self.channel.stop()

"""MLflow tracking of a search: a ``RunObserver`` that keeps one parent run per model, one child run per trial.

The search never names the tracker: ``tune.run`` opens it with ``open_tracker`` (only when tracking is on;
with ``--no-mlflow`` this module is never imported, and mlflow is imported only by the writer process it
starts) and adds it to the observers, which hear the ``core.results.RunObserver`` events in order:

- ``run_started(data_sha256)`` tags every parent, present and future, with the data's hash;
- ``model_started`` names the model's study;
- ``study_opened(model, study)`` binds the model's parent run before any of its trials runs: it finds the
  parent whose id the study keeps (``--resume``, extra workers) or creates one, and lists its children once;
- ``trial_finished(record)`` queues the trial's child run unless it already has one (trials re-sent on
  ``--resume`` are skipped) or ``tracking.mlflow.max_child_runs`` leaves it out (``names.ChildCap``);
- ``best_refitted(FittedBest)`` serialises the refitted best model and queues it (signature, input
  example) for the parent, then draws its diagnostics and queues them;
- ``model_finished(result)`` logs the past trials still without a child, the best and test scores, and
  closes the parent;
- ``run_finished(result)`` logs the run folder's files and plots on every parent, waits for every write
  and, when tracking was lost, sets ``result.exit_code`` to 1 with the reason among the warnings;
- ``close()`` flushes the writer process (also after an error or Ctrl-C); parents of an unfinished run
  end KILLED, ready for ``--resume``.

Draining (``run_finished``, ``close``) waits while the writer makes progress (``drain``); Ctrl-C then
ends the writer at once, and the next ``--resume`` logs the trials still without a child run.

Also ``run_ids`` (model -> parent run id, for run.json), ``failed``/``failure``, ``warnings`` (non-fatal).

Guarantees and choices:

- The run tree is owned through ``MlflowClient`` and explicit run ids (no fluent active run); which trial
  has a child is ``runtree``'s bookkeeping, the one place exactly-once and resume rest on.
- Writes run in one writer process (``worker``, started through ``channel``) draining a FIFO queue, off
  the search's critical path and its GIL. A trial state maps to a run status: COMPLETE -> FINISHED,
  FAIL -> FAILED (tag ``hpo.error``), PRUNED -> KILLED (tags ``hpo.state=PRUNED``, ``hpo.pruned``).
- A server lost mid-run: the first failed write warns once on stderr, every later write is dropped
  (no retry storms), the search goes on; ``failed`` becomes True and the run must exit 1.
"""

from __future__ import annotations

import logging
import shutil
import tempfile
from pathlib import Path
from typing import Any

from hpo_cli.core.errors import resume_command
from hpo_cli.core.options import TuneOptions
from hpo_cli.core.redact import redact
from hpo_cli.core.results import FittedBest, ModelResult, RunObserver, RunResult, TrialRecord
from hpo_cli.spec.models import Spec
from hpo_cli.tracking import names as ml
from hpo_cli.tracking.channel import Channel, Lost, clock, trace
from hpo_cli.tracking.drain import DrainProgress, stall_seconds
from hpo_cli.tracking.model import warm_search_imports
from hpo_cli.tracking.notes import describe_parents, experiment_note
from hpo_cli.tracking.runtree import ModelRuns, Partial, RunTree
from hpo_cli.tracking.setup import resolve_tracking_uri, tracking_enabled

__all__ = ["Tracker", "open_tracker", "resolve_tracking_uri", "tracking_enabled"]

CONNECT_TIMEOUT = 120.0  # a fresh interpreter importing mlflow and creating the SQLite tables, on a busy machine
_log = logging.getLogger("hpo.tracking")


def open_tracker(spec: Spec, options: TuneOptions, run_dir: Path, channel: Channel | None = None) -> Tracker:
    """Check the tracking store is usable and return the tracker; InputError (exit 2) before anything runs.

    ``channel``: the writer process ``tune`` started early (its imports done meanwhile), else a new one;
    whoever started it ends it when this raises."""
    from hpo_cli.tracking.setup import check_uri, probe, unusable

    uri, source, where = check_uri(spec, options)
    reason = probe(uri)  # a dead server answers in seconds, on one line, before any process starts
    if reason is not None:
        raise unusable(uri, source, where, reason)
    tracker = Tracker(uri, spec, options, run_dir, channel)
    since = clock()
    try:
        tracker.experiment_id = tracker.channel.connect(CONNECT_TIMEOUT)
    except Lost as exc:
        tracker.channel.stop()
        raise unusable(uri, source, where, str(exc)) from None
    trace("search", "wait connect", since)
    tracker._send("experiment_note", experiment_note(spec, run_dir), critical=False)
    return tracker


class Tracker(RunObserver):
    """The MLflow ``RunObserver``; see the module docstring for what each event does."""

    wants_best_model = True

    def __init__(self, uri: str, spec: Spec, options: TuneOptions, run_dir: Path,
                 channel: Channel | None = None) -> None:
        self.tracking_uri = uri
        self.experiment_id = ""
        self.spec = spec
        self.options = options
        self.run_dir = Path(run_dir)
        self.failed = False
        self.failure: str | None = None
        self.warnings: list[str] = []
        self.data_sha256: str | None = None
        self.tree = RunTree(spec, self.run_dir, self._call)
        self._run_done = False
        self._closed = False
        self._scratch: Path | None = None  # the diagnostics' files until the writer has logged them
        self._warm = warm_search_imports() if spec.tracking.mlflow.log_models != "none" else None  # while we wait
        self.channel = channel or Channel()
        self.channel.open(uri, spec.tracking.mlflow.experiment or spec.name, self._on_error)

    # --- the writer process --------------------------------------------------------------------------

    def _send(self, op: str, *args: Any, critical: bool = True) -> None:
        if not self.failed and not self._closed:
            self.channel.send(op, *args, critical=critical)

    def _call(self, op: str, *args: Any) -> Any:
        """A request whose answer the tracker needs now (binding); raises Lost."""
        if self.failed or self._closed:
            raise Lost(self.failure or "tracking is closed")
        return self.channel.call(op, *args, stall=stall_seconds())

    def _on_error(self, message: str, critical: bool) -> None:
        if critical:
            self._lose(RuntimeError(message))
        else:
            self._warn(f"MLflow: {redact(message)}")

    def flush(self, progress: bool = False) -> bool:
        """Wait until every queued write is done, as long as the writer makes progress; False if it stalled."""
        try:
            self.channel.call("flush", stall=stall_seconds(), critical=False,
                              progress=DrainProgress(self.options.quiet) if progress else None)
        except Lost:
            return self.failed
        return True

    def _drain(self) -> None:
        """``flush`` with progress lines; a stall is a lost store, Ctrl-C drops the rest at once (and re-raises)."""
        since = clock()
        try:
            done = self.flush(progress=True)
            trace("search", "wait drain", since)
        except KeyboardInterrupt:
            self.abort()
            raise
        if not done:
            self._lose(TimeoutError(f"the writer answered nothing for {stall_seconds():.0f}s"))

    def _lose(self, exc: BaseException) -> None:
        first = str(exc)
        if self.failed:
            return
        self.failed = True
        self.failure = (f"MLflow tracking at {redact(self.tracking_uri)} was lost ({redact(first)}); the search "
                        f"went on and every trial is in trials.csv; rerun with --resume once it is back to log "
                        f"what is missing")
        _log.warning("warning: %s", self.failure)  # once; the run's summary repeats it and exits 1

    def _warn(self, message: str) -> None:
        self.warnings.append(message)
        _log.warning(message)

    # --- parents -------------------------------------------------------------------------------------

    def model_started(self, model: str, study_name: str, budget: int | None, n_existing: int) -> None:
        self.tree.model(model, study_name).study_name = study_name

    def study_opened(self, model: str, study: Any) -> None:
        """Find or create the model's parent run (id kept in the study) and learn which trials are logged.

        Synchronous on purpose: the trials of this study must not start before their parent is known.
        The store is still only touched by the writer process (after what it has queued)."""
        self._bind_safely(self.tree.model(model, getattr(study, "study_name", None)), study)

    def _bind_safely(self, runs: ModelRuns, study: Any) -> None:
        if self.failed or self._closed:
            return
        since = clock()
        try:
            self.tree.bind(runs, study, self.data_sha256, reopen=not self.options.join)
            trace("search", f"wait bind {runs.name}", since)
        except Exception as exc:  # Lost, or the study's storage: never into the search
            self._lose(exc)
            return
        if study is not None:
            try:
                self.tree.seed_from_study(runs, study)
            except Exception as exc:  # a foreign study object: no backfill, no harm
                self._warn(f"MLflow: could not read the study's past trials: {exc}")

    # --- children ------------------------------------------------------------------------------------

    def trial_finished(self, record: TrialRecord) -> None:
        """Queue the trial's child run unless it already has one (or the cap leaves it out)."""
        if record.state not in ml.RUN_STATUS or self.failed:
            return
        runs = self.tree.model(record.model)
        if not runs.parent_id:
            self._bind_safely(runs, None)  # the search did not bind: an unshared parent, nothing lost
            if not runs.parent_id:
                return
        claimed, partial = self.tree.claim(runs, record)
        if claimed:
            self._write_child(runs, record, partial)

    def _write_child(self, runs: ModelRuns, record: TrialRecord, partial: Partial | None) -> None:
        self._send("child", self.tree.child(runs, record, partial))

    # --- model and run ends --------------------------------------------------------------------------

    def model_finished(self, result: ModelResult) -> None:
        """Log the missing past trials, the model's best and test scores, and close its parent run."""
        runs = self.tree.model(result.name, result.study_name)
        if self.failed or not runs.parent_id:
            return
        if self.options.join and not runs.owned:  # the first process ends the shared parent; a joiner its children
            runs.finished = True
            return
        status = "KILLED" if "interrupt" in (result.stop_reason or "").lower() else (
            "FINISHED" if result.n_complete else "FAILED")
        runs.finished = True  # before close() may queue a KILLED for it
        try:
            self._finish_model(runs, result, status)
        except Lost as exc:
            self._lose(exc)

    def _finish_model(self, runs: ModelRuns, result: ModelResult, status: str) -> None:
        missing = self.tree.missing(runs, result.trials)
        if missing:
            self.tree.scan_children(runs)  # fresh: another worker may have logged some meanwhile
            for record in missing:
                if record.state not in ml.RUN_STATUS:
                    continue
                claimed, partial = self.tree.claim(runs, record)
                if claimed:
                    self._write_child(runs, record, partial)
        metrics, tags = ml.parent_summary(result)
        self._send("log", runs.parent_id, metrics, tags)
        self._send("status", runs.parent_id, status)

    def best_refitted(self, fitted: FittedBest) -> None:
        """Serialise the best model and draw its diagnostics here (scikit-learn is loaded), queue both; ``fitted.X,
        fitted.y``: the test set when the spec has ``test_size``, else the training data (only 5 rows travel)."""
        from hpo_cli.tracking.diagnostics import write_diagnostics
        from hpo_cli.tracking.model import best_params, serialise

        runs = self.tree.model(fitted.model)
        if self.failed or not runs.parent_id:
            return
        log_models = self.spec.tracking.mlflow.log_models != "none"
        try:  # serialised here (the writer never imports scikit-learn), logged while the diagnostics are drawn
            since, params = clock(), {str(k): ml.param_value(v) for k, v in best_params(fitted.estimator).items()}
            if log_models:  # pickled by _send, here: a model that cannot travel fails here
                self._send("best_model", runs.parent_id, serialise(fitted.estimator, fitted.X, self._warm),
                           fitted.trial, params, critical=False)
            trace("search", "serialise", since)
        except Exception as exc:
            self._warn(f"MLflow: the best model of {fitted.model} cannot be serialised, not logged: {exc}")
            return
        self._scratch, since = self._scratch or Path(tempfile.mkdtemp(prefix="hpo-mlflow-")), clock()
        try:
            files = write_diagnostics(self._scratch / fitted.model, fitted.estimator, fitted.X, fitted.y,
                                      fitted.task, fitted.on_test)
            trace("search", "diagnostics", since)
        except Exception as exc:  # the model is still logged
            files = []
            self._warn(f"MLflow: the diagnostics of {fitted.model} could not be drawn: {type(exc).__name__}: {exc}")
        self._send("diagnostics", runs.parent_id, fitted.on_test, [str(f) for f in files], log_models, fitted.trial,
                   critical=False)

    def log_artifacts(self, model: str, paths: list[Path], artifact_path: str | None = None) -> None:
        """Queue files for the model's parent run (missing ones are skipped)."""
        runs = self.tree.model(model)
        if not self.failed and runs.parent_id:
            self._send("artifacts", runs.parent_id, [str(p) for p in paths], artifact_path)

    def run_started(self, data_sha256: str) -> None:
        """Tag every parent (and future ones) with the data's sha256."""
        self.data_sha256 = data_sha256
        for runs in self.tree.models():
            if runs.parent_id:
                self._send("log", runs.parent_id, None, {"hpo.data_sha256": data_sha256})

    def run_finished(self, result: RunResult) -> None:
        """Log the run folder's files and plots on every parent, wait for all writes, report a loss."""
        self._run_done = True
        if not self.failed and not self.options.join:
            self.data_sha256 = self.data_sha256 or ml.data_sha256_from_run_json(self.run_dir)
            plots = sorted(p for p in self.run_dir.rglob("*.png") if p.is_file())
            for runs in self.tree.models():
                if not runs.parent_id:
                    continue
                tags = {"hpo.best_model": result.best_model or "", "hpo.is_best": str(runs.name == result.best_model)}
                if self.data_sha256:
                    tags["hpo.data_sha256"] = self.data_sha256
                self._send("log", runs.parent_id, None, tags)
                self.log_artifacts(runs.name, ml.run_folder_files(self.spec.path, self.run_dir))
                self.log_artifacts(runs.name, plots, "plots")
            describe_parents(self, self.options.storage or self.spec.storage)
            self._register(result.best_model)
        self._drain()
        if self.failed and self.failure:
            result.exit_code = result.exit_code or 1
            if self.failure not in result.warnings:
                result.warnings.append(self.failure)

    def _register(self, winner: str | None) -> None:
        """``tracking.mlflow.register``: the winner's logged model becomes a new version (once per model)."""
        name = self.spec.tracking.mlflow.register_as
        runs = self.tree.model(winner) if winner else None
        if name and runs is not None and runs.parent_id and self.spec.tracking.mlflow.log_models != "none":
            self._send("register", runs.parent_id, name, critical=False)

    @property
    def run_ids(self) -> dict[str, str]:
        """Parent run id per model, for run.json."""
        return self.tree.run_ids()

    def abort(self) -> None:
        """Ctrl-C outside the search: end the writer now; the next ``--resume`` logs the trials still missing."""
        if self._closed:
            return
        left = max(self.channel.pending - 1, 0)  # minus a flush request waiting
        self._stop(kill=True)
        _log.warning("MLflow: stopped with %d queued write(s) not done; %s logs the trials still missing", left,
                     resume_command(str(self.options.spec), str(self.run_dir), self.options.storage))

    def close(self) -> None:
        """Flush every queued write (also after Ctrl-C); parents of an unfinished run end KILLED (resumable)."""
        if self._closed:
            return
        if not self._run_done and not self.failed:
            for runs in self.tree.models():
                if runs.parent_id and not runs.finished and (runs.owned or not self.options.join):
                    self._send("status", runs.parent_id, "KILLED")
        if not self.failed:  # else the writer skips or hangs: nothing more will be written
            self._drain()
        self._stop(kill=self.failed)

    def _stop(self, kill: bool) -> None:
        """End the writer (at once, or once it answered everything) and drop the diagnostics' files."""
        self._closed = True
        since = clock()
        (self.channel.abort if kill else self.channel.stop)()
        trace("search", "wait exit", since)
        if self._scratch is not None:
            shutil.rmtree(self._scratch, ignore_errors=True)

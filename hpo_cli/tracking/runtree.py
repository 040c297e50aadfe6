"""One model's branch of the MLflow run tree: its parent run, and which trials already have a child run.

Kept apart from the observer facade (``tracker``) because exactly-once and ``--resume`` rest on this
bookkeeping alone, and it must stay the same whatever the events around it look like:

- The parent's id lives in the study's user attribute ``mlflow_parent_run_id``
  (``storage.attrs.STUDY_MLFLOW_PARENT``), so a resumed run and extra workers reuse it. Attribute writes
  are last-writer-wins: a worker that loses the race deletes its own parent and takes the winner's.
- At bind, the parent's children are listed once (tag ``hpo.trial``) and cached; a trial with a child is
  never logged again. A child a crash left RUNNING is remembered as *partial* and completed, not duplicated,
  when its trial comes again.
- The trials the study finished before this process bound it are remembered (read as ``TrialRecord``s
  through ``storage.attrs``): the ones still without a child when the model finishes are what a lost
  server left out, and are logged then.

Every store access goes through ``call`` (a synchronous request to the writer process, raising
``channel.Lost``), so this module never touches MLflow itself.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hpo_cli.core.results import COMPLETE, FAIL, TrialRecord
from hpo_cli.spec.models import Spec
from hpo_cli.storage.attrs import STUDY_MLFLOW_PARENT, finished_trials, record_from_trial
from hpo_cli.tracking import names as ml

#: A child run a crash left RUNNING: its run id, the params it already has, whether it has metrics.
Partial = tuple[str, set[str], bool]


@dataclass
class ModelRuns:
    """What the tracker knows about one model's parent run and its children."""

    name: str
    study_name: str
    parent_id: str = ""
    cap: ml.ChildCap = field(default_factory=lambda: ml.ChildCap(None))
    logged: set[int] = field(default_factory=set)  # trials with a (finished or queued) child run
    skipped: set[int] = field(default_factory=set)  # left out by max_child_runs
    incomplete: dict[int, Partial] = field(default_factory=dict)  # children a crash left RUNNING
    preexisting: set[int] = field(default_factory=set)  # finished in the study before we bound it
    finished: bool = False
    owned: bool = False  # created by this process (a joiner closes only the parents it created)

    def claim(self, record: TrialRecord) -> tuple[bool, Partial | None]:
        """Decide once whether ``record`` gets its child run now, and which half-written run to complete.

        A trial already logged (or left out by the cap) is never claimed again; its score still counts
        for the cap's running top K.
        """
        if record.number in self.logged or record.number in self.skipped:
            if record.state == COMPLETE:
                self.cap.observe(record.number, record.mean_test_score)
            return False, None
        if not self.cap.admit(record):
            self.skipped.add(record.number)
            return False, None
        self.logged.add(record.number)
        return True, self.incomplete.pop(record.number, None)


class RunTree:
    """Every model's ``ModelRuns``, and the synchronous requests that find, create and list their runs.

    The lock guards the bookkeeping only: the search thread and a worker's thread may report trials of
    the same model while the tracker binds another.
    """

    def __init__(self, spec: Spec, run_dir: Path, call: Callable[..., Any]) -> None:
        self.spec = spec
        self.run_dir = run_dir
        self._call = call
        self._models: dict[str, ModelRuns] = {}
        self._lock = threading.RLock()

    def model(self, name: str, study_name: str | None = None) -> ModelRuns:
        """The model's bookkeeping, created on first mention (its study name defaults to hpo's naming)."""
        with self._lock:
            runs = self._models.get(name)
            if runs is None:
                runs = ModelRuns(name, study_name or f"{self.spec.name}.{name}",
                                 cap=ml.ChildCap(self.spec.tracking.mlflow.max_child_runs))
                self._models[name] = runs
            return runs

    def models(self) -> list[ModelRuns]:
        with self._lock:
            return list(self._models.values())

    def run_ids(self) -> dict[str, str]:
        """Parent run id per bound model, for run.json."""
        return {runs.name: runs.parent_id for runs in self.models() if runs.parent_id}

    def model_spec(self, name: str) -> Any:
        return next((m for m in self.spec.models if m.name == name), None)

    # --- parents -------------------------------------------------------------------------------------

    def bind(self, runs: ModelRuns, study: Any, data_sha256: str | None, *, reopen: bool = True) -> None:
        """Find or create the model's parent run (shared through the study) and learn its children.

        ``study`` None (no study to share the id through) gets a parent of its own. ``reopen``: a found
        parent is set RUNNING again (a resumed run, which closes it at the end); a joining process
        (``--join``) passes False, as the first process alone closes the shared parent — a joiner arriving
        after it did would otherwise leave it RUNNING for ever. Raises ``Lost``.
        """
        runs.study_name = getattr(study, "study_name", runs.study_name)
        parent_id = study.user_attrs.get(STUDY_MLFLOW_PARENT) if study is not None else None
        if parent_id and not self._call("usable_parent", parent_id):
            parent_id = None
        if parent_id:
            if reopen:
                self._call("status", parent_id, "RUNNING")
        else:
            runs.owned = True  # this process created it: it closes it, joined or not
            parent_id = self._create_parent(runs, data_sha256)
            if study is not None:
                study.set_user_attr(STUDY_MLFLOW_PARENT, parent_id)
                winner = study.user_attrs.get(STUDY_MLFLOW_PARENT)
                if winner and winner != parent_id and self._call("usable_parent", winner):
                    self._call("delete", parent_id)  # another worker bound first: use its parent
                    parent_id = winner
        runs.parent_id = parent_id
        self.scan_children(runs)

    def _create_parent(self, runs: ModelRuns, data_sha256: str | None) -> str:
        model = self.model_spec(runs.name)
        tags = ml.parent_tags(model, self.spec, runs.study_name, self.run_dir) if model is not None else {}
        if data_sha256:
            tags["hpo.data_sha256"] = data_sha256
        params = {str(k): ml.param_value(v) for k, v in (model.init_params if model is not None else {}).items()}
        return str(self._call("create_parent", runs.name, tags, params))

    def scan_children(self, runs: ModelRuns) -> None:
        """One listing of the parent's children: which trials are logged, which were left half-written."""
        found = self._call("children", runs.parent_id)
        with self._lock:
            for number, run_id, status, state, params, has_metrics, score in found:
                if status == "RUNNING":
                    runs.incomplete[number] = (run_id, set(params), has_metrics)
                elif number not in runs.logged:
                    runs.logged.add(number)
                    if state != FAIL:
                        runs.cap.n_logged += 1
                    runs.cap.observe(number, score)

    def seed_from_study(self, runs: ModelRuns, study: Any) -> None:
        """Remember the trials the study finished before this process bound it (backfilled if still missing).

        Their scores also enter the cap's running top K, as the trials reported live do. Raises whatever
        the study's storage raises.
        """
        records = [record_from_trial(runs.name, trial) for trial in finished_trials(study)]
        with self._lock:
            for record in records:
                runs.preexisting.add(record.number)
                if record.state == COMPLETE:
                    runs.cap.observe(record.number, record.mean_test_score)

    # --- children ------------------------------------------------------------------------------------

    def claim(self, runs: ModelRuns, record: TrialRecord) -> tuple[bool, Partial | None]:
        with self._lock:
            return runs.claim(record)

    def missing(self, runs: ModelRuns, trials: list[TrialRecord]) -> list[TrialRecord]:
        """The model's past trials that still lack a child run (what a lost server left out)."""
        with self._lock:
            return [t for t in trials if t.number in runs.preexisting and t.number not in runs.logged]

    def child(self, runs: ModelRuns, record: TrialRecord, partial: Partial | None) -> dict[str, Any]:
        """The writer's ``child`` request for one trial: create its run, or complete the half-written one."""
        model = self.model_spec(record.model)
        end = ml.to_millis(record.datetime_complete)
        return {"partial": partial, "tags": ml.trial_tags(record, runs.parent_id, runs.study_name),
                "params": ml.trial_params(record, model.init_params if model is not None else {}),
                "metrics": ml.trial_metrics(record), "end": end, "start": ml.to_millis(record.datetime_start, end),
                "status": ml.RUN_STATUS[record.state], "name": f"{record.model} #{record.number}"}

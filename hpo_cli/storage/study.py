"""The study storage and what hpo keeps in it, so that a run folder can be rebuilt from the storage alone.

Default storage: Optuna's journal file ``study.journal`` in the run folder. Measured here (a
DummyClassifier study, 300 trials, 2 cores under load), hpo's own cost per trial outside fitting was
~0.9 ms with the journal against ~65 ms with SQLite; it is one plain file that travels with the run
folder, and several processes can append to it under its file lock.
``--storage URL`` takes any Optuna storage URL (``sqlite:///...``, ``postgresql://...``).

Trial user attributes (written once per trial, one journal line each):

- ``hpo``: ``{"params": {...}, "split_scores": [...], "mean_test_score": f, "std_test_score": f,
  "metrics": {name: {"mean": f, "std": f, "splits": [...]}}, "fit_times": [...], "score_times": [...],
  "n_warnings": n, "warning": str|None, "duration": seconds}``. ``params`` are the values the estimator
  received (Optuna's own ``trial.params`` hold the JSON text of list/mapping choices).
- ``error``: ``"ValueError: ..."`` on a FAIL trial.
- ``interrupted``: ``true`` on a trial abandoned by Ctrl-C or found RUNNING after a killed run; such
  trials are not part of the search (not counted in the budget, not in ``trials.csv``).

Study user attributes: ``hpo_model`` (name, estimator, init_params, metric, metrics, method, cv, seed)
and, once the model finished, ``hpo_test`` (``{"score": f, "metrics": {...}}``).
"""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hpo_cli.core.errors import InputError, Location
from hpo_cli.core.results import COMPLETE, FAIL, PRUNED, RUNNING, TrialRecord
from hpo_cli.rundir.paths import STUDY_JOURNAL

if TYPE_CHECKING:
    import optuna

    from hpo_cli.search.evaluate import TrialOutcome

ATTR = "hpo"
ATTR_ERROR = "error"
ATTR_INTERRUPTED = "interrupted"
STUDY_MODEL = "hpo_model"
STUDY_TEST = "hpo_test"


def storage_url(run_dir: Path, url: str | None) -> str:
    """What run.json records: the URL given, else the journal file's path."""
    return url if url else str((run_dir / STUDY_JOURNAL).resolve())


def _journal(path: str) -> optuna.storages.BaseStorage:
    """A journal file storage whose appends are flushed but not fsynced (see ``_FlushedJournal``)."""
    import optuna
    from optuna.storages.journal import JournalFileBackend, JournalFileOpenLock

    class _FlushedJournal(JournalFileBackend):
        """Optuna's journal file minus the ``fsync`` after every line.

        Each trial appends ~5 lines (create, one per parameter, attributes, state). With an fsync each,
        the storage cost of a trial followed the disk's sync latency (3+ ms per line on a busy disk);
        flushed to the OS, a line survives a crash or kill of hpo, and only a power loss can lose
        the last trials, which ``--resume`` then simply runs again.
        """

        def append_logs(self, logs: list[dict[str, Any]]) -> None:
            import json

            from optuna.storages.journal._file import get_lock_file

            if not hasattr(self, "_lock") or not hasattr(self, "_file_path"):  # Optuna internals moved
                return super().append_logs(logs)
            text = "\n".join(json.dumps(log, separators=(",", ":")) for log in logs) + "\n"
            with get_lock_file(self._lock), open(self._file_path, "ab") as fh:
                fh.write(text.encode("utf-8"))
                fh.flush()

    # The open-lock works on every filesystem (the symlink lock does not on some network mounts).
    return optuna.storages.JournalStorage(_FlushedJournal(path, lock_obj=JournalFileOpenLock(path)))


def open_storage(run_dir: Path, url: str | None) -> optuna.storages.BaseStorage:
    """The journal file in the run folder by default; any Optuna storage URL with ``--storage``."""
    import optuna

    if not url:
        run_dir.mkdir(parents=True, exist_ok=True)
        return _journal(str(run_dir / STUDY_JOURNAL))
    try:
        if url.endswith(".journal") or url.startswith("journal:"):
            return _journal(url.removeprefix("journal:"))
        return optuna.storages.get_storage(url)
    except Exception as exc:
        first = next((line.strip() for line in str(exc).splitlines() if line.strip()), "")  # not SQLAlchemy's links
        hint = ("; install the driver: pip install 'hpo-cli[postgres]'"
                if isinstance(exc, ImportError) and url.startswith("postgresql") else "")
        raise InputError(f"cannot open storage {url}: {type(exc).__name__}: {first}{hint}",
                         Location("--storage")) from None


def study_names(storage: optuna.storages.BaseStorage) -> list[str]:
    return [s.study_name for s in storage.get_all_studies()]


def delete_study_if_exists(storage: optuna.storages.BaseStorage, name: str) -> bool:
    """A fresh run (no ``--resume``) starts the model's study from zero in the same storage."""
    import optuna

    if name in study_names(storage):
        optuna.delete_study(study_name=name, storage=storage)
        return True
    return False


# --- trials <-> records --------------------------------------------------------------------------------

def outcome_attrs(params: dict[str, Any], outcome: TrialOutcome, duration: float) -> dict[str, Any]:
    """The ``hpo`` user attribute of one evaluated trial (see the module docstring)."""
    from hpo_cli.search.evaluate import mean_std

    metrics = {}
    for name, splits in outcome.metrics.items():
        mean, std = mean_std(splits) if splits else (None, None)
        metrics[name] = {"mean": mean, "std": std, "splits": splits}
    return {
        "params": params,
        "split_scores": outcome.split_scores,
        "mean_test_score": outcome.mean,
        "std_test_score": outcome.std,
        "metrics": metrics,
        "fit_times": outcome.fit_times,
        "score_times": outcome.score_times,
        "n_warnings": outcome.n_warnings,
        "warning": outcome.warning,
        "duration": duration,
    }


def _avg(values: list[float] | None) -> float | None:
    return sum(values) / len(values) if values else None


def is_interrupted(trial: optuna.trial.FrozenTrial) -> bool:
    return bool(trial.user_attrs.get(ATTR_INTERRUPTED))


def record_from_trial(model: str, trial: optuna.trial.FrozenTrial) -> TrialRecord:
    """Rebuild the ``TrialRecord`` of a stored trial (what ``trials.csv`` and reports show)."""
    info: dict[str, Any] = trial.user_attrs.get(ATTR) or {}
    state = trial.state.name
    if state not in (COMPLETE, FAIL, PRUNED):
        state = RUNNING
    params = info.get("params")
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
        mean_fit_time=_avg(info.get("fit_times")),
        mean_score_time=_avg(info.get("score_times")),
        duration=duration,
        n_warnings=int(info.get("n_warnings") or 0),
        error=trial.user_attrs.get(ATTR_ERROR),
        datetime_start=trial.datetime_start.isoformat(timespec="seconds") if trial.datetime_start else None,
        datetime_complete=trial.datetime_complete.isoformat(timespec="seconds") if trial.datetime_complete else None,
    )


def finished_trials(study: optuna.Study) -> list[optuna.trial.FrozenTrial]:
    """Trials that count: COMPLETE, FAIL and PRUNED, minus those abandoned by an interruption."""
    from optuna.trial import TrialState

    done = (TrialState.COMPLETE, TrialState.FAIL, TrialState.PRUNED)
    return [t for t in study.get_trials(deepcopy=False) if t.state in done and not is_interrupted(t)]


def fail_stale_trials(study: optuna.Study) -> int:
    """Mark trials left RUNNING by a killed run as interrupted FAILs (``--resume`` with one worker)."""
    from optuna.trial import TrialState

    n = 0
    for trial in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        with contextlib.suppress(Exception):  # another process may have finished it meanwhile
            study._storage.set_trial_user_attr(trial._trial_id, ATTR_INTERRUPTED, True)
            study._storage.set_trial_user_attr(trial._trial_id, ATTR_ERROR, "interrupted before it finished")
            study._storage.set_trial_state_values(trial._trial_id, TrialState.FAIL)
            n += 1
    return n

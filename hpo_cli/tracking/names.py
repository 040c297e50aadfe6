"""What hpo writes into MLflow: names, values and limits, kept apart from *when* and *how* it is sent.

``tracker`` (the observer) and ``runtree`` (the run tree, exactly-once) decide when, the writer process
(``worker``) sends; this module only turns hpo's typed results into MLflow entities (params, metrics,
tags) so the mapping is in one place and the metric names match ``trials.csv`` (scikit-learn
``cv_results_`` naming). It also holds the child-run cap policy, because that is a pure decision on
scores. mlflow is imported inside functions only.
"""

from __future__ import annotations

import heapq
import json
import math
import time
from datetime import datetime
from pathlib import Path
from typing import Any

from hpo_cli.core.pareto import objectives_of, pareto_front, select_label
from hpo_cli.core.results import COMPLETE, FAIL, PRUNED, ModelResult, TrialRecord
from hpo_cli.rundir.provenance import OPTIONAL_PACKAGES, PACKAGES, display_path, git_commit, package_versions

# MLflow's own limits (mlflow.utils.validation): longer values are rejected, so hpo truncates.
MAX_PARAM_VALUE = 6000
MAX_TAG_VALUE = 8000
MAX_PARAMS_TAGS_PER_BATCH = 100
MAX_METRICS_PER_BATCH = 1000

#: Optuna trial state -> MLflow run status. A pruned trial was stopped early on purpose: KILLED,
#: with the tag ``hpo.state=PRUNED`` saying why (FINISHED would hide it among complete trials).
RUN_STATUS = {COMPLETE: "FINISHED", FAIL: "FAILED", PRUNED: "KILLED"}


def to_millis(stamp: str | None, default: int | None = None) -> int:
    """ISO timestamp of a trial -> MLflow's epoch milliseconds (now when absent or unreadable)."""
    if stamp:
        try:
            return int(datetime.fromisoformat(stamp).timestamp() * 1000)
        except ValueError:
            pass
    return default if default is not None else int(time.time() * 1000)


def param_value(value: Any) -> str:
    """MLflow params are strings; JSON for containers so a list reads as ``[1, 2]`` in the UI."""
    text = json.dumps(value) if isinstance(value, list | dict) else str(value)
    return text[:MAX_PARAM_VALUE]


def trial_metrics(record: TrialRecord) -> dict[str, float]:
    """Child-run metrics, named exactly like the columns of ``trials.csv``."""
    out: dict[str, float | None] = {
        "mean_test_score": record.mean_test_score,
        "std_test_score": record.std_test_score,
        "mean_fit_time": record.mean_fit_time,
        "mean_score_time": record.mean_score_time,
        "mean_model_size": record.mean_model_size,  # None (not logged) unless model_size is an objective
        "duration": record.duration,
    }
    for k, score in enumerate(record.split_scores):
        out[f"split{k}_test_score"] = score
    for name, values in record.metrics.items():
        out[f"mean_test_{name}"] = values.get("mean")
        out[f"std_test_{name}"] = values.get("std")
        for k, score in enumerate(values.get("splits") or []):
            out[f"split{k}_test_{name}"] = score
    if record.n_warnings:
        out["n_warnings"] = record.n_warnings
    return {k: float(v) for k, v in out.items() if _number(v)}


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and not math.isnan(float(value))


def trial_params(record: TrialRecord, init_params: dict[str, Any]) -> dict[str, str]:
    """Tuned parameters plus the fixed ``init_params`` (a tuned value wins a name clash)."""
    merged = {**init_params, **record.params}
    return {str(k): param_value(v) for k, v in merged.items()}


def trial_tags(record: TrialRecord, parent_id: str, study_name: str) -> dict[str, str]:
    tags = {
        "mlflow.parentRunId": parent_id,
        "hpo.role": "trial",
        "hpo.model": record.model,
        "hpo.trial": str(record.number),
        "hpo.study_name": study_name,
        "hpo.state": record.state,
    }
    if record.error:
        tags["hpo.error"] = record.error[:MAX_TAG_VALUE]
    if record.state == PRUNED:
        tags["hpo.pruned"] = "true"
    return tags


def batches(client: Any, run_id: str, *, metrics: dict[str, float] | None = None,
            params: dict[str, str] | None = None, tags: dict[str, str] | None = None,
            timestamp: int | None = None) -> None:
    """``log_batch`` in chunks within MLflow's per-call limits: one request for a typical trial."""
    from mlflow.entities import Metric, Param, RunTag

    stamp = timestamp if timestamp is not None else int(time.time() * 1000)
    m = [Metric(k, v, stamp, 0) for k, v in (metrics or {}).items()]
    pt: list[Any] = [Param(k, v) for k, v in (params or {}).items()]
    pt += [RunTag(k, str(v)[:MAX_TAG_VALUE]) for k, v in (tags or {}).items()]
    while m or pt:
        chunk_m, m = m[:MAX_METRICS_PER_BATCH], m[MAX_METRICS_PER_BATCH:]
        chunk_pt, pt = pt[:MAX_PARAMS_TAGS_PER_BATCH], pt[MAX_PARAMS_TAGS_PER_BATCH:]
        client.log_batch(run_id, metrics=chunk_m, params=[p for p in chunk_pt if isinstance(p, Param)],
                         tags=[t for t in chunk_pt if not isinstance(t, Param)])


def parent_tags(model: Any, spec: Any, study_name: str, run_dir: Path) -> dict[str, str]:
    """Provenance of one model's search: enough to find, compare and reproduce it from the UI.

    The commit and the versions come from ``rundir.provenance``, as run.json's do; ``hpo.version.<pkg>``
    only for installed packages (the interpreter's version is run.json's alone). The spec and the run
    folder are shown as run.json and the report show them (``display_path``: relative to the repository
    or the current folder), never as the machine's home paths: a shared server shows them to everyone.
    """
    tags = {
        "hpo.role": "model",
        "hpo.model": model.name,
        "hpo.estimator": model.class_,
        "hpo.study_name": study_name,
        "hpo.spec_name": spec.name,
        "hpo.spec_sha256": spec.sha256,
        "hpo.method": model.method,
        "hpo.cv": json.dumps(model.cv.model_dump(), sort_keys=True),
        "hpo.seed": str(model.seed),
        "hpo.metric": str(model.metric or "score"),
        "hpo.run_dir": display_path(run_dir),
    }
    if spec.path is not None:
        tags["mlflow.source.name"] = display_path(spec.path)
        commit = git_commit(spec.path.parent)
        if commit:
            tags["hpo.git_commit"] = commit
            tags["mlflow.source.git.commit"] = commit
    versions = package_versions()
    tags.update({f"hpo.version.{name}": v for name in (*PACKAGES, *OPTIONAL_PACKAGES) if (v := versions.get(name))})
    return tags


def parent_summary(result: ModelResult) -> tuple[dict[str, float], dict[str, str]]:
    """The model's outcome for its parent run: best-trial scores and test scores (metrics), best params (tags).

    Best parameters are tags, not params: MLflow params are immutable and a resumed search may find a
    better trial.
    """
    metrics: dict[str, float] = {"n_trials": float(len(result.trials)), "n_complete": float(result.n_complete),
                                 "n_failed": float(result.n_failed), "n_pruned": float(result.n_pruned),
                                 "wall_time": float(result.wall_time)}
    tags: dict[str, str] = {"hpo.stop_reason": result.stop_reason or ""}
    best = result.best
    if best is not None:
        metrics.update({f"best_{k}": v for k, v in trial_metrics(best).items()})
        metrics["best_trial"] = float(best.number)
        if _number(best.confirmed_mean):  # confirm: the winner's mean and std over the further CV shuffles
            metrics["best_confirmed_mean_test_score"] = float(best.confirmed_mean)  # type: ignore[arg-type]
            metrics["best_confirmed_std_test_score"] = float(best.confirmed_std or 0.0)
            search_best = max((r for r in result.trials if r.state == "COMPLETE" and r.mean_test_score is not None),
                              key=lambda r: (r.mean_test_score, -r.number))
            tags["hpo.confirm.order_changed"] = str(search_best.number != best.number).lower()
        tags["hpo.best_trial"] = str(best.number)
        if result.objectives:  # two objectives: best_* are the point ``select`` chose from the front
            objectives = objectives_of(result.objectives)
            metrics["pareto_size"] = float(len(pareto_front(result.trials, objectives)))
            tags["hpo.objectives"] = ", ".join(f"{o.name} ({o.direction})" for o in objectives)
            tags["hpo.select"] = select_label(result.select)
        tags.update({f"hpo.best.{k}": param_value(v) for k, v in best.params.items()})
    if _number(result.test_score):
        metrics["test_score"] = float(result.test_score)  # type: ignore[arg-type]
    for name, value in result.test_metrics.items():
        if _number(value):
            metrics[f"test_{name}"] = float(value)
    return metrics, tags


def run_folder_files(spec_path: Path | None, run_dir: Path) -> list[Path]:
    """What every parent gets from the run folder: the spec, trials.csv, results.md, best_parameters.yaml, run.json."""
    from hpo_cli.rundir.paths import BEST_PARAMETERS, RESULTS_MD, RUN_JSON, TRIALS_CSV

    files = [run_dir / n for n in (TRIALS_CSV, RESULTS_MD, BEST_PARAMETERS, RUN_JSON)]
    return ([_spec_without_secrets(spec_path)] if spec_path else []) + files


def _spec_without_secrets(spec_path: Path) -> Path:
    """The spec itself, or a copy with ``core.redact`` applied when a URL in it holds a password (say a
    ``tracking.mlflow.uri`` with credentials): the artifact must not carry it into the MLflow store."""
    import atexit
    import shutil
    import tempfile

    from hpo_cli.core.redact import redact

    try:
        text = spec_path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return spec_path
    if redact(text) == text:
        return spec_path
    folder = Path(tempfile.mkdtemp(prefix="hpo-spec-"))
    atexit.register(shutil.rmtree, folder, True)  # after close(), which waits for the writer's uploads
    (folder / spec_path.name).write_text(redact(text), encoding="utf-8")
    return folder / spec_path.name


def data_sha256_from_run_json(run_dir: Path) -> str | None:
    """The data hash run.json recorded, when the tracker did not hear it in ``run_started``."""
    from hpo_cli.rundir.paths import RUN_JSON

    try:
        info = json.loads((run_dir / RUN_JSON).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    data = info.get("data") if isinstance(info, dict) else None
    sha = info.get("data_sha256") if isinstance(info, dict) else None
    sha = sha or (data.get("sha256") if isinstance(data, dict) else None)
    return sha if isinstance(sha, str) and sha else None


class ChildCap:
    """Which trials get a child run when ``tracking.mlflow.max_child_runs`` caps them (streaming, no deletes).

    Semantics: failed trials always get a child run. Complete and pruned trials get one while fewer
    than K such children exist; after that only a complete trial whose score enters the running top K
    (of every complete trial seen so far, logged or not) gets one. Children are never deleted once
    logged, so a model ends with at most K + (number of later top-K entries) non-failed children —
    about K·(1 + ln(N/K)) for N trials in random order — and always contains the final top K.
    ``trials.csv`` on the parent keeps every trial.
    """

    def __init__(self, k: int | None) -> None:
        self.k = k
        self._top: list[float] = []  # min-heap of the K best scores seen
        self._seen: set[int] = set()
        self.n_logged = 0  # non-failed children known to exist

    def observe(self, number: int, score: float | None) -> bool:
        """Account a complete trial's score once; True when it enters the running top K."""
        if self.k is None or number in self._seen or score is None or not _number(score):
            return False
        self._seen.add(number)
        if len(self._top) < self.k:
            heapq.heappush(self._top, score)
            return True
        if score > self._top[0]:
            heapq.heapreplace(self._top, score)
            return True
        return False

    def admit(self, record: TrialRecord) -> bool:
        """Decide (and account) whether this not-yet-logged trial gets a child run."""
        entered = self.observe(record.number, record.mean_test_score) if record.state == COMPLETE else False
        if self.k is None or record.state == FAIL:
            return True
        if self.n_logged < self.k or entered:
            self.n_logged += 1
            return True
        return False

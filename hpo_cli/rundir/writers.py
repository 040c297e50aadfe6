"""The run folder's files: ``trials.csv``, ``best_parameters.yaml``, ``results.md`` and ``run.json``.

Written after every model and at the end, each file atomically (a reader never sees half a file),
with a stable key and row order and full-precision floats, so that DVC and ``git diff`` see no change
when nothing changed and a training stage reads exactly the value that scored best.
"""

from __future__ import annotations

import csv
import io
import json
import logging
import math
import threading
from pathlib import Path
from typing import Any

import yaml

from hpo_cli.core.results import COMPLETE, ModelResult, TrialRecord
from hpo_cli.rundir.paths import BEST_PARAMETERS, RESULTS_MD, RUN_JSON, TRIALS_CSV, atomic_write_text

log = logging.getLogger("hpo")


def _plain(value: Any) -> Any:
    """numpy scalars and tuples → plain Python, so YAML/JSON stay safe and readable."""
    if hasattr(value, "item") and callable(value.item):
        try:
            return value.item()
        except (ValueError, AttributeError):
            pass
    if isinstance(value, tuple | list):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def ranks(records: list[TrialRecord]) -> dict[int, int]:
    """scikit-learn's ``rank_test_score`` (method "min") over the COMPLETE trials of one model."""
    scores = sorted((r.mean_test_score for r in records if r.state == COMPLETE and r.mean_test_score is not None),
                    reverse=True)
    first: dict[float, int] = {}
    for i, s in enumerate(scores):
        first.setdefault(s, i + 1)
    return {r.number: first[r.mean_test_score] for r in records
            if r.state == COMPLETE and r.mean_test_score is not None}


def _cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, list | dict):
        return json.dumps(_plain(value), sort_keys=True)
    if isinstance(value, float):
        return repr(value)
    return value


def _param_cell(params: dict[str, Any], name: str) -> Any:
    if name not in params:
        return ""  # inactive (when:) or not searched by this model
    value = params[name]
    return "None" if value is None else _cell(value)


def trials_csv(results: list[ModelResult], param_order: list[str] | None = None) -> str:
    """``trials.csv`` with scikit-learn ``cv_results_`` naming; rows by model (spec order) then trial number."""
    n_splits = max((len(r.split_scores) for m in results for r in m.trials), default=0)
    metric_names: list[str] = []
    params: list[str] = list(param_order or [])
    for m in results:
        for r in m.trials:
            metric_names.extend(n for n in r.metrics if n not in metric_names)
            params.extend(p for p in r.params if p not in params)
    # The contract's order, the extra metrics after the fold scores they summarise.
    header = ["model", "trial", "state", "rank_test_score", "mean_test_score", "std_test_score"]
    header += [f"split{k}_test_score" for k in range(n_splits)]
    for name in metric_names:
        header += [f"mean_test_{name}", f"std_test_{name}"]
    header += ["mean_fit_time", *(f"param_{p}" for p in params), "error"]
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(header)
    for m in results:
        rank = ranks(m.trials)
        for r in sorted(m.trials, key=lambda t: t.number):
            row: list[Any] = [m.name, r.number, r.state, rank.get(r.number, ""), _cell(r.mean_test_score),
                              _cell(r.std_test_score)]
            row += [_cell(r.split_scores[k]) if k < len(r.split_scores) else "" for k in range(n_splits)]
            for name in metric_names:
                info = r.metrics.get(name) or {}
                row += [_cell(info.get("mean")), _cell(info.get("std"))]
            row += [_cell(r.mean_fit_time), *(_param_cell(r.params, p) for p in params), r.error or ""]
            writer.writerow(row)
    return buf.getvalue()


def best_model_name(results: list[ModelResult]) -> str | None:
    """The model whose best trial scored highest (first in spec order on a tie)."""
    best: tuple[float, str] | None = None
    for m in results:
        score = m.best.mean_test_score if m.best is not None else None
        if score is not None and (best is None or score > best[0]):
            best = (score, m.name)
    return best[1] if best else None


def best_parameters(results: list[ModelResult], metric: str, with_test: bool) -> dict[str, Any]:
    models: dict[str, Any] = {}
    for m in results:
        entry: dict[str, Any] = {
            "estimator": m.estimator,
            "params": _plain(m.best.params) if m.best else None,
            "init_params": _plain(m.init_params),
            # Not in the contract's list, added: the estimator was scored behind these steps, so a training
            # stage needs them to rebuild the same model (hpo best prints the estimator's own parameters).
            "preprocess": _plain(m.preprocess),
            "mean_test_score": _plain(m.best.mean_test_score) if m.best else None,
            "std_test_score": _plain(m.best.std_test_score) if m.best else None,
        }
        if with_test:
            entry["test_score"] = _plain(m.test_score)
        entry["n_trials"] = len(m.trials)
        models[m.name] = entry
    return {"best_model": best_model_name(results), "metric": metric, "direction": "maximize", "models": models}


def best_parameters_yaml(results: list[ModelResult], metric: str, with_test: bool) -> str:
    """YAML whose floats round-trip exactly (PyYAML writes ``repr``) in a fixed key order."""
    data = best_parameters(results, metric, with_test)
    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True, default_flow_style=False, width=1000)


def _fmt(x: float | None) -> str:
    return "" if x is None else f"{x:.4f}"


def plain_results_md(results: list[ModelResult], metric: str, spec_name: str, top: int = 10) -> str:
    """A plain leaderboard per model; ``hpo report`` writes the full report when it is available."""
    lines = [f"# {spec_name}: hyperparameter search", "", f"Metric: `{metric}` (greater is better).", ""]
    winner = best_model_name(results)
    lines += ["| model | best mean | std | test | trials (complete / failed / pruned) |", "|---|---|---|---|---|"]
    for m in results:
        mark = " (best)" if m.name == winner else ""
        lines.append(f"| {m.name}{mark} | {_fmt(m.best.mean_test_score if m.best else None)} | "
                     f"{_fmt(m.best.std_test_score if m.best else None)} | {_fmt(m.test_score)} | "
                     f"{len(m.trials)} ({m.n_complete} / {m.n_failed} / {m.n_pruned}) |")
    for m in results:
        lines += ["", f"## {m.name}", "", f"`{m.estimator}`, method {m.method}", ""]
        complete = sorted((t for t in m.trials if t.state == COMPLETE and t.mean_test_score is not None),
                          key=lambda t: (-(t.mean_test_score or 0.0), t.number))[:top]
        if not complete:
            lines.append("No trial completed.")
            continue
        lines += ["| rank | trial | mean | std | params |", "|---|---|---|---|---|"]
        rank = ranks(m.trials)
        for t in complete:
            shown = ", ".join(f"{k}={v!r}" for k, v in t.params.items())
            lines.append(f"| {rank[t.number]} | {t.number} | {_fmt(t.mean_test_score)} | {_fmt(t.std_test_score)} | "
                         f"{shown} |")
    return "\n".join(lines) + "\n"


def results_md(run_dir: Path, results: list[ModelResult], metric: str, spec_name: str) -> str:
    """The full ``hpo report`` when the report module is there, else the plain leaderboard."""
    try:
        from hpo_cli.core.options import ReportOptions
        from hpo_cli.report.report import build_report
    except ImportError:
        return plain_results_md(results, metric, spec_name)
    try:
        return build_report(ReportOptions(run_dir=run_dir, plots=False))
    except Exception as exc:  # the report is a convenience; the run's own files must still be written
        log.warning("results.md: the full report failed (%s: %s); writing the plain leaderboard",
                    type(exc).__name__, exc)
        return plain_results_md(results, metric, spec_name)


def write_run_folder(run_dir: Path, results: list[ModelResult], metric: str, spec_name: str,
                     run_info: dict[str, Any], *, with_test: bool, param_order: list[str] | None = None) -> None:
    """Write all four files; run.json and trials.csv first, since the report reads them."""
    run_dir.mkdir(parents=True, exist_ok=True)
    atomic_write_text(run_dir / RUN_JSON, json.dumps(_plain(run_info), indent=2) + "\n")
    atomic_write_text(run_dir / TRIALS_CSV, trials_csv(results, param_order))
    atomic_write_text(run_dir / BEST_PARAMETERS, best_parameters_yaml(results, metric, with_test))
    atomic_write_text(run_dir / RESULTS_MD, results_md(run_dir, results, metric, spec_name))


# --- descriptions of a model -------------------------------------------------------------------------

def estimator_dotted(spec: Any, model: Any) -> str:
    from hpo_cli.problem.estimators import estimator_path, resolve_estimator

    return estimator_path(resolve_estimator(model.class_, spec.allow_modules))


def init_params_used(spec: Any, model: Any) -> dict[str, Any]:
    """The fixed parameters the scored estimator really had (the seeded ``random_state`` included), so a
    training stage that rebuilds it from ``best_parameters.yaml`` gets the same model."""
    from hpo_cli.problem.estimators import effective_init_params

    return effective_init_params(model, spec.allow_modules)


def model_info(spec: Any, model: Any, evaluator: Any) -> dict[str, Any]:
    """The study's ``hpo_model`` attribute: enough to read the study without the spec."""
    from hpo_cli.problem.cv import describe
    from hpo_cli.search.evaluate import metric_label

    ds = evaluator.dataset
    return _plain({
        "name": model.name, "estimator": estimator_dotted(spec, model), "init_params": init_params_used(spec, model),
        "metric": metric_label(model.metric, ds.task), "metrics": list(model.metrics), "method": model.method,
        "cv": describe(model.cv, ds.task, ds.groups is not None), "n_splits": len(evaluator.folds),
        "seed": model.seed, "space": list(model.space),
    })


def failure_summary(result: ModelResult) -> str:
    """``forest: all 12 trials failed; 8x ValueError: ...``: the errors users must fix, most common first."""
    counts: dict[str, int] = {}
    for t in result.trials:
        if t.error:
            counts[t.error] = counts.get(t.error, 0) + 1
    top = sorted(counts.items(), key=lambda kv: -kv[1])[:3]
    shown = "; ".join(f"{n}x {err}" for err, n in top)
    return f"{result.name}: all {len(result.trials)} trials failed: {shown}"


# --- run.json ----------------------------------------------------------------------------------------

_PACKAGES = ("hpo", "optuna", "scikit-learn", "xgboost", "pandas", "numpy", "mlflow")


def _versions() -> dict[str, str | None]:
    """Installed versions read from package metadata (no import of mlflow or xgboost needed)."""
    import platform
    from importlib.metadata import PackageNotFoundError, version

    out: dict[str, str | None] = {"python": platform.python_version()}
    for name in _PACKAGES:
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            out[name] = None
    return out


def git_commit(folder: Path) -> str | None:
    """The commit checked out in the git repository holding ``folder``, or None.

    Read from ``.git`` itself (HEAD, the ref file or ``packed-refs``; worktrees' ``gitdir:`` files too):
    spawning ``git rev-parse`` from a process holding scikit-learn cost ~40 ms, more than a short search.
    """
    for top in (folder.resolve(), *folder.resolve().parents):
        dot = top / ".git"
        if dot.is_file():  # a worktree or submodule: "gitdir: <path>"
            text = dot.read_text(encoding="utf-8", errors="replace").strip()
            dot = (top / text.removeprefix("gitdir:").strip()).resolve() if text.startswith("gitdir:") else dot
        if dot.is_dir():
            return _resolve_head(dot)
    return None


def _resolve_head(git_dir: Path) -> str | None:
    try:
        head = (git_dir / "HEAD").read_text(encoding="utf-8").strip()
        if not head.startswith("ref:"):
            return head or None
        ref = head.removeprefix("ref:").strip()
        common = git_dir
        if (git_dir / "commondir").is_file():  # worktrees keep refs in the main repository
            common = (git_dir / (git_dir / "commondir").read_text(encoding="utf-8").strip()).resolve()
        for base in (git_dir, common):
            if (base / ref).is_file():
                return (base / ref).read_text(encoding="utf-8").strip() or None
        packed = common / "packed-refs"
        if packed.is_file():
            for line in packed.read_text(encoding="utf-8").splitlines():
                sha, _, name = line.partition(" ")
                if name == ref:
                    return sha
    except OSError:
        return None
    return None  # a branch with no commit yet


class RunInfo:
    """Provenance of a run (``run.json``): what ran, on which data and code, when, and where it is stored."""

    def __init__(self, spec: Any, options: Any, dataset: Any, storage_url: str, started_at: Any, seed: int) -> None:
        import sys

        data = spec.data
        self.info: dict[str, Any] = {
            "spec": {"name": spec.name, "path": str(spec.path) if spec.path else None, "sha256": spec.sha256},
            "data": {"source": dataset.source, "sha256": dataset.sha256, "target": dataset.target,
                     "task": dataset.task, "n_train": dataset.n_rows,
                     "n_test": 0 if dataset.y_test is None else len(dataset.y_test),
                     "test_size": data.test_size if data else None, "test_split": dataset.test_split or None,
                     "features": dataset.feature_names},
            "seed": seed,  # of the held-out split; each model's own seed is in its study's hpo_model attribute
            "models": {},
            "status": "running",
            "started": started_at.isoformat(timespec="seconds"),
            "ended": None,
            "storage": storage_url,
            "resumed": bool(options.resume),
            "mlflow_run_ids": {},
            "git_commit": None,
            "versions": {},
            "command": [Path(sys.argv[0]).name, *sys.argv[1:]] if sys.argv and sys.argv[0] else [],
        }
        # git (a subprocess) and package metadata cost ~10 ms: gather them while the first trials run.
        self._provenance = threading.Thread(target=self._gather, args=(spec.base_dir,), daemon=True)
        self._provenance.start()

    def _gather(self, folder: Path) -> None:
        self.info["git_commit"] = git_commit(folder)
        self.info["versions"] = _versions()

    def finish(self, status: str, results: list[ModelResult], tracker: Any = None) -> None:
        from datetime import UTC, datetime

        self.info["status"] = status
        self.info["ended"] = datetime.now(UTC).isoformat(timespec="seconds")
        self.info["models"] = {m.name: {"study": m.study_name, "method": m.method, "n_trials": len(m.trials),
                                        "n_complete": m.n_complete, "n_failed": m.n_failed, "n_pruned": m.n_pruned,
                                        "stop_reason": m.stop_reason, "wall_time": round(m.wall_time, 3)}
                               for m in results}
        run_ids = getattr(tracker, "run_ids", None)
        if isinstance(run_ids, dict):
            self.info["mlflow_run_ids"] = dict(run_ids)

    def as_dict(self) -> dict[str, Any]:
        self._provenance.join()
        return self.info

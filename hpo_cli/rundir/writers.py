"""The run folder's files: ``trials.csv``, ``best_parameters.yaml``, ``results.md`` and ``run.json``.

Written after every model and at the end, each file atomically (a reader never sees half a file),
with a stable key and row order and full-precision floats, so that DVC and ``git diff`` see no change
when nothing changed and a training stage reads exactly the value that scored best.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from hpo_cli.core.pareto import objective_value, objectives_of, pareto_front, select_point, winner_across
from hpo_cli.core.results import ModelResult, ranks
from hpo_cli.core.values import plain
from hpo_cli.rundir.paths import BEST_PARAMETERS, RESULTS_MD, RUN_JSON, TRIALS_CSV, atomic_write_text

#: ``confirm:``'s columns in trials.csv (only when some trial was confirmed): over the R further CV shuffles.
CONFIRMED_COLUMNS = ["confirmed_mean_test_score", "confirmed_std_test_score"]


def _cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, list | dict):
        return json.dumps(plain(value), sort_keys=True)
    if isinstance(value, float):
        return repr(value)
    return value


def _param_cell(params: dict[str, Any], name: str) -> Any:
    if name not in params:
        return ""  # inactive (when:) or not searched by this model
    value = params[name]
    return "None" if value is None else _cell(value)


def front_numbers(m: ModelResult) -> set[int]:
    """The trial numbers on the model's Pareto front (empty for a single-objective model)."""
    objectives = objectives_of(m.objectives)
    return {r.number for r in pareto_front(m.trials, objectives)} if objectives else set()


def trials_csv(results: list[ModelResult], param_order: list[str] | None = None) -> str:
    """``trials.csv`` with scikit-learn ``cv_results_`` naming; rows by model (spec order) then trial number.

    With two objectives (``objectives:``) a ``pareto`` column (true/false) follows ``rank_test_score``, and
    ``mean_model_size`` follows ``mean_fit_time`` when that cost was measured; a single-objective run's
    file is unchanged.
    """
    n_splits = max((len(r.split_scores) for m in results for r in m.trials), default=0)
    metric_names: list[str] = []
    params: list[str] = list(param_order or [])
    for m in results:
        for r in m.trials:
            metric_names.extend(n for n in r.metrics if n not in metric_names)
            params.extend(p for p in r.params if p not in params)
    # The contract's order, the extra metrics after the fold scores they summarise.
    multi = any(m.objectives for m in results)
    sized = any(r.mean_model_size is not None for m in results for r in m.trials)
    header = ["model", "trial", "state", "rank_test_score", *(["pareto"] if multi else []), "mean_test_score",
              "std_test_score"]
    header += [f"split{k}_test_score" for k in range(n_splits)]
    for name in metric_names:
        header += [f"mean_test_{name}", f"std_test_{name}"]
    confirmed = any(r.confirmed_mean is not None for m in results for r in m.trials)
    header += CONFIRMED_COLUMNS if confirmed else []
    header += ["mean_fit_time", *(["mean_model_size"] if sized else []), *(f"param_{p}" for p in params), "error"]
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(header)
    for m in results:
        rank = ranks(m.trials)
        front = front_numbers(m)
        for r in sorted(m.trials, key=lambda t: t.number):
            row: list[Any] = [m.name, r.number, r.state, rank.get(r.number, "")]
            row += [("true" if r.number in front else "false") if m.objectives else ""] if multi else []
            row += [_cell(r.mean_test_score), _cell(r.std_test_score)]
            row += [_cell(r.split_scores[k]) if k < len(r.split_scores) else "" for k in range(n_splits)]
            for name in metric_names:
                info = r.metrics.get(name) or {}
                row += [_cell(info.get("mean")), _cell(info.get("std"))]
            row += [_cell(r.confirmed_mean), _cell(r.confirmed_std)] if confirmed else []
            row += [_cell(r.mean_fit_time), *([_cell(r.mean_model_size)] if sized else [])]
            row += [*(_param_cell(r.params, p) for p in params), r.error or ""]
            writer.writerow(row)
    return buf.getvalue()


def best_model_name(results: list[ModelResult]) -> str | None:
    """The model whose best trial scored highest (first in spec order on a tie).

    When every model's best was confirmed (``confirm:``), their confirmed means are compared: a search
    mean is optimistic against a confirmed one, so the two are never mixed.
    """
    if results and results[0].objectives:
        objectives = objectives_of(results[0].objectives)
        fronts = [(m.name, pareto_front(m.trials, objectives)) for m in results]
        return winner_across(fronts, objectives, results[0].select)
    best: tuple[float, str] | None = None
    bests = [m.best for m in results if m.best is not None]
    confirmed = bool(bests) and all(b.confirmed_mean is not None for b in bests)
    for m in results:
        score = (m.best.confirmed_mean if confirmed else m.best.mean_test_score) if m.best is not None else None
        if score is not None and (best is None or score > best[0]):
            best = (score, m.name)
    return best[1] if best else None


def best_parameters(results: list[ModelResult], metric: str, with_test: bool) -> dict[str, Any]:
    models: dict[str, Any] = {}
    for m in results:
        entry: dict[str, Any] = {
            "estimator": m.estimator,
            "params": plain(m.best.params) if m.best else None,
            "init_params": plain(m.init_params),
            # Not in the contract's list, added: the estimator was scored behind these steps, so a training
            # stage needs them to rebuild the same model (hpo best prints the estimator's own parameters).
            "preprocess": plain(m.preprocess),
            "mean_test_score": plain(m.best.mean_test_score) if m.best else None,
            "std_test_score": plain(m.best.std_test_score) if m.best else None,
        }
        if m.best is not None and m.best.confirmed_mean is not None:
            entry["confirmed_mean_test_score"] = plain(m.best.confirmed_mean)
            entry["confirmed_std_test_score"] = plain(m.best.confirmed_std)
        if m.objectives:
            entry.update(_objective_entry(m))
        if with_test:
            entry["test_score"] = plain(m.test_score)
        entry["n_trials"] = len(m.trials)
        models[m.name] = entry
    out: dict[str, Any] = {"best_model": best_model_name(results), "metric": metric, "direction": "maximize"}
    if results and results[0].objectives:
        out["objectives"] = plain(results[0].objectives)
        out["select"] = plain(results[0].select)  # best_first | knee | {max_fit_time: seconds}
    out["models"] = models
    return out


def _objective_entry(m: ModelResult) -> dict[str, Any]:
    """The chosen point's value of each objective, the size of the front, and whether ``select`` was met."""
    objectives = objectives_of(m.objectives)
    front = pareto_front(m.trials, objectives)
    values = {o.name: plain(objective_value(m.best, o, i)) if m.best else None for i, o in enumerate(objectives)}
    entry: dict[str, Any] = {"objective_values": values, "pareto_size": len(front)}
    _, met = select_point(front, objectives, m.select)
    if not met:
        (key, limit), = m.select.items()
        entry["select_met"] = False
        entry["select_note"] = (f"no point of the front has {key.removeprefix('max_')} <= {limit:g}; the one with "
                                f"the lowest was exported")
    return entry


def best_parameters_yaml(results: list[ModelResult], metric: str, with_test: bool) -> str:
    """YAML whose floats round-trip exactly (PyYAML writes ``repr``) in a fixed key order."""
    data = best_parameters(results, metric, with_test)
    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True, default_flow_style=False, width=1000)


def write_run_json(run_dir: Path, run_info: dict[str, Any]) -> None:
    """``run.json`` alone: written when a run starts (status ``running``), so even a killed run leaves one."""
    atomic_write_text(run_dir / RUN_JSON, json.dumps(plain(run_info), indent=2) + "\n")


def write_run_folder(run_dir: Path, results: list[ModelResult], metric: str, run_info: dict[str, Any],
                     results_md: Callable[[], str], *, with_test: bool, param_order: list[str] | None = None) -> None:
    """Write all four files; ``results_md`` is called last, since the report it renders reads the other three."""
    run_dir.mkdir(parents=True, exist_ok=True)
    write_run_json(run_dir, run_info)
    atomic_write_text(run_dir / TRIALS_CSV, trials_csv(results, param_order))
    atomic_write_text(run_dir / BEST_PARAMETERS, best_parameters_yaml(results, metric, with_test))
    atomic_write_text(run_dir / RESULTS_MD, results_md())

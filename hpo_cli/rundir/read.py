"""Reading a run for the report: the run folder's files, and the Optuna study storage when there is one.

``trials.csv`` is written when a model finishes, so it lags a run in progress and misses trials that other
workers add to a shared storage; the storage is the truth when it can be opened. Every trial becomes one
plain row (see :class:`TrialRow`) whichever source it came from, so the report and the plots never care.
"""

from __future__ import annotations

import csv
import json
import math
import re
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import yaml

from hpo_cli.core.errors import InputError, Location
from hpo_cli.rundir.paths import BEST_PARAMETERS, RUN_JSON, TRIALS_CSV, yaml_load
from hpo_cli.storage.backend import STUDY_JOURNAL

TrialRow = dict[str, Any]
"""Keys: model, trial, state, rank, mean, std, splits (list), fit_time, params (dict), error, start, complete."""

_SPLIT = re.compile(r"split(\d+)_test_score")


@dataclass
class ModelTrials:
    """One model's trials and, when read from the storage, its Optuna study (for importance)."""

    name: str
    rows: list[TrialRow] = field(default_factory=list)
    study: Any = None
    meta: dict[str, Any] = field(default_factory=dict)  # the study's ``hpo_model`` attribute (cv, seed, ...)
    test: dict[str, Any] = field(default_factory=dict)  # the study's ``hpo_test`` attribute

    def by_state(self, state: str) -> list[TrialRow]:
        return [r for r in self.rows if r["state"] == state]

    def complete(self) -> list[TrialRow]:
        """Complete trials with a score, best first (scores follow scikit-learn: greater is better)."""
        done = [r for r in self.rows if r["state"] == "COMPLETE" and _finite(r["mean"])]
        return sorted(done, key=lambda r: (-r["mean"], r["trial"]))


@dataclass
class RunData:
    """Everything the report reads about one run."""

    run_dir: Path
    best: dict[str, Any]  # best_parameters.yaml ({} while no model has finished)
    info: dict[str, Any]  # run.json ({} when absent)
    models: dict[str, ModelTrials]
    source: str  # "study storage" or "trials.csv"
    storage_url: str | None = None


def _finite(x: Any) -> bool:
    return isinstance(x, float | int) and not isinstance(x, bool) and math.isfinite(x)


def _num(text: str | None) -> float | None:
    if text is None or text == "":
        return None
    try:
        return float(text)
    except ValueError:
        return None


def _read_yaml(path: Path) -> dict[str, Any]:
    if not path.is_file():
        return {}
    try:
        data = yaml_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise InputError(f"{path.name} is not valid YAML: {exc}", Location(str(path))) from None
    return data if isinstance(data, dict) else {}


def _read_json(path: Path) -> dict[str, Any]:
    if not path.is_file():
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise InputError(f"{path.name} is not valid JSON: {exc.msg}", Location(str(path), exc.lineno,
                                                                               exc.colno)) from None
    return data if isinstance(data, dict) else {}


def read_trials_csv(path: Path) -> dict[str, ModelTrials]:
    """``trials.csv`` (scikit-learn ``cv_results_`` naming) as rows per model, in file order."""
    models: dict[str, ModelTrials] = {}
    if not path.is_file():
        return models
    with path.open(newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        fields = reader.fieldnames or []
        splits = sorted((int(m.group(1)), f) for f in fields if (m := _SPLIT.fullmatch(f)))
        params = [f for f in fields if f.startswith("param_")]
        for rec in reader:
            name = rec.get("model", "")
            rank = _num(rec.get("rank_test_score"))
            row: TrialRow = {
                "model": name, "trial": int(float(rec.get("trial") or 0)), "state": rec.get("state", ""),
                "rank": int(rank) if rank is not None else None,
                "mean": _num(rec.get("mean_test_score")), "std": _num(rec.get("std_test_score")),
                "splits": [v for _, f in splits if (v := _num(rec.get(f))) is not None],
                "fit_time": _num(rec.get("mean_fit_time")),
                "params": {f[len("param_"):]: rec[f] for f in params if rec.get(f) not in (None, "")},
                "error": rec.get("error") or None,
                "start": rec.get("datetime_start") or None, "complete": rec.get("datetime_complete") or None,
                "duration": _num(rec.get("duration")),
            }
            models.setdefault(name, ModelTrials(name)).rows.append(row)
    return models


def _record_row(rec: Any) -> TrialRow:
    """A ``TrialRecord`` (rebuilt from the storage by ``storage.record_from_trial``) as a report row."""
    return {
        "model": rec.model, "trial": rec.number, "state": rec.state, "rank": None,
        "mean": float(rec.mean_test_score) if _finite(rec.mean_test_score) else None,
        "std": rec.std_test_score, "splits": [float(s) for s in rec.split_scores if _finite(s)],
        "fit_time": rec.mean_fit_time, "params": dict(rec.params), "error": rec.error,
        "start": rec.datetime_start, "complete": rec.datetime_complete, "duration": rec.duration,
    }


def read_storage(url: str, run_dir: Path, spec_name: str | None) -> dict[str, ModelTrials]:
    """Every study ``<spec name>.<model>`` in the storage, as rows per model (trial number order).

    Trials abandoned by an interruption are left out, as ``trials.csv`` leaves them out.
    """
    import optuna

    from hpo_cli.storage import attrs as store
    from hpo_cli.storage.backend import open_storage, study_names

    if not url.endswith(".journal") and "://" not in url and not url.startswith("journal:"):
        raise InputError(f"not an Optuna storage URL or journal file: {url}", Location("--storage"))
    if (url.endswith(".journal") or url.startswith("journal:")) and not Path(url.removeprefix("journal:")).is_file():
        raise InputError(f"study storage not found: {url}", Location("--storage"))
    backend = open_storage(run_dir, url)
    models: dict[str, ModelTrials] = {}
    for study_name in study_names(backend):
        if spec_name is not None and not study_name.startswith(spec_name + "."):
            continue
        study = optuna.load_study(study_name=study_name, storage=backend)
        meta = study.user_attrs.get(store.STUDY_MODEL) or {}
        name = meta.get("name") or study_name.rsplit(".", 1)[-1]
        trials = [t for t in study.get_trials(deepcopy=False) if not store.is_interrupted(t)]
        rows = []
        for t in trials:
            row = _record_row(store.record_from_trial(name, t))
            row["start"], row["complete"] = t.datetime_start, t.datetime_complete  # full resolution
            rows.append(row)
        mt = ModelTrials(name, rows, study)
        mt.meta = meta
        mt.test = study.user_attrs.get(store.STUDY_TEST) or {}
        models[name] = mt
    return models


def _rank(models: dict[str, ModelTrials]) -> None:
    """scikit-learn's ``rank_test_score`` (1 = best; ties share the lower rank) where the source had none."""
    for mt in models.values():
        if all(r["rank"] is not None for r in mt.rows if r["mean"] is not None):
            continue
        done = mt.complete()
        rank = 0
        prev = None
        for i, r in enumerate(done, start=1):
            if r["mean"] != prev:
                rank, prev = i, r["mean"]
            r["rank"] = rank


def _spec_name(best: dict[str, Any], info: dict[str, Any]) -> str | None:
    for key in ("spec_name", "name", "study_prefix"):
        if isinstance(info.get(key), str):
            return info[key]
    spec = info.get("spec")
    if isinstance(spec, dict) and isinstance(spec.get("name"), str):
        return spec["name"]
    return best.get("name") if isinstance(best.get("name"), str) else None


def storage_url_of(run_dir: Path, info: dict[str, Any], override: str | None) -> str | None:
    """--storage, else run.json's storage URL, else the default journal file in the run folder if present."""
    if override:
        return override
    url = info.get("storage") or info.get("storage_url")
    if isinstance(url, dict):
        url = url.get("url")
    journal = run_dir / STUDY_JOURNAL
    if isinstance(url, str) and url:
        moved = url.endswith(".journal") and not Path(url.removeprefix("journal:")).is_file()
        if not (moved and journal.is_file()):  # a run folder copied elsewhere keeps its journal beside it
            return url
    return str(journal) if journal.is_file() else None


def load_run(run_dir: Path, storage: str | None = None, use_storage: bool = True) -> RunData:
    """The run folder plus, when reachable, the storage; an explicit ``--storage`` that fails is bad input."""
    best = _read_yaml(run_dir / BEST_PARAMETERS)
    info = _read_json(run_dir / RUN_JSON)
    models = read_trials_csv(run_dir / TRIALS_CSV)
    source = "trials.csv"
    url = storage_url_of(run_dir, info, storage) if use_storage else None
    if url is not None:
        try:
            from_storage = read_storage(url, run_dir, _spec_name(best, info))
        except InputError:
            if storage:
                raise
            from_storage = {}
        except Exception as exc:  # an unreachable database must not cost the report; say where it came from
            if storage:
                raise InputError(f"cannot read the study storage {url}: {exc}", Location("--storage")) from None
            from_storage = {}
        if from_storage:
            for name, mt in from_storage.items():
                models[name] = mt
            source = "study storage"
    if not models and not best:
        raise InputError(f"{run_dir} has no {TRIALS_CSV}, {BEST_PARAMETERS} or study storage; "
                         "is it a run folder written by `hpo tune`?", Location(str(run_dir)))
    _rank(models)
    return RunData(run_dir, best, info, models, source, url)


def wall_time(rows: list[TrialRow]) -> float | None:
    """Seconds from the first trial's start to the last trial's end (None when the source has no times)."""
    starts = [_as_dt(r["start"]) for r in rows]
    ends = [_as_dt(r["complete"]) for r in rows]
    starts = [s for s in starts if s is not None]
    ends = [e for e in ends if e is not None]
    if not starts or not ends:
        return None
    return max((max(ends) - min(starts)).total_seconds(), 0.0)


def _as_dt(value: Any) -> datetime | None:
    if isinstance(value, datetime):
        return value
    if isinstance(value, str) and value:
        try:
            return datetime.fromisoformat(value)
        except ValueError:
            return None
    return None

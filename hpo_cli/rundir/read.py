"""Reading a run for the report: the run folder's files, and the Optuna study storage when there is one.

``trials.csv`` is written when a model finishes, so it lags a run in progress and misses trials that other
workers add to a shared storage; the storage is the truth when it can be opened. Every trial becomes one
``TrialRecord`` whichever source it came from, so the report and the plots never care.
"""

from __future__ import annotations

import csv
import logging
import math
import re
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from hpo_cli.core.errors import InputError, Location
from hpo_cli.core.pareto import Objective, objectives_of, pareto_front, select_point
from hpo_cli.core.redact import redact, without_mask
from hpo_cli.core.results import COMPLETE, TrialRecord, confirmed_winner, ranks
from hpo_cli.core.values import from_typed_json
from hpo_cli.rundir.files import read_best, read_json
from hpo_cli.rundir.paths import BEST_PARAMETERS, RUN_JSON, TRIALS_CSV
from hpo_cli.storage.backend import STUDY_JOURNAL

_log = logging.getLogger("hpo")
_SPLIT = re.compile(r"split(\d+)_test_score")
_METRIC = re.compile(r"(mean|std)_test_(.+)")


@dataclass
class ModelTrials:
    """One model's trials and, when read from the storage, its Optuna study (for importance)."""

    name: str
    trials: list[TrialRecord] = field(default_factory=list)
    study: Any = None
    meta: dict[str, Any] = field(default_factory=dict)  # the study's ``hpo_model`` attribute (cv, seed, ...)
    test: dict[str, Any] = field(default_factory=dict)  # the study's ``hpo_test`` attribute
    objectives: list[Objective] = field(default_factory=list)  # two objectives (``core.pareto``), else []
    select: Any = None  # their ``select`` rule

    def front(self) -> list[TrialRecord]:
        """The Pareto front of a two-objective model, in trial order ([] for one objective)."""
        return pareto_front(self.trials, self.objectives) if self.objectives else []

    def by_state(self, state: str) -> list[TrialRecord]:
        return [t for t in self.trials if t.state == state]

    def complete(self) -> list[TrialRecord]:
        """Complete trials with a score, best first (scores follow scikit-learn: greater is better)."""
        done = [t for t in self.trials if t.state == COMPLETE and _finite(t.mean_test_score)]
        return sorted(done, key=lambda t: (-(t.mean_test_score or 0.0), t.number))

    def best(self) -> TrialRecord | None:
        """The model's best: the confirmed winner under ``confirm:``, the point ``select`` picks from the front
        with two objectives, else the highest search mean."""
        if self.objectives:
            return select_point(self.front(), self.objectives, self.select or "best_first")[0]
        done = self.complete()
        return confirmed_winner(self.trials) or (done[0] if done else None)

    def ranks(self) -> dict[int, int]:
        """Trial number -> ``rank_test_score``, the same ranks ``trials.csv`` was written with."""
        return ranks(self.trials)


@dataclass
class RunData:
    """Everything the report reads about one run."""

    run_dir: Path
    best: dict[str, Any]  # best_parameters.yaml ({} while no model has finished)
    info: dict[str, Any]  # run.json ({} when absent)
    models: dict[str, ModelTrials]
    source: str  # "study storage" or "trials.csv"
    storage_url: str | None = None
    rebuilt: list[str] = field(default_factory=list)  # damaged run-folder files replaced by the storage's truth

    def model_order(self) -> list[str]:
        """The spec's order as best_parameters.yaml keeps it, then models only the trials know of."""
        names = list((self.best.get("models") or {}).keys())
        return names + [n for n in self.models if n not in names]

    def entry(self, name: str) -> dict[str, Any]:
        """The model's entry in best_parameters.yaml ({} before it finished)."""
        return (self.best.get("models") or {}).get(name) or {}

    def best_trial(self, name: str) -> TrialRecord | None:
        mt = self.models.get(name)
        return mt.best() if mt else None

    def best_params(self, name: str, best: TrialRecord | None) -> dict[str, Any]:
        """best_parameters.yaml's parameters (the values the estimator received, not CSV text) while they are
        still those of ``best``; the trial's own once a newer trial in the storage beat them."""
        entry = self.entry(name)
        if isinstance(entry.get("params"), dict) and (best is None or entry.get("mean_test_score")
                                                      == best.mean_test_score):
            return entry["params"]
        return dict(best.params) if best else {}


def _finite(x: Any) -> bool:
    return isinstance(x, float | int) and not isinstance(x, bool) and math.isfinite(x)


def _score(x: Any) -> float | None:
    """A score the report can rank and print: a non-finite one is no score."""
    return float(x) if _finite(x) else None


def _num(text: str | None) -> float | None:
    if text is None or text == "":
        return None
    try:
        return float(text)
    except ValueError:
        return None


def read_trials_csv(path: Path) -> dict[str, ModelTrials]:
    """``trials.csv`` (scikit-learn ``cv_results_`` naming) as records per model, in file order.

    Parameter values stay the CSV's text: the file does not say whether ``1`` was an int or a choice.
    """
    models: dict[str, ModelTrials] = {}
    if not path.is_file():
        return models
    line = 1
    try:
        with path.open(newline="", encoding="utf-8") as fh:
            reader = csv.DictReader(fh)
            columns = _Columns.of(reader.fieldnames or [])
            for row in reader:
                line = reader.line_num
                record = columns.record(row)
                models.setdefault(record.model, ModelTrials(record.model)).trials.append(record)
    except (ValueError, csv.Error, OSError, TypeError) as exc:  # UnicodeDecodeError is a ValueError
        reason = "not UTF-8 text" if isinstance(exc, UnicodeDecodeError) else str(exc).splitlines()[0][:120]
        raise InputError(f"{path.name} is damaged ({reason})", Location(str(path), line)) from None
    return models


@dataclass
class _Columns:
    """Which ``trials.csv`` columns hold the fold scores, the extra metrics and the parameters."""

    splits: list[str]
    metrics: list[tuple[str, str, str]]  # (metric, "mean" or "std", column)
    params: list[str]

    @classmethod
    def of(cls, fields: list[str]) -> _Columns:
        numbered = sorted((int(m.group(1)), f) for f in fields if (m := _SPLIT.fullmatch(f)))
        metrics = [(m.group(2), m.group(1), f) for f in fields
                   if (m := _METRIC.fullmatch(f)) and m.group(2) != "score"]
        return cls([f for _, f in numbered], metrics, [f for f in fields if f.startswith("param_")])

    def record(self, row: dict[str, str]) -> TrialRecord:
        extra: dict[str, dict[str, Any]] = {}
        for metric, stat, f in self.metrics:
            if (value := _num(row.get(f))) is not None:
                extra.setdefault(metric, {})[stat] = value
        name = row.get("model", "")
        return TrialRecord(
            model=name, number=_trial_number(row.get("trial")), state=row.get("state", ""),
            params={f[len("param_"):]: row[f] for f in self.params if row.get(f) not in (None, "")},
            mean_test_score=_score(_num(row.get("mean_test_score"))), std_test_score=_num(row.get("std_test_score")),
            split_scores=[v for f in self.splits if (v := _score(_num(row.get(f)))) is not None],
            metrics=extra, mean_fit_time=_num(row.get("mean_fit_time")),
            mean_model_size=_num(row.get("mean_model_size")),
            mean_score_time=_num(row.get("mean_score_time")), duration=_num(row.get("duration")),
            error=row.get("error") or None,
            datetime_start=row.get("datetime_start") or None, datetime_complete=row.get("datetime_complete") or None,
            confirmed_mean=_score(_num(row.get("confirmed_mean_test_score"))),
            confirmed_std=_num(row.get("confirmed_std_test_score")),
        )


def _trial_number(text: str | None) -> int:
    try:
        number = float(text or 0)
        if number.is_integer():
            return int(number)
    except (ValueError, OverflowError):
        pass
    raise ValueError(f"trial {str(text)[:40]!r} is not a trial number")


def read_storage(url: str, run_dir: Path, spec_name: str | None) -> dict[str, ModelTrials]:
    """Every study ``<spec name>.<model>`` in the storage, as records per model (trial number order).

    Trials abandoned by an interruption are left out, as ``trials.csv`` leaves them out.
    """
    import optuna

    from hpo_cli.storage import attrs as store
    from hpo_cli.storage.backend import open_storage, study_names

    if not url.endswith(".journal") and "://" not in url and not url.startswith("journal:"):
        raise InputError(redact(f"not an Optuna storage URL or journal file: {url}"), Location("--storage"))
    if (url.endswith(".journal") or url.startswith("journal:")) and not Path(url.removeprefix("journal:")).is_file():
        raise InputError(redact(f"study storage not found: {url}"), Location("--storage"))
    # run.json holds no password: PGPASSWORD / .pgpass give it; a reader leaves a torn journal line as it is
    backend = open_storage(run_dir, without_mask(url), repair=False)
    models: dict[str, ModelTrials] = {}
    for study_name in study_names(backend):
        if spec_name is not None and not study_name.startswith(spec_name + "."):
            continue
        study = optuna.load_study(study_name=study_name, storage=backend)
        meta = from_typed_json(study.user_attrs.get(store.STUDY_MODEL) or {})
        name = meta.get("name") or study_name.rsplit(".", 1)[-1]
        if spec_name is not None and study_name != f"{spec_name}.{name}":
            continue  # another spec whose name extends this one's (`exp.v2.m` is not spec `exp`'s model `v2.m`)
        records = []
        for trial in study.get_trials(deepcopy=False):
            if store.is_interrupted(trial):
                continue
            record = store.record_from_trial(name, trial)
            record.mean_test_score = _score(record.mean_test_score)
            record.split_scores = [float(s) for s in record.split_scores if _finite(s)]
            records.append(record)
        store.apply_confirmation(records, study.user_attrs.get(store.STUDY_CONFIRM))
        mt = ModelTrials(name, records, study)
        mt.meta = meta
        mt.test = study.user_attrs.get(store.STUDY_TEST) or {}
        models[name] = mt
    return models


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
    if isinstance(url, str) and (url.endswith(".journal") or url.startswith("journal:")):
        if journal.is_file():  # the run folder's own journal wins, also in a copied folder whose run.json
            return str(journal)  # (from a release before hpo_format 2) names the original's absolute path
        path = Path(url.removeprefix("journal:"))
        # relative: to the run folder (hpo_format 2), else as shown from the repository / current folder
        found = next((p for p in ([path] if path.is_absolute() else [run_dir / path, path]) if p.is_file()), None)
        return str(found) if found is not None else None
    if isinstance(url, str) and url:
        return url
    return str(journal) if journal.is_file() else None


def load_run(run_dir: Path, storage: str | None = None, use_storage: bool = True) -> RunData:
    """The run folder plus, when reachable, the storage; an explicit ``--storage`` that fails is bad input.

    A damaged run-folder file (random bytes, a non-numeric trial, JSON nested 100,000 deep) is bad input
    located in it, unless the study storage is intact: then what the file held is rebuilt from the storage
    and stderr says so (``RunData.rebuilt`` names the files).
    """
    damaged: list[InputError] = []

    def tolerant(read: Any, path: Path, empty: Any) -> Any:
        try:
            return read(path)
        except InputError as exc:
            damaged.append(exc)
            return empty

    best = tolerant(read_best, run_dir / BEST_PARAMETERS, {})
    info = tolerant(read_json, run_dir / RUN_JSON, {})
    models = tolerant(read_trials_csv, run_dir / TRIALS_CSV, {})
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
                raise InputError(redact(f"cannot read the study storage {url}: {exc}"), Location("--storage")) from None
            from_storage = {}
        if from_storage:
            for name, mt in from_storage.items():
                models[name] = mt
            source = "study storage"
    if damaged and source != "study storage":
        raise damaged[0]
    for exc in damaged:
        _log.warning("warning: %s; rebuilt from the study storage (`hpo tune SPEC --resume` rewrites it)", exc)
    if not models and not best:
        raise InputError(f"{run_dir} has no {TRIALS_CSV}, {BEST_PARAMETERS} or study storage; "
                         "is it a run folder written by `hpo tune`?", Location(str(run_dir)))
    _set_objectives(models, best)
    run = RunData(run_dir, best, info, models, source, url)
    run.rebuilt = [str(e.problems[0].location.file) for e in damaged if e.problems[0].location]
    return run


def _set_objectives(models: dict[str, ModelTrials], best: dict[str, Any]) -> None:
    """Objectives and ``select`` of each model: its study's ``hpo_model``, else best_parameters.yaml's."""
    for mt in models.values():
        source = mt.meta if mt.meta.get("objectives") else best
        try:
            objectives = objectives_of(source.get("objectives"))
        except (TypeError, KeyError, AttributeError):
            objectives = []  # a hand-edited file: read it as one objective rather than fail the report
        if len(objectives) == 2 and all(o.direction in ("maximize", "minimize") for o in objectives):
            mt.objectives, mt.select = objectives, source.get("select") or "best_first"


def wall_time(records: list[TrialRecord]) -> float | None:
    """Seconds from the first trial's start to the last trial's end (None when the source has no times)."""
    starts = [s for r in records if (s := _as_dt(r.datetime_start)) is not None]
    ends = [e for r in records if (e := _as_dt(r.datetime_complete)) is not None]
    if not starts or not ends:
        return None
    return max((max(ends) - min(starts)).total_seconds(), 0.0)


def _as_dt(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        return None

"""``hpo report``: the Markdown a reviewer reads in a pull request, and ``results.md`` in the run folder.

It says what the usual tools leave out: whether the winner beats the runner-up beyond fold noise, the
one-standard-error choice, and which parameters mattered. Tables are plain GitHub-flavoured Markdown
with a fixed column count (``tables``), plots are PNG files in the run folder linked by relative paths.
This module puts the report together and writes the sections about the whole run (header, summary,
winner vs runner-up, provenance); one model's section is ``sections``, ``--compare`` is ``compare``.
Heavy libraries (optuna, scipy, matplotlib) are imported only by the sections that need them, and the
importance evaluator is PED-ANOVA so a 10,000-trial run still reports in seconds.
"""

from __future__ import annotations

import math
import os
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from hpo_cli.core.errors import resume_command
from hpo_cli.core.options import ReportOptions
from hpo_cli.core.pareto import winner_across
from hpo_cli.core.redact import redact
from hpo_cli.core.results import COMPLETE, FAIL, INTERRUPTED, PRUNED, RUNNING, TrialRecord
from hpo_cli.report import stats
from hpo_cli.report.compare import compare_section
from hpo_cli.report.formatting import confirmed_mean_std, fmt_duration, fmt_num, mean_std
from hpo_cli.report.sections import model_section
from hpo_cli.report.tables import markdown_table
from hpo_cli.rundir.lock import held_by
from hpo_cli.rundir.provenance import display_path, display_url
from hpo_cli.rundir.read import ModelTrials, RunData, load_run, wall_time

PLOTS_DIR = "plots"


def build_report(options: ReportOptions) -> str:
    """Markdown for the run in ``options.run_dir`` (finished or still going); draws plots if asked."""
    run = load_run(options.run_dir, options.storage)
    _mark_killed(run)
    link_base = options.link_base or options.run_dir
    metric = str(run.best.get("metric") or run.info.get("metric") or "score")
    order = run.model_order()
    winner = _winner(run, order)
    importances = _importances(run, order)
    lines: list[str] = _header(run, metric)
    lines += _summary(run, order, winner)
    lines += _significance(run, order, winner, metric)
    plots, skipped = _plots(run, order, metric, importances, link_base) if options.plots else ({}, None)
    if skipped:
        lines += ["", f"_Plots not drawn: {skipped}._"]
    if "history" in plots:
        lines += ["", f"![Optimization history: best {metric} so far per model]({plots['history']})"]
    for name in order:
        lines += model_section(run, run.models.get(name) or ModelTrials(name), options.top,
                               importances.get(name), plots)
    if options.compare is not None:
        lines += compare_section(run, load_run(options.compare))
    lines += _provenance(run)
    return "\n".join(lines).rstrip() + "\n"


def model_sections(run_dir: Path, storage: str | None = None, top: int = 10) -> dict[str, str]:
    """Each model's section of the report, alone (no plots): what MLflow shows as a parent run's description.

    The same builder as ``build_report``'s sections, so the MLflow page and results.md never disagree.
    """
    run = load_run(run_dir, storage)
    order = run.model_order()
    importances = _importances(run, order)
    return {name: "\n".join(model_section(run, run.models.get(name) or ModelTrials(name), top,
                                           importances.get(name), {})).strip() + "\n"
            for name in order}


def _bests(run: RunData, order: list[str]) -> dict[str, TrialRecord]:
    """Each model's best trial, for the models with a complete trial."""
    return {n: b for n in order if (b := run.best_trial(n)) is not None}


def _score(record: TrialRecord) -> float:
    """A best trial's mean CV score (``ModelTrials.complete`` keeps only trials that have one)."""
    return record.mean_test_score if record.mean_test_score is not None else -math.inf


def _winner(run: RunData, order: list[str]) -> str | None:
    declared = run.best.get("best_model")
    bests = _bests(run, order)
    if not bests:
        return declared
    multi = [run.models[n] for n in order if n in run.models and run.models[n].objectives]
    if multi:  # two objectives: the select rule on the union of the fronts (``core.pareto.winner_across``)
        return winner_across([(mt.name, mt.front()) for mt in multi], multi[0].objectives, multi[0].select)
    if all(b.confirmed_mean is not None for b in bests.values()):  # confirm: compare confirmed means only
        def score(record: TrialRecord) -> float:
            return record.confirmed_mean if record.confirmed_mean is not None else -math.inf
    else:
        score = _score
    top = max(bests, key=lambda n: score(bests[n]))
    if declared in bests and score(bests[declared]) >= score(bests[top]):
        return declared
    return top


def _header(run: RunData, metric: str) -> list[str]:
    info = run.info
    spec = info.get("spec") if isinstance(info.get("spec"), dict) else {}
    name = spec.get("name") or info.get("spec_name") or run.run_dir.name
    when = info.get("ended") or info.get("started")
    date = str(when)[:16].replace("T", " ") + " UTC" if when else datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    commit = info.get("git_commit")
    bits = [date, f"commit `{str(commit)[:12]}`" if commit else "no git commit",
            f"metric `{metric}` (greater is better)",
            "trials read from " + ("the study storage" if run.source == "study storage" else run.source)]
    lines = [f"# Hyperparameter search: {name}", "", " · ".join(bits)]
    if metric.startswith("neg_"):
        lines += ["", f"`{metric}` is scikit-learn's negated loss: values are shown as scikit-learn reports "
                  f"them, so greater (closer to 0) is better and the loss is the value without its minus sign."]
    running = sum(len(mt.by_state(RUNNING)) for mt in run.models.values())
    cut = sum(len(mt.by_state(INTERRUPTED)) for mt in run.models.values())
    status = info.get("status")
    if running:
        lines += ["", f"> **This run is still going** ({running} trial(s) running): numbers below may change."]
    elif status == "running" and held_by(run.run_dir) is not None:
        lines += ["", "> **This run is still going**: numbers below may change."]
    elif status in ("running", "interrupted"):
        how = "was interrupted" if status == "interrupted" else "ended without finishing (killed)"
        left = f"; the {cut} trial(s) it left running are interrupted" if cut else ""
        lines += ["", f"> **This run {how}**{left}: `{_resume(run)}` continues it."]
    return lines


def _mark_killed(run: RunData) -> None:
    """A run whose process is gone (no lock on its folder) left its RUNNING trials interrupted, not going.

    Only for a run.json still saying ``running``/``interrupted``: after a finished run, RUNNING trials in a
    shared storage belong to other workers that are still going.
    """
    if run.info.get("status") not in ("running", "interrupted") or held_by(run.run_dir) is not None:
        return
    for mt in run.models.values():
        for record in mt.by_state(RUNNING):
            record.state = INTERRUPTED


def _resume(run: RunData) -> str:
    """The command that continues this run (``core.errors.resume_command``), from run.json."""
    spec = run.info.get("spec") if isinstance(run.info.get("spec"), dict) else {}
    command = run.info.get("command") if isinstance(run.info.get("command"), list) else []
    storage = run.info.get("storage") if "--storage" in command and isinstance(run.info.get("storage"), str) else None
    path = spec.get("path") if isinstance(spec.get("path"), str) else None
    return resume_command(path, display_path(run.run_dir), storage)


def _summary(run: RunData, order: list[str], winner: str | None) -> list[str]:
    rows = []
    confirmed = any(b.confirmed_mean is not None for b in _bests(run, order).values())
    for name in order:
        mt = run.models.get(name) or ModelTrials(name)
        test = run.entry(name).get("test_score", mt.test.get("score"))
        best = run.best_trial(name)
        rows.append(["🏆" if name == winner else "", name, mean_std(best),
                     *([confirmed_mean_std(best)] if confirmed else []), fmt_num(test),
                     len(mt.by_state(COMPLETE)), len(mt.by_state(FAIL)), len(mt.by_state(PRUNED)),
                     fmt_duration(_wall_time(run, mt))])
    header = ["", "model", "best mean ± std (CV)", *(["confirmed mean ± std"] if confirmed else []), "test score",
              "complete", "failed", "pruned", "wall time"]
    return ["", "## Summary", "", *markdown_table(header, rows, ["left", "left"] + ["right"] * (6 + confirmed))]


def _wall_time(run: RunData, mt: ModelTrials) -> float | None:
    """run.json's wall time of the model, or the trials' span when that is longer (more workers, resumed)."""
    models = run.info.get("models")
    value = models.get(mt.name, {}).get("wall_time") if isinstance(models, dict) else None
    known = [v for v in (value if isinstance(value, int | float) else None, wall_time(mt.trials)) if v is not None]
    return max(known) if known else None


def _significance(run: RunData, order: list[str], winner: str | None, metric: str) -> list[str]:
    bests = _bests(run, order)
    if winner not in bests or len(bests) < 2 or any(mt.objectives for mt in run.models.values()):
        return []  # with two objectives the winner is a trade-off, not a higher score to test
    runner_up = max((n for n in bests if n != winner), key=lambda n: _score(bests[n]))
    a, b = bests[winner].split_scores, bests[runner_up].split_scores
    same = _same_folds(run, winner, runner_up) and len(a) == len(b)
    cmp = stats.paired_comparison(a, b, _folds_per_repeat(run, winner)) if same else None
    if cmp is None:
        return ["", f"**Winner vs runner-up.** {winner} vs {runner_up}: no paired comparison, the two best trials "
                "were not scored on the same folds (different CV or seed), so their fold scores cannot be paired."]
    return ["", "**Winner vs runner-up.** " + stats.describe_comparison(cmp, winner, runner_up, metric)
            + f" (trial {bests[winner].number} vs trial {bests[runner_up].number}, same folds and seed; "
            "the Nadeau-Bengio correction accounts for the training folds overlapping.)"]


def _same_folds(run: RunData, a: str, b: str) -> bool:
    """Both models' studies say the same CV and seed (unknown when read from trials.csv alone: assumed)."""
    ma, mb = run.models[a].meta, run.models[b].meta
    keys = ("cv", "seed", "n_splits")
    return not (ma and mb) or all(ma.get(k) == mb.get(k) for k in keys)


def _folds_per_repeat(run: RunData, name: str) -> int | None:
    """k of a (repeated) k-fold, from the study's CV description (``stratified 5-fold x3``)."""
    found = re.search(r"(\d+)-fold", str(run.models[name].meta.get("cv", "")))
    return int(found.group(1)) if found else None


def _importances(run: RunData, order: list[str]) -> dict[str, dict[str, float] | None]:
    out: dict[str, dict[str, float] | None] = {}
    for name in order:
        mt = run.models.get(name)
        study = mt.study if mt is not None and len(mt.complete()) >= stats.MIN_TRIALS_FOR_IMPORTANCE else None
        out[name] = stats.param_importance(study) if study is not None else None
    return out


def _plots(run: RunData, order: list[str], metric: str, importances: dict[str, dict[str, float] | None],
           link_base: Path) -> tuple[dict[str, str], str | None]:
    """Draw the PNGs into ``<run>/plots``: their links relative to where the Markdown lives, or why none.

    A run folder that cannot be written (a read-only mount, an archive) still gets its report, without plots.
    """
    from hpo_cli.report import plots
    from hpo_cli.rundir.access import unwritable_dir

    folder = run.run_dir / PLOTS_DIR
    reason = unwritable_dir(folder)
    if reason is not None:
        return {}, f"{display_path(folder)} cannot be written ({reason})"
    try:
        written = plots.draw_all(folder, {n: run.models[n] for n in order if n in run.models}, metric, importances)
    except OSError as exc:
        return {}, f"{display_path(folder)} cannot be written ({exc.strerror or exc})"
    return {key: Path(os.path.relpath(path, link_base)).as_posix() for key, path in written.items()}, None


def _provenance(run: RunData) -> list[str]:
    """Where the numbers came from: enough to rerun the search or to tell two runs apart."""
    info = run.info
    rows: list[list[Any]] = []
    spec = info.get("spec")
    spec_path = spec.get("path") if isinstance(spec, dict) else (spec or info.get("spec_path"))
    spec_sha = (spec.get("sha256") if isinstance(spec, dict) else None) or info.get("spec_sha256")
    data = info.get("data")
    data_sha = (data.get("sha256") if isinstance(data, dict) else None) or info.get("data_sha256")
    if spec_path or spec_sha:
        shown = display_path(spec_path) if spec_path else ""
        rows.append(["spec", f"`{shown}`" + (f" sha256 `{spec_sha}`" if spec_sha else "")])
    source = data.get("source") if isinstance(data, dict) else None
    if data_sha or source:
        shown = display_path(source) if source and not str(source).startswith("sklearn:") else source
        rows.append(["data", " ".join(x for x in (f"`{shown}`" if shown else "", f"sha256 `{data_sha}`"
                                                  if data_sha else "") if x)])
    if info.get("seed") is not None:
        rows.append(["seed", info["seed"]])
    rows.append(["run folder", f"`{display_path(run.run_dir.resolve())}`"])
    rows.append(["storage", f"`{redact(display_url(run.storage_url) or '')}`" if run.storage_url else "—"])
    for key in ("start", "started", "end", "ended"):
        if info.get(key):
            rows.append([key, info[key]])
    versions = info.get("versions") or info.get("packages") or {}
    if isinstance(versions, dict) and versions:
        rows.append(["packages", ", ".join(f"{k} {v}" for k, v in versions.items() if v)])
    return ["", "## Provenance", "", *markdown_table(["", ""], rows)]

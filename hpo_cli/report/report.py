"""``hpo report``: the Markdown a reviewer reads in a pull request, and ``results.md`` in the run folder.

It says what the usual tools leave out: whether the winner beats the runner-up beyond fold noise, the
one-standard-error choice, and which parameters mattered. Tables are plain GitHub-flavoured Markdown
with a fixed column count, plots are PNG files in the run folder linked by relative paths. Heavy
libraries (optuna, scipy, matplotlib) are imported only by the sections that need them, and the
importance evaluator is PED-ANOVA so a 10,000-trial run still reports in seconds.
"""

from __future__ import annotations

import math
import os
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from hpo_cli.core.options import ReportOptions
from hpo_cli.report import stats
from hpo_cli.report.best import render as render_params
from hpo_cli.rundir.read import ModelTrials, RunData, TrialRow, load_run, wall_time

PLOTS_DIR = "plots"


# --- formatting -----------------------------------------------------------------------------------------

def fmt_num(x: Any) -> str:
    """A score for a table: 4 decimals, or 4 significant digits for very large/small magnitudes."""
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "—"
    x = float(x)
    if x != 0 and (abs(x) >= 1e4 or abs(x) < 1e-3):
        return f"{x:.4g}"
    return f"{x:.4f}"


def fmt_value(v: Any) -> str:
    """A parameter value for a table cell."""
    if isinstance(v, float):
        return f"{v:.4g}"
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "true" if v else "false"
    return str(v)


def fmt_seconds(seconds: float | None) -> str:
    """A short time: ``0.52 ms``, ``0.31 s``, ``4m 05s``."""
    if seconds is None:
        return "—"
    if seconds < 1e-3:
        return f"{seconds * 1e3:.2g} ms"
    if seconds < 1:
        return f"{seconds * 1e3:.3g} ms" if seconds < 0.1 else f"{seconds:.2f} s"
    if seconds < 60:
        return f"{seconds:.1f} s"
    return fmt_duration(seconds)


def fmt_duration(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    if seconds < 60:
        return fmt_seconds(seconds)
    seconds = round(seconds)
    h, rem = divmod(seconds, 3600)
    m, s = divmod(rem, 60)
    return f"{h}h {m:02d}m" if h else (f"{m}m {s:02d}s" if m else f"{s}s")


def cell(text: Any) -> str:
    """Table-safe text: no pipes or line breaks, which would break GitHub's table rendering."""
    return str(text).replace("\\", "\\\\").replace("|", "\\|").replace("\r", " ").replace("\n", " ").strip()


def table(header: list[str], rows: list[list[Any]], align: list[str] | None = None) -> list[str]:
    """A Markdown table whose every row has exactly the header's column count."""
    align = align or ["---"] * len(header)
    out = ["| " + " | ".join(cell(h) for h in header) + " |", "| " + " | ".join(align) + " |"]
    for r in rows:
        r = (list(r) + [""] * len(header))[:len(header)]
        out.append("| " + " | ".join(cell(c) for c in r) + " |")
    return out


def mean_std(row: TrialRow | None) -> str:
    if row is None or row.get("mean") is None:
        return "—"
    return f"{fmt_num(row['mean'])} ± {fmt_num(row['std'])}" if row.get("std") is not None else fmt_num(row["mean"])


# --- the report -----------------------------------------------------------------------------------------

def build_report(options: ReportOptions) -> str:
    """Markdown for the run in ``options.run_dir`` (finished or still going); draws plots if asked."""
    run = load_run(options.run_dir, options.storage)
    link_base = options.link_base or options.run_dir
    metric = str(run.best.get("metric") or run.info.get("metric") or "score")
    order = _model_order(run)
    winner = _winner(run, order)
    importances = _importances(run, order)
    lines: list[str] = _header(run, metric)
    lines += _summary(run, order, winner)
    lines += _significance(run, order, winner, metric)
    plots = _plots(run, order, metric, importances, link_base) if options.plots else {}
    if "history" in plots:
        lines += ["", f"![Optimization history: best {metric} so far per model]({plots['history']})"]
    for name in order:
        lines += _model_section(run, run.models.get(name) or ModelTrials(name), options.top,
                                importances.get(name), plots)
    if options.compare is not None:
        lines += _compare(run, load_run(options.compare))
    lines += _provenance(run)
    return "\n".join(lines).rstrip() + "\n"


def _model_order(run: RunData) -> list[str]:
    names = list((run.best.get("models") or {}).keys())
    return names + [n for n in run.models if n not in names]


def _best_row(run: RunData, name: str) -> TrialRow | None:
    mt = run.models.get(name)
    done = mt.complete() if mt else []
    return done[0] if done else None


def _winner(run: RunData, order: list[str]) -> str | None:
    declared = run.best.get("best_model")
    bests = {n: r for n in order if (r := _best_row(run, n)) is not None}
    if not bests:
        return declared
    top = max(bests, key=lambda n: bests[n]["mean"])
    if declared in bests and bests[declared]["mean"] >= bests[top]["mean"]:
        return declared
    return top


def _running(run: RunData) -> int:
    return sum(len(mt.by_state("RUNNING")) for mt in run.models.values())


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
    running = _running(run)
    status = info.get("status")
    if running or status in ("running", "interrupted"):
        what = f"{running} trial(s) running" if running else f"status: {status}"
        lines += ["", f"> **This run is still going** ({what}): numbers below may change."
                  if running or status == "running" else
                  "> **This run was interrupted**: `hpo tune SPEC --resume` continues it."]
    return lines


def _summary(run: RunData, order: list[str], winner: str | None) -> list[str]:
    rows = []
    for name in order:
        mt = run.models.get(name) or ModelTrials(name)
        entry = (run.best.get("models") or {}).get(name) or {}
        best = _best_row(run, name)
        test = entry.get("test_score", mt.test.get("score"))
        rows.append(["🏆" if name == winner else "", name, mean_std(best), fmt_num(test),
                     len(mt.by_state("COMPLETE")), len(mt.by_state("FAIL")), len(mt.by_state("PRUNED")),
                     fmt_duration(_wall_time(run, mt))])
    header = ["", "model", "best mean ± std (CV)", "test score", "complete", "failed", "pruned", "wall time"]
    return ["", "## Summary", "", *table(header, rows, ["---", "---", "---:", "---:", "---:", "---:", "---:", "---:"])]


def _wall_time(run: RunData, mt: ModelTrials) -> float | None:
    """run.json's wall time of the model, or the trials' span when that is longer (more workers, resumed)."""
    models = run.info.get("models")
    value = models.get(mt.name, {}).get("wall_time") if isinstance(models, dict) else None
    known = [v for v in (value if isinstance(value, int | float) else None, wall_time(mt.rows)) if v is not None]
    return max(known) if known else None


def _significance(run: RunData, order: list[str], winner: str | None, metric: str) -> list[str]:
    bests = {n: r for n in order if (r := _best_row(run, n)) is not None}
    if winner not in bests or len(bests) < 2:
        return []
    runner_up = max((n for n in bests if n != winner), key=lambda n: bests[n]["mean"])
    a, b = bests[winner]["splits"], bests[runner_up]["splits"]
    same = _same_folds(run, winner, runner_up) and len(a) == len(b)
    cmp = stats.paired_comparison(a, b, _folds_per_repeat(run, winner)) if same else None
    if cmp is None:
        return ["", f"**Winner vs runner-up.** {winner} vs {runner_up}: no paired comparison, the two best trials "
                "were not scored on the same folds (different CV or seed), so their fold scores cannot be paired."]
    return ["", "**Winner vs runner-up.** " + stats.describe_comparison(cmp, winner, runner_up, metric)
            + f" (trial {bests[winner]['trial']} vs trial {bests[runner_up]['trial']}, same folds and seed; "
            "the Nadeau-Bengio correction accounts for the training folds overlapping.)"]


def _same_folds(run: RunData, a: str, b: str) -> bool:
    """Both models' studies say the same CV and seed (unknown when read from trials.csv alone: assumed)."""
    ma, mb = run.models[a].meta, run.models[b].meta
    keys = ("cv", "seed", "n_splits")
    return not (ma and mb) or all(ma.get(k) == mb.get(k) for k in keys)


def _folds_per_repeat(run: RunData, name: str) -> int | None:
    """k of a (repeated) k-fold, from the study's CV description (``stratified 5-fold x3``)."""
    import re

    found = re.search(r"(\d+)-fold", str(run.models[name].meta.get("cv", "")))
    return int(found.group(1)) if found else None


def _importances(run: RunData, order: list[str]) -> dict[str, dict[str, float] | None]:
    out: dict[str, dict[str, float] | None] = {}
    for name in order:
        mt = run.models.get(name)
        enough = mt is not None and len(mt.complete()) >= stats.MIN_TRIALS_FOR_IMPORTANCE
        out[name] = stats.param_importance(mt.study) if enough and mt.study is not None else None
    return out


def _plots(run: RunData, order: list[str], metric: str, importances: dict[str, dict[str, float] | None],
           link_base: Path) -> dict[str, str]:
    """Draw the PNGs into ``<run>/plots`` and return their links relative to where the Markdown lives."""
    from hpo_cli.report import plots

    folder = run.run_dir / PLOTS_DIR
    written = plots.draw_all(folder, {n: run.models[n] for n in order if n in run.models}, metric, importances)
    return {key: Path(os.path.relpath(path, link_base)).as_posix() for key, path in written.items()}


def _model_section(run: RunData, mt: ModelTrials, top: int, importance: dict[str, float] | None,
                   plots: dict[str, str]) -> list[str]:
    entry = (run.best.get("models") or {}).get(mt.name) or {}
    done = mt.complete()
    estimator = entry.get("estimator", "")
    lines = ["", f"## {mt.name}" + (f" — `{estimator.rsplit('.', 1)[-1]}`" if estimator else "")]
    about = [f"`{estimator}`" if estimator else "", f"{mt.meta['method']} search" if mt.meta.get("method") else "",
             str(mt.meta.get("cv") or ""), f"seed {mt.meta['seed']}" if mt.meta.get("seed") is not None else ""]
    if any(about[1:]):
        lines += ["", " · ".join(a for a in about if a)]
    if not done:
        lines += ["", "No complete trial yet." if not mt.by_state("FAIL") else "Every trial failed."]
    else:
        best = done[0]
        params = entry.get("params") if entry and entry.get("mean_test_score") == best["mean"] else best["params"]
        lines += ["", f"Best: trial {best['trial']}, {mean_std(best)}. Parameters (`hpo best --model {mt.name}`):",
                  "", "```yaml", render_params(dict(params or {}), "yaml").rstrip() or "{}", "```"]
        lines += _one_se(mt, best)
        lines += _leaderboard(done, top)
    lines += _importance_lines(mt, importance)
    lines += _plot_links(mt.name, plots)
    lines += _failures(mt)
    return lines


def _one_se(mt: ModelTrials, best: TrialRow) -> list[str]:
    choice = stats.one_standard_error(mt.complete())
    if choice is None or len(mt.complete()) < 2:
        return []
    head = (f"**One-standard-error choice** (cheapest to fit among the {choice.n_within} trial(s) scoring ≥ "
            f"{fmt_num(choice.threshold)}, the best mean minus one standard error): ")
    if choice.chosen is best or choice.chosen["trial"] == best["trial"]:
        return ["", head + "the best trial itself (no trial within one standard error fits meaningfully faster: "
                "at most 80% of its fit time and 5 ms less)."]
    c = choice.chosen
    changed = [f"{k}: {fmt_value(best['params'].get(k))} → {fmt_value(v)}" for k, v in c["params"].items()
               if best["params"].get(k) != v]
    fit = f", mean fit time {fmt_seconds(c['fit_time'])} vs {fmt_seconds(best['fit_time'])}"
    return ["", head + f"trial {c['trial']}, {mean_std(c)}{fit}; differs in " + ("; ".join(changed) or "nothing")
            + "."]


def _leaderboard(done: list[TrialRow], top: int) -> list[str]:
    shown = done[:max(top, 0)]
    names: list[str] = []
    for r in shown:
        names += [k for k in r["params"] if k not in names]
    rows = [[r["rank"] if r["rank"] is not None else i, r["trial"], mean_std(r),
             fmt_seconds(r.get("fit_time")),
             *[fmt_value(r["params"][k]) if k in r["params"] else "" for k in names]]
            for i, r in enumerate(shown, start=1)]
    header = ["rank", "trial", "mean ± std", "fit time", *names]
    return ["", f"Top {len(shown)} of {len(done)} complete trial(s):", "",
            *table(header, rows, ["---:", "---:", "---:", "---:", *["---"] * len(names)])]


def _importance_lines(mt: ModelTrials, importance: dict[str, float] | None) -> list[str]:
    n = len(mt.complete())
    if importance is None:
        if n and n < stats.MIN_TRIALS_FOR_IMPORTANCE:
            return ["", f"Parameter importance needs at least {stats.MIN_TRIALS_FOR_IMPORTANCE} complete trials "
                    f"({n} so far)."]
        return [] if n == 0 or mt.study is not None else ["", "Parameter importance needs the study storage."]
    rows = [[k, f"{v:.3f}", "█" * round(v * 20)] for k, v in importance.items()]
    lines = ["", f"Parameter importance over {n} complete trials ({stats.IMPORTANCE_EVALUATOR}: how much each "
             "parameter decides whether a trial lands among the best 10%; the shares sum to 1):", "",
             *table(["parameter", "importance", ""], rows, ["---", "---:", "---"])]
    return lines


def _plot_links(name: str, plots: dict[str, str]) -> list[str]:
    lines: list[str] = []
    for key, label in ((f"importance:{name}", "Parameter importance"), (f"slice:{name}", "Score by parameter")):
        if key in plots:
            lines += ["", f"![{label} of {name}]({plots[key]})"]
    return lines


def _failures(mt: ModelTrials) -> list[str]:
    failed = mt.by_state("FAIL")
    if not failed:
        return []
    groups = Counter(_error_key(r.get("error")) for r in failed)
    rows = [[count, f"`{err}`" if err else "(no message)"] for err, count in groups.most_common()]
    return ["", f"{len(failed)} failed trial(s), grouped by error:", "",
            *table(["count", "error"], rows, ["---:", "---"])]


def _error_key(error: str | None) -> str:
    """The first line of an error, shortened: trials failing for the same reason group together."""
    if not error:
        return ""
    lines = [ln.strip() for ln in str(error).strip().splitlines() if ln.strip()]
    text = lines[-1] if lines and lines[0].startswith("Traceback") else (lines[0] if lines else "")
    text = text.replace("`", "'")
    return text if len(text) <= 200 else text[:197] + "..."


def _compare(head: RunData, base: RunData) -> list[str]:
    """Per model, how the best score and parameters moved from ``base`` (e.g. the PR base) to this run."""
    names = _model_order(head) + [n for n in _model_order(base) if n not in _model_order(head)]
    rows = []
    for name in names:
        h, b = _best_row(head, name), _best_row(base, name)
        hp, bp = _best_params(head, name, h), _best_params(base, name, b)
        if h is None or b is None:
            change = "—"
            if h is None and b is not None:
                change = "no complete trial here" if name in _model_order(head) else "removed"
            elif b is None and h is not None:
                change = "no complete trial in base" if name in _model_order(base) else "new"
        else:
            diff = h["mean"] - b["mean"]
            change = f"{diff:+.4f}" if abs(diff) >= 5e-5 else "+0.0000"
        moved = [f"{k}: {fmt_value(bp.get(k, '—'))} → {fmt_value(hp.get(k, '—'))}"
                 for k in list(dict.fromkeys([*bp, *hp])) if bp.get(k, "—") != hp.get(k, "—")]
        rows.append([name, mean_std(b), mean_std(h), change, "; ".join(moved) or "unchanged"])
    return ["", f"## Compared with `{base.run_dir}`", "",
            *table(["model", "base best", "this run best", "change", "parameters (base → this run)"], rows,
                   ["---", "---:", "---:", "---:", "---"])]


def _best_params(run: RunData, name: str, row: TrialRow | None) -> dict[str, Any]:
    entry = (run.best.get("models") or {}).get(name)
    if entry and isinstance(entry.get("params"), dict) and (row is None or entry.get("mean_test_score") == row["mean"]):
        return entry["params"]
    return dict(row["params"]) if row else {}


def _provenance(run: RunData) -> list[str]:
    info = run.info
    rows: list[list[Any]] = []
    spec = info.get("spec")
    spec_path = spec.get("path") if isinstance(spec, dict) else (spec or info.get("spec_path"))
    spec_sha = (spec.get("sha256") if isinstance(spec, dict) else None) or info.get("spec_sha256")
    data = info.get("data")
    data_sha = (data.get("sha256") if isinstance(data, dict) else None) or info.get("data_sha256")
    if spec_path or spec_sha:
        rows.append(["spec", f"`{spec_path or ''}`" + (f" sha256 `{spec_sha}`" if spec_sha else "")])
    if data_sha:
        rows.append(["data", f"sha256 `{data_sha}`"])
    if info.get("seed") is not None:
        rows.append(["seed", info["seed"]])
    rows.append(["storage", f"`{run.storage_url}`" if run.storage_url else "—"])
    for key in ("start", "started", "end", "ended"):
        if info.get(key):
            rows.append([key, info[key]])
    versions = info.get("versions") or info.get("packages") or {}
    if isinstance(versions, dict) and versions:
        rows.append(["packages", ", ".join(f"{k} {v}" for k, v in versions.items() if v)])
    return ["", "## Provenance", "", *table(["", ""], rows)]

"""One model's section of the report: its best parameters, the one-standard-error choice, the leaderboard,
parameter importance, plot links and failures grouped by error.

Everything here reads one model's trials; what compares models (summary, significance, ``--compare``)
lives beside it, so this section can be read, and changed, on its own.
"""

from __future__ import annotations

from collections import Counter

from hpo_cli.core.results import COMPLETE, FAIL, PRUNED, TrialRecord
from hpo_cli.report import stats
from hpo_cli.report.best import render as render_params
from hpo_cli.report.formatting import confirmed_mean_std, fmt_num, fmt_seconds, fmt_value, mean_std
from hpo_cli.report.pareto import pareto_lines
from hpo_cli.report.tables import markdown_table
from hpo_cli.rundir.read import ModelTrials, RunData


def model_section(run: RunData, mt: ModelTrials, top: int, importance: dict[str, float] | None,
                  plots: dict[str, str]) -> list[str]:
    """``## <model>``: what a reviewer checks before trusting the model's best parameters."""
    estimator = run.entry(mt.name).get("estimator", "")
    lines = ["", f"## {mt.name}" + (f" — `{estimator.rsplit('.', 1)[-1]}`" if estimator else "")]
    about = [f"`{estimator}`" if estimator else "", f"{mt.meta['method']} search" if mt.meta.get("method") else "",
             str(mt.meta.get("cv") or ""), f"seed {mt.meta['seed']}" if mt.meta.get("seed") is not None else ""]
    if any(about[1:]):
        lines += ["", " · ".join(a for a in about if a)]
    done = mt.complete()
    if not done:
        lines += ["", "No complete trial yet." if not mt.by_state(FAIL) else "Every trial failed."]
    else:
        best = mt.best() or done[0]
        params = run.best_params(mt.name, best)
        confirmed = f", confirmed {confirmed_mean_std(best)}" if best.confirmed_mean is not None else ""
        head = f"Chosen by `select` from the Pareto front: trial {best.number}" if mt.objectives else \
            f"Best: trial {best.number}"
        lines += ["", f"{head}, {mean_std(best)}{confirmed}. Parameters (`hpo best --model "
                  f"{mt.name}`):", "", "```yaml", render_params(dict(params), "yaml").rstrip() or "{}", "```"]
        lines += _confirmation(done, mt.meta.get("seed"))
        lines += pareto_lines(mt)
        lines += [] if mt.objectives else _one_se(done, best)
        lines += _leaderboard(done, mt.ranks(), top)
    lines += _importance_lines(mt, len(done), importance)
    lines += _plot_links(mt.name, plots)
    lines += _pruned(mt)
    lines += _failures(mt)
    return lines


def _pruned(mt: ModelTrials) -> list[str]:
    """How many trials the pruner stopped and the fits that saved (fold scores are what a trial ran)."""
    pruned = mt.by_state(PRUNED)
    if not pruned:
        return []
    ran = sum(len(r.split_scores) for r in pruned)
    folds = mt.meta.get("n_splits")
    saved = ""
    if folds:
        counted = [r for r in mt.trials if r.state in (COMPLETE, PRUNED)]
        total = len(counted) * int(folds)
        skipped = len(pruned) * int(folds) - ran
        saved = f"; {skipped} of {total} fits saved ({skipped / total:.0%})" if total else ""
    return ["", f"{len(pruned)} trial(s) pruned (PRUNED in trials.csv) after {ran / len(pruned):.1f} fold(s) on "
            f"average{saved}. A pruned trial's mean is over the folds it ran; it is not ranked and never the best."]


def _confirmation(done: list[TrialRecord], seed: int | None) -> list[str]:
    """``confirm:``: the re-scored top trials, search score beside confirmed score, and whether the order held."""
    confirmed = [r for r in done if r.confirmed_mean is not None]
    if not confirmed:
        return []
    by_confirmed = sorted(confirmed, key=lambda r: (-(r.confirmed_mean or 0.0), r.number))
    rows = [[i, r.number, mean_std(r), confirmed_mean_std(r)] for i, r in enumerate(by_confirmed, start=1)]
    seeds = f" (CV and estimator seeds {seed} + r, r = 1..repeats)" if seed is not None else ""
    changed = [r.number for r in by_confirmed] != [r.number for r in confirmed]
    verdict = (f"**The order changed**: trial {by_confirmed[0].number} is best by the confirmed mean, trial "
               f"{confirmed[0].number} was best by the search score." if changed and by_confirmed[0] is not confirmed[0]
               else "**The order changed** below the top; the best held." if changed
               else "The order held: the confirmed means rank the trials as the search scores did.")
    return ["", f"Confirmation: the top {len(confirmed)} trial(s) re-scored on further CV shuffles{seeds}; the best "
            f"is chosen by the confirmed mean (not optimistic: those folds played no part in the selection). "
            + verdict, "", *markdown_table(["", "trial", "search mean ± std", "confirmed mean ± std"], rows,
                                           ["right"] * 4)]


def _one_se(done: list[TrialRecord], best: TrialRecord) -> list[str]:
    choice = stats.one_standard_error(done)
    if choice is None or len(done) < 2:
        return []
    head = (f"**One-standard-error choice** (cheapest to fit among the {choice.n_within} trial(s) scoring ≥ "
            f"{fmt_num(choice.threshold)}, the best mean minus one standard error): ")
    c = choice.chosen
    if c is best or c.number == best.number:
        return ["", head + "the best trial itself (no trial within one standard error fits meaningfully faster: "
                "at most 80% of its fit time and 5 ms less)."]
    changed = [f"{k}: {fmt_value(best.params.get(k))} → {fmt_value(v)}" for k, v in c.params.items()
               if best.params.get(k) != v]
    fit = f", mean fit time {fmt_seconds(c.mean_fit_time)} vs {fmt_seconds(best.mean_fit_time)}"
    return ["", head + f"trial {c.number}, {mean_std(c)}{fit}; differs in " + ("; ".join(changed) or "nothing")
            + "."]


def _leaderboard(done: list[TrialRecord], rank: dict[int, int], top: int) -> list[str]:
    shown = done[:max(top, 0)]
    names: list[str] = []
    for r in shown:
        names += [k for k in r.params if k not in names]
    rows = [[rank.get(r.number, i), r.number, mean_std(r), fmt_seconds(r.mean_fit_time),
             *[fmt_value(r.params[k]) if k in r.params else "" for k in names]]
            for i, r in enumerate(shown, start=1)]
    header = ["rank", "trial", "mean ± std", "fit time", *names]
    return ["", f"Top {len(shown)} of {len(done)} complete trial(s):", "",
            *markdown_table(header, rows, ["right"] * 4 + ["left"] * len(names))]


def _importance_lines(mt: ModelTrials, n: int, importance: dict[str, float] | None) -> list[str]:
    if importance is None:
        if n and n < stats.MIN_TRIALS_FOR_IMPORTANCE:
            return ["", f"Parameter importance needs at least {stats.MIN_TRIALS_FOR_IMPORTANCE} complete trials "
                    f"({n} so far)."]
        return [] if n == 0 or mt.study is not None else ["", "Parameter importance needs the study storage."]
    rows = [[k, f"{v:.3f}", "█" * round(v * 20)] for k, v in importance.items()]
    return ["", f"Parameter importance over {n} complete trials ({stats.IMPORTANCE_EVALUATOR}: how much each "
            "parameter decides whether a trial lands among the best 10%; the shares sum to 1):", "",
            *markdown_table(["parameter", "importance", ""], rows, ["left", "right", "left"])]


def _plot_links(name: str, plots: dict[str, str]) -> list[str]:
    lines: list[str] = []
    for key, label in ((f"importance:{name}", "Parameter importance"), (f"slice:{name}", "Score by parameter"),
                       (f"pareto:{name}", "Pareto front")):
        if key in plots:
            lines += ["", f"![{label} of {name}]({plots[key]})"]
    return lines


def _failures(mt: ModelTrials) -> list[str]:
    failed = mt.by_state(FAIL)
    if not failed:
        return []
    groups = Counter(_error_key(r.error) for r in failed)
    rows = [[count, f"`{err}`" if err else "(no message)"] for err, count in groups.most_common()]
    return ["", f"{len(failed)} failed trial(s), grouped by error:", "",
            *markdown_table(["count", "error"], rows, ["right", "left"])]


def _error_key(error: str | None) -> str:
    """The first line of an error, shortened: trials failing for the same reason group together."""
    if not error:
        return ""
    lines = [ln.strip() for ln in str(error).strip().splitlines() if ln.strip()]
    text = lines[-1] if lines and lines[0].startswith("Traceback") else (lines[0] if lines else "")
    text = text.replace("`", "'")
    return text if len(text) <= 200 else text[:197] + "..."

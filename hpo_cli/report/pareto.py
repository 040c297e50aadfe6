"""Two objectives in the report: each model's Pareto front as a table and as a scatter plot.

The front and the chosen point come from ``core.pareto`` through ``ModelTrials.front`` / ``best``, the same
arithmetic that wrote ``pareto`` in trials.csv and the point in best_parameters.yaml, so the three agree.
"""

from __future__ import annotations

from pathlib import Path

from hpo_cli.core.pareto import Objective, objective_value, select_label
from hpo_cli.core.results import COMPLETE, TrialRecord
from hpo_cli.report.formatting import fmt_num, fmt_seconds, fmt_value
from hpo_cli.report.tables import markdown_table
from hpo_cli.rundir.read import ModelTrials

MAX_ROWS = 30  # a front of a long search can hold many points; the table keeps the first ones by objective 1


def value_text(value: float | None, objective: Objective) -> str:
    """An objective's value as people read it: seconds for fit_time, bytes for model_size, else the score."""
    if value is None:
        return "—"
    if objective.name == "fit_time":
        return fmt_seconds(value)
    if objective.name == "model_size":
        return f"{value:,.0f} B"
    return fmt_num(value)


def axis_label(objective: Objective) -> str:
    unit = {"fit_time": "mean fit time (s)", "model_size": "pickled model size (bytes)"}.get(objective.name)
    return f"{unit or 'mean CV ' + objective.name} ({'lower' if objective.direction == 'minimize' else 'higher'}" \
           f" is better)"


def pareto_lines(mt: ModelTrials) -> list[str]:
    """The front as a table (best objective 1 first), the chosen point marked, with how ``select`` chose it."""
    if not mt.objectives:
        return []
    front = mt.front()
    if not front:
        return []
    chosen = mt.best()
    first, second = mt.objectives
    ordered = sorted(front, key=lambda r: (-(objective_value(r, first, 0) or 0.0), r.number))
    shown = ordered[:MAX_ROWS]
    names: list[str] = []
    for r in shown:
        names += [k for k in r.params if k not in names]
    rows = [["✓" if chosen is not None and r.number == chosen.number else "", r.number,
             value_text(objective_value(r, first, 0), first), value_text(objective_value(r, second, 1), second),
             *[fmt_value(r.params[k]) if k in r.params else "" for k in names]] for r in shown]
    n_complete = sum(r.state == COMPLETE for r in mt.trials)
    more = f" (the first {MAX_ROWS} by {first.name})" if len(front) > MAX_ROWS else ""
    picked = f"trial {chosen.number} (✓)" if chosen is not None else "no trial"
    return ["", f"Pareto front ({first.name} {first.direction}d, {second.name} {second.direction}d): {len(front)} of "
            f"{n_complete} complete trial(s) are not dominated{more}. `select: {select_label(mt.select)}` exports "
            f"{picked}; `pareto` in trials.csv marks the front.", "",
            *markdown_table(["", "trial", first.name, second.name, *names], rows,
                            ["left", "right", "right", "right"] + ["left"] * len(names))]


def pareto_plot(path: Path, mt: ModelTrials) -> Path | None:
    """Objective 2 against objective 1 for every complete trial; the front as a line, the chosen point a star."""
    from hpo_cli.report.plots import _pyplot, _save

    if not mt.objectives:
        return None
    first, second = mt.objectives
    points = [(r, a, b) for r in mt.trials if r.state == COMPLETE
              and (a := objective_value(r, first, 0)) is not None and (b := objective_value(r, second, 1)) is not None]
    if not points:
        return None
    front_numbers = {r.number for r in mt.front()}
    front = sorted((p for p in points if p[0].number in front_numbers), key=lambda p: (p[2], p[1]))
    chosen: TrialRecord | None = mt.best()
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(5.6, 4.0), dpi=100)
    others = [p for p in points if p[0].number not in front_numbers]
    ax.scatter([b for _, _, b in others], [a for _, a, _ in others], s=14, color="tab:gray", alpha=0.6,
               label="dominated")
    ax.plot([b for _, _, b in front], [a for _, a, _ in front], "-o", color="tab:blue", ms=5, label="Pareto front")
    if chosen is not None and chosen.number in front_numbers:
        c = next(p for p in front if p[0].number == chosen.number)
        ax.scatter([c[2]], [c[1]], marker="*", s=220, color="tab:red", zorder=3,
                   label=f"chosen ({select_label(mt.select)}): trial {chosen.number}")
    if second.name == "model_size" or (second.name == "fit_time" and min(b for *_, b in points) > 0
                                       and max(b for *_, b in points) / min(b for *_, b in points) > 100):
        ax.set_xscale("log")
    ax.set_xlabel(axis_label(second))
    ax.set_ylabel(axis_label(first))
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8)
    ax.set_title(f"{mt.name}: {first.name} vs {second.name}", fontsize=10)
    fig.tight_layout()
    return _save(plt, fig, path)

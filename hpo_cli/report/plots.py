"""PNG plots for the report, drawn with matplotlib's Agg backend (no display, browser or network).

Three views a reviewer can read at a glance: the optimization history of every model (each trial and the
best so far), the parameter importance per model, and a slice plot (score against each important
parameter) per model. Files go to ``<run>/plots/`` with stable names so a re-run overwrites them.
"""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hpo_cli.core.results import COMPLETE, TrialRecord

if TYPE_CHECKING:
    from hpo_cli.rundir.read import ModelTrials

_MAX_SLICE_PARAMS = 4


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt


MAX_NAME = 100  # a plot's file name stays far below the 255 bytes file systems allow, whatever the model name


def _safe(name: str) -> str:
    """A model name as part of a file name: safe characters, and a long one cut and told apart by a hash."""
    safe = re.sub(r"[^A-Za-z0-9_.-]+", "_", name)
    if len(safe) <= MAX_NAME:
        return safe
    import hashlib

    return f"{safe[:MAX_NAME - 9]}-{hashlib.sha256(name.encode()).hexdigest()[:8]}"


def _finite(x: Any) -> bool:
    return isinstance(x, int | float) and not isinstance(x, bool) and math.isfinite(x)


def _scored(mt: ModelTrials) -> list[tuple[TrialRecord, float]]:
    """The complete trials that have a score to plot, with it."""
    return [(r, r.mean_test_score) for r in mt.trials
            if r.state == COMPLETE and r.mean_test_score is not None and _finite(r.mean_test_score)]


def history(path: Path, models: dict[str, ModelTrials], metric: str) -> Path | None:
    """Every complete trial's mean score by trial number, with each model's best-so-far as a step line."""
    series = {name: sorted((r.number, mean) for r, mean in _scored(mt)) for name, mt in models.items()}
    series = {k: v for k, v in series.items() if v}
    if not series:
        return None
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(8, 4.5), dpi=100)
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    many = max(len(v) for v in series.values()) > 2000
    for i, (name, pts) in enumerate(series.items()):
        color = colors[i % len(colors)]
        xs = [p[0] for p in pts]
        ys = [p[1] for p in pts]
        best, running = [], -math.inf
        for y in ys:
            running = max(running, y)
            best.append(running)
        ax.scatter(xs, ys, s=4 if many else 14, alpha=0.25 if many else 0.5, color=color, linewidths=0)
        ax.step(xs, best, where="post", color=color, linewidth=2, label=f"{name} (best {best[-1]:.4g})")
    _focus_y(ax, [y for pts in series.values() for _, y in pts], [max(y for _, y in pts) for pts in series.values()])
    ax.set_xlabel("trial number")
    ax.set_ylabel(f"mean CV {metric}")
    ax.set_title("Optimization history (dots: trials, line: best so far)")
    ax.grid(True, alpha=0.3)
    ax.legend(loc="lower right", fontsize=8)
    return _save(plt, fig, path)


def _focus_y(ax: Any, ys: list[float], bests: list[float]) -> None:
    """Zoom on the interesting band: a few failed-looking outliers must not squash the best trials flat."""
    ys = sorted(ys)
    if len(ys) < 10:
        return
    low = ys[int(0.05 * (len(ys) - 1))]
    high = max(bests)
    if high > low:
        pad = 0.08 * (high - low)
        ax.set_ylim(low - pad, high + pad)


def importance(path: Path, importances: dict[str, dict[str, float]]) -> Path | None:
    """Horizontal bars of each model's parameter importance, one panel per model."""
    items = {k: v for k, v in importances.items() if v}
    if not items:
        return None
    plt = _pyplot()
    height = sum(max(len(v), 1) for v in items.values()) * 0.35 + 1.2 * len(items)
    fig, axes = plt.subplots(len(items), 1, figsize=(7, max(height, 2.5)), dpi=100, squeeze=False,
                             gridspec_kw={"height_ratios": [max(len(v), 1) for v in items.values()]})
    for ax, (name, imp) in zip(axes[:, 0], items.items(), strict=True):
        names = list(imp)[::-1]
        values = [imp[n] for n in names]
        ax.barh(names, values, color="tab:blue")
        for y, v in enumerate(values):
            ax.text(v, y, f" {v:.2f}", va="center", fontsize=8)
        ax.set_xlim(0, max(1.0, max(values) * 1.15))
        ax.set_title(f"{name}: parameter importance (PED-ANOVA)", fontsize=10)
        ax.grid(True, axis="x", alpha=0.3)
    fig.tight_layout()
    return _save(plt, fig, path)


def slice_plot(path: Path, mt: ModelTrials, metric: str, order: list[str] | None = None) -> Path | None:
    """Score against each parameter (the most important first): where the good values lie, per parameter."""
    rows = _scored(mt)
    names = [p for p in (order or []) if any(p in r.params for r, _ in rows)]
    for r, _ in rows:
        names += [p for p in r.params if p not in names]
    names = names[:_MAX_SLICE_PARAMS]
    if not rows or not names:
        return None
    plt = _pyplot()
    fig, axes = plt.subplots(1, len(names), figsize=(3.2 * len(names) + 0.6, 3.4), dpi=100, squeeze=False,
                             sharey=True)
    best, best_mean = max(rows, key=lambda p: p[1])
    ranges, choices = _ranges(mt)
    for ax, name in zip(axes[0], names, strict=True):
        pts = [(r.params[name], mean, r.number) for r, mean in rows if name in r.params]
        xs = [_as_number(v) for v, _, _ in pts]
        if name not in choices and all(x is not None for x in xs):  # a categorical stays one, even of numbers
            ax.scatter(xs, [y for _, y, _ in pts], c=[t for *_, t in pts], cmap="viridis", s=12, alpha=0.7)
            positive = [x for x in xs if x is not None and x > 0]
            log, bounds = ranges.get(name, (None, None))
            if log is None:  # no distribution known (trials.csv): a positive range over 2 decades reads best in log
                log = len(positive) == len(xs) and max(positive) / min(positive) > 100
            if log and len(positive) == len(xs):
                from matplotlib.ticker import NullFormatter

                ax.set_xscale("log")
                ax.xaxis.set_minor_formatter(NullFormatter())  # minor labels collide on a narrow range
            if bounds is not None and bounds[1] > bounds[0]:  # the whole searched range: where the best lies in it
                low, high = bounds
                pad = (high / low) ** 0.03 if log and low > 0 else 0.03 * (high - low)
                ax.set_xlim(*((low / pad, high * pad) if log and low > 0 else (low - pad, high + pad)))
            bx = _as_number(best.params.get(name))
        else:
            seen = sorted({str(v) for v, _, _ in pts})
            labels = list(choices.get(name, []))  # every choice, also those no complete trial had
            labels += [c for c in seen if c not in labels]
            pos = {lab: i for i, lab in enumerate(labels)}
            jitter = [((t * 0.6180339) % 1 - 0.5) * 0.3 for *_, t in pts]
            ax.scatter([pos[str(v)] + j for (v, _, _), j in zip(pts, jitter, strict=True)], [y for _, y, _ in pts],
                       c=[t for *_, t in pts], cmap="viridis", s=12, alpha=0.7)
            ax.set_xticks(range(len(labels)), [lab[:14] for lab in labels], rotation=30 if len(labels) > 3 else 0,
                          fontsize=8)
            ax.set_xlim(-0.5, len(labels) - 0.5)
            bx = pos.get(str(best.params.get(name)))
        if bx is not None and name in best.params:
            ax.scatter([bx], [best_mean], marker="*", s=160, color="tab:red", zorder=3, label="best")
        ax.set_xlabel(name)
        ax.grid(True, alpha=0.3)
    _focus_y(axes[0][0], [mean for _, mean in rows], [best_mean])
    axes[0][0].set_ylabel(f"mean CV {metric}")
    fig.suptitle(f"{mt.name}: score by parameter (colour: trial number, star: best)", fontsize=10)
    fig.tight_layout()
    return _save(plt, fig, path)


def _ranges(mt: ModelTrials) -> tuple[dict[str, tuple[bool, tuple[float, float] | None]], dict[str, list[str]]]:
    """Log scale and searched range of each numeric parameter, from the study's distributions (when read
    from the storage; trials.csv alone does not say)."""
    study = mt.study
    out: dict[str, tuple[bool, tuple[float, float] | None]] = {}
    choices: dict[str, list[str]] = {}
    for trial in study.get_trials(deepcopy=False)[-50:] if study is not None else []:
        for name, dist in trial.distributions.items():
            if hasattr(dist, "low") and hasattr(dist, "high"):
                out[name] = (bool(getattr(dist, "log", False)), (float(dist.low), float(dist.high)))
            elif hasattr(dist, "choices"):
                choices[name] = [str(c) for c in dist.choices]
    return out, choices


def _as_number(v: Any) -> float | None:
    if isinstance(v, bool) or v is None:
        return None
    if isinstance(v, int | float):
        return float(v)
    try:
        return float(v)
    except (TypeError, ValueError):
        return None


def _save(plt: Any, fig: Any, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp.png")
    fig.savefig(tmp, bbox_inches="tight")
    plt.close(fig)
    tmp.replace(path)
    return path


def model_plot_files(folder: Path, name: str) -> list[Path]:
    """The drawn plots that concern model ``name`` (history, its importance and slice), as ``draw_all`` names them."""
    files = [folder / "history.png", folder / f"importance_{_safe(name)}.png", folder / f"slice_{_safe(name)}.png",
             folder / f"pareto_{_safe(name)}.png"]
    return [f for f in files if f.is_file()]


def draw_all(folder: Path, models: dict[str, ModelTrials], metric: str,
             importances: dict[str, dict[str, float] | None]) -> dict[str, Path]:
    """Every plot the report links, keyed ``history``, ``importance:<model>``, ``slice:<model>`` and, with two
    objectives, ``pareto:<model>`` (``report.pareto``)."""
    from hpo_cli.report.pareto import pareto_plot

    out: dict[str, Path] = {}
    if (p := history(folder / "history.png", models, metric)) is not None:
        out["history"] = p
    for name, mt in models.items():
        imp = importances.get(name)
        if imp and (p := importance(folder / f"importance_{_safe(name)}.png", {name: imp})) is not None:
            out[f"importance:{name}"] = p
        if (p := slice_plot(folder / f"slice_{_safe(name)}.png", mt, metric, list(imp or {}))) is not None:
            out[f"slice:{name}"] = p
        if mt.objectives and (p := pareto_plot(folder / f"pareto_{_safe(name)}.png", mt)) is not None:
            out[f"pareto:{name}"] = p
    return out

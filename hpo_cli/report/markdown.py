"""``results.md``: the full report when it can be built, else a plain leaderboard from the results in hand.

``hpo tune`` writes ``results.md`` after every model; the report reads the run folder back, and if that
fails for any reason the run's own files must still be written, so a leaderboard built from the
in-memory results stands in.
"""

from __future__ import annotations

import logging
from pathlib import Path

from hpo_cli.core.options import ReportOptions
from hpo_cli.core.results import COMPLETE, ModelResult, ranks
from hpo_cli.report.tables import markdown_table
from hpo_cli.rundir.writers import best_model_name

log = logging.getLogger("hpo")


def results_markdown(run_dir: Path, results: list[ModelResult], metric: str, spec_name: str) -> str:
    """The report of ``run_dir`` without plots, or the plain leaderboard when the report fails."""
    from hpo_cli.report.report import build_report

    try:
        return build_report(ReportOptions(run_dir=run_dir, plots=False))
    except Exception as exc:  # the report is a convenience; the run's own files must still be written
        log.warning("results.md: the full report failed (%s: %s); writing the plain leaderboard",
                    type(exc).__name__, exc)
        return plain_results_md(results, metric, spec_name)


def _fmt(x: float | None) -> str:
    return "" if x is None else f"{x:.4f}"


def plain_results_md(results: list[ModelResult], metric: str, spec_name: str, top: int = 10) -> str:
    """A plain leaderboard per model; ``hpo report`` writes the full report when it is available."""
    lines = [f"# {spec_name}: hyperparameter search", "", f"Metric: `{metric}` (greater is better).", ""]
    winner = best_model_name(results)
    rows = [[m.name + (" (best)" if m.name == winner else ""), _fmt(m.best.mean_test_score if m.best else None),
             _fmt(m.best.std_test_score if m.best else None), _fmt(m.test_score),
             f"{len(m.trials)} ({m.n_complete} / {m.n_failed} / {m.n_pruned})"] for m in results]
    lines += markdown_table(["model", "best mean", "std", "test", "trials (complete / failed / pruned)"], rows,
                            ["left", "right", "right", "right", "right"])
    for m in results:
        lines += ["", f"## {m.name}", "", f"`{m.estimator}`, method {m.method}", ""]
        complete = sorted((t for t in m.trials if t.state == COMPLETE and t.mean_test_score is not None),
                          key=lambda t: (-(t.mean_test_score or 0.0), t.number))[:top]
        if not complete:
            lines.append("No trial completed.")
            continue
        rank = ranks(m.trials)
        rows = [[rank[t.number], t.number, _fmt(t.mean_test_score), _fmt(t.std_test_score),
                 ", ".join(f"{k}={v!r}" for k, v in t.params.items())] for t in complete]
        lines += markdown_table(["rank", "trial", "mean", "std", "params"], rows,
                                ["right", "right", "right", "right", "left"])
    return "\n".join(lines) + "\n"

"""``hpo report --compare``: how each model's best score and parameters moved from a base run (the PR base).

A reviewer of a change to a spec or to the data wants the delta, not two reports side by side.
"""

from __future__ import annotations

from hpo_cli.report.formatting import fmt_value, mean_std
from hpo_cli.report.tables import markdown_table
from hpo_cli.rundir.read import RunData


def compare_section(head: RunData, base: RunData) -> list[str]:
    """Per model, how the best score and parameters moved from ``base`` to ``head`` (this run)."""
    head_order, base_order = head.model_order(), base.model_order()
    rows = []
    for name in head_order + [n for n in base_order if n not in head_order]:
        h, b = head.best_trial(name), base.best_trial(name)
        hp, bp = head.best_params(name, h), base.best_params(name, b)
        if h is None or b is None or h.mean_test_score is None or b.mean_test_score is None:
            change = "—"
            if h is None and b is not None:
                change = "no complete trial here" if name in head_order else "removed"
            elif b is None and h is not None:
                change = "no complete trial in base" if name in base_order else "new"
        else:
            diff = h.mean_test_score - b.mean_test_score
            change = f"{diff:+.4f}" if abs(diff) >= 5e-5 else "+0.0000"
        moved = [f"{k}: {fmt_value(bp.get(k, '—'))} → {fmt_value(hp.get(k, '—'))}"
                 for k in list(dict.fromkeys([*bp, *hp])) if bp.get(k, "—") != hp.get(k, "—")]
        rows.append([name, mean_std(b), mean_std(h), change, "; ".join(moved) or "unchanged"])
    return ["", f"## Compared with `{base.run_dir}`", "",
            *markdown_table(["model", "base best", "this run best", "change", "parameters (base → this run)"], rows,
                            ["left", "right", "right", "right", "left"])]

"""What ``hpo validate`` prints: the table of models on stdout, each warning as a located line on stderr.

Rendering is the CLI's: the checks return a ``ValidationResult`` and never print, so ``hpo tune`` and
tests use the same result without Rich.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rich.console import Console

    from hpo_cli.checks.validate import ValidationResult


def render_validation(result: ValidationResult, out: Console, err: Console) -> None:
    """The table of models on ``out``; warnings as ``FILE:LINE:COL: path: warning: ...`` lines on ``err``."""
    from rich import box
    from rich.table import Table

    spec = result.spec
    source = spec.data.source if spec.data else "-"
    columns = ("model", "estimator", "method", "dims", "grid", "trials", "folds", "fits")
    rows = []
    for row in result.models:
        trials = str(row.trials) + (f" (<={row.timeout:g}s)" if row.timeout else "")
        rows.append((row.name, row.estimator.rsplit(".", 1)[-1], row.method, str(row.dimensions),
                     "continuous" if row.grid_size is None else str(row.grid_size), trials, str(row.folds),
                     str(row.fits)))
    # One run compares its models by one metric (a check refuses others), so the objective is the title's.
    objective = " / ".join(dict.fromkeys(row.objective for row in result.models)) or "-"
    table = Table(title=f"{spec.name}: {spec.path.name if spec.path else 'spec'} (data: {source}; "
                        f"objective: {objective})",
                  box=box.SIMPLE_HEAD, pad_edge=False, show_edge=False)
    for i, column in enumerate(columns):
        table.add_column(column, justify="left" if i < 3 else "right", no_wrap=True)
    for cells in rows:
        table.add_row(*cells)
    # Never truncate a name to fit an 80-column pipe: a wider line beats an ellipsis in CI logs.
    needed = sum(max(len(c), *(len(r[i]) for r in rows)) for i, c in enumerate(columns)) + 3 * len(columns)
    width = out.width
    out.width = max(width, needed)
    try:
        out.print(table)
    finally:
        out.width = width
    for w in result.warnings:
        prefix = ": ".join(x for x in (str(w.location) if w.location else "", w.path) if x)
        err.print(f"{prefix}: warning: {w.message}", markup=False)
    total = sum(r.fits for r in result.models)
    out.print(f"ok: {len(result.models)} model(s), {total} fits, {len(result.warnings)} warning(s)", markup=False)

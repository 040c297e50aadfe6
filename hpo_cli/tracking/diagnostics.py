"""The refitted best model's diagnostics on the parent run: classification report and confusion matrix, or
a residual plot, drawn as SVG without matplotlib.

The figures are written as SVG by hand: importing matplotlib cost the search process ~0.4 s of CPU per run
(its imports are most of it; measured with ``HPO_TRACE``, bench/bench_mlflow_fixed.py), which was on the
critical path of a tracked run's fixed cost. Two figures this simple need no plotting library, and
MLflow's artifact view shows ``.svg`` as an image (as ``.png``). ``hpo report``'s plots still use matplotlib.
"""

from __future__ import annotations

import json
from html import escape
from pathlib import Path
from typing import Any

#: A residual plot of more rows shows an even sample of them (the title says so): the file stays small.
MAX_POINTS = 2_000


def _svg(width: int, height: int, body: list[str], title: str) -> str:
    return "\n".join([
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="12">',
        f'<rect width="{width}" height="{height}" fill="white"/>',
        f'<text x="{width / 2:.1f}" y="20" text-anchor="middle" font-size="14">{escape(title)}</text>',
        *body, "</svg>", ""])


def confusion_svg(matrix: Any, labels: list[str], title: str) -> str:
    """The confusion matrix as a grid of cells shaded by count (rows: true label, columns: predicted)."""
    n = len(labels)
    cell = max(18, min(60, 480 // max(n, 1)))
    left, top = 40 + 7 * max((len(s) for s in labels), default=1), 40
    width, height = left + n * cell + 20, top + n * cell + 60
    peak = max(int(matrix.max()), 1) if n else 1
    body = []
    for i in range(n):
        for j in range(n):
            count = int(matrix[i][j])
            shade = count / peak
            fill = f"rgb({int(247 - 239 * shade)},{int(251 - 203 * shade)},{int(255 - 148 * shade)})"
            x, y = left + j * cell, top + i * cell
            body.append(f'<rect class="cell" x="{x}" y="{y}" width="{cell}" height="{cell}" fill="{fill}" '
                        f'stroke="white" data-true="{escape(labels[i])}" data-predicted="{escape(labels[j])}" '
                        f'data-count="{count}"/>')
            if cell >= 24:
                colour = "white" if shade > 0.5 else "black"
                body.append(f'<text x="{x + cell / 2:.1f}" y="{y + cell / 2 + 4:.1f}" text-anchor="middle" '
                            f'fill="{colour}">{count}</text>')
    for k, label in enumerate(labels):
        body.append(f'<text x="{left - 6}" y="{top + k * cell + cell / 2 + 4:.1f}" text-anchor="end">'
                    f'{escape(label)}</text>')
        body.append(f'<text x="{left + k * cell + cell / 2:.1f}" y="{top + n * cell + 16}" text-anchor="middle">'
                    f'{escape(label)}</text>')
    body.append(f'<text x="{left + n * cell / 2:.1f}" y="{top + n * cell + 40}" text-anchor="middle">'
                'predicted label</text>')
    body.append(f'<text x="14" y="{top + n * cell / 2:.1f}" text-anchor="middle" '
                f'transform="rotate(-90 14 {top + n * cell / 2:.1f})">true label</text>')
    return _svg(width, height, body, title)


def _ticks(low: float, high: float) -> list[float]:
    return [low + (high - low) * k / 4 for k in range(5)]


def residual_svg(predicted: Any, residual: Any, title: str) -> str:
    """Residual (true - predicted) against predicted, with the zero line; at most ``MAX_POINTS`` points."""
    import numpy as np

    predicted, residual = np.asarray(predicted, dtype=float), np.asarray(residual, dtype=float)
    rows = len(predicted)
    if rows > MAX_POINTS:
        keep = np.linspace(0, rows - 1, MAX_POINTS).astype(int)
        predicted, residual = predicted[keep], residual[keep]
        title += f" ({MAX_POINTS:,} of {rows:,} rows, evenly spaced)"
    left, top, plot_w, plot_h = 70, 40, 480, 300
    x_lo, x_hi = (float(predicted.min()), float(predicted.max())) if len(predicted) else (0.0, 1.0)
    bound = float(np.abs(residual).max()) if len(residual) else 1.0
    x_hi, bound = (x_hi if x_hi > x_lo else x_lo + 1.0), (bound or 1.0)

    def sx(v: float) -> float:
        return left + (v - x_lo) / (x_hi - x_lo) * plot_w

    def sy(v: float) -> float:
        return top + (bound - v) / (2 * bound) * plot_h

    body = [f'<rect x="{left}" y="{top}" width="{plot_w}" height="{plot_h}" fill="none" stroke="#888"/>',
            f'<line x1="{left}" y1="{sy(0):.1f}" x2="{left + plot_w}" y2="{sy(0):.1f}" stroke="grey"/>']
    body += [f'<circle class="point" cx="{sx(p):.1f}" cy="{sy(r):.1f}" r="2.5" fill="#1f77b4" fill-opacity="0.6"/>'
             for p, r in zip(predicted, residual, strict=True)]
    for v in _ticks(x_lo, x_hi):
        body.append(f'<text x="{sx(v):.1f}" y="{top + plot_h + 16}" text-anchor="middle">{v:.4g}</text>')
    for v in _ticks(-bound, bound):
        body.append(f'<text x="{left - 6}" y="{sy(v) + 4:.1f}" text-anchor="end">{v:.4g}</text>')
    body.append(f'<text x="{left + plot_w / 2}" y="{top + plot_h + 40}" text-anchor="middle">predicted</text>')
    body.append(f'<text x="16" y="{top + plot_h / 2}" text-anchor="middle" '
                f'transform="rotate(-90 16 {top + plot_h / 2})">residual (true - predicted)</text>')
    return _svg(left + plot_w + 30, top + plot_h + 60, body, title)


def write_diagnostics(folder: Path, estimator: Any, X: Any, y: Any, task: str, on_test: bool) -> list[Path]:
    """Classification report + confusion matrix (classification) or residual plot (regression), as files.

    Drawn in the search process (it has scikit-learn's metrics loaded and the fitted model): the writer only
    uploads the files. ``on_test`` says whether X, y are the held-out test set; without one the diagnostics
    are on the training data and say so, since they are then optimistic.
    """
    folder.mkdir(parents=True, exist_ok=True)
    where = "held-out test set" if on_test else "TRAINING data (no test_size in the spec: optimistic)"
    short = "test" if on_test else "training data"
    import numpy as np

    prediction = estimator.predict(X)
    if task == "classification":
        from sklearn.metrics import classification_report, confusion_matrix

        text = classification_report(y, prediction, zero_division=0)
        report = classification_report(y, prediction, zero_division=0, output_dict=True)
        (folder / "classification_report.txt").write_text(f"Classification report on the {where}\n\n{text}",
                                                           encoding="utf-8")
        (folder / "classification_report.json").write_text(json.dumps(report, indent=2, default=str),
                                                            encoding="utf-8")
        labels = np.unique(np.concatenate([np.asarray(y), np.asarray(prediction)]))
        matrix = confusion_matrix(y, prediction, labels=labels)
        svg = confusion_svg(matrix, [str(v) for v in labels], f"Confusion matrix ({short})")
        (folder / "confusion_matrix.svg").write_text(svg, encoding="utf-8")
    else:
        y_true, y_pred = np.asarray(y, dtype=float), np.asarray(prediction, dtype=float)
        svg = residual_svg(y_pred, y_true - y_pred, f"Residuals ({short})")
        (folder / "residuals.svg").write_text(svg, encoding="utf-8")
    return sorted(p for p in folder.iterdir() if p.is_file())

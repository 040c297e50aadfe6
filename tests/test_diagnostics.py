"""The best model's diagnostics figures: SVG drawn without matplotlib, checked against scikit-learn's numbers."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np

from hpo_cli.tracking.diagnostics import MAX_POINTS, residual_svg, write_diagnostics

SVG = "{http://www.w3.org/2000/svg}"


def test_confusion_matrix_cells_are_scikit_learns(tmp_path: Path) -> None:
    from sklearn.datasets import load_wine
    from sklearn.metrics import classification_report, confusion_matrix
    from sklearn.tree import DecisionTreeClassifier

    X, y = load_wine(return_X_y=True)
    model = DecisionTreeClassifier(max_depth=1, random_state=0).fit(X, y)  # a weak model: off-diagonal counts
    files = write_diagnostics(tmp_path / "d", model, X, y, "classification", on_test=False)
    assert [f.name for f in files] == ["classification_report.json", "classification_report.txt",
                                       "confusion_matrix.svg"]
    root = ET.parse(tmp_path / "d" / "confusion_matrix.svg").getroot()
    cells = {(c.get("data-true"), c.get("data-predicted")): int(c.get("data-count"))
             for c in root.iter(f"{SVG}rect") if c.get("class") == "cell"}
    expected = confusion_matrix(y, model.predict(X))
    assert cells == {(str(i), str(j)): int(expected[i][j]) for i in range(3) for j in range(3)}
    assert "training data" in "".join(root.itertext())
    assert (tmp_path / "d" / "classification_report.txt").read_text().endswith(
        classification_report(y, model.predict(X), zero_division=0))


def test_residual_plot_has_a_point_per_row_up_to_the_cap(tmp_path: Path) -> None:
    from sklearn.datasets import load_diabetes
    from sklearn.linear_model import Ridge

    X, y = load_diabetes(return_X_y=True)
    model = Ridge().fit(X, y)
    write_diagnostics(tmp_path, model, X, y, "regression", on_test=True)
    root = ET.parse(tmp_path / "residuals.svg").getroot()
    points = [c for c in root.iter(f"{SVG}circle") if c.get("class") == "point"]
    assert len(points) == len(y)
    assert "Residuals (test)" in "".join(root.itertext())
    rows = MAX_POINTS * 3 + 1
    big = ET.fromstring(residual_svg(np.arange(rows, dtype=float), np.ones(rows), "R"))
    assert len([c for c in big.iter(f"{SVG}circle")]) == MAX_POINTS
    assert f"{MAX_POINTS:,} of {rows:,} rows" in "".join(big.itertext())

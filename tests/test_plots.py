"""The report's PNG plots: drawn headless from a real run, real PNG files, nothing drawn from nothing."""

from __future__ import annotations

import struct
import subprocess
import sys
from pathlib import Path

import pytest

from hpo_cli.core.results import TrialRecord
from hpo_cli.report import plots
from hpo_cli.report.stats import param_importance
from hpo_cli.rundir.read import ModelTrials, load_run

SPEC = """\
name: wine-plots
data: {source: "sklearn:wine"}
defaults: {cv: {kind: stratified, folds: 3}, metric: accuracy, seed: 1, method: random, budget: {trials: 12}}
models:
  - name: knn
    class: KNeighborsClassifier
    preprocess: [standard_scaler]
    space:
      n_neighbors: {type: int, low: 1, high: 30}
      weights: [uniform, distance]
      p: [1, 2]
tracking: {mlflow: false}
"""


def png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", f"{path} is not a PNG"
    return struct.unpack(">II", data[16:24])


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("plots")
    (folder / "spec.yaml").write_text(SPEC)
    res = subprocess.run([sys.executable, "-m", "hpo_cli", "tune", str(folder / "spec.yaml"), "--no-mlflow",
                          "--quiet", "--output", str(folder / "run")], capture_output=True, text=True)
    assert res.returncode == 0, res.stderr[-2000:]
    return folder / "run"


def test_draw_all_writes_every_plot_as_png(run: Path) -> None:
    data = load_run(run)
    knn = data.models["knn"]
    importance = param_importance(knn.study)
    assert importance is not None and set(importance) == {"n_neighbors", "weights", "p"}
    written = plots.draw_all(run / "plots", data.models, "accuracy", {"knn": importance})
    assert set(written) == {"history", "importance:knn", "slice:knn"}
    for path in written.values():
        width, height = png_size(path)
        assert 300 < width < 2000 and 150 < height < 1200, (path, width, height)
    assert not list((run / "plots").glob(".*"))  # no temporary files left behind


def test_nothing_to_draw_draws_nothing(tmp_path: Path) -> None:
    empty = ModelTrials("m", [TrialRecord("m", 0, "FAIL", {"a": 1})])
    assert plots.history(tmp_path / "h.png", {"m": empty}, "accuracy") is None
    assert plots.slice_plot(tmp_path / "s.png", empty, "accuracy") is None
    assert plots.importance(tmp_path / "i.png", {"m": {}}) is None
    assert not list(tmp_path.iterdir())

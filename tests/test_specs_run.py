"""Every bundled spec validates strictly and runs end to end: they are what users copy first.

Run in-process through the Typer app (one interpreter, imports paid once) with ``--trials 2
--no-mlflow`` so the whole file stays within seconds per spec.
"""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from hpo_cli.cli.app import app

SPECS_DIR = Path(__file__).resolve().parent.parent / "specs"
SPECS = sorted(p for p in [*SPECS_DIR.glob("*.yaml"), *SPECS_DIR.glob("*.json")] if p.name != "schema.json")
# Specs that carry no data section and need one on the command line.
DATA = {"models_only.yaml": "sklearn:iris"}
# A models-only file cannot say `test_size` (it has no data section), so the one warning it may get is that.
EXPECTED_WARNINGS = {"models_only.yaml": "test_size"}


def data_args(spec: Path) -> list[str]:
    return ["--data", DATA[spec.name]] if spec.name in DATA else []


def invoke(args: list[str]):
    result = CliRunner().invoke(app, args)
    detail = f"{result.output}\n{result.exception!r}"
    return result, detail


def test_the_four_required_examples_exist():
    names = {p.name for p in SPECS}
    assert {"breast_cancer.yaml", "diabetes.yaml", "groups.yaml", "timeseries.yaml"} <= names


@pytest.mark.parametrize("spec", SPECS, ids=lambda p: p.name)
def test_bundled_spec_validates_strictly(spec: Path):
    if spec.name in EXPECTED_WARNINGS:
        result, detail = invoke(["validate", str(spec), *data_args(spec)])
        assert result.exit_code == 0, detail
        warnings = [ln for ln in result.output.splitlines() if ": warning: " in ln]
        assert all(EXPECTED_WARNINGS[spec.name] in ln for ln in warnings), detail
        return
    result, detail = invoke(["validate", "--strict", str(spec), *data_args(spec)])
    assert result.exit_code == 0, detail
    assert "0 warning(s)" in result.output or ": warning: " not in result.output, detail


@pytest.mark.parametrize("spec", SPECS, ids=lambda p: p.name)
def test_bundled_spec_runs(spec: Path, tmp_path: Path):
    out = tmp_path / "run"
    result, detail = invoke(["tune", str(spec), "--trials", "2", "--no-mlflow", "--quiet", "--output", str(out),
                             *data_args(spec)])
    assert result.exit_code == 0, detail
    raw = yaml.safe_load(spec.read_text(encoding="utf-8"))
    models = [m["name"] for m in raw["models"]]
    best = yaml.safe_load((out / "best_parameters.yaml").read_text(encoding="utf-8"))
    assert list(best["models"]) == models
    assert best["best_model"] in models
    with (out / "trials.csv").open(newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    for name in models:
        states = [r["state"] for r in rows if r["model"] == name]
        assert len(states) == 2, (name, states)
        assert "COMPLETE" in states, (name, rows)
    assert (out / "results.md").is_file() and (out / "run.json").is_file()

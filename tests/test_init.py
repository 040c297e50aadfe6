"""`hpo init`: a starter spec for a data file that validates strictly and tunes as written.

Run on every data file the repository ships under specs/data and on new small CSVs of each task
(binary with 0/1 labels, a text column and a missing value; multiclass with text labels; regression).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from hpo_cli.checks.init import starter_spec
from hpo_cli.checks.validate import validate_spec
from hpo_cli.core.options import InitOptions, TuneOptions
from hpo_cli.tune.run import run_tune

ROOT = Path(__file__).resolve().parent.parent


def _new_csv(folder: Path, kind: str) -> Path:
    rng = np.random.default_rng(3)
    n = 90
    X = rng.normal(size=(n, 3))
    frame = pd.DataFrame(X, columns=["a", "b", "c"])
    if kind == "binary":
        frame["city"] = rng.choice(["north", "south"], n)  # text: left out, listed under drop
        frame.loc[4, "b"] = np.nan  # a missing value: an imputer in front of the linear model
        frame["label"] = (X[:, 0] + 0.5 * rng.normal(size=n) > 0).astype(int)
    elif kind == "multiclass":
        frame["species"] = np.array(["setosa", "versicolor", "virginica"])[np.digitize(X[:, 1], [-0.4, 0.4])]
    else:
        frame["price"] = X @ [1.5, -2.0, 0.3] + rng.normal(size=n)
    path = folder / f"{kind}.csv"
    frame.to_csv(path, index=False)
    return path


CASES = {  # name: (data file, options, expected task, expected CV kind)
    "patients": ("specs/data/patients.csv", {"target": "readmitted", "groups": "patient_id"}, "classification",
                 "group"),
    "sales": ("specs/data/sales.csv", {"target": "sales", "time": "date"}, "regression", "timeseries"),
    "binary": ("binary", {"target": "label"}, "classification", "stratified"),
    "multiclass": ("multiclass", {"target": "species"}, "classification", "stratified"),
    "regression": ("regression", {"target": "price"}, "regression", "kfold"),
}


@pytest.mark.parametrize("case", list(CASES))
def test_starter_spec_validates_strictly_and_tunes(tmp_path, case):
    source, options, task, cv = CASES[case]
    data = ROOT / source if "/" in source else _new_csv(tmp_path, source)
    spec_path = tmp_path / "spec" / f"{case}.yaml"
    spec_path.parent.mkdir()
    result = starter_spec(InitOptions(data=str(data), output=spec_path, **options))
    spec_path.write_text(result.text, encoding="utf-8")
    assert result.task == task and result.cv == cv
    doc = yaml.safe_load(result.text)
    assert result.text.startswith("# yaml-language-server: $schema=")
    assert doc["data"]["test_size"] == 0.2 and doc["defaults"]["cv"]["kind"] == cv
    assert (tmp_path / "spec" / doc["data"]["source"]).resolve() == data.resolve()  # relative to the spec
    names = [m["name"] for m in doc["models"]]
    assert names[0] in ("logreg", "ridge") and "forest" in names
    assert ("xgb" in names) == (case != "multiclass")  # text labels: XGBoost needs 0..k-1
    assert all(p.get("log") for m in doc["models"] for k, p in m["space"].items()
               if k in ("C", "alpha", "learning_rate", "n_estimators"))
    if case == "binary":
        assert doc["data"]["drop"] == ["city"] and "simple_imputer" in doc["models"][0]["preprocess"]
    checked = validate_spec(spec_path)
    assert not checked.warnings, [str(w) for w in checked.warnings]  # what --strict fails on
    run = run_tune(TuneOptions(spec=spec_path, output=tmp_path / "run", trials=2, mlflow=False, quiet=True),
                   observers=[])
    assert run.exit_code == 0
    assert {m.name: m.n_complete for m in run.models} == dict.fromkeys(names, 2)


def hpo(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "hpo_cli", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=120, check=False)


def test_cli_writes_the_spec_and_schema_then_refuses_to_overwrite(tmp_path):
    data = _new_csv(tmp_path, "regression")
    proc = hpo("init", str(data), "--target", "price", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    spec = tmp_path / "regression.yaml"
    assert "regression, 90 rows, 3 features" in proc.stdout and spec.is_file()
    assert (tmp_path / "hpo.schema.json").is_file()  # what the $schema comment points to
    before = spec.read_text(encoding="utf-8")
    proc = hpo("init", str(data), "--target", "price", cwd=tmp_path)
    assert proc.returncode == 2 and "exists" in proc.stderr and "Traceback" not in proc.stderr
    assert spec.read_text(encoding="utf-8") == before
    proc = hpo("init", str(data), "--target", "prize", "-o", "other.yaml", cwd=tmp_path)
    assert proc.returncode == 2 and "did you mean 'price'" in proc.stderr.lower()
    assert len(proc.stderr.strip().splitlines()) == 1 and not (tmp_path / "other.yaml").exists()

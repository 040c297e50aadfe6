"""Hostile command-line options: each is one line naming the option, exit 2, and nothing written.

Click's usage errors print three or four lines of their own unless hpo folds them into one; one case
runs as a real process to show stderr is exactly that line.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from hostile_cli import run

SPEC = "data: {source: sklearn:iris, test_size: 0.2}\nmodels:\n  - {name: m, class: LogisticRegression, " \
       "method: random, space: {C: [0.1, 1.0]}, budget: {trials: 2}, cv: {folds: 2}}\n"


def hpo(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "hpo_cli", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=120)


@pytest.fixture
def spec(tmp_path: Path) -> Path:
    path = tmp_path / "spec.yaml"
    path.write_text(SPEC)
    return path


@pytest.mark.parametrize("args, expected", [
    (["--timeout", "0"], "--timeout: must be greater than 0, got '0'"),
    (["--timeout", "0s"], "--timeout: must be greater than 0, got '0s'"),
    (["--timeout", "-5"], "--timeout: expected a duration such as 90s, 20m or 2h, got '-5'"),
    (["--seed", "-1"], "--seed: must be between 0 and 4294967295 (the seeds numpy accepts), got -1"),
    (["--seed", str(2**40)], f"--seed: must be between 0 and 4294967295 (the seeds numpy accepts), got {2**40}"),
    (["--bogus"], "hpo tune: No such option: --bogus (see hpo tune --help)"),
    (["--trials", "abc"], "hpo tune: Invalid value for '--trials': "),
])
def test_a_bad_option_is_one_line_and_writes_nothing(spec, args, expected):
    code, out, err = run("tune", str(spec), "--no-mlflow", "--quiet", "--output", "run", *args, cwd=spec.parent)
    assert code == 2, err
    assert err.count("\n") == 1 and err.startswith(expected), err
    assert out == "" and not (spec.parent / "run").exists()


@pytest.mark.parametrize("args, expected", [
    (["tune"], "hpo tune: Missing argument 'SPEC'. (see hpo tune --help)"),
    (["frobnicate"], "hpo: No such command 'frobnicate'. (see hpo --help)"),
    (["report", "--top", "x"], "hpo report: Invalid value for '--top'"),
])
def test_every_usage_error_is_one_line(tmp_path, args, expected):
    proc = hpo(*args, cwd=tmp_path) if args == ["tune"] else None  # one real process: stderr is exactly one line
    code, _, err = (proc.returncode, proc.stdout, proc.stderr) if proc else run(*args, cwd=tmp_path)
    assert code == 2 and err.count("\n") == 1 and err.startswith(expected), err


def test_a_seed_out_of_range_in_the_spec_is_blamed_on_the_seed(tmp_path):
    (tmp_path / "spec.yaml").write_text(SPEC.replace("cv: {folds: 2}", "cv: {folds: 2}, seed: -1"))
    code, _, err = run("validate", "spec.yaml", cwd=tmp_path)
    assert code == 2
    assert err.startswith("spec.yaml:3:") and "models[0].seed: " in err, err


def test_no_pandas_warning_before_the_time_column_error(tmp_path):
    rows = "".join(f"{k},soon{k},{k % 2}\n" for k in range(20))
    (tmp_path / "t.csv").write_text("x,when,label\n" + rows)
    (tmp_path / "spec.yaml").write_text("data: {source: t.csv, target: label, time: when, test_size: 0.2}\nmodels:\n"
                                        "  - {name: m, class: LogisticRegression, cv: {kind: timeseries, folds: 2}, "
                                        "space: {C: [0.1, 1.0]}}\n")
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a warning pandas would print becomes a failure here
        code, _, err = run("validate", "spec.yaml", cwd=tmp_path)
    assert code == 2
    assert err.startswith("spec.yaml:1:") and err.count("\n") == 1, err
    assert "time column 'when' is neither numeric nor dates" in err

"""The CLI's basics: help and version, fast start without heavy imports, `schema`, exit codes of bad options."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from hpo_cli.cli.app import app

sys.path.insert(0, str(Path(__file__).parent))
from import_probe import imported  # noqa: E402

ROOT = Path(__file__).parent.parent
HEAVY = ("mlflow", "xgboost", "optuna", "sklearn", "lightgbm", "catboost")

def test_help_lists_every_command_without_heavy_imports():
    code, modules, out = imported("--help")
    assert code == 0
    for command in ("tune", "report", "best", "validate", "schema"):
        assert command in out
    assert "--version" in out
    assert not modules & set(HEAVY), sorted(modules & set(HEAVY))


def test_validate_does_not_import_mlflow():
    code, modules, _ = imported("validate", "specs/breast_cancer.yaml")
    assert code == 0
    assert "mlflow" not in modules
    assert "sklearn" in modules  # it does resolve estimators and scorers


def test_schema_and_help_of_subcommands_start_light():
    code, modules, out = imported("schema")
    assert code == 0 and json.loads(out)["title"] == "hpo spec"
    assert not modules & {"mlflow", "xgboost", "optuna", "sklearn"}


def test_version():
    result = CliRunner().invoke(app, ["--version"])
    assert result.exit_code == 0 and result.stdout.startswith("hpo ")


def test_console_script_help():
    hpo = Path(sys.executable).parent / "hpo"
    if not hpo.exists():
        pytest.skip("console script not installed next to this interpreter")
    proc = subprocess.run([str(hpo), "validate", "--help"], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0 and "--strict" in proc.stdout and "--data" in proc.stdout


@pytest.mark.parametrize("args", [["validate"], ["validate", "x.yaml", "--bogus"], ["nonsense"]])
def test_usage_errors_exit_2_without_traceback(args):
    proc = subprocess.run([sys.executable, "-m", "hpo_cli", *args], capture_output=True, text=True, cwd=ROOT,
                          timeout=60)
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr


@pytest.mark.parametrize("name", ["nope.yaml", "README.md", "specs"])
def test_unreadable_spec_paths_exit_2(name):
    proc = subprocess.run([sys.executable, "-m", "hpo_cli", "validate", name], capture_output=True, text=True,
                          cwd=ROOT, timeout=60)
    assert proc.returncode == 2 and proc.stderr.startswith(name) and "Traceback" not in proc.stderr



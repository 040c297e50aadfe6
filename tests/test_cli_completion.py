"""`hpo --version` lists the engines without importing them; shell completion (Typer's) offers spec files
and a spec's model names."""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
from importlib.metadata import version
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
HEAVY = ("optuna", "sklearn", "mlflow", "xgboost", "pandas")


def hpo(*args: str, env: dict[str, str] | None = None, flags: tuple[str, ...] = ()) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, *flags, "-m", "hpo_cli", *args], capture_output=True, text=True,
                          cwd=ROOT, env={**os.environ, **(env or {})}, timeout=120, check=False)


def test_version_lists_the_engines_from_metadata_without_importing_them():
    proc = hpo("--version", flags=("-X", "importtime"))
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0] == f"hpo {version('hpo-cli')}"
    assert lines[1:] == [f"{name} {version(name)}" for name in ("optuna", "scikit-learn", "mlflow", "xgboost")]
    imported = {line.split("|")[-1].strip().split(".")[0] for line in proc.stderr.splitlines()
                if line.startswith("import time:")}
    assert "hpo_cli" in imported and not imported & set(HEAVY), sorted(imported & set(HEAVY))


def test_show_completion_prints_typers_script():
    # Typer finds the shell among the parent processes: run under bash (`; true` keeps bash from exec'ing)
    line = f"{shlex.quote(sys.executable)} -m hpo_cli --show-completion; true"
    proc = subprocess.run(["bash", "-c", line], capture_output=True, text=True, cwd=ROOT, timeout=120, check=False)
    assert proc.returncode == 0 and not proc.stderr.strip(), proc.stderr
    assert "_HPO_COMPLETE=complete_bash" in proc.stdout and "complete " in proc.stdout


def complete(line: str) -> list[str]:
    words = line.split(" ")
    proc = hpo(env={"_HPO_COMPLETE": "complete_bash", "COMP_WORDS": line, "COMP_CWORD": str(len(words) - 1)})
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.split()


def test_completion_offers_spec_files_and_model_names():
    specs = complete("hpo tune specs/")
    assert "specs/breast_cancer.yaml" in specs and "specs/wine.json" in specs and "specs/data/" in specs
    assert "specs/schema.json" not in specs and not any(s.endswith(".py") for s in specs)
    assert complete("hpo tune specs/breast_cancer.yaml --model ") == ["logreg", "forest", "xgb"]
    assert complete("hpo validate specs/breast_cancer.yaml -m f") == ["forest"]

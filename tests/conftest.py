"""Shared test helpers: write a spec into a temporary folder and run ``hpo tune`` on it in-process."""

from __future__ import annotations

import csv
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from hpo_cli.core.options import TuneOptions
from hpo_cli.core.results import RunResult


@pytest.fixture
def write_spec(tmp_path: Path) -> Callable[..., Path]:
    """``write_spec(dict, name="spec")`` → the path of a YAML spec (JSON is YAML) in ``tmp_path``."""

    def write(spec: dict[str, Any], name: str = "spec") -> Path:
        spec = {"tracking": {"mlflow": False}, **spec}
        path = tmp_path / f"{name}.yaml"
        path.write_text(json.dumps(spec, indent=1), encoding="utf-8")
        return path

    return write


@pytest.fixture
def tune(tmp_path: Path) -> Callable[..., RunResult]:
    """``tune(spec_path, **TuneOptions fields)`` with MLflow off and the run folder in ``tmp_path/run``."""
    from hpo_cli.tune.run import run_tune

    def run(spec: Path, **options: Any) -> RunResult:
        options.setdefault("output", tmp_path / "run")
        options.setdefault("mlflow", False)
        options.setdefault("quiet", True)
        return run_tune(TuneOptions(spec=spec, **options), observers=[])

    return run


def _read_trials(run_dir: Path) -> list[dict[str, str]]:
    with (run_dir / "trials.csv").open(newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


@pytest.fixture
def read_trials() -> Callable[[Path], list[dict[str, str]]]:
    """``read_trials(run_dir)`` → the rows of ``trials.csv`` as dicts of strings."""
    return _read_trials


@pytest.fixture(scope="session")
def mlflow_server(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """One real ``mlflow server`` on 127.0.0.1 shared by the test modules (starting one costs ~10-60 s here)."""
    import sys

    sys.path.insert(0, str(Path(__file__).parent))
    from mlflow_server import MlflowServer

    srv = MlflowServer(tmp_path_factory.mktemp("mlflow-server")).start()
    yield srv
    srv.stop()

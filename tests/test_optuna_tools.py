"""Optuna's own tools read the study storage hpo writes: the ``optuna`` CLI and ``optuna-dashboard``.

Both the default journal file in the run folder and an SQLite ``--storage`` are opened by the real tools
(installed with the test extra), so a user can browse an hpo run in the dashboard they already know.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

BIN = Path(sys.executable).parent
SPEC = {"name": "tools", "data": {"source": "sklearn:iris"},
        "defaults": {"cv": {"kind": "stratified", "folds": 3}, "metric": "accuracy", "seed": 0},
        "models": [{"name": "dummy", "class": "DummyClassifier", "method": "grid",
                    "space": {"strategy": ["prior", "uniform", "stratified"]}}]}


@pytest.fixture(scope="module")
def storages(tmp_path_factory) -> dict[str, tuple[str, list[str]]]:
    """One tiny run per storage kind: {kind: (storage as the tools take it, extra CLI options)}."""
    from hpo_cli.core.options import TuneOptions
    from hpo_cli.tune.run import run_tune

    tmp = tmp_path_factory.mktemp("tools")
    spec = tmp / "tools.yaml"
    spec.write_text(json.dumps(SPEC), encoding="utf-8")
    run_tune(TuneOptions(spec=spec, output=tmp / "journal", mlflow=False, quiet=True), observers=[])
    sqlite = f"sqlite:///{tmp / 'hpo.db'}"
    run_tune(TuneOptions(spec=spec, output=tmp / "sqlite", storage=sqlite, mlflow=False, quiet=True), observers=[])
    journal = str(tmp / "journal" / "study.journal")
    return {"journal": (journal, ["--storage-class", "JournalFileBackend"]), "sqlite": (sqlite, [])}


def optuna_cli(*args: str) -> str:
    proc = subprocess.run([str(BIN / "optuna"), *args], capture_output=True, text=True, check=False, timeout=120)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


@pytest.mark.parametrize("kind", ["journal", "sqlite"])
def test_optuna_cli_lists_the_study_with_its_trials(storages, kind):
    storage, extra = storages[kind]
    studies = json.loads(optuna_cli("studies", "--storage", storage, *extra, "-f", "json"))
    assert [(s["name"], s["direction"], s["n_trials"]) for s in studies] == [("tools.dummy", ["MAXIMIZE"], 3)]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.parametrize("kind", ["journal", "sqlite"])
def test_optuna_dashboard_serves_the_study_list(storages, kind):
    storage, _ = storages[kind]
    port = _free_port()
    proc = subprocess.Popen([str(BIN / "optuna-dashboard"), storage, "--host", "127.0.0.1", "--port", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        body, deadline = None, time.monotonic() + 90
        while body is None and time.monotonic() < deadline:
            assert proc.poll() is None, proc.stderr.read().decode() if proc.stderr else "dashboard exited"
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/studies", timeout=5) as resp:
                    body = json.loads(resp.read())
            except OSError:
                time.sleep(0.3)
        assert body is not None, "optuna-dashboard did not answer"
        studies = body["study_summaries"]
        assert [(s["study_name"], s["directions"]) for s in studies] == [("tools.dummy", ["maximize"])]
        url = f"http://127.0.0.1:{port}/api/studies/{studies[0]['study_id']}"
        with urllib.request.urlopen(url, timeout=30) as resp:
            detail = json.loads(resp.read())
        assert sorted(t["state"] for t in detail["trials"]) == ["Complete"] * 3
    finally:
        os.kill(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait()

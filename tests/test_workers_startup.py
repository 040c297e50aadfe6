"""``--workers N`` start-up and end costs (issue 9, bench/bench_workers.py): what runs when, from HPO_TRACE.

Real processes: the CLI with its tracking writer and worker template, real forked workers on the journal.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

TESTS = str(Path(__file__).parent)


def _trace(stderr: str) -> list[tuple[str, float, str]]:
    """``(who, start epoch, what)`` of each ``hpo-trace`` line, in the order written."""
    out = []
    for line in stderr.splitlines():
        if line.startswith("hpo-trace "):
            _, who, start, rest = line.split(" ", 3)
            out.append((who, float(start), rest.rsplit(" ", 2)[0]))
    return out


def test_the_template_starts_before_the_search_stack_and_an_unused_writer_ends_at_once(tmp_path: Path) -> None:
    """``--workers 2`` with tracking off in the spec (no ``--no-mlflow``): the CLI starts the workers' template
    beside the writer, before it reads the spec and imports pandas & co.; the spec read, the writer (MLflow's
    imports, a core the template needs) ends at once, and no second writer is started."""
    spec = {"name": "wstart", "data": {"source": "sklearn:iris"}, "output": "run", "tracking": {"mlflow": False},
            "models": [{"name": "tree", "class": "DecisionTreeClassifier", "method": "random",
                        "cv": {"kind": "kfold", "folds": 2}, "budget": {"trials": 6},
                        "space": {"max_depth": {"type": "int", "low": 1, "high": 8}}}]}
    (tmp_path / "spec.yaml").write_text(json.dumps(spec), encoding="utf-8")
    env = {**os.environ, "HPO_TRACE": "1"}
    done = subprocess.run([sys.executable, "-m", "hpo_cli", "tune", "spec.yaml", "--workers", "2", "-q"],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    search = [what for who, _, what in _trace(done.stderr) if who == "search"]
    assert search.count("start writer") == 1 and search.count("start template") == 1, search
    assert search.index("start template") < search.index("load spec"), search
    assert search.index("end writer: tracking off") < search.index("load spec"), search
    workers = {who for who, _, what in _trace(done.stderr) if who.startswith("worker") and what == "open storage"}
    assert workers == {"worker0", "worker1"}


def test_an_idle_worker_stops_waiting_as_soon_as_it_is_told() -> None:
    """A worker waiting for others' trials (the run's last ones) leaves at SIGTERM or when its parent is gone,
    not after its look at the storage: the coordinator waits for it at the run's end."""
    from hpo_cli.search.stopping import StopSignal
    from hpo_cli.search.worker import idle

    stop = StopSignal()  # not entered: no signal handlers, ``requested`` set by hand as a SIGTERM would
    threading.Timer(0.2, lambda: setattr(stop, "requested", True)).start()
    started = time.monotonic()
    idle(stop, lambda: True, 60.0)
    assert time.monotonic() - started < 30
    started = time.monotonic()
    idle(StopSignal(), lambda: False, 60.0)  # the parent (template) is gone
    assert time.monotonic() - started < 30


def test_the_coordinator_wakes_when_a_worker_exits(tmp_path: Path) -> None:
    """``WorkerTemplate.wait`` returns when the template reports a worker's exit, not after its timeout: the
    coordinator sees the end of a model (its workers find the queue empty and exit) at once."""
    from hpo_cli.core.options import TuneOptions
    from hpo_cli.tune.template import WorkerTemplate

    spec = {"name": "wwake", "data": {"source": "sklearn:iris"}, "output": str(tmp_path / "run"),
            "tracking": {"mlflow": False},
            "models": [{"name": "tree", "class": "DecisionTreeClassifier", "method": "random",
                        "cv": {"kind": "kfold", "folds": 2}, "budget": {"trials": 2},
                        "space": {"max_depth": {"type": "int", "low": 1, "high": 8}}}]}
    path = tmp_path / "spec.yaml"
    path.write_text(json.dumps(spec), encoding="utf-8")
    template = WorkerTemplate(TuneOptions(spec=path, workers=2, quiet=True, mlflow=False), 1)
    try:
        worker = template.spawn(0, 0, "test:0:0")  # no study was prepared: the worker exits at once (code 1)
        started = time.monotonic()
        waits = 0
        while worker.poll() is None and time.monotonic() - started < 300:
            template.wait(200.0)
            waits += 1
        assert worker.poll() is not None and waits <= 10
        assert time.monotonic() - started < 150  # one timeout would be 200 s
    finally:
        template.close()

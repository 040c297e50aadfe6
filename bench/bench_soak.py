"""Soak: 2,000 trials of a fast estimator with MLflow tracking; do memory and per-trial time stay flat?

A long study is where leaks show: a list that grows per trial, a cache keyed by trial, an Optuna call whose
cost grows with the study (``O(n)`` per trial is ``O(n^2)`` per run), a tracking backlog. This runs the real
CLI (``python -m hpo_cli tune``) on a ``random`` search of a decision tree on iris (3 folds, ~1 ms per fit),
tracked into a local MLflow store (``sqlite:///`` in a temporary folder), and samples every half second
the resident memory of the search process and of its MLflow writer process (``/proc``, Linux).

Columns, each for the first and the last 200 trials:

- ``ms/trial``: median time between consecutive trial completions (from the study's timestamps);
- ``search RSS MB``: the search process's resident memory when the 200th / the last trial completed, and
  the growth per trial between the two (``KB/trial``);
- ``writer RSS MB``: the writer's when 200 / all child runs were in the store (it runs behind the search:
  compared by children written, not by time), and the growth per child between the two (``KB/child``);
- the peaks (``VmHWM``), the drain (last trial to process end: the writes the writer had queued), the
  MLflow child runs found in the store, and the exit code.

Runnable alone (``.venv/bin/python bench/bench_soak.py [TRIALS]``); ``rows()``/``markdown()`` serve
bench/run.py's ``soak`` section. Random search on purpose: TPE's own cost grows with the trials by design.
"""

from __future__ import annotations

import json
import os
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from bench_tracking import markdown  # the bench scripts' one table renderer (bench/ is on sys.path)

ROOT = Path(__file__).resolve().parent.parent
WINDOW = 200


def spec(trials: int, uri: str) -> dict[str, Any]:
    return {"name": "soak", "data": {"source": "sklearn:iris"},
            "models": [{"name": "tree", "class": "DecisionTreeClassifier", "method": "random", "seed": 0,
                        "cv": {"kind": "stratified", "folds": 3, "shuffle": True},
                        "metric": "accuracy", "budget": {"trials": trials},
                        "space": {"max_depth": {"type": "int", "low": 1, "high": 8},
                                  "min_samples_leaf": {"type": "int", "low": 1, "high": 20},
                                  "ccp_alpha": {"type": "float", "low": 0.0, "high": 0.05}}}],
            "tracking": {"mlflow": {"uri": uri}}}


def _status(pid: int) -> dict[str, int]:
    """VmRSS and VmHWM (peak) of a process in kB; {} once it is gone."""
    out: dict[str, int] = {}
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            key, _, value = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                out[key] = int(value.split()[0])
    except (OSError, ValueError):
        return {}
    return out


def _children(pid: int) -> list[int]:
    found = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            found += [int(c) for c in (task / "children").read_text().split()]
        except OSError:
            continue
    return found


class Sampler(threading.Thread):
    """Samples (time, search kB, writer kB, child runs in the store) and keeps the peaks until the process ends.

    The child-run count (one indexed ``COUNT`` on the store's ``tags``, read-only) says how far the writer
    got: it runs behind the search, so its memory is compared at 200 children written and at the last.
    """

    def __init__(self, pid: int, db: Path, every: float = 0.5) -> None:
        super().__init__(daemon=True)
        self.pid, self.db, self.every = pid, db, every
        self.samples: list[tuple[float, int, int, int]] = []
        self.peak = {"search": 0, "writer": 0}
        self.done = threading.Event()

    def _written(self) -> int:
        """Child runs in the store now (the last count when the store is busy or not created yet)."""
        try:
            return _child_runs(self.db, timeout=0.1)
        except sqlite3.Error:
            return self.samples[-1][3] if self.samples else 0

    def run(self) -> None:
        while not self.done.is_set():
            main = _status(self.pid)
            if not main:
                return
            writer: dict[str, int] = {}
            for child in _children(self.pid):
                writer = _status(child)
                if writer:
                    break
            self.samples.append((time.time(), main.get("VmRSS", 0), writer.get("VmRSS", 0), self._written()))
            self.peak["search"] = max(self.peak["search"], main.get("VmHWM", 0))
            self.peak["writer"] = max(self.peak["writer"], writer.get("VmHWM", 0))
            self.done.wait(self.every)

    def at(self, when: float) -> int:
        """The search's kB in the first sample at or after ``when``."""
        for t, main, _writer, _n in self.samples:
            if t >= when and main:
                return main
        return self.samples[-1][1] if self.samples else 0

    def writer_at(self, children: int) -> int:
        """The writer's kB in the first sample where ``children`` child runs were in the store."""
        for _t, _main, writer, n in self.samples:
            if n >= children and writer:
                return writer
        return 0


def _completions(run_dir: Path) -> list[float]:
    """Each finished trial's completion time (epoch seconds), in trial order, from the journal."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    storage = optuna.storages.JournalStorage(optuna.storages.journal.JournalFileBackend(str(run_dir / "study.journal")))
    study = optuna.load_study(study_name="soak.tree", storage=storage)
    return [t.datetime_complete.timestamp() for t in study.get_trials(deepcopy=False) if t.datetime_complete]


def _child_runs(db: Path, timeout: float = 5.0) -> int:
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=timeout)
    try:
        (n,) = con.execute("SELECT count(*) FROM tags WHERE key = 'mlflow.parentRunId'").fetchone()
    finally:
        con.close()
    return int(n)


def soak(trials: int, folder: Path) -> dict[str, Any]:
    """One soak run in ``folder``; the figures of one row."""
    db = folder / "mlflow.db"
    spec_path = folder / "soak.yaml"
    spec_path.write_text(json.dumps(spec(trials, f"sqlite:///{db}")), encoding="utf-8")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH")) if p)}
    started = time.time()
    proc = subprocess.Popen([sys.executable, "-m", "hpo_cli", "tune", str(spec_path), "-o", str(folder / "run"),
                             "--quiet"], cwd=folder, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    sampler = Sampler(proc.pid, db)
    sampler.start()
    _, stderr = proc.communicate()
    ended = time.time()
    sampler.done.set()
    sampler.join()
    if proc.returncode != 0:
        raise RuntimeError(f"hpo tune exited {proc.returncode}: {stderr.strip()[-1000:]}")
    done = _completions(folder / "run")
    gaps = [b - a for a, b in zip(done, done[1:], strict=False)]
    first, last = gaps[:WINDOW - 1], gaps[-WINDOW:]
    children = _child_runs(db)
    mb = 1 / 1024
    search = sampler.at(done[min(WINDOW, len(done)) - 1]), sampler.at(done[-1])
    writer = sampler.writer_at(WINDOW), sampler.writer_at(children)
    return {
        "trials": len(done), "exit": proc.returncode, "wall s": round(ended - started, 1),
        "ms/trial first 200": round(1000 * statistics.median(first), 1),
        "ms/trial last 200": round(1000 * statistics.median(last), 1),
        "search RSS MB @200": round(search[0] * mb, 1), "search RSS MB @end": round(search[1] * mb, 1),
        "search KB/trial": round((search[1] - search[0]) / max(1, len(done) - WINDOW), 1),
        "writer RSS MB @200 children": round(writer[0] * mb, 1), "writer RSS MB @all": round(writer[1] * mb, 1),
        "writer KB/child": round((writer[1] - writer[0]) / max(1, children - WINDOW), 1),
        "peak MB search+writer": round((sampler.peak["search"] + sampler.peak["writer"]) * mb, 1),
        "drain s": round(ended - done[-1], 1), "MLflow child runs": children,
    }


def rows(trials: int = 2000) -> list[dict[str, Any]]:
    with tempfile.TemporaryDirectory(prefix="hpo-bench-soak-") as tmp:
        return [soak(trials, Path(tmp))]


def main() -> None:
    trials = int(sys.argv[1]) if len(sys.argv) > 1 else 2000
    print(markdown(rows(trials)))
    print(f"\n{trials} trials of a random search (DecisionTreeClassifier on iris, 3 folds) tracked into a local "
          f"MLflow store; first/last = the first and the last {WINDOW} trials. Flat means the last equals the "
          f"first within the machine's noise.")


if __name__ == "__main__":
    main()

"""Soak: 2,000 trials of a fast estimator with MLflow tracking; do memory and per-trial time stay flat?

A long study is where leaks show: a list that grows per trial, a cache keyed by trial, an Optuna call whose
cost grows with the study (``O(n)`` per trial is ``O(n^2)`` per run), a tracking backlog. This runs the real
CLI (``python -m hpo_cli tune``) on a ``random`` search of a decision tree on iris (3 folds, ~1 ms per fit),
tracked into a local MLflow store (``sqlite:///`` in a temporary folder), and samples every 0.1 s the
resident memory and CPU time of the search process and the memory of its MLflow writer process (``/proc``,
Linux), and every 0.5 s the child runs in the store.

Columns, each for the first and the last 200 trials:

- ``ms/trial``: median time between consecutive trial completions (from the study's timestamps);
- ``CPU ms/trial``: the search process's CPU time (all its threads, ``/proc``) over the window, per trial:
  what the search itself spends, much less distorted than wall time when other jobs share the cores;
- ``search RSS MB``: the search process's resident memory when the 200th / the last trial completed, and
  the growth per trial between the two (``KB/trial``);
- ``writer RSS MB``: the writer's when 200 child runs were in the store and in the last sample before the
  last child was written (it runs behind the search: compared by children written, not by time; and
  before the best model's logging, a one-off step), and the growth per child between the two (``KB/child``);
- the peaks (``VmHWM``), the drain (last trial to process end: the writes the writer had queued), the
  MLflow child runs found in the store, and the exit code.

Runnable alone (``.venv/bin/python bench/bench_soak.py [TRIALS]``); ``--profile`` runs the same search in
this process and reports the work per trial in counts instead (``bench_soak_profile.py``: calls per trial,
full GC passes, the functions whose cost grew). ``rows()``/``markdown()`` serve
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
from typing import Any, NamedTuple

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


def _cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process (all its threads), from ``/proc/PID/stat``; 0 once it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return 0.0


def _children(pid: int) -> list[int]:
    found = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            found += [int(c) for c in (task / "children").read_text().split()]
        except OSError:
            continue
    return found


class Sample(NamedTuple):
    t: float  # epoch seconds
    search_kb: int
    writer_kb: int
    children: int  # child runs in the store (-1: not counted in this sample)
    search_cpu: float  # the search process's CPU seconds so far


class Sampler(threading.Thread):
    """Samples both processes every ``every`` seconds and keeps the peaks until the search process ends.

    The child-run count (one indexed ``COUNT`` on the store's ``tags``, read-only) says how far the writer
    got: it runs behind the search, so its memory is compared at 200 children written and at the last.
    The search's CPU time gives a per-trial cost that other jobs on the machine distort far less than
    the wall time between trials.
    """

    def __init__(self, pid: int, db: Path, every: float = 0.1, count_every: int = 5) -> None:
        super().__init__(daemon=True)
        self.pid, self.db, self.every, self.count_every = pid, db, every, count_every
        self.samples: list[Sample] = []
        self.peak = {"search": 0, "writer": 0}
        self.done = threading.Event()

    def _written(self) -> int:
        """Child runs in the store now, every ``count_every``-th sample (-1 between: not counted, so the
        writer's figures never rest on a stale count); the last count when the store is busy or absent."""
        if len(self.samples) % self.count_every:
            return -1
        try:
            return _child_runs(self.db, timeout=0.1)
        except sqlite3.Error:
            return max((s.children for s in self.samples), default=0)

    def run(self) -> None:
        while not self.done.is_set():
            main, cpu = _status(self.pid), _cpu_seconds(self.pid)
            if not main:
                return
            writer: dict[str, int] = {}
            for child in _children(self.pid):
                writer = _status(child)
                if writer:
                    break
            self.samples.append(Sample(time.time(), main.get("VmRSS", 0), writer.get("VmRSS", 0), self._written(),
                                       cpu))
            self.peak["search"] = max(self.peak["search"], main.get("VmHWM", 0))
            self.peak["writer"] = max(self.peak["writer"], writer.get("VmHWM", 0))
            self.done.wait(self.every)

    def at(self, when: float) -> int:
        """The search's kB in the first sample at or after ``when``."""
        for sample in self.samples:
            if sample.t >= when and sample.search_kb:
                return sample.search_kb
        return self.samples[-1].search_kb if self.samples else 0

    def cpu_per_trial(self, done: list[float], first: int, last: int) -> float:
        """The search's CPU seconds per trial over trials ``first..last`` (indexes into ``done``, completion times).

        Only samples taken inside the window count, and the trials completed between the first and the
        last of them: no interpolation across the window's edges, where the start-up (imports, data,
        the first trial) and the model's end (refit, run folder, report) spend CPU in bursts that a
        straight line between two samples would smear into the window (the bias behind an earlier
        "+1.6 ms per trial" growth). 0 when fewer than two samples fell inside.
        """
        lo, hi = done[first], done[last]
        inside = [s for s in self.samples if lo <= s.t <= hi and s.search_cpu]
        if len(inside) < 2:
            return 0.0
        a, b = inside[0], inside[-1]
        trials = sum(a.t < t <= b.t for t in done)
        return (b.search_cpu - a.search_cpu) / trials if trials else 0.0

    def writer_at(self, children: int) -> tuple[int, int]:
        """(children written, writer kB) in the first sample with at least ``children`` child runs in the store."""
        for sample in self.samples:
            if sample.children >= children and sample.writer_kb:  # -1 (not counted) never passes
                return sample.children, sample.writer_kb
        return 0, 0

    def writer_last_child(self, children: int) -> tuple[int, int]:
        """(children written, writer kB) in the last sample before the last child run was written.

        Not after it: the writes queued behind the children (the refitted best model, the run folder's
        files) load mlflow's model flavours, a one-off step up that says nothing about growth per child.
        """
        before = [s for s in self.samples if 0 <= s.children < children and s.writer_kb]
        return (before[-1].children, before[-1].writer_kb) if before else (0, 0)


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
    w = max(1, min(WINDOW, len(done) - 1))
    cpu_first = sampler.cpu_per_trial(done, 0, w - 1)
    cpu_last = sampler.cpu_per_trial(done, len(done) - 1 - w, len(done) - 1)
    search = sampler.at(done[min(WINDOW, len(done)) - 1]), sampler.at(done[-1])
    (n_a, writer_a), (n_b, writer_b) = sampler.writer_at(WINDOW), sampler.writer_last_child(children)
    return {
        "trials": len(done), "exit": proc.returncode, "wall s": round(ended - started, 1),
        "ms/trial first 200": round(1000 * statistics.median(first), 1),
        "ms/trial last 200": round(1000 * statistics.median(last), 1),
        "CPU ms/trial first 200": round(1000 * cpu_first, 1), "CPU ms/trial last 200": round(1000 * cpu_last, 1),
        "search RSS MB @200": round(search[0] * mb, 1), "search RSS MB @end": round(search[1] * mb, 1),
        "search KB/trial": round((search[1] - search[0]) / max(1, len(done) - WINDOW), 1),
        "writer RSS MB @200 children": round(writer_a * mb, 1), "writer RSS MB @last children": round(writer_b * mb, 1),
        "writer KB/child": round((writer_b - writer_a) / max(1, n_b - n_a), 1),
        "peak MB search+writer": round((sampler.peak["search"] + sampler.peak["writer"]) * mb, 1),
        "drain s": round(ended - done[-1], 1), "MLflow child runs": children,
    }


def rows(trials: int = 2000) -> list[dict[str, Any]]:
    with tempfile.TemporaryDirectory(prefix="hpo-bench-soak-") as tmp:
        return [soak(trials, Path(tmp))]


def main() -> None:
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    trials = int(args[0]) if args else 2000
    if "--profile" in sys.argv:  # counts per trial instead of times: see bench_soak_profile.py
        from bench_soak_profile import profile

        windows, functions = profile(trials)
        print(markdown(windows) + "\n\nFunctions whose cumulative time per trial grew most:\n\n" + markdown(functions))
        return
    print(markdown(rows(trials)))
    print(f"\n{trials} trials of a random search (DecisionTreeClassifier on iris, 3 folds) tracked into a local "
          f"MLflow store; first/last = the first and the last {WINDOW} trials. Flat means the last equals the "
          f"first within the machine's noise.")


if __name__ == "__main__":
    main()

"""Tracking's fixed cost: what MLflow adds to a whole ``hpo tune`` beyond its per-trial cost (issue 13).

The 12-point grid of a scaled logistic regression on breast_cancer (5 stratified folds, the ``overhead``
section's spec) run by the real command line, interpreter start-up included, three ways, alternating:

- ``--no-mlflow``: the baseline;
- local store, existing: ``--tracking-uri sqlite:///…/mlflow.db`` on a store that already holds the
  experiment (what a user's second run meets);
- local store, fresh: a new SQLite file each time (MLflow creates its tables: the first run's cost).

``added`` is the median wall time minus the baseline's median. The per-trial part of it is 12 child
runs written by the writer process (a few ms each, see the ``tracking`` section); the rest is the fixed
cost: the writer's start and imports, the refitted model's logging (skops, signature, input example),
diagnostics plots and artifacts, and the final flush. Target: about 1 s or less (existing store).
CPU columns: user + system time of ``hpo`` and its writer process (``RUSAGE_CHILDREN``): on a loaded
machine wall times stretch with the load, CPU time much less; with a free core the writer's CPU overlaps
the search and does not add to the wall time.

``search waited``: from hpo's own ``HPO_TRACE`` lines (this tree only), how long the search process waited
for the writer (its connection, each model's parent run, the final drain and its exit): the part of the
added time that is the writer's. ``timeline`` (printed after the table) is one existing-store run's trace:
when each of the writer's imports and requests started (seconds after ``hpo tune`` was started), its wall
and CPU seconds, and the search's waits.

Runnable alone (``python bench/bench_mlflow_fixed.py [--reps N]``); ``rows()`` returns the rows for bench/run.py.
"""

from __future__ import annotations

import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent


def _spec() -> dict[str, Any]:
    sys.path.insert(0, str(ROOT / "bench"))
    from run import overhead_spec  # the 12-point grid, one definition

    spec = overhead_spec()
    spec["name"] = "bench-mlflow-fixed"
    spec["tracking"] = {"mlflow": True}
    return spec


TIMELINE: list[list[Any]] = []  # the trace of the median existing-store run of this tree, set by rows()


def _tune(spec_path: Path, run_dir: Path, extra: list[str], root: Path = ROOT) -> tuple[float, float, float | None,
                                                                                       list[list[Any]]]:
    """(wall s, CPU s of hpo and its writer process, s the search waited for the writer, timeline).

    CPU is the figure a loaded machine distorts least; the last two come from ``HPO_TRACE`` (None, [] for
    a tree without it).
    """
    env = {**os.environ, "PYTHONPATH": str(root), "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1",
           "HPO_TRACE": "1"}
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    epoch = time.time()
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "hpo_cli", "tune", str(spec_path), "--output", str(run_dir),
                           "--quiet", *extra], capture_output=True, text=True, check=False, env=env,
                          cwd=spec_path.parent)
    seconds = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        raise RuntimeError(f"hpo tune {' '.join(extra)} failed ({proc.returncode}): {proc.stderr[-1500:]}")
    cpu = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
    trace = [line.split() for line in proc.stderr.splitlines() if line.startswith("hpo-trace ")]
    timeline = sorted(([who, " ".join(what), round(float(at) - epoch, 2), float(wall), float(cpu_s)]
                       for _, who, at, *what, wall, cpu_s in trace), key=lambda row: row[2])
    waited = sum(row[3] for row in timeline if row[0] == "search" and row[1].startswith("wait")) if trace else None
    return seconds, cpu, waited, timeline


def rows(reps: int = 5) -> list[list[Any]]:
    """Per variant: reps, min and median wall s, added wall s and ratio (medians), median CPU s, added CPU s,
    median s the search waited for the writer (this tree's tracked runs only).

    With ``HPO_BENCH_BASELINE=/path/to/another/checkout`` (e.g. a worktree of the commit before a change),
    that tree's ``--no-mlflow`` and existing-store runs are interleaved with this tree's, so a before/after
    comparison on a loaded machine meets the same load; its rows are marked "(baseline)" and their added
    time is against the baseline's own ``--no-mlflow``.
    """
    baseline = os.environ.get("HPO_BENCH_BASELINE")
    roots = [("", ROOT)] + ([(" (baseline)", Path(baseline))] if baseline else [])
    times: dict[str, list[tuple[float, float, float | None, list[list[Any]]]]] = {}
    with tempfile.TemporaryDirectory(prefix="hpo-bench-mlflow-") as tmp:
        d = Path(tmp)
        spec_path = d / "spec.yaml"
        spec_path.write_text(yaml.safe_dump(_spec(), sort_keys=False), encoding="utf-8")
        existing = f"sqlite:///{d / 'existing.db'}"
        _tune(spec_path, d / "warm", ["--tracking-uri", existing])  # creates the store; warms the disk cache
        for rep in range(reps):
            for mark, root in roots:
                times.setdefault(f"--no-mlflow{mark}", []).append(
                    _tune(spec_path, d / f"a{mark}{rep}", ["--no-mlflow"], root))
                times.setdefault(f"local store, existing{mark}", []).append(
                    _tune(spec_path, d / f"b{mark}{rep}", ["--tracking-uri", existing], root))
            fresh = f"sqlite:///{d / f'fresh{rep}.db'}"
            times.setdefault("local store, fresh", []).append(
                _tune(spec_path, d / f"c{rep}", ["--tracking-uri", fresh]))
    out = []
    for name, values in times.items():
        ref = times["--no-mlflow (baseline)" if name.endswith("(baseline)") else "--no-mlflow"]
        base = statistics.median(v[0] for v in ref)
        base_cpu = statistics.median(v[1] for v in ref)
        walls, cpus = [v[0] for v in values], [v[1] for v in values]
        waits = [v[2] for v in values if v[2] is not None]
        med, cpu = statistics.median(walls), statistics.median(cpus)
        out.append([name, len(values), round(min(walls), 2), round(med, 2), round(med - base, 2),
                    round(med / base, 2), round(cpu, 2), round(cpu - base_cpu, 2),
                    round(statistics.median(waits), 2) if waits and not name.startswith("--no-mlflow") else ""])
    existing = sorted(times["local store, existing"], key=lambda v: v[0])
    TIMELINE[:] = existing[len(existing) // 2][3]
    return out


def markdown(table: list[list[Any]]) -> str:
    from tabulate import tabulate

    headers = ["hpo tune (CLI, 12-point grid)", "reps", "min wall s", "median wall s", "added wall s (median)",
               "ratio (median wall)", "median CPU s", "added CPU s (median)", "search waited s (median)"]
    text = tabulate(table, headers=headers, tablefmt="github")
    if TIMELINE:
        text += "\n\nTimeline of the median existing-store run (HPO_TRACE; child runs, trials summed):\n\n"
        text += tabulate(_timeline_rows(TIMELINE), headers=["process", "step", "started at s", "wall s", "CPU s"],
                         tablefmt="github")
    return text


def _timeline_rows(timeline: list[list[Any]]) -> list[list[Any]]:
    """The trace with the child runs (one per trial) and the search's trials each summed into one line at the
    first one's start."""
    out: list[list[Any]] = []
    groups: dict[tuple[str, str], list[Any]] = {}
    for who, what, at, wall, cpu in timeline:
        kind = "child" if what == "child" else "trial" if what.startswith("trial ") else None
        if kind is None:
            out.append([who, what, at, wall, cpu])
            continue
        group = groups.get((who, kind))
        if group is None:
            group = groups[(who, kind)] = [who, kind, at, 0.0, 0.0, 0]
            out.append(group)
        group[5] += 1
        group[1] = f"{kind} (x{group[5]})"
        group[3] = round(group[3] + wall, 3)
        group[4] = round(group[4] + cpu, 3)
    return [row[:5] for row in out]


def main(argv: list[str]) -> None:
    """``[--reps N]`` (or a bare N): repetitions of each variant, interleaved ABAB; medians are reported."""
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("reps_positional", nargs="?", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--reps", type=int, default=None, help="repetitions per variant (default 5)")
    args = parser.parse_args(argv)
    print(markdown(rows(args.reps or args.reps_positional or 5)))


if __name__ == "__main__":
    main(sys.argv[1:])

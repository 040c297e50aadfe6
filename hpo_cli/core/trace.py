"""``HPO_TRACE=1``: a timeline of where a run's wall and CPU time go, one stderr line per step, every process.

Lines read ``hpo-trace WHO START_EPOCH_S WHAT WALL_S CPU_S`` (``WHO``: ``search``, ``writer``, ``coordinator``,
``template``, ``worker<N>``); epoch seconds put the processes of one run on one time axis. CPU is the
thread's (``time.thread_time``), the figure a loaded machine distorts least. Read by
``bench/bench_mlflow_fixed.py`` (the tracking writer) and ``bench/bench_workers.py`` (``--workers``).
"""

from __future__ import annotations

import os
import time

TRACE_ENV = "HPO_TRACE"


def clock() -> tuple[float, float]:
    """``(epoch seconds, this thread's CPU seconds)``: a step's start, for ``trace``."""
    return time.time(), time.thread_time()


def tracing() -> bool:
    return bool(os.environ.get(TRACE_ENV))


def trace(who: str, what: str, since: tuple[float, float]) -> None:
    """With ``HPO_TRACE`` set, one line on stderr for the step that started at ``since`` and ends now."""
    if tracing():
        wall, cpu = time.time() - since[0], time.thread_time() - since[1]
        line = f"hpo-trace {who} {since[0]:.3f} {what} {wall:.3f} {cpu:.3f}\n"
        os.write(2, line.encode())  # one write: the processes' lines share stderr

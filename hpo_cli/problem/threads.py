"""How many threads one trial may use, and keeping every library to it (no oversubscription).

Why: HistGradientBoosting, XGBoost and BLAS start one thread per core by default. With two workers on
two cores, or one core busy in another process (the MLflow writer, the user's editor), those threads
fight for the cores and OpenMP's busy-waiting turns a 9 s search into 144 s (measured, issue 9). So:

- threads per worker = ``max(1, cores // workers)`` (more workers than cores: one thread each);
  ``--threads K`` overrides; cores that other processes keep busy when hpo starts (a short look at
  ``/proc/stat``) are not counted: with one of two cores held by another process, two OpenMP threads of
  HistGradientBoosting ran 10-13x slower than one (libgomp spins at every barrier for a thread that is
  not running; no spin count is good both idle and busy: measured 2026-12-02, see bench section (g));
- a process hpo starts (a worker, the tracking writer) gets the thread variables in its environment,
  read by OpenMP/BLAS when they load (:func:`thread_env`); the invoking process sets them before its own
  heavy imports (:func:`apply_to_process`); variables the user set are kept;
- inside a trial, ``threadpoolctl`` caps the OpenMP/BLAS pools already loaded (:func:`limited`), and
  estimators that take a thread count get it (``pipeline.build_estimator``) unless ``init_params`` set it.

OpenMP's wait policy is left to the runtime: ``OMP_WAIT_POLICY=PASSIVE`` made HistGradientBoosting with
two threads ~6x slower on an idle machine (each of its many short parallel regions wakes sleeping threads),
and no faster with a busy core; bounding the thread count is what prevents the thrash.
"""

from __future__ import annotations

import contextlib
import functools
import os
import time
from collections.abc import Iterator
from typing import Any

#: Thread-count variables of the OpenMP / BLAS runtimes scikit-learn, NumPy and XGBoost load.
THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "BLIS_NUM_THREADS",
               "VECLIB_MAXIMUM_THREADS", "NUMEXPR_NUM_THREADS")
#: Estimator parameters that set a thread count, by the libraries' own names.
THREAD_PARAMS = ("n_jobs", "n_threads", "nthread", "thread_count")

_controller: Any = None


def cpu_count() -> int:
    """Cores this process may run on (the affinity mask, as ``taskset``/cgroups set it), at least 1."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


def threads_per_worker(workers: int, threads: int | None = None) -> int:
    """``--threads`` when given, else ``max(1, free cores // workers)`` (see :func:`busy_cores`)."""
    if threads is not None:
        return max(1, threads)
    cores = cpu_count()
    if cores // max(1, workers) <= 1:
        return 1  # one thread each whatever the load: no need to look
    return max(1, (cores - round(busy_cores())) // max(1, workers))


@functools.cache
def busy_cores(sample: float = 0.05) -> float:
    """Cores that other processes keep busy now, from ``/proc/stat`` over ``sample`` seconds (0 where unknown).

    Looked at once per process (cached), so that every caller in one run agrees on the thread count. This
    process's own CPU time in the window is subtracted: it is not competition.
    """

    def read() -> tuple[int, int]:
        with open("/proc/stat", encoding="ascii") as f:
            values = [int(v) for v in f.readline().split()[1:9]]
        return sum(values), values[3] + values[4]  # all ticks, idle + iowait ticks

    try:
        total0, idle0 = read()
        own0 = sum(os.times()[:2])
        time.sleep(sample)
        total1, idle1 = read()
        own1 = sum(os.times()[:2])
    except (OSError, ValueError, IndexError):
        return 0.0
    ticks = total1 - total0
    if ticks <= 0:
        return 0.0
    busy = (ticks - (idle1 - idle0)) / ticks * (os.cpu_count() or 1)
    return max(0.0, busy - (own1 - own0) / sample)


def thread_env(threads: int, base: dict[str, str] | None = None, *, override: bool = False) -> dict[str, str]:
    """``base`` (default: this process's environment) plus the thread variables for ``threads``.

    A variable already set is kept unless ``override`` (the user gave ``--threads``).
    """
    env = dict(os.environ if base is None else base)
    for var in THREAD_VARS:
        if override or var not in env:
            env[var] = str(threads)
    return env


def apply_to_process(threads: int, *, override: bool = False) -> None:
    """Set the thread variables in this process; effective for the libraries it has not loaded yet."""
    os.environ.update(thread_env(threads, override=override))


@contextlib.contextmanager
def limited(threads: int | None) -> Iterator[None]:
    """Cap the OpenMP/BLAS pools loaded in this process to ``threads`` (nothing when None).

    One ``ThreadpoolController`` per process: building it scans the loaded libraries (~10 ms), applying
    a limit with it costs ~0.03 ms, so this wraps every trial. It is rebuilt when the process loaded
    more libraries since (the first XGBoost import, say).
    """
    if threads is None:
        yield
        return
    controller = _current_controller()
    with controller.limit(limits=threads):
        yield


def _current_controller() -> Any:
    global _controller
    import sys

    from threadpoolctl import ThreadpoolController

    n_modules = len(sys.modules)
    if _controller is None or _controller[1] != n_modules:
        _controller = (ThreadpoolController(), n_modules)
    return _controller[0]


def thread_kwargs(accepted: set[str] | frozenset[str], given: dict[str, Any], threads: int | None) -> dict[str, Any]:
    """The thread parameter(s) an estimator accepts and ``init_params`` left unset, set to ``threads``."""
    if threads is None or any(p in given for p in THREAD_PARAMS):
        return {}
    return {p: threads for p in THREAD_PARAMS if p in accepted}

"""Threads per worker: the estimator's thread parameter and the OpenMP/BLAS limits inside a trial (issue 9)."""

from __future__ import annotations

import hpo_test_estimators as probes
import pytest

from hpo_cli.problem.threads import busy_cores, cpu_count, thread_env, threads_per_worker


def test_threads_per_worker_divides_the_cores_and_never_goes_below_one() -> None:
    cores = cpu_count()
    assert threads_per_worker(1) == max(1, cores - round(busy_cores()))  # free cores only
    assert threads_per_worker(cores * 4) == 1
    assert threads_per_worker(2, threads=3) == 3
    env = thread_env(2, {"OMP_NUM_THREADS": "7"})
    assert env["OMP_NUM_THREADS"] == "7" and env["OPENBLAS_NUM_THREADS"] == "2"  # the user's own value is kept
    assert thread_env(2, {"OMP_NUM_THREADS": "7"}, override=True)["OMP_NUM_THREADS"] == "2"  # --threads wins


def _spec(write_spec, init_params):
    return write_spec({
        "data": {"source": "sklearn:iris"}, "allow_modules": ["hpo_test_estimators"],
        "models": [{"name": "probe", "class": "hpo_test_estimators.ThreadProbe", "init_params": init_params,
                    "method": "random", "space": {"alpha": {"type": "float", "low": 0, "high": 1}},
                    "cv": {"kind": "kfold", "folds": 2}, "budget": {"trials": 2}}],
    })


def test_a_trial_gets_n_jobs_and_limited_blas_openmp_threads(write_spec, tune) -> None:
    probes.SEEN.clear()
    tune(_spec(write_spec, {}), threads=1)
    assert len(probes.SEEN) >= 4
    for n_jobs, pools in probes.SEEN:
        assert n_jobs == 1
        assert pools and all(n == 1 for n in pools.values()), pools  # numpy's BLAS, scikit-learn's OpenMP


def test_init_params_thread_count_is_the_users(write_spec, tune) -> None:
    probes.SEEN.clear()
    tune(_spec(write_spec, {"n_jobs": 3}), threads=1, fresh=True)
    assert {n for n, _ in probes.SEEN} == {3}


def test_a_core_held_by_another_process_is_not_given_to_a_worker() -> None:
    """One core spinning in another process: one worker gets the other cores only (OpenMP spins otherwise)."""
    import subprocess
    import sys
    import time

    if cpu_count() < 2:
        pytest.skip("needs at least two cores")
    hog = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        time.sleep(0.5)  # running, not starting
        busy_cores.cache_clear()
        assert busy_cores(0.3) >= 0.7
        busy_cores.cache_clear()
        assert threads_per_worker(1) <= cpu_count() - 1
    finally:
        hog.kill()
        hog.wait()
        busy_cores.cache_clear()

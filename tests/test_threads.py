"""Threads per worker: the estimator's thread parameter and the OpenMP/BLAS limits inside a trial (issue 9)."""

from __future__ import annotations

import hpo_test_estimators as probes

from hpo_cli.problem.threads import cpu_count, thread_env, threads_per_worker


def test_threads_per_worker_divides_the_cores_and_never_goes_below_one() -> None:
    cores = cpu_count()
    assert threads_per_worker(1) == cores
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

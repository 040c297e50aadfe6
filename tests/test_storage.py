"""The Optuna storage behind ``--storage``: a real PostgreSQL server, and a clear error for a bad URL.

The PostgreSQL tests need the server this project's machines run on 127.0.0.1:5432 (database ``test``,
trust auth). Where it is not reachable they skip, except under CI (``CI=true``), where a missing server
must fail the build rather than hide the test.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

PG_URL = os.environ.get("HPO_TEST_POSTGRES", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


def _postgres_or_skip() -> str:
    try:
        import psycopg

        with psycopg.connect(PG_URL.replace("postgresql+psycopg", "postgresql"), connect_timeout=3):
            pass
    except Exception as exc:
        if os.environ.get("CI") == "true":
            pytest.fail(f"PostgreSQL at {PG_URL} is not reachable in CI: {exc}")
        pytest.skip(f"PostgreSQL at {PG_URL} is not reachable: {exc}")
    return PG_URL


@pytest.fixture
def pg_url():
    url = _postgres_or_skip()
    created: list[str] = []
    yield url, created
    import optuna

    for name in created:  # leave the shared database as we found it
        with contextlib.suppress(KeyError):
            optuna.delete_study(study_name=name, storage=url)


def test_postgres_storage_runs_resumes_and_reports(pg_url, write_spec, tune, read_trials) -> None:
    url, created = pg_url
    name = f"pg-{uuid.uuid4().hex[:8]}"
    spec = write_spec({"name": name, "data": {"source": "sklearn:iris"},
                       "models": [{"name": "tree", "class": "DecisionTreeClassifier", "method": "random", "cv": 3,
                                   "budget": {"trials": 8},
                                   "space": {"max_depth": {"type": "int", "low": 1, "high": 6},
                                             "criterion": ["gini", "entropy"]}}]})
    created.append(f"{name}.tree")
    first = tune(spec, trials=3, storage=url)
    assert not (first.run_dir / "study.journal").exists()  # the study lives in PostgreSQL, not the folder
    resumed = tune(spec, resume=True, storage=url)
    rows = read_trials(resumed.run_dir)
    assert [r["trial"] for r in rows] == [str(i) for i in range(8)]
    assert len({(r["param_max_depth"], r["param_criterion"]) for r in rows}) > 1

    import optuna

    study = optuna.load_study(study_name=f"{name}.tree", storage=url)
    assert len(study.trials) == 8
    assert study.best_value == max(float(r["mean_test_score"]) for r in rows)


def test_unreachable_storage_is_bad_input_on_one_line(tmp_path: Path, write_spec) -> None:
    spec = write_spec({"data": {"source": "sklearn:iris"},
                       "models": [{"name": "tree", "class": "DecisionTreeClassifier", "cv": 3,
                                   "space": {"max_depth": [1, 2]}, "method": "grid"}]})
    out = tmp_path / "run"
    res = subprocess.run([sys.executable, "-m", "hpo_cli", "tune", str(spec), "--no-mlflow", "-o", str(out),
                          "--storage", "postgresql+psycopg://postgres@127.0.0.1:1/test"],
                         capture_output=True, text=True, timeout=120)
    assert res.returncode == 2, res.stderr
    lines = [line for line in res.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("--storage: cannot open storage"), res.stderr
    assert "Traceback" not in res.stderr and not out.exists()


def test_journal_in_a_missing_folder_is_bad_input(tmp_path: Path, write_spec) -> None:
    from hpo_cli.core.errors import InputError
    from hpo_cli.storage.backend import open_storage

    with pytest.raises(InputError, match="cannot open storage"):
        open_storage(tmp_path / "run", str(tmp_path / "missing" / "x.journal"))

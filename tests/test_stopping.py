"""Stopping: SIGTERM/SIGINT end even a fit that never returns, within the grace period, leaving no RUNNING trial.

The fit is ``tests/helpers/sleepy_estimator.py`` in a real ``hpo tune`` process; ``HPO_STOP_GRACE`` shortens the
grace period so the test waits one second, not ten. Nothing here asserts a duration: the process must end
(``communicate`` would otherwise time out) with the documented exit code and a resumable storage.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

HELPERS = Path(__file__).parent / "helpers"


def _spec(write_spec) -> Path:
    return write_spec({"name": "hang", "data": {"source": "sklearn:iris"}, "allow_modules": ["sleepy_estimator"],
                       "models": [{"name": "sleepy", "class": "sleepy_estimator.SleepyClassifier", "method": "grid",
                                   "cv": 2, "metric": "accuracy", "space": {"alpha": [0.1, 1.0, 10.0]}}]})


def _env(**extra: str) -> dict[str, str]:
    path = os.pathsep.join(p for p in (str(HELPERS), os.environ.get("PYTHONPATH", "")) if p)
    env = {k: v for k, v in os.environ.items() if k != "HPO_TEST_HANG"}
    return {**env, "PYTHONPATH": path, "HPO_STOP_GRACE": "1", **extra}


def _journal_states(journal: Path) -> list[int]:
    """The states the journal holds per trial (the last set wins): 0 RUNNING, 1 COMPLETE, 3 FAIL."""
    states: dict[int, int] = {}
    for line in journal.read_text(encoding="utf-8").splitlines():
        op = json.loads(line)
        if op["op_code"] == 4:  # CREATE_TRIAL
            states[len(states)] = 0
        elif op["op_code"] == 6:  # SET_TRIAL_STATE_VALUES
            states[op["trial_id"]] = op["state"]
    return list(states.values())


@pytest.mark.parametrize("sig", [signal.SIGTERM])
def test_a_stop_ends_a_fit_that_never_returns_and_resume_continues(write_spec, tmp_path: Path, read_trials,
                                                                   sig: signal.Signals) -> None:
    spec, out, marker = _spec(write_spec), tmp_path / "run", tmp_path / "fitting"
    cmd = [sys.executable, "-m", "hpo_cli", "tune", str(spec), "--no-mlflow", "-o", str(out)]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=tmp_path,
                            env=_env(HPO_TEST_HANG=str(marker)))
    try:
        deadline = time.monotonic() + 120
        while not marker.exists() and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert marker.exists(), proc.communicate()[1]
        proc.send_signal(sig)
        _, stderr = proc.communicate(timeout=120)  # without the grace period this never returns
    finally:
        proc.kill()  # a no-op once it ended
    assert proc.returncode == 130, stderr
    assert "did not return" in stderr and "--resume" in stderr and "Traceback" not in stderr
    assert 0 not in _journal_states(out / "study.journal")  # no trial left RUNNING
    info = json.loads((out / "run.json").read_text())
    assert info["status"] == "interrupted" and info["models"]["sleepy"]["stop_reason"] == "interrupted"
    done = subprocess.run([*cmd, "--resume"], capture_output=True, text=True, cwd=tmp_path, env=_env(), timeout=300)
    assert done.returncode == 0, done.stderr
    rows = read_trials(out)
    assert sorted(r["param_alpha"] for r in rows) == ["0.1", "1.0", "10.0"]
    assert all(r["state"] == "COMPLETE" for r in rows)
    assert 0 not in _journal_states(out / "study.journal")

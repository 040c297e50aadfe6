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
import threading
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
    assert "This run was interrupted" in _report(out) and "--resume" in _report(out)
    done = subprocess.run([*cmd, "--resume"], capture_output=True, text=True, cwd=tmp_path, env=_env(), timeout=300)
    assert done.returncode == 0, done.stderr
    rows = read_trials(out)
    assert sorted(r["param_alpha"] for r in rows) == ["0.1", "1.0", "10.0"]
    assert all(r["state"] == "COMPLETE" for r in rows)
    assert 0 not in _journal_states(out / "study.journal")


# --- tracking: the drain at the end, and an unreachable store ----------------------------------------------


def test_an_unreachable_tracking_database_is_one_line_exit_2(write_spec, tmp_path: Path) -> None:
    spec = write_spec({"data": {"source": "sklearn:iris"}, "tracking": {"mlflow": True},
                       "models": [{"name": "lr", "class": "LogisticRegression", "space": {"C": [1.0]}}]})
    done = subprocess.run([sys.executable, "-m", "hpo_cli", "tune", str(spec), "-o", str(tmp_path / "run"),
                           "--tracking-uri", "postgresql://127.0.0.1:1/x"], capture_output=True, text=True,
                          cwd=tmp_path, timeout=120)
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [done.stderr.strip()]  # one line, no retries, no traceback
    assert "127.0.0.1:1" in done.stderr and "--no-mlflow" in done.stderr
    assert not (tmp_path / "run").exists()


def test_the_probe_names_a_dead_server_and_leaves_local_stores_alone() -> None:
    from hpo_cli.tracking.setup import probe

    assert "127.0.0.1:1" in (probe("http://127.0.0.1:1") or "")
    assert "127.0.0.1:1" in (probe("mysql+pymysql://u@127.0.0.1:1/db") or "")
    assert probe("sqlite:///mlflow.db") is None and probe("file:///tmp/mlruns") is None
    assert probe("postgresql:///db") is None  # a Unix socket: the writer's own connect decides


def _writer_pid(pid: int) -> int:
    children = [int(c) for task in Path(f"/proc/{pid}/task").glob("*")
                for c in (task / "children").read_text().split()]
    assert len(children) == 1, children  # the MLflow writer process
    return children[0]


def _child_runs(db: Path) -> list[str]:
    import sqlite3

    with sqlite3.connect(db) as con:
        rows = con.execute("SELECT t.value FROM tags t JOIN tags p ON p.run_uuid = t.run_uuid "
                           "WHERE t.key = 'hpo.trial' AND p.key = 'mlflow.parentRunId'").fetchall()
    return sorted(r[0] for r in rows)


def _default_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _tracked_run_with_a_stuck_writer(write_spec, tmp_path: Path, **env: str) -> tuple[subprocess.Popen, list[str]]:
    """A tracked grid of 6 trials whose writer is frozen (SIGSTOP) after the first trial: the drain cannot end."""
    db = tmp_path / "mlflow.db"
    spec = write_spec({"name": "drain", "data": {"source": "sklearn:iris"}, "tracking": {"mlflow": {"uri": f"sqlite:///{db}"}},
                       "models": [{"name": "tree", "class": "DecisionTreeClassifier", "method": "grid", "cv": 2,
                                   "space": {"max_depth": [1, 2, 3, 4, 5, 6]}}]})
    cmd = [sys.executable, "-m", "hpo_cli", "tune", str(spec), "-o", str(tmp_path / "run")]
    # Ctrl-C as a terminal sends it: a runner that starts the tests in the background (a shell's `cmd &`)
    # hands its children SIGINT ignored, and hpo keeps an ignored SIGINT ignored outside the search
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=tmp_path,
                            env={**os.environ, **env}, preexec_fn=_default_sigint)
    journal, run_json = tmp_path / "run" / "study.journal", tmp_path / "run" / "run.json"
    deadline = time.monotonic() + 180
    while proc.poll() is None and time.monotonic() < deadline and (
            not journal.exists() or '"op_code": 6' not in journal.read_text().replace('"op_code":6', '"op_code": 6')):
        time.sleep(0.05)  # the first finished trial: the parent run is bound, children are queued from now on
    os.kill(_writer_pid(proc.pid), signal.SIGSTOP)
    while proc.poll() is None and time.monotonic() < deadline and (
            not run_json.exists() or json.loads(run_json.read_text())["status"] == "running"):
        time.sleep(0.05)  # the search is over and its files are written: the run is draining now
    return proc, cmd


def test_ctrl_c_while_draining_stops_at_once_and_resume_logs_the_rest(write_spec, tmp_path: Path) -> None:
    proc, cmd = _tracked_run_with_a_stuck_writer(write_spec, tmp_path)
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(proc.stderr), daemon=True)
    reader.start()
    try:
        deadline = time.monotonic() + 60
        while proc.poll() is None and time.monotonic() < deadline and not any(
                "writing the queued runs" in line for line in list(lines)):
            time.sleep(0.05)  # the drain's first progress line: the Ctrl-C lands in the drain itself
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=60)  # once: without the fix a second Ctrl-C was needed
    finally:
        proc.kill()
        reader.join(timeout=10)
    stderr = "".join(lines)
    assert proc.returncode == 130, stderr
    assert "not done" in stderr and "--resume" in stderr and "Traceback" not in stderr
    assert len(_child_runs(tmp_path / "mlflow.db")) < 6
    done = subprocess.run([*cmd, "--resume"], capture_output=True, text=True, cwd=tmp_path, timeout=300)
    assert done.returncode == 0, done.stderr
    assert _child_runs(tmp_path / "mlflow.db") == [str(n) for n in range(6)]  # each trial once


def test_a_writer_that_stalls_is_a_lost_store_exit_1(write_spec, tmp_path: Path) -> None:
    proc, _ = _tracked_run_with_a_stuck_writer(write_spec, tmp_path, HPO_TRACKING_STALL="2")
    try:
        _, stderr = proc.communicate(timeout=120)
    finally:
        proc.kill()
    assert proc.returncode == 1, stderr
    assert "answered nothing for 2s" in stderr and "--resume" in stderr


def _report(run_dir: Path) -> str:
    from hpo_cli.core.options import ReportOptions
    from hpo_cli.report.report import build_report

    return build_report(ReportOptions(run_dir=run_dir, plots=False))


def test_the_report_of_a_killed_run_calls_its_open_trial_interrupted(write_spec, tmp_path: Path) -> None:
    spec, out, marker = _spec(write_spec), tmp_path / "run", tmp_path / "fitting"
    proc = subprocess.Popen([sys.executable, "-m", "hpo_cli", "tune", str(spec), "--no-mlflow", "-o", str(out)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=tmp_path,
                            env=_env(HPO_TEST_HANG=str(marker)))
    try:
        deadline = time.monotonic() + 120
        while not marker.exists() and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        proc.kill()  # SIGKILL mid-fit: nothing of hpo runs after this
        proc.wait()
    assert json.loads((out / "run.json").read_text())["status"] == "running"  # written when the run started
    text = _report(out)
    assert "still going" not in text
    assert "ended without finishing (killed)" in text and "1 trial(s) it left running are interrupted" in text
    assert f"-o {out} --resume" in text

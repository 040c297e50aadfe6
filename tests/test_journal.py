"""A journal torn by a crash is repaired before resuming; a damaged one is a located exit 2, never a traceback."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from hpo_cli.core.errors import InputError

SPEC = {"name": "torn", "data": {"source": "sklearn:iris"},
        "models": [{"name": "dummy", "class": "DummyClassifier", "method": "random", "cv": 2,
                    "budget": {"trials": 3}, "space": {"strategy": ["prior", "most_frequent", "uniform"]}}]}


def _records(journal: Path) -> list[dict]:
    return [json.loads(line) for line in journal.read_bytes().splitlines()]  # every line parses


def _complete(rows: list[dict[str, str]]) -> int:
    return sum(r["state"] == "COMPLETE" for r in rows)


@pytest.mark.parametrize("keep", [1, 0.5, -1])  # bytes of the last line left: one, half, all but its newline
def test_a_torn_last_line_is_repaired_and_resume_works_twice(keep, write_spec, tune, read_trials, caplog) -> None:
    spec = write_spec(SPEC)
    run_dir = tune(spec).run_dir
    journal = run_dir / "study.journal"
    data = journal.read_bytes()
    start = data.rstrip(b"\n").rfind(b"\n") + 1
    last = data[start:-1]
    cut = {1: 1, 0.5: len(last) // 2, -1: len(last)}[keep]
    journal.write_bytes(data[:start] + last[:cut])

    tune(spec, resume=True, trials=4)
    note = " ".join(r.getMessage() for r in caplog.records)
    assert ("completed it" if keep == -1 else "dropped a torn last line") in note, note
    tune(spec, resume=True, trials=5)
    assert _complete(read_trials(run_dir)) == 5
    assert _records(journal)


def test_the_repair_is_said_on_stderr(tmp_path: Path, write_spec, tune) -> None:
    spec = write_spec(SPEC)
    journal = tune(spec).run_dir / "study.journal"
    journal.write_bytes(journal.read_bytes()[:-7])
    done = subprocess.run([sys.executable, "-m", "hpo_cli", "tune", str(spec), "--resume", "--trials", "4",
                           "--no-mlflow", "-q", "--output", str(journal.parent)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert "dropped a torn last line" in done.stderr and "Traceback" not in done.stderr


@pytest.mark.parametrize(("damage", "expected"), [
    (b'{"op_code":99,"worker_id":"w"}\n', "op_code 99"),
    (b'{"op_code":4,"worker_id"\n{"op_code":1,"study_id":0}\n', "not JSON"),
])
def test_unknown_or_broken_records_are_located(damage, expected, write_spec, tune) -> None:
    spec = write_spec(SPEC)
    journal = tune(spec).run_dir / "study.journal"
    lines = journal.read_bytes().count(b"\n")
    journal.write_bytes(journal.read_bytes() + damage)
    before = journal.read_bytes()
    with pytest.raises(InputError) as err:
        tune(spec, resume=True, trials=4)
    problem = err.value.problems[0]
    assert expected in problem.message and problem.location.line == lines + 1, str(problem)
    assert str(problem).startswith(f"{journal}:{lines + 1}: ")
    assert journal.read_bytes() == before  # untouched


def test_a_journal_that_is_a_folder_is_bad_input(write_spec, tune) -> None:
    spec = write_spec(SPEC)
    run_dir = tune(spec).run_dir
    journal = run_dir / "study.journal"
    journal.unlink()
    journal.mkdir()
    with pytest.raises(InputError, match="study.journal is a folder"):
        tune(spec, resume=True)

"""Hostile output places: the run folder is checked before any trial runs, and `hpo report` copes with what it finds.

Tests run as root here, so permission bits prove nothing: read-only is a real read-only mount (tmpfs
mounted ``ro``, or a bind mount remounted ``ro``), skipped with the reason where mounting is not allowed.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from hostile_cli import run

LONG = "m" * 300  # a model name the spec language allows; file names derived from it must stay short
SPEC = ("data: {source: sklearn:iris, test_size: 0.2}\nmodels:\n  - {name: NAME, class: LogisticRegression, "
        "method: random, space: {C: [0.1, 1.0]}, budget: {trials: 2}, cv: {folds: 2}}\n")


@pytest.fixture
def spec(tmp_path: Path) -> Path:
    path = tmp_path / "spec.yaml"
    path.write_text(SPEC.replace("NAME", "m"))
    return path


def refused(spec: Path, output: str, fragment: str) -> None:
    before = sorted(p.name for p in spec.parent.iterdir())
    code, out, err = run("tune", str(spec), "--no-mlflow", "--quiet", "--output", output, cwd=spec.parent)
    assert code == 2, out + err
    assert err.count("\n") == 1 and err.startswith("--output: cannot write the run folder "), err
    assert fragment in err, err
    assert sorted(p.name for p in spec.parent.iterdir()) == before  # nothing written


def test_output_naming_an_existing_file(spec):
    (spec.parent / "taken").write_text("keep me")
    refused(spec, "taken", "it is a file, not a folder")
    assert (spec.parent / "taken").read_text() == "keep me"


def test_output_below_a_file(spec):
    (spec.parent / "taken").write_text("keep me")
    refused(spec, "taken/run", "taken is a file, so no folder can be created below it")


def test_output_in_proc(spec):
    refused(spec, "/proc/hpo-run", "cannot create anything in /proc")


def test_spec_output_key_is_blamed_when_it_is_the_cause(spec):
    (spec.parent / "taken").write_text("")
    spec.write_text(spec.read_text() + "output: taken/run\n")
    code, _, err = run("tune", str(spec), "--no-mlflow", "--quiet", cwd=spec.parent)
    assert code == 2 and err.startswith(f"{spec}:4:9: output: cannot write the run folder "), err


@contextmanager
def read_only_mount(target: Path, source: Path | None = None) -> Iterator[None]:
    """``target`` as a read-only mount (a bind of ``source``, else an empty tmpfs); skips where mounting is refused."""
    target.mkdir(exist_ok=True)
    steps = ([["mount", "--bind", str(source), str(target)], ["mount", "-o", "remount,ro,bind", str(target)]]
             if source else [["mount", "-t", "tmpfs", "-o", "ro,size=1m", "tmpfs", str(target)]])
    for k, cmd in enumerate(steps):
        proc = subprocess.run(cmd, capture_output=True, text=True)
        if proc.returncode != 0:
            if k:
                subprocess.run(["umount", str(target)], capture_output=True)
            pytest.skip(f"cannot mount read-only here ({' '.join(cmd[:3])}: {proc.stderr.strip()[:80]}); "
                        f"root permission bits would prove nothing")
    try:
        yield
    finally:
        subprocess.run(["umount", str(target)], capture_output=True)


def test_output_on_a_read_only_mount(spec):
    with read_only_mount(spec.parent / "ro"):
        refused(spec, "ro/run", "Read-only file system")


def test_report_of_a_read_only_run_folder_prints_and_plot_names_stay_short(tmp_path):
    spec = tmp_path / "spec.yaml"
    spec.write_text(SPEC.replace("NAME", LONG))
    code, _, err = run("tune", str(spec), "--no-mlflow", "--quiet", "--output", "run", cwd=tmp_path)
    assert code == 0, err
    code, out, err = run("report", "run", cwd=tmp_path)  # plots drawn into run/plots
    assert code == 0, err
    names = [p.name for p in (tmp_path / "run" / "plots").iterdir()]
    assert any(n.startswith("slice_mmm") for n in names) and max(len(n.encode()) for n in names) <= 255, names
    for p in (tmp_path / "run" / "plots").iterdir():
        p.unlink()
    with read_only_mount(tmp_path / "frozen", tmp_path / "run"):
        code, out, err = run("report", "frozen", cwd=tmp_path)
        assert code == 0 and "Traceback" not in out + err, err
        assert "_Plots not drawn: frozen/plots cannot be written (" in out and "Read-only file system" in out
        assert "## Provenance" in out and not list((tmp_path / "run" / "plots").iterdir())
    env = {**os.environ, "PYTHONIOENCODING": "ascii", "PYTHONPATH": os.pathsep.join(sys.path)}
    proc = subprocess.run([sys.executable, "-m", "hpo_cli", "report", "run", "--no-plots"], cwd=tmp_path, env=env,
                          capture_output=True, timeout=120)
    assert proc.returncode == 0 and b"Traceback" not in proc.stderr, proc.stderr
    assert b"+/-" in proc.stdout and max(proc.stdout) < 128

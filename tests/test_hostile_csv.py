"""Property-based tests of random CSV contents at ``hpo validate`` and at the data loader.

Hypothesis writes random data files (odd headers, duplicate and empty column names, text, empty
cells, nan/inf, 30-digit integers, dates, quotes and newlines inside cells, stray NUL bytes, files
that are not CSV at all) under a fixed spec that names one of a few estimators and scorers. The only
outcomes allowed: exit 0, or exit 2 with a located line (never a traceback), and from the loader a
``Dataset`` or an ``InputError``. Examples are bounded so the file stays within its share of CI time;
``HPO_PROPERTY_EXAMPLES=500`` runs a deeper hunt locally.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
from hostile_cli import run
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

FAST = settings(max_examples=int(os.environ.get("HPO_PROPERTY_EXAMPLES", "20")), deadline=None, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                       HealthCheck.function_scoped_fixture])

cells = st.one_of(
    st.integers(-5, 5), st.floats(allow_nan=True, allow_infinity=True), st.integers(10**18, 10**30),
    st.sampled_from(["", "nan", "NA", "inf", "-inf", "yes", "no", "a", "b", "2024-01-01", "1e400", "True", "0", "1",
                     '"quoted, comma"', '"multi\nline"', "x" * 200, "é", "\x00"]),
    st.text(max_size=8),
)
names = st.one_of(st.sampled_from(["label", "x1", "x2", "group", "", "label", "Unnamed: 0"]), st.text(max_size=10))


KINDS = {  # a column's values: what real files hold, and what breaks fits
    "small_int": st.integers(-3, 3), "float": st.floats(-1e6, 1e6, allow_nan=False), "binary": st.sampled_from([0, 1]),
    "yes_no": st.sampled_from(["yes", "no"]), "text": st.sampled_from(["paris", "rome", "oslo"]),
    "sparse": st.sampled_from(["", "", "", "1.5"]), "empty": st.just(""), "constant": st.just(7),
    "date": st.dates().map(str), "huge": st.integers(10**18, 10**30),
    "special": st.sampled_from(["nan", "inf", "-inf"]),
}


@st.composite
def csv_files(draw: st.DrawFn) -> bytes:
    """A data file: mostly a table with a `label` column and typed feature columns (each value sometimes
    replaced by noise), sometimes a free-form CSV, sometimes arbitrary bytes."""
    shape = draw(st.integers(0, 9))
    if shape == 0:
        return draw(st.binary(max_size=200))
    if shape <= 2:
        header = draw(st.lists(names, min_size=1, max_size=5))
        rows = draw(st.lists(st.lists(cells, min_size=max(len(header) - 1, 0), max_size=len(header) + 1),
                             max_size=25))
    else:
        kinds = [draw(st.sampled_from(["binary", "yes_no", "small_int", "float", "constant", "sparse"]))]
        kinds += draw(st.lists(st.sampled_from(sorted(KINDS)), min_size=1, max_size=3))
        header = ["label", *(f"x{k}" for k in range(1, len(kinds)))]
        n = draw(st.integers(2, 30))
        noisy = st.one_of(cells, st.just(""))
        rows = [[draw(noisy) if draw(st.integers(0, 59)) == 0 else draw(KINDS[kind]) for kind in kinds]
                for _ in range(n)]
    text = ",".join(header) + "\n" + "".join(",".join(str(c) for c in row) + "\n" for row in rows)
    return text.encode("utf-8", errors="surrogatepass")


MODELS = {
    "logreg": "class: LogisticRegression, metric: f1",
    "forest": "class: HistGradientBoostingClassifier",
    "ridge": "class: Ridge, metric: r2",
    "encoded": "class: LogisticRegression, preprocess: [one_hot], metric: accuracy",
}


def write_spec(folder: Path, model: str, folds: int, test_size: bool) -> None:
    data = "{source: d.csv, target: label" + (", test_size: 0.25}" if test_size else "}")
    (folder / "spec.yaml").write_text(f"data: {data}\nmodels:\n  - {{name: m, {MODELS[model]}, cv: {{folds: {folds}}},"
                                      f" space: {{max_iter: [50, 100]}}}}\n".replace(
                                          "space: {max_iter: [50, 100]}", "budget: {trials: 1}"))


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    return tmp_path


@FAST
@given(content=csv_files(), model=st.sampled_from(sorted(MODELS)), folds=st.integers(2, 4), test_size=st.booleans())
def test_validate_on_random_csv_is_exit_0_or_a_located_exit_2(folder, content, model, folds, test_size):
    (folder / "d.csv").write_bytes(content)
    write_spec(folder, model, folds, test_size)
    code, out, err = run("validate", "spec.yaml", cwd=folder)
    assert "Traceback" not in out + err, err
    assert code in (0, 2), (code, err)
    errors = [ln for ln in err.splitlines() if ln.strip() and ": warning:" not in ln]
    if code == 2:
        assert errors and all(re.match(r"spec\.yaml:\d+:\d+: \S", ln) for ln in errors), err
    assert all(len(ln) < 1000 for ln in err.splitlines()), err  # messages quote a short prefix of the file at most


@FAST
@given(content=csv_files(), task=st.sampled_from(["classification", "regression"]), test_size=st.booleans())
def test_the_loader_returns_a_dataset_or_raises_input_error(folder, content, task, test_size):
    from hpo_cli.core.errors import InputError
    from hpo_cli.problem.data import Dataset, load_dataset
    from hpo_cli.spec.load import load_spec

    (folder / "d.csv").write_bytes(content)
    write_spec(folder, "ridge" if task == "regression" else "logreg", 2, test_size)
    spec = load_spec(folder / "spec.yaml")
    try:
        dataset = load_dataset(spec, task)
    except InputError as exc:
        assert all(p.location is not None and p.path.startswith("data") for p in exc.problems), exc
        return
    assert isinstance(dataset, Dataset) and len(dataset.y) == len(dataset.X) > 0


def test_a_one_line_5_mb_file_in_a_guarded_process_is_quoted_by_a_prefix(tmp_path):
    """A real process under a memory limit and a timeout (a guard, not a measure): one 5 MB "header" line."""
    from test_hostile_spec import guarded  # pytest puts tests/ on sys.path (no package)

    (tmp_path / "d.csv").write_bytes(b"token" * 1_000_000 + b"\nvalue\n")
    write_spec(tmp_path, "logreg", 2, False)
    proc = guarded("validate", "spec.yaml", cwd=tmp_path)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr, proc.stderr[-2000:]
    assert proc.stderr.startswith("spec.yaml:1:") and len(proc.stderr) < 400, proc.stderr[:500]
    assert "does not read as comma-separated column names" in proc.stderr

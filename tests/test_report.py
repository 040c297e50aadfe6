"""``hpo report`` on real runs (``hpo tune --no-mlflow`` on tiny specs): every table well formed, the
numbers equal ``trials.csv``, the image links exist; runs with failures, in progress, and ``--compare``.
"""

from __future__ import annotations

import csv
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from markdown_it import MarkdownIt

from hpo_cli.core.options import ReportOptions
from hpo_cli.core.results import ModelResult, TrialRecord
from hpo_cli.report.markdown import plain_results_md
from hpo_cli.report.report import build_report
from hpo_cli.report.tables import markdown_table
from hpo_cli.rundir.read import read_trials_csv

# LogisticRegression: penalty l1 with solver lbfgs is invalid, so some trials FAIL (grouped in the report).
SPEC = """\
name: iris-report
data: {{source: "sklearn:iris"}}
defaults:
  cv: {{kind: stratified, folds: 5, shuffle: true}}
  metric: accuracy
  seed: {seed}
  method: random
  budget: {{trials: {trials}}}
models:
  - name: logreg
    class: LogisticRegression
    init_params: {{max_iter: 500}}
    space:
      C: {{type: float, low: 1.0e-3, high: 100, log: true}}
      penalty: [l1, l2]
      solver: [lbfgs, liblinear]
  - name: tree
    class: DecisionTreeClassifier
    init_params: {{random_state: 0}}
    space:
      max_depth: {{type: int, low: 1, high: 6}}
      min_samples_leaf: [1, 5, 20]
tracking: {{mlflow: false}}
"""


def tune(folder: Path, seed: int = 0, trials: int = 14, spec: str = SPEC, ok: tuple[int, ...] = (0,)) -> Path:
    """A real run folder from ``hpo tune --no-mlflow`` (the way a user makes one).

    Exit code 1 means a model had no successful trial; its run folder is still a valid run to report on.
    """
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "spec.yaml"
    path.write_text(spec.format(seed=seed, trials=trials))
    run = folder / "run"
    res = subprocess.run([sys.executable, "-m", "hpo_cli", "tune", str(path), "--no-mlflow", "--quiet",
                          "--output", str(run)], capture_output=True, text=True, cwd=folder)
    assert res.returncode in ok, res.stderr[-3000:]
    return run


@pytest.fixture(scope="module")
def run_a(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tune(tmp_path_factory.mktemp("a"), seed=0)


@pytest.fixture(scope="module")
def run_b(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tune(tmp_path_factory.mktemp("b"), seed=1, trials=10, ok=(0, 1))  # logreg may fail throughout


def tables(markdown: str) -> list[list[list[str]]]:
    """Every table as rows of cell texts (header first); asserts each row has the header's column count."""
    return [rows for rows, _ in aligned_tables(markdown)]


def aligned_tables(markdown: str) -> list[tuple[list[list[str]], list[str | None]]]:
    """Every table as rows of cell texts and the alignment of each column ("right", "left" or None)."""
    tokens = MarkdownIt("commonmark").enable("table").parse(markdown)
    out: list[tuple[list[list[str]], list[str | None]]] = []
    rows: list[list[str]] = []
    align: list[str | None] = []
    for i, tok in enumerate(tokens):
        if tok.type == "table_open":
            rows, align = [], []
        elif tok.type == "tr_open":
            rows.append([])
        elif tok.type in ("th_open", "td_open"):
            nxt = tokens[i + 1]
            rows[-1].append(nxt.content if nxt.type == "inline" else "")
            if tok.type == "th_open":
                style = str(tok.attrGet("style") or "")
                align.append(style.removeprefix("text-align:") or None)
        elif tok.type == "table_close":
            assert rows and all(len(r) == len(rows[0]) for r in rows), rows
            out.append((rows, align))
    return out


def section_tables(markdown: str, heading: str) -> list[list[list[str]]]:
    """Tables under one ``## heading`` (up to the next ``## ``)."""
    part = markdown.split(f"\n## {heading}", 1)[1].split("\n## ", 1)[0]
    return tables(part)


def csv_rows(run: Path) -> list[dict[str, str]]:
    with (run / "trials.csv").open(newline="") as fh:
        return list(csv.DictReader(fh))


def images(markdown: str) -> list[str]:
    return re.findall(r"!\[[^\]]*\]\(([^)]+)\)", markdown)


def check_numbers_match_csv(markdown: str, run: Path) -> None:
    rows = csv_rows(run)
    summary = section_tables(markdown, "Summary")[0]
    header = summary[0]
    for line in summary[1:]:
        cells = dict(zip(header, line, strict=True))
        mine = [r for r in rows if r["model"] == cells["model"]]
        done = [r for r in mine if r["state"] == "COMPLETE"]
        best = max(done, key=lambda r: float(r["mean_test_score"]))
        mean, std = (float(x) for x in cells["best mean ± std (CV)"].split(" ± "))
        assert mean == pytest.approx(float(best["mean_test_score"]), abs=5e-5)
        assert std == pytest.approx(float(best["std_test_score"]), abs=5e-5)
        for col, state in (("complete", "COMPLETE"), ("failed", "FAIL"), ("pruned", "PRUNED")):
            assert int(cells[col]) == sum(r["state"] == state for r in mine), col
        board = section_tables(markdown, cells["model"])
        leader = next(t for t in board if t[0][:3] == ["rank", "trial", "mean ± std"])
        by_trial = {int(r["trial"]): r for r in mine}
        for line2 in leader[1:]:
            lc = dict(zip(leader[0], line2, strict=True))
            rec = by_trial[int(lc["trial"])]
            assert int(lc["rank"]) == int(rec["rank_test_score"])
            assert float(lc["mean ± std"].split(" ± ")[0]) == pytest.approx(float(rec["mean_test_score"]), abs=5e-5)
            for name in leader[0][4:]:
                raw = rec[f"param_{name}"]
                if lc[name] != raw:
                    assert lc[name] == f"{float(raw):.4g}", (name, lc[name], raw)


def test_report_tables_numbers_and_images(run_a: Path) -> None:
    md = build_report(ReportOptions(run_a, top=5, link_base=run_a))
    assert md.startswith("# Hyperparameter search: iris-report")
    assert len(tables(md)) >= 5
    check_numbers_match_csv(md, run_a)
    links = images(md)
    assert any("history" in link for link in links) and any("slice_tree" in link for link in links)
    for link in links:
        assert not Path(link).is_absolute()
        assert (run_a / link).is_file(), link
    assert "**Winner vs runner-up.**" in md and "fold noise" in md
    assert "One-standard-error choice" in md
    assert "PED-ANOVA" in md  # the tree has >= 10 complete trials
    assert "## Provenance" in md


def test_failures_grouped_by_error(run_a: Path) -> None:
    md = build_report(ReportOptions(run_a, plots=False))
    failed = [r for r in csv_rows(run_a) if r["model"] == "logreg" and r["state"] == "FAIL"]
    assert failed, "the spec must produce failing trials (penalty l1 with solver lbfgs)"
    part = md.split("\n## logreg", 1)[1].split("\n## ", 1)[0]
    groups = next(t for t in tables(part) if t[0] == ["count", "error"])
    assert sum(int(r[0]) for r in groups[1:]) == len(failed)
    assert any("l1" in r[1] or "penalty" in r[1] for r in groups[1:])
    assert not images(md)  # --no-plots


def test_links_follow_the_output_folder(run_a: Path, tmp_path: Path) -> None:
    out = tmp_path / "pr" / "report.md"
    res = subprocess.run([sys.executable, "-m", "hpo_cli", "report", str(run_a), "--output", str(out)],
                         capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    md = out.read_text()
    assert images(md)
    for link in images(md):
        assert (out.parent / link).is_file(), link


def test_results_md_in_the_run_folder_is_the_report(run_a: Path) -> None:
    results = (run_a / "results.md").read_text()
    assert results.startswith("# Hyperparameter search: iris-report")
    assert "**Winner vs runner-up.**" in results


def test_github_appends_to_the_step_summary(run_a: Path, tmp_path: Path) -> None:
    summary = tmp_path / "summary.md"
    summary.write_text("earlier step\n")
    env = {**os.environ, "GITHUB_STEP_SUMMARY": str(summary)}
    res = subprocess.run([sys.executable, "-m", "hpo_cli", "report", str(run_a), "--github", "--no-plots"],
                         capture_output=True, text=True, env=env)
    assert res.returncode == 0, res.stderr
    text = summary.read_text()
    assert text.startswith("earlier step\n# Hyperparameter search: iris-report")
    assert res.stdout.strip() == text[len("earlier step\n"):].strip()
    env.pop("GITHUB_STEP_SUMMARY")
    res = subprocess.run([sys.executable, "-m", "hpo_cli", "report", str(run_a), "--github", "--no-plots"],
                         capture_output=True, text=True, env=env)
    assert res.returncode == 2 and "GITHUB_STEP_SUMMARY" in res.stderr


def test_compare_two_runs(run_a: Path, run_b: Path) -> None:
    md = build_report(ReportOptions(run_a, plots=False, compare=run_b))
    cmp = section_tables(md, "Compared with")[0]
    assert cmp[0] == ["model", "base best", "this run best", "change", "parameters (base → this run)"]
    rows = csv_rows(run_a)
    base = csv_rows(run_b)
    assert [r[0] for r in cmp[1:]] == ["logreg", "tree"]
    for line in cmp[1:]:
        name = line[0]
        head_best = max(float(r["mean_test_score"]) for r in rows if r["model"] == name and r["state"] == "COMPLETE")
        base_scores = [float(r["mean_test_score"]) for r in base if r["model"] == name and r["state"] == "COMPLETE"]
        if not base_scores:  # every base trial of this model failed
            assert line[1] == "—" and line[3] == "no complete trial in base"
            continue
        base_best = max(base_scores)
        assert float(line[1].split(" ± ")[0]) == pytest.approx(base_best, abs=5e-5)
        assert float(line[2].split(" ± ")[0]) == pytest.approx(head_best, abs=5e-5)
        assert float(line[3]) == pytest.approx(head_best - base_best, abs=1e-3)
    same = build_report(ReportOptions(run_a, plots=False, compare=run_a))
    assert all(r[4] == "unchanged" for r in section_tables(same, "Compared with")[0][1:])


def test_report_of_a_run_in_progress_reads_the_storage(run_a: Path, tmp_path: Path) -> None:
    """A worker still going: one trial RUNNING and one new best finished after trials.csv was written."""
    import optuna

    from hpo_cli.storage.attrs import ATTR
    from hpo_cli.storage.backend import open_storage

    run = tmp_path / "live"
    shutil.copytree(run_a, run)
    (run / "run.json").write_text((run / "run.json").read_text().replace(str(run_a), str(run)))
    backend = open_storage(run, None)
    study = optuna.load_study(study_name="iris-report.tree", storage=backend)
    study.ask()  # stays RUNNING
    new = study.ask()
    attrs = {"params": {"max_depth": 3, "min_samples_leaf": 1}, "split_scores": [1.0, 1.0, 1.0, 1.0, 0.995],
             "mean_test_score": 0.999, "std_test_score": 0.002, "fit_times": [0.001] * 5, "score_times": [0.001] * 5}
    new.set_user_attr(ATTR, attrs)
    study.tell(new, 0.999)
    md = build_report(ReportOptions(run, plots=True, link_base=run))
    assert "This run is still going" in md and "1 trial(s) running" in md
    summary = section_tables(md, "Summary")[0]
    tree = next(r for r in summary[1:] if r[1] == "tree")
    assert tree[2].startswith("0.9990 ± 0.0020")
    n_csv = sum(r["model"] == "tree" and r["state"] == "COMPLETE" for r in csv_rows(run))
    assert int(tree[4]) == n_csv + 1  # the storage is the truth, trials.csv lags
    for link in images(md):
        assert (run / link).is_file()
    assert "trials read from the study storage" in md  # the default journal in the run folder


def test_bad_storage_and_missing_run_are_bad_input(run_a: Path, tmp_path: Path) -> None:
    hpo = [sys.executable, "-m", "hpo_cli", "report"]
    res = subprocess.run([*hpo, str(run_a), "--storage", str(tmp_path / "nope.journal"), "--no-plots"],
                         capture_output=True, text=True)
    assert res.returncode == 2 and "storage" in res.stderr and "Traceback" not in res.stderr
    res = subprocess.run([*hpo, str(tmp_path / "missing")], capture_output=True, text=True)
    assert res.returncode == 2 and "Traceback" not in res.stderr
    (tmp_path / "empty").mkdir()
    res = subprocess.run([*hpo, str(tmp_path / "empty")], capture_output=True, text=True)
    assert res.returncode == 2 and "Traceback" not in res.stderr
    res = subprocess.run([*hpo, str(run_a), "--compare", str(tmp_path / "missing")], capture_output=True, text=True)
    assert res.returncode == 2 and "--compare" in res.stderr


def test_report_from_trials_csv_alone(run_a: Path, tmp_path: Path) -> None:
    """A run folder without its storage (copied without study.journal): everything but importance."""
    run = tmp_path / "copy"
    shutil.copytree(run_a, run, ignore=shutil.ignore_patterns("study.journal", "plots"))
    (run / "run.json").write_text((run / "run.json").read_text().replace(str(run_a), str(tmp_path / "gone")))
    md = build_report(ReportOptions(run, link_base=run))
    assert "trials read from trials.csv" in md
    check_numbers_match_csv(md, run)
    assert "Parameter importance needs the study storage" in md
    for link in images(md):
        assert (run / link).is_file()


REGRESSION = """\
name: diabetes-mini
data: {{source: "sklearn:diabetes"}}
defaults: {{cv: {{kind: kfold, folds: 3}}, metric: neg_mean_squared_error, seed: {seed}, method: random,
           budget: {{trials: {trials}}}}}
models:
  - name: ridge
    class: Ridge
    space: {{alpha: {{type: float, low: 1.0e-3, high: 10, log: true}}}}
tracking: {{mlflow: false}}
"""


def test_neg_metric_is_explained_and_single_model_has_no_comparison(tmp_path: Path) -> None:
    run = tune(tmp_path, trials=4, spec=REGRESSION)
    md = build_report(ReportOptions(run, plots=False))
    assert "`neg_mean_squared_error` is scikit-learn's negated loss" in md
    assert "Winner vs runner-up" not in md
    check_numbers_match_csv(md, run)
    assert "needs at least 10 complete trials (4 so far)" in md


def test_markdown_table_keeps_cells_as_written_and_aligns_numbers() -> None:
    rows = [["a|b", "1,000", "line\nbreak"], ["c", "0.10"], ["d", 2, "", "x"]]  # short and long rows too
    lines = markdown_table(["name", "score", "note"], rows, ["left", "right"])
    assert lines[1].split("|")[2].strip().endswith(":")  # the alignment colon GitHub reads
    [(rows, align)] = aligned_tables("\n".join(lines) + "\n")
    assert rows == [["name", "score", "note"], ["a|b", "1,000", "line break"], ["c", "0.10", ""], ["d", "2", ""]]
    assert align == ["left", "right", "left"]
    assert markdown_table(["n"], [], ["right"])[1].endswith(":|")  # an empty table keeps its alignment


def test_report_tables_right_align_the_numbers(run_a: Path) -> None:
    md = build_report(ReportOptions(run_a, plots=False))
    found = {tuple(rows[0]): align for rows, align in aligned_tables(md)}
    summary = found[("", "model", "best mean ± std (CV)", "test score", "complete", "failed", "pruned", "wall time")]
    assert summary[2:] == ["right"] * 6
    board = next(a for h, a in found.items() if h[:4] == ("rank", "trial", "mean ± std", "fit time"))
    assert board[:4] == ["right"] * 4 and "right" not in board[4:]
    assert found[("count", "error")] == ["right", "left"]


def test_trials_csv_reads_back_as_records_with_the_same_ranks(run_a: Path) -> None:
    models = read_trials_csv(run_a / "trials.csv")
    rows = csv_rows(run_a)
    assert sum(len(mt.trials) for mt in models.values()) == len(rows)
    for row in rows:
        mt = models[row["model"]]
        record = next(t for t in mt.trials if t.number == int(row["trial"]))
        assert isinstance(record, TrialRecord) and record.state == row["state"]
        assert str(mt.ranks().get(record.number, "")) == row["rank_test_score"]
        assert record.params == {k[len("param_"):]: v for k, v in row.items() if k.startswith("param_") and v}
        if row["state"] == "COMPLETE":
            assert record.mean_test_score == float(row["mean_test_score"])
            assert len(record.split_scores) == 5 and record.mean_fit_time == float(row["mean_fit_time"])
        else:
            assert record.mean_test_score is None and (record.error or "") == row["error"]


def test_plain_leaderboard_survives_pipes_in_names_and_values() -> None:
    trials = [TrialRecord("a|b", 0, "COMPLETE", {"p": "x|y"}, 0.9, 0.01), TrialRecord("a|b", 1, "FAIL", {"p": 1}),
              TrialRecord("a|b", 2, "COMPLETE", {"p": 2}, 0.95, 0.02)]
    md = plain_results_md([ModelResult("a|b", "sklearn.X", {}, "s.a", "random", trials=trials, best=trials[2]),
                           ModelResult("n", "sklearn.Y", {}, "s.n", "tpe")], "accuracy", "spec")
    summary, board = tables(md)
    assert summary[1] == ["a|b (best)", "0.9500", "0.0200", "", "3 (2 / 1 / 0)"]
    assert summary[2][0] == "n" and summary[2][4] == "0 (0 / 0 / 0)"
    assert board[1:] == [["1", "2", "0.9500", "0.0200", "p=2"], ["2", "0", "0.9000", "0.0100", "p='x|y'"]]
    assert "No trial completed." in md

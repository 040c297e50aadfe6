"""Paths in reports: the spec, data and run folder read relative to the repository (or the current folder).

results.md and run.json travel into pull requests and other machines: the machine's absolute home paths
must never appear in them (issue 13).
"""

from __future__ import annotations

import json
from pathlib import Path

from hpo_cli.rundir.provenance import display_path, display_url


def test_display_path_prefers_the_repository_then_the_current_folder_then_home(tmp_path, monkeypatch):
    repo = tmp_path / "home" / "me" / "repo"
    (repo / ".git").mkdir(parents=True)
    (repo / "sub").mkdir()
    monkeypatch.setenv("HOME", str(tmp_path / "home" / "me"))
    # inside the repository: relative to its top level, even from a subfolder
    assert display_path(repo / "specs" / "a.yaml", cwd=repo / "sub") == "specs/a.yaml"
    # outside any repository but inside the current folder: relative to it
    plain = tmp_path / "home" / "me" / "plain"
    plain.mkdir()
    assert display_path(plain / "runs" / "x", cwd=plain) == "runs/x"
    # elsewhere under home: ~/..., never /home/<user>/...
    assert display_path(tmp_path / "home" / "me" / "data" / "d.csv", cwd=plain) == "~/data/d.csv"
    # relative paths and paths outside home stay as given
    assert display_path("specs/a.yaml", cwd=plain) == "specs/a.yaml"
    assert display_path("/opt/data/d.csv", cwd=plain) == "/opt/data/d.csv"
    assert display_url(f"sqlite:///{repo}/hpo.db", cwd=repo) == "sqlite:///hpo.db"
    assert display_url("postgresql://u:***@db/x", cwd=repo) == "postgresql://u:***@db/x"


def test_results_md_and_run_json_show_repository_paths_never_home(tmp_path, monkeypatch):
    from hpo_cli.core.options import ReportOptions, TuneOptions
    from hpo_cli.report.report import build_report
    from hpo_cli.tune.run import run_tune

    home = tmp_path / "home" / "me"
    repo = home / "project"
    (repo / "specs" / "data").mkdir(parents=True)
    (repo / "sub").mkdir()
    (repo / ".git").mkdir()  # the repository's top level
    rows = ["x1,x2,y"] + [f"{i % 7},{(i * 3) % 5},{i % 2}" for i in range(60)]
    (repo / "specs" / "data" / "d.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    spec = {"name": "paths", "data": {"source": "data/d.csv", "target": "y", "test_size": 0.25},
            "defaults": {"cv": {"kind": "stratified", "folds": 3}, "metric": "accuracy", "seed": 0},
            "models": [{"name": "dummy", "class": "DummyClassifier", "method": "grid",
                        "space": {"strategy": ["prior", "uniform"]}}],
            "tracking": {"mlflow": False}}
    (repo / "specs" / "p.yaml").write_text(json.dumps(spec), encoding="utf-8")
    monkeypatch.setenv("HOME", str(home))
    # run from a subfolder of the repository, with relative paths as a user types them
    monkeypatch.chdir(repo / "sub")
    run = run_tune(TuneOptions(spec=Path("../specs/p.yaml"), output=Path("../runs/p"), mlflow=False, quiet=True),
                   observers=[])
    assert run.exit_code == 0
    results = (repo / "runs" / "p" / "results.md").read_text(encoding="utf-8")
    info = json.loads((repo / "runs" / "p" / "run.json").read_text(encoding="utf-8"))
    assert str(home) not in results and str(tmp_path) not in results
    assert "`specs/p.yaml`" in results and "`specs/data/d.csv`" in results
    assert "`runs/p`" in results and "`runs/p/study.journal`" in results
    assert info["spec"]["path"] == "specs/p.yaml" and info["data"]["source"] == "specs/data/d.csv"
    assert str(tmp_path) not in json.dumps({k: v for k, v in info.items() if k != "command"})
    # the report still finds the study storage from another folder (the journal beside run.json)
    (tmp_path / "elsewhere").mkdir()
    monkeypatch.chdir(tmp_path / "elsewhere")
    report = build_report(ReportOptions(run_dir=repo / "runs" / "p", plots=False))
    assert "trials read from the study storage" in report
    assert "`specs/p.yaml`" in report  # as run.json recorded it: relative to the repository
    assert "`~/project/runs/p`" in report  # outside the current folder and any repository, under home


def test_display_path_survives_a_deleted_current_folder(tmp_path, monkeypatch):
    gone = tmp_path / "gone"
    gone.mkdir()
    monkeypatch.chdir(gone)
    gone.rmdir()
    assert display_path("/opt/x.csv") == "/opt/x.csv"

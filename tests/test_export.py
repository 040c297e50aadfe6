"""Run folder files: column order, ranks, full-precision floats, stable YAML key order."""

from __future__ import annotations

import yaml

from hpo_cli.core.results import ModelResult, TrialRecord, ranks
from hpo_cli.rundir.writers import best_parameters_yaml, trials_csv


def _result() -> ModelResult:
    trials = [
        TrialRecord("m", 0, "COMPLETE", {"C": 0.1, "hidden": [50, 20]}, 0.9, 0.01, [0.89, 0.91], mean_fit_time=0.5),
        TrialRecord("m", 1, "FAIL", {"C": 1.0, "hidden": None}, error="ValueError: nope"),
        TrialRecord("m", 2, "COMPLETE", {"C": 1 / 3}, 0.95, 0.02, [0.93, 0.97], mean_fit_time=0.4),
        TrialRecord("m", 3, "COMPLETE", {"C": 2.0}, 0.9, 0.0, [0.9, 0.9], mean_fit_time=0.4),
    ]
    return ModelResult("m", "sklearn.svm.SVC", {"kernel": "rbf"}, "s.m", "tpe", trials=trials, best=trials[2],
                       test_score=0.93)


def test_trials_csv_columns_ranks_and_precision() -> None:
    text = trials_csv([_result()])
    lines = text.splitlines()
    assert lines[0] == ("model,trial,state,rank_test_score,mean_test_score,std_test_score,split0_test_score,"
                        "split1_test_score,mean_fit_time,param_C,param_hidden,error")
    assert lines[1] == 'm,0,COMPLETE,2,0.9,0.01,0.89,0.91,0.5,0.1,"[50, 20]",'
    assert lines[2] == "m,1,FAIL,,,,,,,1.0,None,ValueError: nope"
    assert lines[3].startswith(f"m,2,COMPLETE,1,0.95,0.02,0.93,0.97,0.4,{1 / 3!r},,")
    assert ranks(_result().trials) == {0: 2, 2: 1, 3: 2}  # scikit-learn's rank "min" on ties


def test_best_parameters_yaml_roundtrips_floats_in_stable_order() -> None:
    text = best_parameters_yaml([_result()], "roc_auc", with_test=True)
    data = yaml.safe_load(text)
    assert list(data) == ["best_model", "metric", "direction", "models"]
    assert data["models"]["m"]["params"]["C"] == 1 / 3
    assert list(data["models"]["m"]) == ["estimator", "params", "init_params", "preprocess", "mean_test_score",
                                         "std_test_score", "test_score", "n_trials"]
    assert text == best_parameters_yaml([_result()], "roc_auc", with_test=True)


def test_atomic_write_leaves_a_readable_file(tmp_path):
    """mkstemp creates 0600 files; run-folder files must be readable by the rest of a pipeline."""
    import os
    import stat

    from hpo_cli.rundir.paths import atomic_write_text

    target = tmp_path / "x.yaml"
    atomic_write_text(target, "a: 1\n")
    mask = os.umask(0)
    os.umask(mask)
    assert stat.S_IMODE(target.stat().st_mode) == 0o666 & ~mask
    assert target.read_text() == "a: 1\n"


def test_git_commit_read_from_the_repository_matches_git(tmp_path):
    """run.json's commit is read from .git directly (no subprocess); it must equal what git says."""
    import subprocess

    from hpo_cli.rundir.provenance import git_commit

    def git(*args: str) -> str:
        return subprocess.run(["git", "-C", str(tmp_path), *args], check=True, capture_output=True,
                              text=True).stdout.strip()

    assert git_commit(tmp_path) is None  # not a repository
    git("init", "-q", "-b", "main")
    (tmp_path / "specs").mkdir()
    assert git_commit(tmp_path / "specs") is None  # no commit yet
    (tmp_path / "specs" / "s.yaml").write_text("models: []\n")
    git("add", ".")
    git("-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "one")
    assert git_commit(tmp_path / "specs") == git("rev-parse", "HEAD")
    git("pack-refs", "--all")  # refs moved into packed-refs
    assert git_commit(tmp_path / "specs") == git("rev-parse", "HEAD")
    git("checkout", "-q", "--detach")
    assert git_commit(tmp_path) == git("rev-parse", "HEAD")

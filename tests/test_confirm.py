"""``confirm:``: the top K configurations re-scored on R further CV shuffles, checked against scikit-learn."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
import yaml

from hpo_cli.core.errors import InputError
from hpo_cli.core.options import TuneOptions
from hpo_cli.core.results import COMPLETE, ModelResult, TrialRecord


def _spec(tmp_path: Path, trials: int, top: int, repeats: int) -> Path:
    path = tmp_path / "spec.yaml"
    path.write_text(json.dumps({
        "name": "conf", "data": {"source": "sklearn:breast_cancer"}, "tracking": {"mlflow": False},
        "models": [{"name": "tree", "class": "DecisionTreeClassifier", "method": "random", "cv": 3, "seed": 7,
                    "budget": {"trials": trials}, "confirm": {"top": top, "repeats": repeats},
                    "space": {"max_depth": {"type": "int", "low": 1, "high": 8},
                              "min_samples_leaf": {"type": "int", "low": 1, "high": 60}}}],
    }))
    return path


def test_confirm_rescores_top_k_on_r_seeded_shuffles_as_scikit_learn_does(tmp_path: Path) -> None:
    import optuna
    from sklearn.datasets import load_breast_cancer
    from sklearn.model_selection import StratifiedKFold, cross_val_score
    from sklearn.tree import DecisionTreeClassifier

    from hpo_cli.storage.backend import open_storage
    from hpo_cli.tune.run import run_tune

    run = tmp_path / "run"
    result = run_tune(TuneOptions(spec=_spec(tmp_path, 8, 3, 2), output=run, quiet=True), observers=[])
    model = result.models[0]
    study = optuna.load_study(study_name="conf.tree", storage=open_storage(run, None))
    assert len(study.trials) == 8  # confirmations are not trials
    confirm = study.user_attrs["hpo_confirm"]
    assert confirm["seeds"] == [8, 9]  # seed + r, r = 1..R
    by_search = sorted(model.trials, key=lambda r: (-(r.mean_test_score or 0), r.number))
    assert sorted(confirm["trials"]) == sorted(str(r.number) for r in by_search[:3])
    X, y = load_breast_cancer(return_X_y=True)
    for number, entry in confirm["trials"].items():
        assert len(entry["splits"]) == 2 and all(len(s) == 3 for s in entry["splits"])  # K x R fold sets
        params = next(r.params for r in model.trials if r.number == int(number))
        for seed, splits in zip(confirm["seeds"], entry["splits"], strict=True):
            expected = cross_val_score(DecisionTreeClassifier(random_state=seed, **params), X, y, scoring="accuracy",
                                       cv=StratifiedKFold(3, shuffle=True, random_state=seed))
            assert splits == list(expected)
    winner = max(confirm["trials"].items(), key=lambda kv: (kv[1]["mean"], -int(kv[0])))
    assert model.best is not None and model.best.number == int(winner[0])
    best = yaml.safe_load((run / "best_parameters.yaml").read_text())["models"]["tree"]
    assert best["confirmed_mean_test_score"] == winner[1]["mean"] and best["params"] == model.best.params
    with (run / "trials.csv").open(newline="") as fh:
        rows = {r["trial"]: r for r in csv.DictReader(fh)}
    for number, entry in confirm["trials"].items():
        assert float(rows[number]["confirmed_mean_test_score"]) == entry["mean"]
        assert float(rows[number]["confirmed_std_test_score"]) == entry["std"]
    assert sum(r["confirmed_mean_test_score"] != "" for r in rows.values()) == 3
    report = (run / "results.md").read_text()
    assert "confirmed mean ± std" in report and ("The order held" in report or "The order changed" in report)


def test_confirm_top_beyond_the_complete_trials_confirms_what_there_is(tmp_path: Path) -> None:
    from hpo_cli.tune.run import run_tune

    result = run_tune(TuneOptions(spec=_spec(tmp_path, 2, 5, 1), output=tmp_path / "run", quiet=True), observers=[])
    assert any("confirm.top is 5 but the search has 2 complete trial(s)" in w for w in result.warnings)
    assert all(t.confirmed_mean is not None for t in result.models[0].trials)


def test_confirm_repeats_below_one_is_a_located_error(tmp_path: Path) -> None:
    from hpo_cli.spec.load import load_spec

    path = tmp_path / "spec.yaml"
    path.write_text("data: {source: 'sklearn:iris'}\nmodels:\n  - name: t\n    class: DecisionTreeClassifier\n"
                    "    confirm: {top: 2, repeats: 0}\n    space: {max_depth: [1, 2]}\n")
    with pytest.raises(InputError) as info:
        load_spec(path)
    assert str(info.value) == f"{path}:5:32: models[0].confirm.repeats: must be at least 1, got 0"


def test_mlflow_parent_gets_the_confirmed_score_and_whether_the_order_changed() -> None:
    from hpo_cli.tracking.names import parent_summary

    trials = [TrialRecord("m", 0, COMPLETE, {}, mean_test_score=0.9, confirmed_mean=0.8, confirmed_std=0.01),
              TrialRecord("m", 1, COMPLETE, {}, mean_test_score=0.89, confirmed_mean=0.85, confirmed_std=0.02)]
    result = ModelResult("m", "x.Y", {}, "s.m", "tpe", trials=trials, best=trials[1])
    metrics, tags = parent_summary(result)
    assert metrics["best_confirmed_mean_test_score"] == 0.85 and metrics["best_confirmed_std_test_score"] == 0.02
    assert metrics["best_mean_test_score"] == 0.89 and tags["hpo.confirm.order_changed"] == "true"

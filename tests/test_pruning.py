"""Fold-level pruning: every pruner prunes a space with clearly bad regions; pruned trials are recorded.

The problem: a decision tree on iris with ``min_samples_leaf`` up to 120 of ~125 training rows. From
about 45 rows per leaf the tree cannot separate the three classes (accuracy 2/3 or 1/3 against ~0.95) on
every fold, so any pruner that can act at all has something to prune.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from hpo_cli.core.errors import InputError
from hpo_cli.core.options import TuneOptions
from hpo_cli.core.results import COMPLETE, PRUNED
from hpo_cli.spec.pruning import PRUNERS

PRUNER_SETTINGS = {
    "median": "median",
    "percentile": {"type": "percentile", "percentile": 50.0, "n_startup_trials": 3},
    "successive_halving": "successive_halving",
    "hyperband": {"type": "hyperband", "reduction_factor": 2},
    "wilcoxon": {"type": "wilcoxon", "p_threshold": 0.1},
}


def test_every_pruner_prunes_bad_regions_and_pruned_trials_are_recorded(tmp_path: Path) -> None:
    from hpo_cli.tune.run import run_tune

    assert set(PRUNER_SETTINGS) == set(PRUNERS) - {"none", "auto"}  # auto: test_pruner_auto_follows_the_folds
    spec = tmp_path / "spec.yaml"
    spec.write_text(json.dumps({
        "name": "prune", "data": {"source": "sklearn:iris"},
        "defaults": {"method": "random", "cv": {"kind": "stratified", "folds": 6}, "budget": {"trials": 16},
                     "space": {"min_samples_leaf": {"type": "int", "low": 1, "high": 120}}},
        "models": [{"name": name, "class": "DecisionTreeClassifier", "pruner": pruner}
                   for name, pruner in PRUNER_SETTINGS.items()],
        "tracking": {"mlflow": False},
    }))
    result = run_tune(TuneOptions(spec=spec, output=tmp_path / "run", quiet=True), observers=[])
    with (tmp_path / "run" / "trials.csv").open(newline="") as fh:
        rows = list(csv.DictReader(fh))
    for model in result.models:
        states = [t.state for t in model.trials]
        assert len(states) == 16 and set(states) <= {COMPLETE, PRUNED}, model.name  # pruned count in the budget
        pruned = [t for t in model.trials if t.state == PRUNED]
        assert pruned, f"{model.name} pruned nothing"
        assert all(1 <= len(t.split_scores) < 6 for t in pruned)
        assert model.best is not None and model.best.state == COMPLETE
        csv_pruned = [r for r in rows if r["model"] == model.name and r["state"] == PRUNED]
        assert sorted(int(r["trial"]) for r in csv_pruned) == sorted(t.number for t in pruned)
        assert all(r["rank_test_score"] == "" and r["split5_test_score"] == "" for r in csv_pruned)
    report = (tmp_path / "run" / "results.md").read_text()  # MLflow: tests/test_tracking.py (KILLED runs)
    for model in result.models:
        assert f"{model.n_pruned} trial(s) pruned" in report


SPEC = """data: {source: "sklearn:iris"}
models:
  - name: tree
    class: DecisionTreeClassifier
    cv: %s
    pruner: %s
    space: {max_depth: {type: int, low: 1, high: 8}}
"""


@pytest.mark.parametrize(("folds", "pruner", "expected"), [
    (5, "medain", "6:13: models[0].pruner: unknown pruner 'medain'; expected one of none, auto, median, percentile, "
                  "successive_halving, hyperband, wilcoxon; did you mean 'median'?"),
    (5, "{type: wilcoxon, p_treshold: 0.2}", "6:30: models[0].pruner.p_treshold: unknown key 'p_treshold'; "
                                             "did you mean 'p_threshold'?"),
    (5, "{type: median, p_threshold: 0.2}", "6:28: models[0].pruner.p_threshold: unknown key 'p_threshold' "
                                            "(allowed: type, n_startup_trials, n_warmup_steps, interval_steps, "
                                            "n_min_trials)"),
    (5, "{type: hyperband, reduction_factor: 1}", "6:49: models[0].pruner.reduction_factor: must be at least 2, got 1"),
])
def test_bad_pruner_is_one_located_line(tmp_path: Path, folds: int, pruner: str, expected: str) -> None:
    from hpo_cli.spec.load import load_spec

    path = tmp_path / "spec.yaml"
    path.write_text(SPEC % (folds, pruner))
    with pytest.raises(InputError) as info:
        load_spec(path)
    assert str(info.value).startswith(f"{path}:{expected}")


@pytest.mark.parametrize(("folds", "pruner", "warning"), [
    (3, "wilcoxon", "wilcoxon cannot prune with 3 folds: its test on the 2 folds before the last never gives p "
                    "below 0.25 (p_threshold 0.1); use at least 5 folds"),
    (5, "wilcoxon", None),
    (4, "{type: wilcoxon, p_threshold: 0.2}", None),
    (3, "{type: median, n_warmup_steps: 3}", "median cannot prune with 3 folds: it may act once 3 folds are scored"),
    (3, "median", None),
    (2, "median", "median cannot prune with 2 folds: it may act once 2 folds are scored"),
    (2, "successive_halving", None),  # its first rung is after one fold
    (2, "{type: successive_halving, min_resource: 2}", "successive_halving cannot prune with 2 folds"),
    (5, "{type: median, n_startup_trials: 50}", "median starts pruning after 50 complete trials, but the budget "
                                                "is 50 trials"),
])
def test_validate_warns_when_the_pruner_cannot_act(tmp_path: Path, folds: int, pruner: str,
                                                   warning: str | None) -> None:
    from hpo_cli.checks.validate import validate_spec

    path = tmp_path / "spec.yaml"
    path.write_text(SPEC % (folds, pruner))
    found = [p.message for p in validate_spec(path).warnings if p.path.startswith("models[0].pruner")]
    assert len(found) == (warning is not None) and all(f.startswith(str(warning)) for f in found), found


def test_successive_halving_stops_a_trial_after_its_first_fold(tmp_path: Path) -> None:
    """The step is the number of folds scored, so successive halving's first rung (``min_resource: 1``) is
    after fold 1: at 3 folds a bad trial is stopped having cost one fit, not two (with fold indices as
    steps its first rung was after the second fold, and it saved 21 % of fits instead of 38 %)."""
    from hpo_cli.tune.run import run_tune

    spec = tmp_path / "spec.yaml"
    spec.write_text(json.dumps({
        "name": "sh", "data": {"source": "sklearn:iris"}, "tracking": {"mlflow": False},
        "models": [{"name": "tree", "class": "DecisionTreeClassifier", "method": "random", "seed": 1,
                    "cv": {"kind": "stratified", "folds": 3}, "budget": {"trials": 12},
                    "pruner": "successive_halving",
                    "space": {"min_samples_leaf": {"type": "int", "low": 1, "high": 120}}}],
    }))
    result = run_tune(TuneOptions(spec=spec, output=tmp_path / "run", quiet=True), observers=[])
    pruned = [t for t in result.models[0].trials if t.state == PRUNED]
    assert pruned and all(len(t.split_scores) == 1 for t in pruned), [len(t.split_scores) for t in pruned]


@pytest.mark.parametrize(("cv", "expected"), [
    ({"folds": 2}, {"type": "none"}),
    ({"folds": 3}, {"type": "successive_halving", "min_resource": 1, "reduction_factor": 6}),
    ({"folds": 2, "repeats": 2}, {"type": "successive_halving", "min_resource": 1, "reduction_factor": 6}),
    ({"folds": 5}, {"type": "successive_halving", "min_resource": 1, "reduction_factor": 3}),
    ({"folds": 10}, {"type": "successive_halving", "min_resource": 1, "reduction_factor": 3}),
])
def test_pruner_auto_follows_the_folds(tmp_path: Path, cv: dict, expected: dict) -> None:
    """``pruner: auto`` is replaced, once the spec is final, by the pruner measured best for its fold count
    (all folds x repeats); ``hpo validate`` and the search see the concrete pruner."""
    from hpo_cli.search.plan import resolve_auto
    from hpo_cli.spec.load import load_spec

    path = tmp_path / "spec.yaml"
    path.write_text(json.dumps({"data": {"source": "sklearn:iris"}, "models": [
        {"name": "tree", "class": "DecisionTreeClassifier", "cv": cv, "pruner": "auto",
         "space": {"max_depth": {"type": "int", "low": 1, "high": 8}}}]}))
    pruner = resolve_auto(load_spec(path)).models[0].pruner
    assert {k: v for k, v in pruner.model_dump().items() if k in expected} == expected

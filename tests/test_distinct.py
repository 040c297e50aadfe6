"""TPE on a finite space proposes no point twice while unseen points remain (``search.distinct``, issue 10).

With fixed folds and a fixed ``random_state`` a repeated point scores what it scored before: a lost trial.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

FINITE = {"max_depth": {"type": "int", "low": 1, "high": 4}, "criterion": ["gini", "entropy"],
          "min_samples_leaf": [1, 5]}  # 16 points


def _spec(trials: int, space: dict[str, Any] | None = None, **model: Any) -> dict[str, Any]:
    return {"data": {"source": "sklearn:iris"},
            "models": [{"name": "tree", "class": "DecisionTreeClassifier", "method": "tpe", "cv": 3,
                        "space": space or FINITE, "budget": {"trials": trials}, "startup_trials": 4, **model}]}


def _points(rows: list[dict[str, str]]) -> list[tuple[str, ...]]:
    return [(r["param_max_depth"], r["param_criterion"], r["param_min_samples_leaf"]) for r in rows]


def _plain_tpe_points(seed: int, trials: int) -> list[tuple[Any, ...]]:
    """What Optuna's TPE with hpo's settings proposes on FINITE's distributions without the wrapper."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(direction="maximize", sampler=optuna.samplers.TPESampler(
        seed=seed, multivariate=True, n_startup_trials=4))
    points = []
    for _ in range(trials):
        trial = study.ask()
        point = (trial.suggest_int("max_depth", 1, 4), trial.suggest_categorical("criterion", ["gini", "entropy"]),
                 trial.suggest_categorical("min_samples_leaf", [1, 5]))
        study.tell(trial, point[0] + (point[1] == "gini") / 2)  # a clear optimum TPE converges to
        points.append(point)
    return points


def test_plain_tpe_repeats_points_on_this_space() -> None:
    """The premise: without the wrapper TPE spends trials on points it already has."""
    points = _plain_tpe_points(0, 16)
    assert len(set(points)) < 16  # 12 distinct points in 16 trials


def test_tpe_never_repeats_a_point_while_unseen_points_remain(write_spec, tune, read_trials) -> None:
    rows = read_trials(tune(write_spec(_spec(16))).run_dir)
    assert len(rows) == 16 and len(set(_points(rows))) == 16  # every point of the space once


def test_a_budget_beyond_the_space_repeats_only_after_every_point(write_spec, tune, read_trials) -> None:
    points = _points(read_trials(tune(write_spec(_spec(20))).run_dir))
    assert len(points) == 20 and len(set(points[:16])) == 16


def test_same_seed_same_trials_other_seed_other_trials(write_spec, tune, read_trials, tmp_path: Path) -> None:
    spec = write_spec(_spec(12))
    first = _points(read_trials(tune(spec, output=tmp_path / "a").run_dir))
    assert first == _points(read_trials(tune(spec, output=tmp_path / "b").run_dir))
    assert first != _points(read_trials(tune(spec, output=tmp_path / "c", seed=1).run_dir))
    assert len(set(first)) == 12


def test_resume_does_not_repeat_the_stored_points(write_spec, tune, read_trials) -> None:
    spec = write_spec(_spec(14))
    tune(spec, trials=6)
    points = _points(read_trials(tune(spec, resume=True).run_dir))
    assert len(points) == 14 and len(set(points)) == 14


def test_a_point_another_worker_is_running_is_not_proposed(tmp_path: Path) -> None:
    """``--workers``: the sampler counts other workers' RUNNING trials as taken (the journal storage they share).

    Two workers that sample in the same few milliseconds can still take one point (Optuna's storage has no
    atomic claim of a point); a trial already running is never proposed again.
    """
    import optuna

    from hpo_cli.search import samplers
    from hpo_cli.spec.models import ModelSpec

    model = ModelSpec.model_validate({"name": "m", "class": "DecisionTreeClassifier",
                                      "space": {"criterion": {"type": "categorical",
                                                                         "values": ["gini", "entropy", "log_loss"]}}})
    storage = optuna.storages.JournalStorage(optuna.storages.journal.JournalFileBackend(str(tmp_path / "j")))
    other = optuna.create_study(storage=storage, study_name="s", direction="maximize")
    for value in ("gini", "entropy"):  # one finished, one still running on the other worker
        trial = other.ask()
        trial.suggest_categorical("criterion", ["gini", "entropy", "log_loss"])
        storage.set_trial_param(trial._trial_id, "criterion", ["gini", "entropy", "log_loss"].index(value),
                                optuna.distributions.CategoricalDistribution(["gini", "entropy", "log_loss"]))
        if value == "gini":
            other.tell(trial, 1.0)
    for seed in range(5):
        study = optuna.load_study(study_name="s", storage=storage,
                                  sampler=samplers.make_sampler(model, "tpe", seed, 10, concurrent=True))
        trial = study.ask()
        assert trial.suggest_categorical("criterion", ["gini", "entropy", "log_loss"]) == "log_loss"
        study.tell(trial, state=optuna.trial.TrialState.FAIL)


def test_a_space_with_a_continuous_float_or_conditions_keeps_plain_tpe(write_spec) -> None:
    from hpo_cli.search import distinct
    from hpo_cli.spec.load import load_spec
    from hpo_cli.spec.models import ModelSpec

    def model(space: dict[str, Any]) -> ModelSpec:
        return load_spec(write_spec(_spec(10, space))).models[0]

    assert distinct.applies(model(FINITE))
    assert distinct.applies(model({**FINITE, "ccp_alpha": {"type": "float", "low": 0, "high": 0.1, "step": 0.05}}))
    assert not distinct.applies(model({**FINITE, "ccp_alpha": {"type": "float", "low": 0, "high": 0.1}}))
    assert not distinct.applies(model({"criterion": ["gini", "entropy"],
                                       "max_depth": {"type": "int", "low": 1, "high": 4,
                                                     "when": {"criterion": "gini"}}}))


@pytest.mark.parametrize("high", [8, 1_000_000])  # 16 points listed; 2 million points drawn, not listed
def test_a_sampler_stuck_on_one_point_still_gets_unseen_points(write_spec, high: int) -> None:
    import optuna

    from hpo_cli.search import distinct
    from hpo_cli.spec.load import load_spec

    space = {"max_depth": {"type": "int", "low": 1, "high": 2},
             "max_leaf_nodes": {"type": "int", "low": 2, "high": high + 1}}
    model = load_spec(write_spec(_spec(10, space))).models[0]
    stuck = optuna.samplers.PartialFixedSampler({"max_depth": 1, "max_leaf_nodes": 2},
                                                optuna.samplers.RandomSampler(seed=0))
    study = optuna.create_study(direction="maximize", sampler=distinct.distinct(stuck, model, 0))
    points = []
    for _ in range(16):
        trial = study.ask()
        points.append((trial.suggest_int("max_depth", 1, 2), trial.suggest_int("max_leaf_nodes", 2, high + 1)))
        study.tell(trial, 0.0)
    assert points[0] == (1, 2) and len(set(points)) == 16

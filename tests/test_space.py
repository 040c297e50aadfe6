"""Space: grid sizes and points (with `when:`), Optuna suggestions and the encoding of odd choices."""

from __future__ import annotations

import optuna
import pytest

from hpo_cli.problem import space
from hpo_cli.spec.models import ModelSpec


def model(space_: dict) -> ModelSpec:
    return ModelSpec.model_validate({"name": "m", "class": "LogisticRegression", "space": space_})


def test_grid_size_and_points_plain() -> None:
    m = model({"C": {"type": "categorical", "values": [0.1, 1, 10]},
               "n": {"type": "int", "low": 1, "high": 5, "step": 2},
               "f": {"type": "float", "low": 0.1, "high": 0.5, "step": 0.1}})
    assert space.grid_size(m) == 3 * 3 * 5
    points = space.grid_points(m)
    assert len(points) == 45
    assert {p["f"] for p in points} == {0.1, 0.2, 0.3, 0.4, 0.5}
    assert space.dimensions(m) == 3


def test_continuous_float_has_no_grid() -> None:
    m = model({"C": {"type": "float", "low": 1e-3, "high": 10, "log": True}})
    assert space.grid_size(m) is None
    with pytest.raises(ValueError, match="step"):
        space.grid_points(m)


def test_conditional_grid_has_no_duplicates() -> None:
    m = model({"gamma": {"type": "categorical", "values": [0.1, 1], "when": {"kernel": "rbf"}},
               "kernel": {"type": "categorical", "values": ["linear", "rbf"]},
               "degree": {"type": "categorical", "values": [2, 3], "when": {"kernel": ["poly"]}}})
    points = space.grid_points(m)
    assert points == [{"kernel": "linear"}, {"kernel": "rbf", "gamma": 0.1}, {"kernel": "rbf", "gamma": 1}]
    assert space.grid_size(m) == 3
    assert [n for n, _ in space.ordered_params(m)] == ["kernel", "gamma", "degree"]


def test_suggest_encodes_and_decodes_unstorable_choices() -> None:
    m = model({"hidden": {"type": "categorical", "values": [[50], [100, 50], None, {"a": 1}]},
               "flag": {"type": "categorical", "values": [1, True]},
               "alpha": {"type": "float", "low": 1e-4, "high": 1, "log": True},
               "k": {"type": "int", "low": 1, "high": 3},
               "x": {"type": "float", "low": 0.5, "high": 1.0, "when": {"flag": True}}})
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0), direction="maximize")
    seen = []
    for _ in range(30):
        trial = study.ask()
        params = space.suggest(trial, m)
        assert params["hidden"] in ([50], [100, 50], None, {"a": 1})
        assert params["flag"] in (1, True)
        assert ("x" in params) == (params["flag"] is True)
        assert space.decode_params(m, trial.params) == params
        seen.append(params["hidden"])
        study.tell(trial, 0.0)
    assert [50] in seen and None in seen


def test_enqueued_grid_point_roundtrips() -> None:
    m = model({"hidden": {"type": "categorical", "values": [[50], [100, 50]]},
               "f": {"type": "float", "low": 0.1, "high": 0.3, "step": 0.1}})
    study = optuna.create_study(direction="maximize")
    for point in space.grid_points(m):
        study.enqueue_trial(space.encode_params(m, point))
        trial = study.ask()
        assert space.suggest(trial, m) == point
        study.tell(trial, 1.0)

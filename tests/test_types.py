"""Values keep their types from the spec to the estimator, the run folder, ``hpo best`` and a resumed study."""

from __future__ import annotations

import shlex
from pathlib import Path

import pytest
import yaml

from hpo_cli.core.options import BestOptions
from hpo_cli.core.values import from_typed_json, plain, to_typed_json
from hpo_cli.report.best import export_best

SPEC = """\
name: weights
tracking: {mlflow: false}
data: {source: "sklearn:iris"}
models:
  - name: logreg
    class: LogisticRegression
    method: random
    cv: 2
    init_params: {max_iter: 200, class_weight: {0: 1, 2: 5}}
    budget: {trials: 2}
    space:
      class_weight: [{0: 1, 1: 3}, {0: 1, 1: 2}]
      C: {type: float, low: 0.1, high: 10, log: true}
"""
CHOICES = [{0: 1, 1: 3}, {0: 1, 1: 2}]


def test_typed_json_round_trip() -> None:
    import json

    value = {"cw": {0: 1, 1: 3}, "s": {"a": [1, {True: None, 2.5: "x"}]}, "l": [{None: 1}]}
    assert from_typed_json(json.loads(json.dumps(to_typed_json(value)))) == value
    assert plain({0: 1, (1, 2): 3}) == {0: 1, "[1, 2]": 3}


def _best(run_dir: Path, fmt: str, with_init: bool = False) -> dict:
    text = export_best(BestOptions(run_dir=run_dir, format=fmt, with_init=with_init))
    words = shlex.split(text)
    if fmt in ("env", "hydra"):
        return {k.removeprefix("model."): yaml.safe_load(v) for k, v in (w.split("=", 1) for w in words)}
    if fmt == "args":
        return {words[i].removeprefix("--"): yaml.safe_load(words[i + 1]) for i in range(0, len(words), 2)}
    return yaml.safe_load(text)


def test_integer_keys_survive_everywhere(tmp_path: Path, tune) -> None:
    from sklearn.datasets import load_iris
    from sklearn.linear_model import LogisticRegression

    spec = tmp_path / "spec.yaml"
    spec.write_text(SPEC, encoding="utf-8")
    run_dir = tune(spec).run_dir
    saved = yaml.safe_load((run_dir / "best_parameters.yaml").read_text())["models"]["logreg"]
    assert saved["params"]["class_weight"] in CHOICES and saved["init_params"]["class_weight"] == {0: 1, 2: 5}
    X, y = load_iris(return_X_y=True)
    LogisticRegression(**{**saved["init_params"], **saved["params"]}).fit(X, y)  # '0' keys would fail here

    for fmt in ("yaml", "env", "hydra", "args"):
        assert _best(run_dir, fmt)["class_weight"] in CHOICES, fmt
    assert _best(run_dir, "yaml", with_init=True)["max_iter"] == 200
    assert _best(run_dir, "json")["class_weight"] in [{"0": 1, "1": 3}, {"0": 1, "1": 2}]  # JSON's own rule

    # the best trial read back from the study on --resume (here: no new trial, every record from the storage)
    resumed = tune(spec, resume=True, trials=2)
    assert resumed.models[0].best.params["class_weight"] in CHOICES
    again = yaml.safe_load((run_dir / "best_parameters.yaml").read_text())["models"]["logreg"]
    assert again["params"] == saved["params"]


@pytest.mark.parametrize("value", [{1, 2}, __import__("datetime").date(2024, 1, 2)])
def test_a_value_json_cannot_carry_is_one_clear_exit_2(value, tmp_path: Path) -> None:
    from hpo_cli.core.errors import InputError

    (tmp_path / "best_parameters.yaml").write_text(yaml.dump(
        {"best_model": "m", "models": {"m": {"params": {"p": value}}}}), encoding="utf-8")
    with pytest.raises(InputError, match="--format json cannot carry"):
        export_best(BestOptions(run_dir=tmp_path, format="json"))

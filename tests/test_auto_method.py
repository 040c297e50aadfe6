"""``method: auto``: the method is chosen by the space and the trial budget only, before anything reads it.

Rules (``search.samplers.auto_method``): a finite space no larger than the budget is a grid (every point
once); anything else is TPE. The choice is made once the budget is final (``--trials`` counts), is what
run.json, the identity and ``hpo validate`` show, and never depends on which packages are installed.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from hpo_cli.core.options import TuneOptions

FINITE = {"max_depth": {"type": "int", "low": 1, "high": 4}, "criterion": ["gini", "entropy"]}  # 8 points
CONTINUOUS = {"ccp_alpha": {"type": "float", "low": 0.0, "high": 0.1}}


def _spec(tmp_path: Path, space: dict[str, Any], **model: Any) -> Path:
    import json

    path = tmp_path / "spec.yaml"
    path.write_text(json.dumps({
        "name": "auto", "data": {"source": "sklearn:iris"}, "tracking": {"mlflow": False},
        "models": [{"name": "tree", "class": "DecisionTreeClassifier", "method": "auto", "cv": 3, "space": space,
                    **model}],
    }))
    return path


@pytest.mark.parametrize(("space", "budget", "expected"), [
    (FINITE, 8, "grid"),  # the whole space fits the budget: every point once
    (FINITE, None, "grid"),  # no budget: 50 trials
    (FINITE, 7, "tpe"),  # one point more than the budget
    ({**FINITE, "min_samples_leaf": {"type": "int", "low": 1, "high": 10}}, None, "tpe"),  # 80 points > 50
    ({"max_depth": [2, 3], **CONTINUOUS}, 1000, "tpe"),  # a float range without step: no finite grid
    ({"ccp_alpha": {"type": "float", "low": 0.0, "high": 0.1, "step": 0.05}}, 3, "grid"),  # a float with a step
])
def test_auto_picks_by_space_and_budget(tmp_path: Path, space: dict[str, Any], budget: int | None,
                                        expected: str) -> None:
    from hpo_cli.search.plan import resolve_auto
    from hpo_cli.spec.load import load_spec

    spec = resolve_auto(load_spec(_spec(tmp_path, space, **({"budget": {"trials": budget}} if budget else {}))))
    assert spec.models[0].method == expected and spec.models[0]._auto_method


def test_explicit_methods_are_kept_and_other_models_untouched(tmp_path: Path) -> None:
    import json

    from hpo_cli.search.plan import resolve_auto
    from hpo_cli.spec.load import load_spec

    path = tmp_path / "spec.yaml"
    path.write_text(json.dumps({
        "name": "s", "data": {"source": "sklearn:iris"},
        "models": [{"name": m, "class": "DecisionTreeClassifier", "method": m, "space": FINITE}
                   for m in ("tpe", "random", "auto")],
    }))
    spec = resolve_auto(load_spec(path))
    assert [(m.method, m._auto_method) for m in spec.models] == [("tpe", False), ("random", False), ("grid", True)]


def test_trials_override_is_the_budget_auto_sees(tmp_path: Path) -> None:
    """``--trials 4`` makes the 8-point grid larger than the budget, so auto searches it with TPE instead."""
    from hpo_cli.spec.load import load_spec
    from hpo_cli.tune.prepare import apply_overrides

    path = _spec(tmp_path, FINITE)
    spec = load_spec(path)
    assert apply_overrides(spec, TuneOptions(spec=path)).models[0].method == "grid"
    assert apply_overrides(spec, TuneOptions(spec=path, trials=4)).models[0].method == "tpe"
    path = _spec(tmp_path, FINITE, method="random")
    assert apply_overrides(load_spec(path), TuneOptions(spec=path, method="auto")).models[0].method == "grid"


def test_auto_runs_the_chosen_method_and_records_it(tmp_path: Path) -> None:
    """An auto grid runs each of the 8 points once (not 50 TPE trials); run.json and validate say what ran."""
    import json

    from hpo_cli.checks.validate import validate_spec
    from hpo_cli.tune.run import run_tune

    path = _spec(tmp_path, FINITE)
    assert validate_spec(path).models[0].method == "grid (auto)"
    result = run_tune(TuneOptions(spec=path, output=tmp_path / "run", quiet=True), observers=[])
    trials = result.models[0].trials
    assert len(trials) == 8 and len({json.dumps(t.params, sort_keys=True) for t in trials}) == 8
    assert result.models[0].method == "grid"


def test_auto_tpe_at_a_small_budget_is_not_told_to_use_random(tmp_path: Path) -> None:
    """An explicit ``tpe`` below 10 trials per dimension is warned towards random search; a TPE that ``auto``
    chose for that budget is not (auto chose it from the measurements, section (f))."""
    from hpo_cli.checks.validate import validate_spec

    space = {"max_depth": {"type": "int", "low": 1, "high": 30}, "ccp_alpha": CONTINUOUS["ccp_alpha"]}
    warned = [[w.message for w in validate_spec(_spec(tmp_path, space, method=m, budget={"trials": 12})).warnings
               if "TPE with 2 dimensions" in w.message] for m in ("tpe", "auto")]
    assert [len(w) for w in warned] == [1, 0], warned

"""Two objectives (``objectives:``/``select:``): the Pareto front, the select rules, what validate refuses, outputs.

Real searches on breast_cancer (random search with fit_time, a grid with model_size); the front written in
trials.csv is checked against a non-dominated set computed here from the trials' own values, and against
Optuna's ``best_trials`` of the stored study (a third, independent implementation).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest
import yaml
from hostile_cli import run  # (exit code, stdout, stderr) of hpo ARGS, in-process

from hpo_cli.core.pareto import Objective, pareto_front, select_point, winner_across
from hpo_cli.core.results import COMPLETE, FAIL, TrialRecord

ROC_FIT = [{"metric": "roc_auc"}, {"metric": "fit_time"}]


def _model(name: str, cls: str, space: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"name": name, "class": cls, "cv": 3, "space": space, **extra}


FOREST = _model("forest", "RandomForestClassifier", {"n_estimators": {"type": "int", "low": 3, "high": 60},
                                                     "max_depth": {"type": "int", "low": 1, "high": 6}})
LOGREG = _model("logreg", "LogisticRegression", {"C": {"type": "float", "low": 1e-3, "high": 10, "log": True}},
                init_params={"max_iter": 300}, preprocess=["standard_scaler"])


def _non_dominated(points: dict[int, tuple[float, float]]) -> set[int]:
    """Trials no other trial dominates: (score to maximise, cost to minimise), written out here on purpose."""
    out = set()
    for n, (s, c) in points.items():
        dominated = any(s2 >= s and c2 <= c and (s2 > s or c2 < c) for m, (s2, c2) in points.items() if m != n)
        if not dominated:
            out.add(n)
    return out


def _knee(points: dict[int, tuple[float, float]]) -> int:
    """README's knee: min-max normalise over the front (1 = best), nearest to (1, 1), earlier trial on a tie."""
    s_lo, s_hi = min(s for s, _ in points.values()), max(s for s, _ in points.values())
    c_lo, c_hi = min(c for _, c in points.values()), max(c for _, c in points.values())

    def dist(n: int) -> float:
        s, c = points[n]
        ns = (s - s_lo) / (s_hi - s_lo) if s_hi > s_lo else 1.0
        nc = (c_hi - c) / (c_hi - c_lo) if c_hi > c_lo else 1.0
        return math.hypot(1 - ns, 1 - nc)

    return min(points, key=lambda n: (dist(n), n))


def test_a_random_search_writes_the_non_dominated_set_as_its_pareto_front(write_spec, tune, read_trials,
                                                                           tmp_path: Path) -> None:
    import optuna

    from hpo_cli.storage.backend import open_storage

    spec = write_spec({"name": "mo", "data": {"source": "sklearn:breast_cancer"},
                       "defaults": {"method": "random", "budget": {"trials": 12}, "objectives": ROC_FIT,
                                    "select": "knee"},
                       "models": [FOREST, LOGREG]})
    result = tune(spec)
    assert result.exit_code == 0
    rows = read_trials(result.run_dir)
    header = list(rows[0])
    assert header[:6] == ["model", "trial", "state", "rank_test_score", "pareto", "mean_test_score"]
    best = yaml.safe_load((result.run_dir / "best_parameters.yaml").read_text())
    assert best["objectives"] == [{"metric": "roc_auc", "direction": "maximize"},
                                  {"metric": "fit_time", "direction": "minimize"}]
    assert best["select"] == "knee"
    storage = open_storage(result.run_dir, None)
    fronts: dict[str, dict[int, tuple[float, float]]] = {}
    for name in ("forest", "logreg"):
        mine = [r for r in rows if r["model"] == name]
        assert len(mine) == 12 and {r["state"] for r in mine} == {"COMPLETE"}
        points = {int(r["trial"]): (float(r["mean_test_score"]), float(r["mean_fit_time"])) for r in mine}
        front = _non_dominated(points)
        assert {int(r["trial"]) for r in mine if r["pareto"] == "true"} == front, (name, points)
        assert {r["pareto"] for r in mine} <= {"true", "false"}
        study = optuna.load_study(study_name=f"mo.{name}", storage=storage)
        assert {t.number for t in study.best_trials} == front, (name, points)  # Optuna's front of what it was told
        chosen = _knee({n: points[n] for n in front})
        entry = best["models"][name]
        assert entry["mean_test_score"] == points[chosen][0], (name, chosen, entry, points)
        assert entry["objective_values"] == {"roc_auc": points[chosen][0], "fit_time": points[chosen][1]}
        assert entry["pareto_size"] == len(front)
        fronts[name] = {n: points[n] for n in front}
    # the run's winner: knee of the non-dominated points of the union of both fronts
    union = {(name, n): p for name, f in fronts.items() for n, p in f.items()}
    keyed = dict(enumerate(union))
    top = _non_dominated({k: union[keyed[k]] for k in keyed})
    knee = _knee({k: union[keyed[k]] for k in top})
    assert best["best_model"] == keyed[knee][0], (best, union)
    # hpo best prints the chosen point of the winner; the report has the Pareto table and plots
    code, out, err = run("best", str(result.run_dir), "--format", "json")
    assert code == 0, err
    winner = best["models"][best["best_model"]]
    assert yaml.safe_load(out) == winner["params"]
    code, out, err = run("report", str(result.run_dir), "--output", str(tmp_path / "report.md"))
    assert code == 0, err
    text = (tmp_path / "report.md").read_text()
    for name in ("forest", "logreg"):
        assert f"![Pareto front of {name}](" in text
        assert (result.run_dir / "plots" / f"pareto_{name}.png").stat().st_size > 1000
    assert text.count("Pareto front (roc_auc maximized, fit_time minimized)") == 2
    assert "| ✓  |" in text and "`select: knee`" in text, text
    assert "Pareto front (roc_auc" in (result.run_dir / "results.md").read_text()


def test_a_grid_with_model_size_runs_each_point_once_and_respects_the_limit(write_spec, tune, read_trials) -> None:
    tree = {"name": "tree", "class": "DecisionTreeClassifier", "cv": 3, "method": "grid",
            "objectives": [{"metric": "roc_auc"}, {"metric": "model_size"}], "select": {"max_model_size": 2500},
            "param_grid": {"max_depth": [1, 2, 3, 5, None], "min_samples_leaf": [1, 8]}}
    result = tune(write_spec({"name": "mog", "data": {"source": "sklearn:breast_cancer"}, "models": [tree]}))
    rows = read_trials(result.run_dir)
    assert len({(r["param_max_depth"], r["param_min_samples_leaf"]) for r in rows}) == len(rows) == 10
    sizes = {int(r["trial"]): float(r["mean_model_size"]) for r in rows}
    assert all(s > 0 for s in sizes.values())
    points = {n: (float(r["mean_test_score"]), sizes[n]) for n, r in ((int(r["trial"]), r) for r in rows)}
    front = _non_dominated(points)
    assert {int(r["trial"]) for r in rows if r["pareto"] == "true"} == front
    feasible = [n for n in front if points[n][1] <= 2500]
    assert feasible  # depth 1 and 2 trees pickle well below 2.5 kB
    chosen = max(feasible, key=lambda n: (points[n][0], -points[n][1], -n))
    entry = yaml.safe_load((result.run_dir / "best_parameters.yaml").read_text())["models"]["tree"]
    assert entry["mean_test_score"] == points[chosen][0] and entry["objective_values"]["model_size"] <= 2500
    assert "select_met" not in entry


def _rec(n: int, score: float, cost: float, state: str = COMPLETE) -> TrialRecord:
    return TrialRecord("m", n, state, {}, mean_test_score=score, mean_fit_time=cost)


OBJ = [Objective("roc_auc", "maximize"), Objective("fit_time", "minimize")]


def test_select_rules_pick_the_documented_points() -> None:
    records = [_rec(0, 0.90, 0.01), _rec(1, 0.95, 0.05), _rec(2, 0.97, 0.50), _rec(3, 0.94, 0.06),
               _rec(4, 0.99, 9.9, FAIL), _rec(5, 0.90, 0.01)]
    front = pareto_front(records, OBJ)
    assert [r.number for r in front] == [0, 1, 2, 5]  # 3 is dominated by 1, FAIL never counts, equal points both
    assert select_point(front, OBJ, "best_first") == (records[2], True)
    # normalised: 0 -> (0, 1), 1 -> (5/7, 0.918), 2 -> (1, 0): 1 is nearest to the utopia (1, 1)
    assert select_point(front, OBJ, "knee") == (records[1], True)
    assert select_point(front, OBJ, {"max_fit_time": 0.1}) == (records[1], True)
    assert select_point(front, OBJ, {"max_fit_time": 0.001}) == (records[0], False)  # lowest cost, not met
    other = [TrialRecord("n", 0, COMPLETE, {}, mean_test_score=0.96, mean_fit_time=0.02)]
    fronts = [("m", front), ("n", pareto_front(other, OBJ))]
    assert winner_across(fronts, OBJ, "best_first") == "m"
    assert winner_across(fronts, OBJ, "knee") == "n"  # it dominates m's trial 1
    assert winner_across(fronts, OBJ, {"max_fit_time": 0.03}) == "n"


SPEC_HEAD = """name: bad
data: {source: "sklearn:breast_cancer"}
models:
  - name: m
    class: DecisionTreeClassifier
    space: {max_depth: {type: int, low: 1, high: 5}}
"""


@pytest.mark.parametrize(("extra", "line", "path", "fragment"), [
    ("    objectives: [{metric: roc_auc}, {metric: fit_time}]\n    pruner: median\n", 8, "models[0].pruner",
     "Optuna cannot prune a multi-objective trial"),
    ("    objectives: [{metric: roc_auc}, {metric: fit_time}]\n    budget: {target: 0.99}\n", 8,
     "models[0].budget.target", "a target is refused with two objectives"),
    ("    objectives: [{metric: roc_auc}, {metric: fit_time}]\n    confirm: {top: 2}\n", 8, "models[0].confirm",
     "confirm is refused with two objectives"),
    ("    objectives: [{metric: roc_auc}, {metric: fit_time}]\n    method: cmaes\n", 8, "models[0].method",
     "cmaes is single-objective"),
    ("    objectives: [{metric: roc_auc}, {metric: fit_tme}]\n", 7, "models[0].objectives[1].metric",
     "neither a scikit-learn scorer nor a cost hpo records; did you mean 'fit_time'?"),
    ("    objectives: [{metric: roc_auc}]\n", 7, "models[0].objectives", "exactly 2 objectives are supported"),
    ("    objectives: [{metric: a}, {metric: b}, {metric: c}]\n", 7, "models[0].objectives", "got 3"),
    ("    objectives: [{metric: fit_time}, {metric: roc_auc}]\n", 7, "models[0].objectives",
     "the first objective must be a scikit-learn scorer"),
    ("    objectives: [{metric: roc_auc, direction: minimize}, {metric: fit_time}]\n", 7,
     "models[0].objectives[0]", "its direction is maximize"),
    ("    objectives: [{metric: roc_auc}, {metric: fit_time}]\n    select: kne\n", 8, "models[0].select",
     "did you mean 'knee'?"),
    ("    objectives: [{metric: roc_auc}, {metric: fit_time}]\n    select: {max_fit_time: fast}\n", 8,
     "models[0].select", "max_fit_time must be a duration"),
    ("    objectives: [{metric: roc_auc}, {metric: f1}]\n    select: {max_fit_time: 1s}\n", 8, "models[0].select",
     "the second objective is 'f1'"),
    ("    select: knee\n", 7, "models[0].select", "needs two `objectives:`"),
    ("    metric: accuracy\n    objectives: [{metric: roc_auc}, {metric: fit_time}]\n", 7, "models[0].metric",
     "differs from the first objective 'roc_auc'"),
])
def test_validate_refuses_with_a_located_reason(extra: str, line: int, path: str, fragment: str,
                                                tmp_path: Path) -> None:
    spec = tmp_path / "bad.yaml"
    spec.write_text(SPEC_HEAD + extra)
    for command in (["validate", "bad.yaml"], ["tune", "bad.yaml", "--no-mlflow", "--output", "out"]):
        code, out, err = run(*command, cwd=tmp_path)
        assert code == 2, out + err
        first = next(ln for ln in err.splitlines() if ln.startswith("bad.yaml:"))
        assert first.startswith(f"bad.yaml:{line}:") and f": {path}: " in first, first
        assert fragment in err, err
        assert "Traceback" not in err
    assert not (tmp_path / "out").exists()


def test_a_binary_scorer_as_second_objective_on_a_multiclass_target_is_refused(tmp_path: Path) -> None:
    (tmp_path / "bad.yaml").write_text(SPEC_HEAD.replace("breast_cancer", "wine")
                                       + "    objectives: [{metric: accuracy}, {metric: f1}]\n")
    code, _, err = run("validate", "bad.yaml", cwd=tmp_path)
    assert code == 2 and "bad.yaml:7:" in err and "models[0].objectives[1].metric: scorer 'f1' cannot score" in err, err


def test_spec_forms_string_select_defaults_metric_and_a_grid_is_accepted(tmp_path: Path) -> None:
    from hpo_cli.spec.load import load_spec

    spec = tmp_path / "ok.yaml"
    spec.write_text("""name: ok
data: {source: "sklearn:breast_cancer"}
defaults: {metric: accuracy}
models:
  - name: m
    class: DecisionTreeClassifier
    method: grid
    objectives: [{metric: roc_auc}, {metric: fit_time}]
    select: "max_fit_time: 0.1s"
    space: {max_depth: [1, 2]}
""")
    model = load_spec(spec).models[0]
    assert model.metric == "roc_auc"  # the model's own objectives win over a default metric
    assert model.select == {"max_fit_time": 0.1}
    assert [o.direction for o in model.objectives or []] == ["maximize", "minimize"]
    code, out, err = run("validate", "ok.yaml", cwd=tmp_path)
    assert code == 0, out + err
    # `pruner: auto` chooses no pruner for two objectives (nothing can prune them); `method: auto` is tpe/grid
    spec.write_text(spec.read_text().replace("method: grid", "method: auto\n    pruner: auto"))
    code, out, err = run("validate", "ok.yaml", cwd=tmp_path)
    assert code == 0, out + err


def test_two_workers_share_a_two_objective_study(write_spec, tune, read_trials) -> None:
    spec = write_spec({"name": "mow", "data": {"source": "sklearn:breast_cancer"},
                       "models": [{**LOGREG, "method": "tpe", "budget": {"trials": 8}, "objectives": ROC_FIT}]})
    result = tune(spec, workers=2)
    rows = read_trials(result.run_dir)
    assert len(rows) == 8 and {r["state"] for r in rows} == {"COMPLETE"}
    points = {int(r["trial"]): (float(r["mean_test_score"]), float(r["mean_fit_time"])) for r in rows}
    assert {int(r["trial"]) for r in rows if r["pareto"] == "true"} == _non_dominated(points)


def test_mlflow_children_log_both_values_and_the_parent_the_chosen_point(tmp_path: Path) -> None:
    import sys

    sys.path.insert(0, str(Path(__file__).parent))
    from test_tracking import assert_exactly_once, tree
    from test_tracking import tune as tune_cli
    from test_tracking import write_spec as write

    spec = write(tmp_path, {"name": "mo-track", "data": {"source": "sklearn:breast_cancer"},
                            "models": [{**LOGREG, "method": "random", "budget": {"trials": 6}, "objectives": ROC_FIT,
                                        "select": {"max_fit_time": "10s"}}], "output": "run"})
    done = tune_cli(tmp_path, str(spec), "-q")
    assert done.returncode == 0, done.stderr
    rows = {int(r["trial"]): r for r in _rows(tmp_path / "run")}
    _, parents, children = tree(f"sqlite:///{tmp_path / 'mlflow.db'}", "mo-track")
    assert_exactly_once(parents, children, list(rows.values()))
    for child in children["logreg"]:
        row = rows[int(child.data.tags["hpo.trial"])]
        assert child.data.metrics["mean_test_score"] == float(row["mean_test_score"])
        assert child.data.metrics["mean_fit_time"] == float(row["mean_fit_time"])
    parent = parents["logreg"]
    front = _non_dominated({n: (float(r["mean_test_score"]), float(r["mean_fit_time"])) for n, r in rows.items()})
    chosen = max(front, key=lambda n: (float(rows[n]["mean_test_score"]), -float(rows[n]["mean_fit_time"]), -n))
    assert parent.data.metrics["best_trial"] == chosen and parent.data.metrics["pareto_size"] == len(front)
    assert parent.data.tags["hpo.select"] == "max_fit_time: 10"
    assert parent.data.tags["hpo.objectives"] == "roc_auc (maximize), fit_time (minimize)"


def _rows(run_dir: Path) -> list[dict[str, str]]:
    import csv

    with (run_dir / "trials.csv").open(newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))

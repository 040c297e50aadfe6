"""The search: determinism, resume, fresh runs, failures, budgets, conditional grids, observers."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from hpo_cli.core.errors import InputError
from hpo_cli.core.results import TrialRecord

TREE_SPACE = {
    "max_depth": {"type": "int", "low": 1, "high": 8},
    "min_impurity_decrease": {"type": "float", "low": 0.0, "high": 0.05},
    "criterion": ["gini", "entropy"],
}


def _tree_spec(method: str, trials: int, **model: Any) -> dict[str, Any]:
    return {"data": {"source": "sklearn:iris"},
            "models": [{"name": "tree", "class": "DecisionTreeClassifier", "method": method, "space": TREE_SPACE,
                        "budget": {"trials": trials}, "cv": 3, **model}]}


def _without_times(rows: list[dict[str, str]]) -> list[dict[str, str]]:
    return [{k: v for k, v in r.items() if k != "mean_fit_time"} for r in rows]


@pytest.mark.parametrize("method", ["tpe", "random"])
def test_same_spec_and_seed_give_identical_trials(method: str, tmp_path: Path, write_spec, tune,
                                                  read_trials) -> None:
    spec = write_spec(_tree_spec(method, 14, startup_trials=5))
    first = tune(spec, output=tmp_path / "a")
    second = tune(spec, output=tmp_path / "b")
    rows_a, rows_b = read_trials(first.run_dir), read_trials(second.run_dir)
    assert len(rows_a) == 14
    assert _without_times(rows_a) == _without_times(rows_b)
    assert (first.run_dir / "best_parameters.yaml").read_text() == (second.run_dir / "best_parameters.yaml").read_text()
    third = tune(spec, output=tmp_path / "c", seed=1)
    assert _without_times(read_trials(third.run_dir)) != _without_times(rows_a)


def _grid_spec() -> dict[str, Any]:
    return {"data": {"source": "sklearn:iris"},
            "models": [{"name": "knn", "class": "KNeighborsClassifier", "method": "grid", "cv": 3,
                        "param_grid": {"n_neighbors": [1, 3, 5, 7], "weights": ["uniform", "distance"],
                                       "p": [1, 2]}}]}


def test_grid_resume_finishes_budget_without_repeats(write_spec, tune, read_trials) -> None:
    spec = write_spec(_grid_spec())
    partial = tune(spec, trials=5)
    assert len(partial.models[0].trials) == 5
    first_rows = read_trials(partial.run_dir)
    resumed = tune(spec, resume=True)
    rows = read_trials(resumed.run_dir)
    assert len(rows) == 16
    points = {(r["param_n_neighbors"], r["param_weights"], r["param_p"]) for r in rows}
    assert len(points) == 16
    unranked = [{k: v for k, v in r.items() if k != "rank_test_score"} for r in _without_times(rows[:5])]
    assert unranked == [{k: v for k, v in r.items() if k != "rank_test_score"} for r in _without_times(first_rows)]
    again = tune(spec, resume=True)  # budget spent: nothing more runs
    assert len(read_trials(again.run_dir)) == 16 and again.models[0].stop_reason in ("budget", "grid exhausted")


def test_grid_budget_below_size_is_a_seeded_sample(write_spec, tune, read_trials) -> None:
    spec = write_spec(_grid_spec())
    rows = read_trials(tune(spec, trials=6).run_dir)
    points = [(r["param_n_neighbors"], r["param_weights"], r["param_p"]) for r in rows]
    assert len(set(points)) == 6
    assert points == [(r["param_n_neighbors"], r["param_weights"], r["param_p"])
                      for r in read_trials(tune(spec, trials=6, fresh=True).run_dir)]


def test_random_resume_does_not_replay_and_fresh_run_starts_over(write_spec, tune, read_trials) -> None:
    spec = write_spec(_tree_spec("random", 10))
    tune(spec, trials=4)
    rows = read_trials(tune(spec, resume=True).run_dir)
    assert [r["trial"] for r in rows] == [str(i) for i in range(10)]
    assert len({(r["param_max_depth"], r["param_min_impurity_decrease"]) for r in rows}) == 10
    fresh = tune(spec, trials=3, fresh=True)  # --fresh: the model's study starts over
    assert [r["trial"] for r in read_trials(fresh.run_dir)] == ["0", "1", "2"]


def test_invalid_combinations_fail_and_search_goes_on(write_spec, tune, read_trials) -> None:
    spec = write_spec({"data": {"source": "sklearn:breast_cancer"},
                       "models": [{"name": "lr", "class": "LogisticRegression", "method": "grid", "cv": 3,
                                   "init_params": {"max_iter": 500}, "preprocess": ["standard_scaler"],
                                   "param_grid": {"penalty": ["l1", "l2"], "solver": ["lbfgs", "liblinear"]}}]})
    result = tune(spec)
    assert result.exit_code == 0
    rows = {(r["param_penalty"], r["param_solver"]): r for r in read_trials(result.run_dir)}
    bad = rows[("l1", "lbfgs")]
    assert bad["state"] == "FAIL" and bad["rank_test_score"] == "" and bad["mean_test_score"] == ""
    assert bad["error"].startswith("ValueError: Solver lbfgs supports only 'l2' or None penalties")
    assert sum(r["state"] == "COMPLETE" for r in rows.values()) == 3
    assert all(t.n_warnings > 0 for t in result.models[0].trials)  # sklearn 1.8+ deprecates `penalty`


def test_all_failing_model_makes_the_run_fail_but_others_run(write_spec, tune) -> None:
    spec = write_spec({"data": {"source": "sklearn:iris"}, "defaults": {"cv": 3},
                       "models": [{"name": "broken", "class": "LogisticRegression", "method": "grid",
                                   "param_grid": {"penalty": ["l1"], "solver": ["lbfgs", "newton-cg"]}},
                                  {"name": "ok", "class": "DummyClassifier", "method": "random",
                                   "budget": {"trials": 2}, "space": {"strategy": ["prior", "uniform"]}}]})
    result = tune(spec)
    assert result.exit_code == 1 and result.failed_models == ["broken"]
    assert any("broken: all 2 trials failed" in w and "Solver lbfgs" in w for w in result.warnings)
    assert [m.name for m in result.models] == ["broken", "ok"] and result.best_model == "ok"


def test_budgets_target_max_failed_and_timeout(write_spec, tune) -> None:
    spec = write_spec(_tree_spec("random", 30, budget={"trials": 30, "target": 0.5}))
    assert len(tune(spec).models[0].trials) == 1  # the first trial already beats 0.5
    failing = write_spec({"data": {"source": "sklearn:iris"},
                          "models": [{"name": "lr", "class": "LogisticRegression", "method": "random", "cv": 3,
                                      "budget": {"trials": 20, "max_failed": 2},
                                      "space": {"penalty": ["l1"], "C": {"type": "float", "low": 0.1, "high": 1}}}]},
                         name="failing")
    result = tune(failing)
    assert len(result.models[0].trials) == 2 and result.models[0].stop_reason == "max_failed"
    slow = tune(spec, timeout=0.0001, fresh=True)
    assert len(slow.models[0].trials) <= 1


def test_conditional_grid_and_pruning(write_spec, tune, read_trials) -> None:
    spec = write_spec({"data": {"source": "sklearn:iris"},
                       "models": [{"name": "svc", "class": "SVC", "method": "grid", "cv": 3,
                                   "param_grid": {"kernel": ["linear", "rbf"],
                                                  "gamma": {"type": "categorical", "values": [0.1, 1.0],
                                                            "when": {"kernel": "rbf"}},
                                                  "C": [0.1, 1.0]}},
                                  {"name": "tree", "class": "DecisionTreeClassifier", "method": "tpe",
                                   "space": TREE_SPACE, "budget": {"trials": 25}, "pruner": "median",
                                   "cv": {"folds": 5}}]})
    result = tune(spec)
    rows = [r for r in read_trials(result.run_dir) if r["model"] == "svc"]
    assert len(rows) == 6
    assert {r["param_gamma"] for r in rows if r["param_kernel"] == "linear"} == {""}
    states = {t.state for t in result.models[1].trials}
    assert states <= {"COMPLETE", "PRUNED"} and len(result.models[1].trials) == 25


class _Exploding:
    def __init__(self) -> None:
        self.seen: list[int] = []

    def trial_finished(self, record: TrialRecord) -> None:
        self.seen.append(record.number)
        raise RuntimeError("observer bug")


def test_observer_errors_never_stop_the_search(write_spec, tmp_path: Path) -> None:
    from hpo_cli.core.options import TuneOptions
    from hpo_cli.tune.run import run_tune

    observer = _Exploding()
    spec = write_spec(_tree_spec("random", 3))
    result = run_tune(TuneOptions(spec=spec, output=tmp_path / "r", mlflow=False), observers=[observer])
    assert observer.seen == [0, 1, 2] and len(result.models[0].trials) == 3
    assert sum("observer bug" in w for w in result.warnings) == 1


def test_model_filter_keeps_other_models_from_storage(write_spec, tune, read_trials) -> None:
    spec = write_spec({"data": {"source": "sklearn:iris"}, "defaults": {"cv": 3, "method": "random",
                                                                        "budget": {"trials": 2}},
                       "models": [{"name": "a", "class": "DummyClassifier", "space": {"strategy": ["prior"]}},
                                  {"name": "b", "class": "KNeighborsClassifier",
                                   "space": {"n_neighbors": {"type": "int", "low": 1, "high": 9}}}]})
    tune(spec)
    result = tune(spec, models=["b"], trials=3, fresh=True)
    rows = read_trials(result.run_dir)
    assert [r["model"] for r in rows] == ["a", "a", "b", "b", "b"]
    assert [m.name for m in result.models] == ["b"]
    best = (result.run_dir / "best_parameters.yaml").read_text()
    assert "  a:" in best and "  b:" in best
    assert json.loads((result.run_dir / "run.json").read_text())["models"]["a"]["stop_reason"] == "earlier run"
    with pytest.raises(InputError, match="no model named 'c'|no such model"):
        tune(spec, models=["c"])


def test_unsupported_sampler_space_is_input_error(write_spec, tune) -> None:
    spec = write_spec(_tree_spec("qmc", 3))
    with pytest.raises(InputError, match="qmc samples numeric ranges only"):
        tune(spec)
    with pytest.raises(InputError, match="continuous"):
        tune(spec, method="grid")
    assert not (spec.parent / "run").exists()


def test_interrupted_fresh_run_never_shows_or_resumes_the_previous_runs_trials(write_spec, tune, read_trials):
    """A fresh run drops every selected model's old study up front, not when the model's turn comes:
    interrupted during the first model, the run folder must not list the old run's second model."""
    import os
    import signal

    from hpo_cli.core.errors import Interrupted

    def spec(depths: list[int]) -> dict[str, Any]:
        return {"data": {"source": "sklearn:iris"}, "models": [
            {"name": "knn", "class": "KNeighborsClassifier", "method": "grid", "cv": 3,
             "space": {"n_neighbors": [1, 3, 5, 7, 9, 11]}},
            {"name": "tree", "class": "DecisionTreeClassifier", "method": "grid", "cv": 3,
             "space": {"max_depth": depths}}]}

    tune(write_spec(spec([2, 3, 4])))

    class StopAfterFirstTrial:
        def trial_finished(self, record: TrialRecord) -> None:
            os.kill(os.getpid(), signal.SIGINT)  # the search's handler: finish this trial, save, exit 130

    from hpo_cli.core.options import TuneOptions
    from hpo_cli.tune.run import run_tune

    path = write_spec(spec([6, 7]))
    run_dir = path.parent / "run"
    with pytest.raises(Interrupted):
        run_tune(TuneOptions(spec=path, output=run_dir, mlflow=False, quiet=True, fresh=True),
                 observers=[StopAfterFirstTrial()])
    rows = read_trials(run_dir)
    assert {r["model"] for r in rows} == {"knn"} and len(rows) == 1
    resumed = read_trials(tune(path, resume=True).run_dir)
    assert sorted(r["param_max_depth"] for r in resumed if r["model"] == "tree") == ["6", "7"]


def test_resume_after_editing_the_space_is_bad_input_not_a_traceback(write_spec, tune, read_trials) -> None:
    spec = _tree_spec("random", 6)
    path = write_spec(spec)
    tune(path, trials=2)
    spec["models"][0]["space"] = {**TREE_SPACE, "criterion": ["gini", "entropy", "log_loss"]}
    write_spec(spec)
    with pytest.raises(InputError, match=r"its 2 stored trial\(s\) were scored for; changed: space\.criterion"):
        tune(path, resume=True)
    assert len(read_trials(path.parent / "run")) == 2  # the stored trials are intact
    tune(path, fresh=True)  # --fresh: the model starts over with the new space


def test_the_trial_loop_does_not_scan_every_trial_per_trial(write_spec, tune, monkeypatch) -> None:
    """Optuna's ``ask`` filters every stored trial for a WAITING one (optuna#5948): O(n) per trial, the one
    per-trial cost that grew with a 2,000-trial soak (bench_soak.py). The one-process loop looks once."""
    import optuna
    from optuna.trial import TrialState

    looks: list[int] = []
    real = optuna.storages.JournalStorage.get_all_trials

    def counted(self: Any, study_id: int, deepcopy: bool = True, states: Any = None) -> Any:
        if states is not None and TrialState.WAITING in states:
            looks.append(study_id)
        return real(self, study_id, deepcopy, states)

    monkeypatch.setattr(optuna.storages.JournalStorage, "get_all_trials", counted)  # counts; the storage works
    result = tune(write_spec(_tree_spec("tpe", 25, startup_trials=5)))
    assert len(result.models[0].trials) == 25
    assert len(looks) <= 2, f"{len(looks)} looks for WAITING trials in a 25-trial search"


def test_the_loop_still_takes_queued_trials_first(tmp_path: Path) -> None:
    """Queued (WAITING) trials, e.g. a killed ``--workers`` run's tickets, are taken before new ones are created."""
    import optuna
    from optuna.trial import TrialState

    from hpo_cli.search.queue import Asker

    storage = optuna.storages.JournalStorage(optuna.storages.journal.JournalFileBackend(str(tmp_path / "j")))
    study = optuna.create_study(storage=storage, study_name="s", direction="maximize")
    study.enqueue_trial({"x": 7})
    ask = Asker(study)
    first = ask()
    assert (first.number, first.suggest_int("x", 0, 9)) == (0, 7)
    study.tell(first, 1.0)
    second = ask()
    assert second.number == 1
    assert storage.get_trial(second._trial_id).state == TrialState.RUNNING
    study.tell(second, float(second.suggest_int("x", 0, 9)))
    assert [t.state for t in study.get_trials()] == [TrialState.COMPLETE, TrialState.COMPLETE]


def test_tpe_models_at_least_two_good_trials_after_its_start_up(write_spec) -> None:
    """After 10 start-up trials Optuna's rule (ceil 10 %) models the single best trial; hpo's TPE models at
    least two (``samplers.good_trials``, measured in bench/RESULTS.md (f)). Trials at 0.05 (best) and 0.95
    (second): with two in the good density the next proposal often lands by the second; with one, never."""
    import optuna
    from optuna.distributions import FloatDistribution
    from optuna.trial import create_trial

    from hpo_cli.search.samplers import good_trials, make_sampler
    from hpo_cli.spec.load import load_spec

    assert [good_trials(n) for n in (1, 10, 11, 20, 21, 100, 1000)] == [2, 2, 2, 2, 3, 10, 25]
    model = load_spec(write_spec({
        "data": {"source": "sklearn:iris"},
        "models": [{"name": "m", "class": "LogisticRegression", "method": "tpe", "budget": {"trials": 50},
                    "space": {"C": {"type": "float", "low": 0.0001, "high": 1.0}}}]})).models[0]
    xs = [0.05, 0.95, 0.3, 0.35, 0.4, 0.45, 0.5, 0.55, 0.6, 0.65]
    scores = [1.0, 0.9] + [0.1] * 8
    dist = {"C": FloatDistribution(0.0001, 1.0)}

    def near_second(sampler_for: Any) -> int:
        near = 0
        for seed in range(20):
            study = optuna.create_study(direction="maximize", sampler=sampler_for(seed))
            for x, score in zip(xs, scores, strict=True):
                study.add_trial(create_trial(params={"C": x}, distributions=dist, value=score))
            near += study.ask(dist).params["C"] > 0.8
        return near

    optuna.logging.set_verbosity(optuna.logging.ERROR)
    assert near_second(lambda seed: make_sampler(model, "tpe", seed, 50)) >= 10
    assert near_second(lambda seed: optuna.samplers.TPESampler(seed=seed, multivariate=True,
                                                               n_startup_trials=10)) == 0

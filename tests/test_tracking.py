"""MLflow tracking end to end: the real ``hpo tune`` against a real ``mlflow server`` and the local default store.

Everything is checked through ``MlflowClient``, the way a user's UI sees it: one parent per model,
one child per trial (exactly once, also after ``--resume`` and after the server died mid-run),
metrics equal to ``trials.csv``, the artifacts, and a logged model that loads and predicts.
"""

from __future__ import annotations

import collections
import csv
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).parent))
from mlflow_server import MlflowServer, free_port  # noqa: E402

from hpo_cli.core.options import TuneOptions  # noqa: E402
from hpo_cli.core.results import COMPLETE, FAIL, PRUNED, TrialRecord  # noqa: E402
from hpo_cli.tracking.names import ChildCap  # noqa: E402
from hpo_cli.tracking.setup import mlflow_default_uri, resolve_tracking_uri, sqlite_file  # noqa: E402

HPO = [sys.executable, "-m", "hpo_cli"]
SLOW_MODULE = '''
import time
from sklearn.dummy import DummyClassifier


class SlowClassifier(DummyClassifier):
    """A dummy that takes its time, so a test can kill the tracking server between trials."""

    def __init__(self, strategy="prior", delay=0.1):
        super().__init__(strategy=strategy)
        self.delay = delay

    def fit(self, X, y, sample_weight=None):
        time.sleep(self.delay)
        return super().fit(X, y, sample_weight)
'''


def _env(cwd: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_")}
    env["PYTHONPATH"] = os.pathsep.join([str(cwd), env.get("PYTHONPATH", "")])
    env.update(extra)
    return env


def tune(cwd: Path, *args: str, timeout: float = 180, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*HPO, "tune", *args], cwd=cwd, env=_env(cwd, **env), capture_output=True, text=True,
                          timeout=timeout)


def write_spec(folder: Path, spec: dict[str, Any], name: str = "spec") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.yaml"
    path.write_text(json.dumps(spec, indent=1), encoding="utf-8")
    return path


def iris_spec(folder: Path, trials: int = 4, **tracking: Any) -> Path:
    return write_spec(folder, {
        "name": "iris-track",
        "data": {"source": "sklearn:iris", "test_size": 0.2},
        "defaults": {"cv": 3, "metrics": ["f1_macro"], "budget": {"trials": trials}, "method": "random"},
        "models": [
            {"name": "logreg", "class": "LogisticRegression", "init_params": {"max_iter": 300},
             "space": {"C": {"type": "float", "low": 0.01, "high": 10, "log": True},
                       "penalty": ["l2", "l1"]}},  # l1 fails with the default lbfgs solver: FAILED children
            {"name": "tree", "class": "DecisionTreeClassifier", "space": {"max_depth": [1, 2, 3, 4, 5, 6]}},
        ],
        "tracking": {"mlflow": tracking or True},
        "output": "run",
    })


def read_trials(run_dir: Path) -> list[dict[str, str]]:
    with open(run_dir / "trials.csv", newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def tree(uri: str, experiment: str) -> tuple[Any, dict[str, Any], dict[str, list[Any]]]:
    """(client, parent run per model name, children per model name) as the MLflow server has them."""
    from mlflow import MlflowClient

    client = MlflowClient(uri)
    exp = client.get_experiment_by_name(experiment)
    assert exp is not None
    runs = client.search_runs([exp.experiment_id], max_results=5000)
    parents = {r.info.run_name: r for r in runs if r.data.tags.get("hpo.role") == "model"}
    children: dict[str, list[Any]] = collections.defaultdict(list)
    by_id = {p.info.run_id: name for name, p in parents.items()}
    for r in runs:
        parent = r.data.tags.get("mlflow.parentRunId")
        if parent:
            children[by_id.get(parent, "?")].append(r)
    return client, parents, children


def assert_exactly_once(parents: dict[str, Any], children: dict[str, list[Any]], rows: list[dict[str, str]]) -> None:
    """One parent per model, one child per trial of trials.csv, named ``<model> #<trial>``."""
    models = sorted({r["model"] for r in rows})
    assert sorted(parents) == models
    assert "?" not in children
    for model in models:
        expected = sorted(int(r["trial"]) for r in rows if r["model"] == model)
        numbers = sorted(int(c.data.tags["hpo.trial"]) for c in children[model])
        assert numbers == expected, f"{model}: children {numbers} != trials {expected}"
        assert {c.info.run_name for c in children[model]} == {f"{model} #{n}" for n in expected}


@pytest.fixture(scope="module")
def server(mlflow_server: MlflowServer) -> MlflowServer:
    return mlflow_server  # the session's server (conftest), shared with test_secrets


def test_tune_against_a_server_then_resume(server: MlflowServer, tmp_path: Path) -> None:
    import mlflow

    spec = iris_spec(tmp_path, trials=5, register="iris-srv")
    done = tune(tmp_path, str(spec), "--tracking-uri", server.uri, "-q")
    assert done.returncode == 0, done.stderr
    run_dir = tmp_path / "run"
    rows = read_trials(run_dir)
    client, parents, children = tree(server.uri, "iris-track")
    assert_exactly_once(parents, children, rows)
    run_json = json.loads((run_dir / "run.json").read_text())
    assert run_json["mlflow_run_ids"] == {name: p.info.run_id for name, p in parents.items()}

    assert any(r["state"] == FAIL for r in rows)  # penalty l1 with lbfgs: a FAILED child below
    for row in rows:  # metrics are trials.csv's numbers
        child = next(c for c in children[row["model"]] if c.data.tags["hpo.trial"] == row["trial"])
        status = {COMPLETE: "FINISHED", FAIL: "FAILED", PRUNED: "KILLED"}[row["state"]]
        assert child.info.status == status and child.data.tags["hpo.state"] == row["state"]
        if row["state"] == FAIL:
            assert child.data.tags["hpo.error"]
            continue
        for key in ["mean_test_score", "std_test_score", "split0_test_score", "split2_test_score",
                    "mean_test_f1_macro"]:
            assert child.data.metrics[key] == pytest.approx(float(row[key]), rel=1e-9, abs=1e-12), key
        for key, value in row.items():
            if key.startswith("param_") and value != "":
                assert child.data.params[key.removeprefix("param_")] == value or \
                    float(child.data.params[key.removeprefix("param_")]) == pytest.approx(float(value))

    for name, parent in parents.items():
        tags = parent.data.tags
        assert parent.info.status == "FINISHED"
        # paths as the report shows them (relative to the current folder here), never the machine's own
        assert (tags["mlflow.source.name"], tags["hpo.run_dir"]) == (spec.name, "run")
        assert not [v for v in tags.values() if str(tmp_path) in v or str(Path.home()) + "/" in v]
        assert tags["hpo.spec_sha256"] == run_json["spec"]["sha256"]
        assert tags["hpo.data_sha256"] == run_json["data"]["sha256"]
        assert tags["hpo.method"] == "random" and tags["hpo.study_name"] == f"iris-track.{name}"
        assert "hpo.version.mlflow" in tags and "test_score" in parent.data.metrics
        assert "best_mean_test_score" in parent.data.metrics
        artifacts = {a.path for a in client.list_artifacts(parent.info.run_id)}
        assert {"spec.yaml", "trials.csv", "results.md", "best_parameters.yaml", "confusion_matrix.svg",
                "classification_report.txt"} <= artifacts
        mlflow.set_tracking_uri(server.uri)
        model = mlflow.pyfunc.load_model(tags["hpo.model_uri"])
        from sklearn.datasets import load_iris

        X = load_iris(as_frame=True).data.head(4)
        assert len(model.predict(X)) == 4

    # the best models are logged models of this experiment (through the server), the winner's registered
    experiment_id = next(iter(parents.values())).info.experiment_id
    logged = client.search_logged_models(experiment_ids=[experiment_id])
    assert sorted(m.source_run_id for m in logged) == sorted(p.info.run_id for p in parents.values())
    assert all(p.data.tags["mlflow.note.content"].count(f"## {n}") == 1 for n, p in parents.items())
    assert len(client.search_model_versions("name = 'iris-srv'")) == 1

    # --resume: same parents, only the new trials logged, never a duplicate
    more = tune(tmp_path, str(spec), "--tracking-uri", server.uri, "--resume", "--trials", "8", "-q")
    assert more.returncode == 0, more.stderr
    rows = read_trials(run_dir)
    assert len(rows) == 16
    _, parents2, children2 = tree(server.uri, "iris-track")
    assert {n: p.info.run_id for n, p in parents2.items()} == {n: p.info.run_id for n, p in parents.items()}
    assert_exactly_once(parents2, children2, rows)
    logged2 = client.search_logged_models(experiment_ids=[experiment_id])
    keys = [(m.source_run_id, m.tags["hpo.model_trial"]) for m in logged2]
    assert len(set(keys)) == len(keys)  # a best model is logged once: a new one only for a new best trial
    versions = client.search_model_versions("name = 'iris-srv'")
    assert len({v.source for v in versions}) == len(versions) <= 2


def test_server_killed_mid_run_then_resume(tmp_path: Path) -> None:
    (tmp_path / "slowmod.py").write_text(SLOW_MODULE, encoding="utf-8")
    spec = write_spec(tmp_path, {
        "name": "killed", "allow_modules": ["slowmod"],
        "data": {"source": "sklearn:iris"},
        "defaults": {"cv": 2, "budget": {"trials": 24}, "method": "random"},
        "models": [{"name": "slow", "class": "slowmod.SlowClassifier",
                    "space": {"strategy": ["prior", "most_frequent"], "delay": [0.1, 0.15]}}],
        "output": "run",
    })
    srv = MlflowServer(tmp_path / "server").start()
    try:
        proc = subprocess.Popen([*HPO, "tune", str(spec), "--tracking-uri", srv.uri, "-q"], cwd=tmp_path,
                                env=_env(tmp_path), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        from mlflow import MlflowClient

        client = MlflowClient(srv.uri)
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:  # wait for a few logged trials, then crash the server
            exp = client.get_experiment_by_name("killed")
            if exp is not None and len(client.search_runs([exp.experiment_id],
                                                          "tags.`hpo.role` = 'trial'")) >= 3:
                break
            time.sleep(0.2)
        srv.kill()
        out, err = proc.communicate(timeout=180)
        assert proc.returncode == 1, err
        assert "lost" in err and "--resume" in err
        rows = read_trials(tmp_path / "run")
        assert len(rows) == 24  # the search went on without its tracking

        srv.start()  # same backend, same port
        done = tune(tmp_path, str(spec), "--tracking-uri", srv.uri, "--resume", "-q")
        assert done.returncode == 0, done.stderr
        assert len(read_trials(tmp_path / "run")) == 24
        _, parents, children = tree(srv.uri, "killed")
        assert_exactly_once(parents, children, rows)
        assert all(c.info.status == "FINISHED" for c in children["slow"])
    finally:
        srv.stop()


def test_local_default_store_regression_and_child_cap(tmp_path: Path) -> None:
    """No URI anywhere: MLflow's default store in the working directory; a regressor; max_child_runs."""
    import mlflow

    spec = write_spec(tmp_path, {
        "name": "diabetes-track", "data": {"source": "sklearn:diabetes"},
        "defaults": {"cv": 3, "budget": {"trials": 8}, "method": "random"},
        "models": [{"name": "ridge", "class": "Ridge",
                    "space": {"alpha": {"type": "float", "low": 1e-3, "high": 100, "log": True}}}],
        "tracking": {"mlflow": {"max_child_runs": 3}}, "output": "run",
    })
    done = tune(tmp_path, str(spec), "-q", HPO_TRACE="1")
    assert done.returncode == 0, done.stderr
    # the search serialised the model and drew the plot: the writer imported none of those libraries
    exits = [line.split()[3:5] for line in done.stderr.splitlines() if line.startswith("hpo-trace writer")]
    assert [what for what in exits if what[0] == "exit"] == [["exit", "imported=none"]], done.stderr
    assert (tmp_path / "mlflow.db").is_file()  # MLflow 3's default: sqlite:///mlflow.db in the cwd
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    rows = read_trials(tmp_path / "run")
    assert len(rows) == 8
    client, parents, children = tree(uri, "diabetes-track")
    logged = sorted(int(c.data.tags["hpo.trial"]) for c in children["ridge"])
    assert len(set(logged)) == len(logged) and 3 <= len(logged) < 8
    top3 = sorted(rows, key=lambda r: -float(r["mean_test_score"]))[:3]
    assert {int(r["trial"]) for r in top3} <= set(logged)  # the final top K is always there
    parent = parents["ridge"]
    assert parent.data.tags["hpo.diagnostics_on"] == "train"
    assert "residuals.svg" in {a.path for a in client.list_artifacts(parent.info.run_id)}
    mlflow.set_tracking_uri(uri)
    from sklearn.datasets import load_diabetes

    X = load_diabetes(as_frame=True).data.head(3)
    assert len(mlflow.pyfunc.load_model(parent.data.tags["hpo.model_uri"]).predict(X)) == 3


def test_no_mlflow_never_imports_mlflow(tmp_path: Path) -> None:
    spec = iris_spec(tmp_path, trials=2)
    off = write_spec(tmp_path, {**json.loads(spec.read_text()), "tracking": {"mlflow": False}, "output": "off"},
                     "off")
    code = ("import sys\nfrom hpo_cli.cli.app import main\nsys.argv = ['hpo', 'tune', *sys.argv[1:], '-q']\n"
            "try:\n    main()\nexcept SystemExit as exc:\n    assert exc.code == 0, exc.code\n"
            "print('MLFLOW' if any(m == 'mlflow' or m.startswith('mlflow.') for m in sys.modules) else 'CLEAN')\n")
    for args in ([str(spec), "--no-mlflow"], [str(off)]):
        done = subprocess.run([sys.executable, "-c", code, *args], cwd=tmp_path, env=_env(tmp_path),
                              capture_output=True, text=True, timeout=120)
        assert done.stdout.strip().endswith("CLEAN"), done.stdout + done.stderr
    assert not (tmp_path / "mlflow.db").exists()
    # with tracking on, mlflow lives in the writer process only: the search's process stays clean too
    done = subprocess.run([sys.executable, "-c", code, str(spec), "--model", "tree", "--trials", "1", "--fresh"],
                          cwd=tmp_path, env=_env(tmp_path), capture_output=True, text=True, timeout=120)
    assert done.stdout.strip().endswith("CLEAN"), done.stdout + done.stderr
    assert (tmp_path / "mlflow.db").exists()


def test_unreachable_server_is_bad_input_and_writes_nothing(tmp_path: Path) -> None:
    spec = iris_spec(tmp_path)
    uri = f"http://127.0.0.1:{free_port()}"
    # the probe answers at once, where MLflow alone retries for minutes: the timeout is a guard, not a measure
    done = tune(tmp_path, str(spec), "--tracking-uri", uri, timeout=120)
    assert done.returncode == 2, done.stderr
    assert uri in done.stderr and "--no-mlflow" in done.stderr and "Traceback" not in done.stderr
    assert len([line for line in done.stderr.splitlines() if line.strip()]) == 1, done.stderr
    assert not (tmp_path / "run").exists()


def test_mlflow_and_study_never_share_a_sqlite_file(tmp_path: Path) -> None:
    spec = iris_spec(tmp_path)
    done = tune(tmp_path, str(spec), "--storage", "sqlite:///shared.db", "--tracking-uri",
                f"sqlite:///{tmp_path / 'shared.db'}")
    assert done.returncode == 2 and "share one SQLite file" in done.stderr, done.stderr
    assert not (tmp_path / "shared.db").exists()


def test_early_writer_is_ended_unused_and_opens_no_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                         capfd: pytest.CaptureFixture[str]) -> None:
    """The CLI starts the writer before the spec is read (issue 13); once it waits for its store, bad input or
    tracking off in the spec ends it, and it never opened one (MLflow's default would be ./mlflow.db)."""
    from hpo_cli.core.errors import InputError
    from hpo_cli.tracking.channel import start_writer
    from hpo_cli.tune.run import run_tune

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HPO_TRACE", "1")
    spec = iris_spec(tmp_path, trials=1)
    off = write_spec(tmp_path, {**json.loads(spec.read_text()), "tracking": {"mlflow": False}}, "off")
    for path, data in ((spec, "missing.csv"), (off, None)):
        writer = start_writer(True)
        assert writer is not None
        seen, deadline = "", time.monotonic() + 120
        while "hpo-trace writer" not in seen or "preload store" not in seen:  # imported, waits for its store
            assert time.monotonic() < deadline and writer.process.poll() is None, seen
            seen += capfd.readouterr().err
            time.sleep(0.05)
        options = TuneOptions(spec=path, data=data, quiet=True, fresh=True)
        if data:
            with pytest.raises(InputError):
                run_tune(options, writer=writer)
        else:
            assert run_tune(options, writer=writer).exit_code == 0
        assert writer.process.poll() is not None
        assert not (tmp_path / "mlflow.db").exists()


def test_tracking_uri_resolution_order(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from hpo_cli.spec.load import load_spec

    spec = load_spec(iris_spec(tmp_path, uri="sqlite:///from-spec.db"))
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "sqlite:///from-env.db")
    opts = TuneOptions(spec=Path("x"))
    assert resolve_tracking_uri(spec, TuneOptions(spec=Path("x"), tracking_uri="http://cli"))[0] == "http://cli"
    assert resolve_tracking_uri(spec, opts)[0] == "sqlite:///from-spec.db"
    spec.tracking.mlflow.uri = None
    assert resolve_tracking_uri(spec, opts)[0] == "sqlite:///from-env.db"
    monkeypatch.delenv("MLFLOW_TRACKING_URI")
    monkeypatch.chdir(tmp_path)
    assert resolve_tracking_uri(spec, opts) == (f"sqlite:///{tmp_path.resolve() / 'mlflow.db'}", "MLflow's default")
    from mlflow.tracking._tracking_service.utils import _get_default_tracking_uri

    assert _get_default_tracking_uri() == "sqlite:///mlflow.db"  # what mlflow_default_uri mirrors
    (tmp_path / "mlruns" / "0").mkdir(parents=True)
    (tmp_path / "mlruns" / "0" / "meta.yaml").write_text("name: Default\n")
    assert _get_default_tracking_uri() == "./mlruns"  # an old file store that holds experiments wins
    assert mlflow_default_uri() == (tmp_path / "mlruns").resolve().as_uri()
    assert sqlite_file("sqlite:///a.db") == tmp_path.resolve() / "a.db"
    assert sqlite_file("sqlite:////abs/b.db?timeout=3") == Path("/abs/b.db")
    assert sqlite_file("http://x") is None


def test_child_cap_keeps_failures_and_running_top_k() -> None:
    cap = ChildCap(3)
    scores = [0.5, 0.6, 0.4, 0.3, 0.7, 0.2, 0.65, 0.1]
    admitted = [cap.admit(TrialRecord("m", i, COMPLETE, {}, mean_test_score=s)) for i, s in enumerate(scores)]
    # first three always; then only those entering the running top 3 (0.7 and 0.65)
    assert admitted == [True, True, True, False, True, False, True, False]
    assert cap.admit(TrialRecord("m", 8, FAIL, {}, error="boom"))
    assert not cap.admit(TrialRecord("m", 9, PRUNED, {}))
    assert all(ChildCap(None).admit(TrialRecord("m", i, COMPLETE, {}, mean_test_score=0.0)) for i in range(5))


def test_pruned_trials_are_killed_children(tmp_path: Path) -> None:
    spec = write_spec(tmp_path, {
        "name": "pruned", "data": {"source": "sklearn:breast_cancer"},
        "defaults": {"cv": 5, "budget": {"trials": 14}, "method": "random", "pruner": "median"},
        "models": [{"name": "tree", "class": "DecisionTreeClassifier",
                    "space": {"max_depth": [1, 2, 3, 4, 5, 6, 8, 10], "min_samples_leaf": [1, 5, 20, 50, 100]}}],
        "output": "run",
    })
    done = tune(tmp_path, str(spec), "-q")
    assert done.returncode == 0, done.stderr
    rows = read_trials(tmp_path / "run")
    _, parents, children = tree(f"sqlite:///{tmp_path / 'mlflow.db'}", "pruned")
    assert_exactly_once(parents, children, rows)
    pruned = {r["trial"] for r in rows if r["state"] == PRUNED}
    assert pruned, "the median pruner pruned nothing: the test needs another spec"
    for child in children["tree"]:
        is_pruned = child.data.tags["hpo.trial"] in pruned
        assert (child.info.status == "KILLED") == is_pruned
        assert (child.data.tags["hpo.state"] == PRUNED) == is_pruned


class FakeStore:
    """The writer process's synchronous answers, in memory: enough for the run tree's bookkeeping."""

    def __init__(self, children: list[tuple[int, str, str, str, list[str], bool, float | None]]) -> None:
        self.parents: list[str] = []
        self.children = children
        self.ops: list[str] = []

    def __call__(self, op: str, *args: Any) -> Any:
        self.ops.append(op)
        if op == "usable_parent":
            return args[0] in self.parents
        if op == "create_parent":
            self.parents.append(f"parent{len(self.parents)}")
            return self.parents[-1]
        if op == "children":
            return self.children
        return None


def test_run_tree_reuses_the_parent_and_claims_each_trial_once(tmp_path: Path) -> None:
    """Resume bookkeeping without a store: the study keeps the parent, logged trials are never claimed again,
    a child left RUNNING is completed, and past trials without a child are what model_finished backfills."""
    import optuna

    from hpo_cli.spec.load import load_spec
    from hpo_cli.storage.attrs import ATTR, STUDY_MLFLOW_PARENT, finished_trials, record_from_trial
    from hpo_cli.tracking.runtree import RunTree

    spec = load_spec(iris_spec(tmp_path))
    study = optuna.create_study(study_name="iris-track.tree", direction="maximize")
    for score in (0.5, 0.7, 0.6):
        trial = study.ask()
        trial.set_user_attr(ATTR, {"params": {}, "mean_test_score": score, "split_scores": [score]})
        study.tell(trial, score)
    store = FakeStore([(0, "child0", "FINISHED", COMPLETE, ["max_depth"], True, 0.5),
                       (1, "child1", "RUNNING", "", ["max_depth"], False, None)])
    tree = RunTree(spec, tmp_path / "run", store)
    runs = tree.model("tree")
    tree.bind(runs, study, "sha")
    tree.seed_from_study(runs, study)
    assert runs.parent_id == "parent0" == study.user_attrs[STUDY_MLFLOW_PARENT]
    records = [record_from_trial("tree", t) for t in finished_trials(study)]
    assert [r.number for r in tree.missing(runs, records)] == [1, 2]
    assert tree.claim(runs, records[0]) == (False, None)  # already has a finished child
    assert tree.claim(runs, records[1]) == (True, ("child1", {"max_depth"}, False))  # completed, not duplicated
    assert tree.claim(runs, records[1]) == (False, None)
    assert tree.claim(runs, records[2]) == (True, None)
    assert tree.child(runs, records[2], None)["name"] == "tree #2"
    assert tree.run_ids() == {"tree": "parent0"}

    again = RunTree(spec, tmp_path / "run", store)  # --resume: the study's parent, not a new one
    resumed = again.model("tree")
    again.bind(resumed, study, "sha")
    assert resumed.parent_id == "parent0" and store.ops.count("create_parent") == 1


def _without_ci(env: dict[str, str]) -> dict[str, str]:
    """An environment MLflow does not take for CI or a test run (it turns its telemetry off in those)."""
    from mlflow.telemetry import utils

    names = {"PYTEST_CURRENT_TEST", "GITHUB_ACTIONS", "CI", "DO_NOT_TRACK"}
    source = Path(utils.__file__).read_text(encoding="utf-8")
    names |= {n for n in os.environ if f'"{n}"' in source}
    return {k: v for k, v in env.items() if k not in names}


def test_mlflow_telemetry_is_off_unless_the_user_turns_it_on(tmp_path: Path) -> None:
    """MLflow 3 sends usage telemetry to its servers by default: hpo calls no network it was not given."""
    code = ("import sys\nif sys.argv[1] == 'hpo':\n    from hpo_cli.tracking.setup import store_env\n    store_env()\n"
            "import mlflow\nfrom mlflow.telemetry.utils import is_telemetry_disabled\n"
            "print('OFF' if is_telemetry_disabled() else 'ON')\n")
    base = _without_ci(_env(tmp_path))

    def telemetry(who: str, **extra: str) -> str:
        done = subprocess.run([sys.executable, "-c", code, who], cwd=tmp_path, env={**base, **extra},
                              capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr
        return done.stdout.strip()

    assert telemetry("mlflow") == "ON"  # what MLflow alone does here: the test can fail
    assert telemetry("hpo") == "OFF"
    assert telemetry("hpo", MLFLOW_DISABLE_TELEMETRY="false") == "ON"  # the user's own setting wins


def test_console_script_starts_the_writer_first_and_ends_it_when_unused(tmp_path: Path) -> None:
    """``python -m hpo_cli tune`` (the console script's entry, ``cli.entry``) starts the writer before typer
    loads (its imports are the longest chain of a tracked run); when no command takes it (bad options, help)
    it is killed, not left importing; ``--no-mlflow`` starts none."""
    spec = iris_spec(tmp_path, trials=1)
    marker = f"hpo-test-{os.getpid()}-{time.monotonic_ns()}"

    def writers() -> list[int]:
        found = []
        for proc in Path("/proc").iterdir():
            try:
                if proc.name.isdigit() and marker.encode() in (proc / "environ").read_bytes() and \
                        b"hpo_cli.tracking.worker" in (proc / "cmdline").read_bytes():
                    found.append(int(proc.name))
            except OSError:
                continue
        return found

    done = tune(tmp_path, str(spec), "--trials", "0", HPO_TRACE="1", HPO_TEST_MARKER=marker)
    assert done.returncode == 2 and "--trials" in done.stderr, done.stderr
    assert [line for line in done.stderr.splitlines() if line.startswith("hpo-trace search")
            and " start writer " in line], done.stderr  # started before the options were parsed
    deadline = time.monotonic() + 10
    while writers():
        assert time.monotonic() < deadline, "the unused early writer outlived hpo"
        time.sleep(0.1)
    assert not (tmp_path / "run").exists() and not (tmp_path / "mlflow.db").exists()

    done = tune(tmp_path, str(spec), "--no-mlflow", "-q", HPO_TRACE="1", HPO_TEST_MARKER=marker)
    assert done.returncode == 0, done.stderr
    assert "start writer" not in done.stderr and "hpo-trace writer" not in done.stderr

    done = tune(tmp_path, str(spec), "-q", "--fresh", HPO_TRACE="1", HPO_TEST_MARKER=marker)
    assert done.returncode == 0, done.stderr
    steps = [" ".join(line.split()[3:-2]) for line in done.stderr.splitlines() if line.startswith("hpo-trace search")]
    assert steps[0] == "start writer" and steps.index("start writer") < steps.index("load spec"), steps
    assert not writers()

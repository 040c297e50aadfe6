"""Study names cannot collide, and a report selects its own studies exactly.

A model's study is ``<spec name>.<model name>``. Spec names may hold '.', model names may not, so spec
``a.b`` with model ``c`` and spec ``a`` with model ``b.c`` can no longer share the study ``a.b.c``; and
spec ``exp``'s report must not pull in spec ``exp.v2``'s studies from a shared storage.
"""

from __future__ import annotations

from pathlib import Path

from hostile_cli import run

SPEC = ("name: NAME\ndata: {source: sklearn:iris, test_size: 0.2}\nmodels:\n"
        "  - {name: MODEL, class: LogisticRegression, method: random, space: {C: [0.1, 1.0, 10.0]},\n"
        "     budget: {trials: TRIALS}, cv: {folds: 2}}\n")


def spec(tmp_path: Path, name: str, model: str, trials: int) -> Path:
    path = tmp_path / f"{name}.yaml"
    path.write_text(SPEC.replace("NAME", name).replace("MODEL", model).replace("TRIALS", str(trials)))
    return path


def test_a_dot_in_a_model_name_is_refused_so_studies_cannot_collide(tmp_path):
    spec(tmp_path, "a", "b.c", 2)  # would share the study a.b.c with spec a.b, model c
    code, _, err = run("validate", "a.yaml", cwd=tmp_path)
    assert code == 2
    assert err.startswith("a.yaml:4:12: models[0].name: 'b.c' may only hold letters, digits, '_' and '-'"), err
    assert "collide" in err
    spec(tmp_path, "a.b", "c", 2)  # a '.' in the spec's name stays allowed
    assert run("validate", "a.b.yaml", cwd=tmp_path)[0] == 0


def test_a_report_selects_its_own_studies_from_a_shared_storage(tmp_path, monkeypatch):
    """Spec ``exp`` tuned into a journal that spec ``exp.v2`` (model ``m`` too) also writes: its study
    ``exp.v2.m`` starts with ``exp.`` but is not spec ``exp``'s model ``v2.m``."""
    import optuna

    from hpo_cli.rundir.read import load_run
    from hpo_cli.storage.backend import open_storage

    monkeypatch.chdir(tmp_path)  # run.json names the shared journal as given, relative to here
    journal = str(tmp_path / "shared.journal")
    spec(tmp_path, "exp", "m", 1)
    code, _, err = run("tune", "exp.yaml", "--no-mlflow", "--quiet", "--storage", journal, "--output", "run-exp",
                       cwd=tmp_path)
    assert code == 0, err
    other = optuna.create_study(study_name="exp.v2.m", storage=open_storage(tmp_path, journal), direction="maximize")
    other.set_user_attr("hpo_model", {"name": "m"})  # as `hpo tune exp.v2.yaml` records it
    other.optimize(lambda t: t.suggest_float("C", 0.1, 10.0), n_trials=2)
    exp = load_run(tmp_path / "run-exp")
    assert exp.source == "study storage"
    assert len(exp.models["m"].trials) == 1 and set(exp.models) == {"m"}
    code, out, err = run("report", "run-exp", "--no-plots", cwd=tmp_path)
    assert code == 0 and "exp.v2" not in out, out

"""Estimator resolution is the gate between spec text and code: names resolve, nothing else runs."""

import pytest
from sklearn.pipeline import Pipeline

from hpo_cli.problem.estimators import (
    accepts_extra_params,
    estimator_params,
    estimator_path,
    resolve_estimator,
    task_of,
)
from hpo_cli.problem.pipeline import build_estimator, resolve_preprocess
from hpo_cli.spec.models import ModelSpec


def model(**kw):
    return ModelSpec.model_validate({"name": "m", "class": "LogisticRegression", **kw})


@pytest.mark.parametrize(
    ("name", "path", "task"),
    [("LogisticRegression", "sklearn.linear_model.LogisticRegression", "classification"),
     ("RandomForestRegressor", "sklearn.ensemble.RandomForestRegressor", "regression"),
     ("sklearn.svm.SVC", "sklearn.svm.SVC", "classification"),
     ("XGBClassifier", "xgboost.XGBClassifier", "classification"),
     ("xgboost.XGBRegressor", "xgboost.XGBRegressor", "regression")],
)
def test_names_resolve_to_public_paths_and_tasks(name, path, task):
    cls = resolve_estimator(name)
    assert estimator_path(cls) == path
    assert task_of(cls) == task


@pytest.mark.parametrize(
    ("name", "fragment"),
    [("LogisticRegresion", "did you mean 'LogisticRegression'"),
     ("randomforestclassifier", "did you mean 'RandomForestClassifier'"),
     ("os.system", "refused"), ("subprocess.Popen", "refused"), ("builtins.eval", "refused"),
     ("sklearn.linear_model.LogisticRegresion", "did you mean 'LogisticRegression'"),
     ("__import__('os')", "not a class name"), ("", "not a class name")],
)
def test_bad_names_are_refused_with_a_hint(name, fragment):
    with pytest.raises(ValueError) as info:
        resolve_estimator(name)
    assert fragment in str(info.value)


def test_allow_modules_opens_a_package_but_still_needs_an_estimator_class(tmp_path, monkeypatch):
    (tmp_path / "mypkg").mkdir()
    (tmp_path / "mypkg" / "__init__.py").write_text("")
    (tmp_path / "mypkg" / "models.py").write_text(MY_MODEL)
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(ValueError, match="refused"):
        resolve_estimator("mypkg.models.MyModel")
    assert resolve_estimator("mypkg.models.MyModel", allow_modules=["mypkg"]).__name__ == "MyModel"
    with pytest.raises(ValueError, match="not a class"):
        resolve_estimator("os.system", allow_modules=["os"])
    with pytest.raises(ValueError, match="not a scikit-learn compatible estimator"):
        resolve_estimator("subprocess.Popen", allow_modules=["subprocess"])


MY_MODEL = """
class MyModel:
    def __init__(self, alpha=1.0):
        self.alpha = alpha

    def get_params(self, deep=True):
        return {"alpha": self.alpha}

    def fit(self, X, y):
        return self
"""


def test_task_of_rejects_unsupervised_estimators():
    with pytest.raises(ValueError, match="neither a classifier nor a regressor"):
        task_of(resolve_estimator("KMeans"))


def test_params_and_kwargs_detection():
    assert {"C", "penalty", "max_iter"} <= estimator_params(resolve_estimator("LogisticRegression"))
    assert not accepts_extra_params(resolve_estimator("LogisticRegression"))
    assert accepts_extra_params(resolve_estimator("XGBClassifier"))
    assert "max_depth" in estimator_params(resolve_estimator("XGBClassifier"))


def test_preprocess_short_names_class_names_and_mappings():
    steps = resolve_preprocess(["standard_scaler", "StandardScaler", {"PCA": {"n_components": 2}},
                                "simple_imputer", "one_hot", {"minmax_scaler": None}])
    names = [n for n, _ in steps]
    assert names == ["standard_scaler", "standard_scaler_2", "pca", "simple_imputer", "one_hot", "minmax_scaler"]
    assert steps[2][1].n_components == 2
    assert steps[3][1].strategy == "median"
    assert steps[4][1].handle_unknown == "ignore"
    with pytest.raises(ValueError, match="did you mean 'standard_scaler'"):
        resolve_preprocess(["standard_scalar"])
    with pytest.raises(ValueError, match="no parameter 'with_meen'"):
        resolve_preprocess([{"StandardScaler": {"with_meen": False}}])
    with pytest.raises(ValueError, match="not a transformer"):
        resolve_preprocess(["LogisticRegression"])


def test_build_estimator_merges_params_and_seeds():
    est = build_estimator(model(init_params={"max_iter": 500, "C": 2.0}, seed=7), {"C": 0.5})
    assert est.get_params()["C"] == 0.5 and est.max_iter == 500 and est.random_state == 7
    est = build_estimator(model(init_params={"random_state": 3}), {})
    assert est.random_state == 3


def test_build_estimator_with_preprocess_is_a_pipeline():
    est = build_estimator(model(preprocess=["pca", "standard_scaler"]), {"C": 0.1, "pca__n_components": 3})
    assert isinstance(est, Pipeline)
    assert [n for n, _ in est.steps] == ["pca", "standard_scaler", "model"]
    assert est.named_steps["model"].C == 0.1
    assert est.named_steps["pca"].n_components == 3 and est.named_steps["pca"].random_state == 42


def test_xgboost_threads_only_when_unset():
    xgb = ModelSpec.model_validate({"name": "x", "class": "XGBClassifier", "init_params": {"n_jobs": 4}})
    assert build_estimator(xgb, {}, n_jobs=1).get_params()["n_jobs"] == 4
    xgb = ModelSpec.model_validate({"name": "x", "class": "XGBClassifier"})
    est = build_estimator(xgb, {"max_depth": 3}, n_jobs=1)
    assert est.get_params()["n_jobs"] == 1 and est.get_params()["random_state"] == 42


def test_effective_init_params_record_the_seeded_random_state():
    from hpo_cli.problem.estimators import effective_init_params

    assert effective_init_params(model(init_params={"max_iter": 50}, seed=3)) == {"max_iter": 50, "random_state": 3}
    assert effective_init_params(model(init_params={"random_state": None})) == {"random_state": None}
    knn = ModelSpec.model_validate({"name": "k", "class": "KNeighborsClassifier"})
    assert effective_init_params(knn) == {}


def test_every_sklearn_estimator_resolves_without_the_full_walk():
    """The short-name lookup by module must find exactly what ``all_estimators`` lists."""
    from sklearn.utils import all_estimators

    from hpo_cli.problem import estimators

    missed = []
    for name, cls in all_estimators():
        estimators.sklearn_class.cache_clear()
        found = estimators.sklearn_class.__wrapped__(name)
        assert found is cls, name
        for module_name in estimators._SKLEARN_MODULES:  # found by the module list, not the fallback
            if getattr(__import__(f"sklearn.{module_name}", fromlist=["x"]), name, None) is cls:
                break
        else:
            missed.append(name)
    assert not missed, f"add their modules to _SKLEARN_MODULES: {missed}"

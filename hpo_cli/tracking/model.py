"""The refitted best model in MLflow: the fitting flavour, signature and input example.

Separate from ``tracker`` because it touches the estimator: a model logged with the right flavour loads
back with ``mlflow.pyfunc.load_model`` and predicts. ``serialise`` runs in the search process (no mlflow
there; it has scikit-learn loaded), ``log_model`` in the tracker's writer process (``worker``), which then
never imports scikit-learn nor skops; mlflow, skops and scikit-learn are imported inside them, never at
import time. The diagnostics figures are ``diagnostics``'.
"""

from __future__ import annotations

import contextlib
import sys
import threading
from importlib import metadata
from pathlib import Path
from typing import Any

import yaml

from hpo_cli.core.trace import clock, trace

INPUT_EXAMPLE_ROWS = 5


def final_estimator(estimator: Any) -> Any:
    """The model at the end of a Pipeline (or the estimator itself)."""
    steps = getattr(estimator, "steps", None)
    return steps[-1][1] if steps else estimator


def is_xgboost(estimator: Any) -> bool:
    """True for a bare XGBoost scikit-learn model, which ``mlflow.xgboost`` stores natively (ubj)."""
    return type(estimator).__module__.split(".")[0] == "xgboost" and not hasattr(estimator, "steps")


def _requirements(extra: list[str]) -> list[str]:
    """Pinned requirements given explicitly: MLflow's inference runs a subprocess and takes seconds."""
    out = []
    for name in ["scikit-learn", "cloudpickle", "numpy", "pandas", *extra]:
        try:
            out.append(f"{name}=={metadata.version(name)}")
        except metadata.PackageNotFoundError:
            continue
    return out


def head(X: Any, n: int = INPUT_EXAMPLE_ROWS) -> Any:
    """The first rows: the input example (only they travel to the writer process, not the whole data)."""
    return X.head(n) if hasattr(X, "head") else X[:n]


def best_params(estimator: Any) -> dict[str, Any]:
    """The refitted estimator's own parameters (the final step's, for a Pipeline): the logged model's params."""
    try:
        return dict(final_estimator(estimator).get_params(deep=False))
    except Exception:  # not a scikit-learn estimator: the model page simply shows none
        return {}


def warm_search_imports() -> threading.Thread:
    """Import skops (a model will be logged) on a thread of the search process.

    Started when the search process starts waiting for the writer's connection: it is idle then, and
    the import comes after the search otherwise (measured: skops ~0.4-0.6 s of CPU in a process that has
    scikit-learn loaded, since it lists every estimator; ~1.8 s in the writer, which needs no scikit-learn
    otherwise). ``serialise`` waits for the thread.
    """
    def work() -> None:
        since = clock()
        with contextlib.suppress(Exception):  # missing: serialise falls back to cloudpickle
            import skops.io  # noqa: F401
        trace("search", "warm skops", since)

    thread = threading.Thread(target=work, name="hpo-search-warm", daemon=True)
    thread.start()
    return thread


def serialise(estimator: Any, X_sample: Any, warm: threading.Thread | None = None) -> dict[str, Any]:
    """The refitted model as the writer process logs it, made here, in the search process that has it.

    A bare XGBoost model travels as itself (``mlflow.xgboost`` stores it natively). A scikit-learn model
    travels as bytes in skops format (MLflow 3's safe default: loading it runs no code; the types it
    holds are listed in the MLmodel file so ``mlflow.pyfunc.load_model`` trusts exactly those), or
    cloudpickle when skops cannot store one of its types (or is missing) — with the predictions of
    the input example for its signature: the writer then needs neither scikit-learn nor skops.
    """
    example = head(X_sample)
    out: dict[str, Any] = {"example": example, "predictions": estimator.predict(example)}
    if is_xgboost(estimator):
        return {**out, "estimator": estimator}
    import sklearn

    if warm is not None:
        warm.join()
    try:
        import skops.io as sio

        data = sio.dumps(estimator)
        trusted = sio.get_untrusted_types(data=data)
        out |= {"format": "skops", "data": data, "skops_trusted_types": trusted, "extra": ["skops"]}
    except Exception:  # a type skops cannot serialise (or no skops): the classic pickle still loads back
        import cloudpickle

        out |= {"format": "cloudpickle", "data": cloudpickle.dumps(estimator), "skops_trusted_types": None,
                "extra": ["xgboost"] if "xgboost" in sys.modules else []}
    return {**out, "sklearn_version": sklearn.__version__}


class _Saved:
    """A flavour module for ``mlflow.models.Model.log`` that writes an already serialised model.

    Writes what ``mlflow.sklearn.save_model`` writes (model file, MLmodel with the ``sklearn`` and
    ``python_function`` flavours, signature, input example, requirements) without scikit-learn or skops.
    """

    __name__ = "mlflow.sklearn"

    def __init__(self, payload: dict[str, Any]) -> None:
        self.payload = payload

    def save_model(self, path: str, mlflow_model: Any, **_: Any) -> None:
        import mlflow.sklearn as flavour
        from mlflow.models import infer_signature
        from mlflow.models.utils import _save_example
        from mlflow.pyfunc import add_to_model
        from mlflow.utils import environment as env
        from mlflow.utils.file_utils import get_total_file_size

        p, folder = self.payload, Path(path)
        folder.mkdir(parents=True)
        _save_example(mlflow_model, p["example"], path)
        mlflow_model.signature = infer_signature(p["example"], p["predictions"])
        sub = flavour._SKOPS_MODEL_DATA_SUBPATH if p["format"] == "skops" else flavour._PICKLE_MODEL_DATA_SUBPATH
        (folder / sub).write_bytes(p["data"])
        add_to_model(mlflow_model, loader_module="mlflow.sklearn", model_path=sub, conda_env=env._CONDA_ENV_FILE_NAME,
                     python_env=env._PYTHON_ENV_FILE_NAME, predict_fn="predict")
        mlflow_model.add_flavor("sklearn", pickled_model=sub, sklearn_version=p["sklearn_version"],
                                serialization_format=p["format"], code=None,
                                skops_trusted_types=p["skops_trusted_types"])
        mlflow_model.model_size_bytes = get_total_file_size(path)
        mlflow_model.save(str(folder / "MLmodel"))
        # Pinned from this environment's metadata, so MLflow's processing (a scan of every installed
        # distribution to warn of mismatches: ~0.4 s of the writer's CPU, measured) has nothing to find.
        pip = [env._generate_mlflow_version_pinning(), *_requirements(p["extra"])]
        conda = env._mlflow_conda_env(additional_pip_deps=pip, install_mlflow=False)
        (folder / env._CONDA_ENV_FILE_NAME).write_text(yaml.safe_dump(conda, default_flow_style=False))
        (folder / env._REQUIREMENTS_FILE_NAME).write_text("\n".join(pip))
        env._PythonEnv.current().to_yaml(str(folder / env._PYTHON_ENV_FILE_NAME))


def log_model(run_id: str, payload: dict[str, Any], params: dict[str, str] | None = None,
              tags: dict[str, str] | None = None) -> str:
    """Log the fitted model (``serialise``'s payload) on the parent run; returns its model URI.

    MLflow 3 stores models as LoggedModels linked to the run, in the experiment the writer set as
    current (the run's; ``worker.connect``), so the experiment's Models tab lists it. Load it with the
    returned ``models:/<id>`` URI (kept in the parent's ``hpo.model_uri`` tag). ``params`` (the best
    parameters) and ``tags`` show on the logged model's page. Runs in the writer process.
    """
    common = {"name": "model", "run_id": run_id, "params": params, "tags": tags}
    if "estimator" in payload:
        import mlflow.xgboost
        from mlflow.models import infer_signature

        info = mlflow.xgboost.log_model(payload["estimator"], pip_requirements=_requirements(["xgboost"]),
                                        signature=infer_signature(payload["example"], payload["predictions"]),
                                        input_example=payload["example"], **common)
    else:
        from mlflow.models import Model

        # The serving-input check would load the model back, i.e. import scikit-learn and skops here.
        info = Model.log(None, _Saved(payload), flavor_name="sklearn", serialization_format=payload["format"],
                         validate_serving_input=False, **common)
    return str(info.model_uri)

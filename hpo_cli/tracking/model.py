"""The refitted best model in MLflow: the fitting flavour, signature, input example and diagnostics.

Separate from ``tracker`` because it is the only part that touches the estimator and the data:
a model logged with the right flavour loads back with ``mlflow.pyfunc.load_model`` and predicts, and
the diagnostics (confusion matrix and classification report, or a residual plot) let a reviewer judge
the winner without re-running anything. ``log_model`` runs in the tracker's writer process (``worker``),
``write_diagnostics`` in the search process (no mlflow there); mlflow, matplotlib and scikit-learn are
imported inside them, never at import time.
"""

from __future__ import annotations

import json
from importlib import metadata
from pathlib import Path
from typing import Any

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


def _sklearn_format(estimator: Any) -> dict[str, Any]:
    """skops (MLflow 3's safe default) trusting exactly the types of the model hpo itself fitted.

    Without the list MLflow refuses to save e.g. a decision tree ("untrusted types"); the list is
    stored in the MLmodel file so ``mlflow.pyfunc.load_model`` loads it back. Without skops: cloudpickle.
    """
    try:
        import skops.io as sio
    except ImportError:
        return {"serialization_format": "cloudpickle", "pip_requirements": _requirements([])}
    return {"serialization_format": "skops", "pip_requirements": _requirements(["skops"]),
            "skops_trusted_types": sio.get_untrusted_types(data=sio.dumps(estimator))}


def head(X: Any, n: int = INPUT_EXAMPLE_ROWS) -> Any:
    """The first rows: the input example (only they travel to the writer process, not the whole data)."""
    return X.head(n) if hasattr(X, "head") else X[:n]


def best_params(estimator: Any) -> dict[str, Any]:
    """The refitted estimator's own parameters (the final step's, for a Pipeline): the logged model's params."""
    try:
        return dict(final_estimator(estimator).get_params(deep=False))
    except Exception:  # not a scikit-learn estimator: the model page simply shows none
        return {}


def log_model(run_id: str, estimator: Any, X_sample: Any, params: dict[str, str] | None = None,
              tags: dict[str, str] | None = None) -> str:
    """Log the fitted model on the parent run with signature and input example; returns its model URI.

    MLflow 3 stores models as LoggedModels linked to the run, in the experiment the writer set as
    current (the run's; ``worker.connect``), so the experiment's Models tab lists it. Load it with the
    returned ``models:/<id>`` URI (kept in the parent's ``hpo.model_uri`` tag). ``params`` (the best
    parameters) and ``tags`` show on the logged model's page.
    """
    from mlflow.models import infer_signature

    example = head(X_sample)
    signature = infer_signature(example, estimator.predict(example))
    common = {"name": "model", "run_id": run_id, "signature": signature, "input_example": example,
              "params": params, "tags": tags}
    if is_xgboost(estimator):
        import mlflow.xgboost

        info = mlflow.xgboost.log_model(estimator, pip_requirements=_requirements(["xgboost"]), **common)
    else:
        import mlflow.sklearn

        try:
            info = mlflow.sklearn.log_model(estimator, **_sklearn_format(estimator), **common)
        except Exception:  # a type skops cannot serialise: the classic pickle still loads back
            fallback = {"serialization_format": "cloudpickle", "pip_requirements": _requirements(["xgboost"])}
            info = mlflow.sklearn.log_model(estimator, **fallback, **common)
    return str(info.model_uri)


def write_diagnostics(folder: Path, estimator: Any, X: Any, y: Any, task: str, on_test: bool) -> list[Path]:
    """Confusion matrix + classification report (classification) or residual plot (regression), as files.

    Drawn in the search process (it has scikit-learn's metrics loaded already, and is idle at the end of
    the run while the writer logs the model): the writer only uploads the files, and never imports
    matplotlib. ``on_test`` says whether X, y are the held-out test set; without one the diagnostics are
    on the training data and say so, since they are then optimistic.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    folder.mkdir(parents=True, exist_ok=True)
    where = "held-out test set" if on_test else "TRAINING data (no test_size in the spec: optimistic)"
    prediction = estimator.predict(X)
    if task == "classification":
        from sklearn.metrics import ConfusionMatrixDisplay, classification_report

        text = classification_report(y, prediction, zero_division=0)
        report = classification_report(y, prediction, zero_division=0, output_dict=True)
        (folder / "classification_report.txt").write_text(f"Classification report on the {where}\n\n{text}",
                                                           encoding="utf-8")
        (folder / "classification_report.json").write_text(json.dumps(report, indent=2, default=str),
                                                            encoding="utf-8")
        display = ConfusionMatrixDisplay.from_predictions(y, prediction)
        display.ax_.set_title(f"Confusion matrix ({'test' if on_test else 'training data'})")
        fig, name = display.figure_, "confusion_matrix.png"
    else:
        import numpy as np

        y_true = np.asarray(y, dtype=float)
        y_pred = np.asarray(prediction, dtype=float)
        fig, ax = plt.subplots(figsize=(6, 4))
        ax.scatter(y_pred, y_true - y_pred, s=10, alpha=0.6)
        ax.axhline(0.0, color="grey", linewidth=1)
        ax.set_xlabel("predicted")
        ax.set_ylabel("residual (true - predicted)")
        ax.set_title(f"Residuals ({'test' if on_test else 'training data'})")
        fig.tight_layout()
        name = "residuals.png"
    fig.savefig(folder / name)
    plt.close(fig)
    return sorted(p for p in folder.iterdir() if p.is_file())

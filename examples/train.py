"""Train the winning estimator of an hpo run, the way a pipeline's training stage would.

Why a separate script: tuning and training are different pipeline stages. The tuning stage ends with
a run folder; the training stage should need nothing but two small files from it and plain
scikit-learn, so it can run in another job, container or repository:

    hpo best runs/dvc --format yaml --with-init --output best.yaml    # the parameters (init_params merged)
    python examples/train.py --params best.yaml --run-dir runs/dvc     # -> prints the held-out test score

The class comes from ``estimator`` (a dotted path) in the run's ``best_parameters.yaml`` and is imported
with importlib from scikit-learn or XGBoost only: a parameters file must not be able to make a training
job import arbitrary code. Preprocessing steps (``standard_scaler`` ...) are read from the spec the run
recorded in ``run.json`` (or given with ``--preprocess``), so the model trained here is the pipeline
that was scored. The train/test split repeats the one hpo makes: the spec's ``test_size`` and seed, stratified for
classification, whole groups with a ``groups`` column, the last rows with a ``time`` column.
"""

from __future__ import annotations

import argparse
import importlib
import json
import pickle
import sys
from pathlib import Path
from typing import Any

import yaml

ALLOWED_MODULES = ("sklearn", "xgboost")
PREPROCESS = {
    "standard_scaler": "sklearn.preprocessing.StandardScaler",
    "minmax_scaler": "sklearn.preprocessing.MinMaxScaler",
    "robust_scaler": "sklearn.preprocessing.RobustScaler",
    "maxabs_scaler": "sklearn.preprocessing.MaxAbsScaler",
}


def resolve_class(dotted: str) -> type:
    """``sklearn.linear_model.LogisticRegression`` -> the class; anything outside sklearn/xgboost is refused."""
    module_name, _, attr = dotted.rpartition(".")
    if not module_name or module_name.split(".")[0] not in ALLOWED_MODULES:
        raise SystemExit(f"refusing to import {dotted!r}: only {', '.join(ALLOWED_MODULES)} estimators are allowed")
    cls = getattr(importlib.import_module(module_name), attr, None)
    if not isinstance(cls, type) or not hasattr(cls, "fit"):
        raise SystemExit(f"{dotted!r} is not an estimator class")
    return cls


def load_yaml(path: Path) -> Any:
    with path.open(encoding="utf-8") as fh:
        return yaml.safe_load(fh)


def run_info(run_dir: Path) -> dict[str, Any]:
    """The run's provenance (run.json), or nothing when the run folder has none."""
    run_json = run_dir / "run.json"
    return json.loads(run_json.read_text(encoding="utf-8")) if run_json.is_file() else {}


def spec_of_run(run_dir: Path) -> tuple[dict[str, Any], Path | None]:
    """The spec the run recorded in run.json (empty when it cannot be found), and its path."""
    info = run_info(run_dir)
    spec_field = info.get("spec")
    spec_path = spec_field.get("path") if isinstance(spec_field, dict) else spec_field
    spec_path = spec_path or info.get("spec_path")
    found = _find_spec(Path(spec_path), run_dir) if spec_path else None
    if found is None:
        return {}, None
    return load_yaml(found) or {}, found


def _find_spec(path: Path, run_dir: Path) -> Path | None:
    """run.json shows the spec relative to the repository (or the folder hpo ran in): try those places."""
    if path.is_absolute():
        return path if path.is_file() else None
    bases = [Path.cwd()]
    for start in (run_dir.resolve(), Path.cwd().resolve()):
        bases += [top for top in (start, *start.parents) if (top / ".git").exists()][:1]
    return next((base / path for base in bases if (base / path).is_file()), None)


def model_setting(spec: dict[str, Any], model: str, key: str) -> Any:
    """A model's own setting, else the spec's ``defaults`` (the same precedence hpo uses)."""
    for entry in spec.get("models") or []:
        if isinstance(entry, dict) and entry.get("name") == model and key in entry:
            return entry[key]
    return (spec.get("defaults") or {}).get(key)


def load_data(data: dict[str, Any], base: Path) -> tuple[Any, Any, Any]:
    """X, y and the groups column (or None) from ``sklearn:<name>`` or a CSV/Parquet file.

    Relative paths are taken from the spec's folder, as hpo takes them; rows are ordered by the
    ``time`` column when there is one, so that the last rows are the held-out test set.
    """
    source = data["source"]
    if source.startswith("sklearn:"):
        from sklearn import datasets

        X, y = getattr(datasets, f"load_{source.split(':', 1)[1]}")(return_X_y=True, as_frame=True)
        return X, y, None
    import pandas as pd

    path = Path(source) if Path(source).is_absolute() else base / source
    frame = pd.read_parquet(path) if path.suffix == ".parquet" else pd.read_csv(path)
    if not data.get("target"):
        raise SystemExit("a data file needs a target column (spec data.target or --target)")
    if data.get("time"):
        frame = frame.sort_values(data["time"], kind="stable").reset_index(drop=True)
    y = frame.pop(data["target"])
    groups = frame[data["groups"]] if data.get("groups") else None
    drop = [c for c in (data.get("groups"), data.get("time"), *(data.get("drop") or [])) if c]
    X = frame[data["features"]] if data.get("features") else frame.drop(columns=drop)
    return X, y, groups


def split(X: Any, y: Any, groups: Any, data: dict[str, Any], classifier: bool, seed: int) -> tuple[Any, ...]:
    """The held-out split hpo makes: last rows for time series, whole groups, else stratified/shuffled."""
    from sklearn.model_selection import GroupShuffleSplit, train_test_split

    test_size = data.get("test_size") or 0.2
    if data.get("time"):
        return train_test_split(X, y, test_size=test_size, shuffle=False)
    if groups is not None:
        train, test = next(GroupShuffleSplit(n_splits=1, test_size=test_size, random_state=seed).split(X, y, groups))
        return X.iloc[train], X.iloc[test], y.iloc[train], y.iloc[test]
    return train_test_split(X, y, test_size=test_size, random_state=seed, stratify=y if classifier else None)


def build(params: dict[str, Any], estimator: str, preprocess: list[str], seed: int) -> Any:
    """``Estimator(**params)``, seeded like hpo seeds it, behind the run's preprocessing steps."""
    import inspect

    from sklearn.pipeline import make_pipeline

    cls = resolve_class(estimator)
    if "random_state" in inspect.signature(cls.__init__).parameters and "random_state" not in params:
        params = {**params, "random_state": seed}
    model = cls(**params)
    steps = []
    for step in preprocess:
        if step not in PREPROCESS:
            raise SystemExit(f"unknown preprocess step {step!r}; this example knows {', '.join(PREPROCESS)}")
        steps.append(resolve_class(PREPROCESS[step])())
    return make_pipeline(*steps, model) if steps else model


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Train the best estimator of an hpo run and print its test score.")
    parser.add_argument("--params", type=Path, required=True, help="output of `hpo best --format yaml --with-init`")
    parser.add_argument("--run-dir", type=Path, required=True, help="the run folder (best_parameters.yaml, run.json)")
    parser.add_argument("--model", help="model name in the run (default: the run's best_model)")
    parser.add_argument("--data", help="sklearn:<name> or a data file (default: the spec's data.source)")
    parser.add_argument("--target", help="target column of a data file (default: the spec's data.target)")
    parser.add_argument("--preprocess", action="append", help="preprocess step (default: the spec's, repeatable)")
    parser.add_argument("--test-size", type=float, help="held-out fraction (default: the spec's data.test_size, "
                        "else 0.2)")
    parser.add_argument("--seed", type=int, help="split and estimator seed (default: run.json's and the "
                        "model's seed)")
    parser.add_argument("--save", type=Path, help="pickle the trained model here")
    parser.add_argument("--metrics-out", type=Path, help="write {metric, test_score} as JSON here (DVC metrics)")
    args = parser.parse_args(argv)

    best = load_yaml(args.run_dir / "best_parameters.yaml")
    name = args.model or best["best_model"]
    entry = best["models"][name]
    params = load_yaml(args.params) or {}
    spec, spec_path = spec_of_run(args.run_dir)
    data_spec = dict(spec.get("data") or {})
    for key, value in (("source", args.data), ("target", args.target), ("test_size", args.test_size)):
        if value is not None:
            data_spec[key] = value
    if not data_spec.get("source"):
        raise SystemExit("no data: pass --data (the run's spec could not be found through run.json)")
    # 0 is a seed: test for None, not truthiness. The estimator takes its model's seed; the held-out split
    # the one seed hpo recorded for the whole run in run.json (every model is tested on the same rows).
    spec_seed = model_setting(spec, name, "seed")
    seed = args.seed if args.seed is not None else int(spec_seed if spec_seed is not None else 42)
    run_seed = run_info(args.run_dir).get("seed")
    split_seed = args.seed if args.seed is not None else int(run_seed if run_seed is not None else seed)
    preprocess = args.preprocess if args.preprocess is not None else model_setting(spec, name, "preprocess") or []
    metric = best.get("metric") or "accuracy"

    from sklearn.base import is_classifier
    from sklearn.metrics import get_scorer

    X, y, groups = load_data(data_spec, spec_path.parent if spec_path else Path.cwd())
    model = build(params, entry["estimator"], [p for p in preprocess if isinstance(p, str)], seed)
    X_train, X_test, y_train, y_test = split(X, y, groups, data_spec, is_classifier(model), split_seed)
    model.fit(X_train, y_train)
    score = float(get_scorer(metric)(model, X_test, y_test))
    print(f"model: {name} ({entry['estimator']})")
    print(f"params: {json.dumps(params, sort_keys=True)}")
    print(f"test {metric}: {score:.6f}")
    if entry.get("test_score") is not None:
        print(f"hpo's test {metric}: {float(entry['test_score']):.6f}")
    if args.save:
        args.save.parent.mkdir(parents=True, exist_ok=True)
        with args.save.open("wb") as fh:
            pickle.dump(model, fh)
    if args.metrics_out:
        args.metrics_out.parent.mkdir(parents=True, exist_ok=True)
        args.metrics_out.write_text(json.dumps({"model": name, "metric": metric, "test_score": score}, indent=2) + "\n",
                                    encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())

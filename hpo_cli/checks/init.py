"""``hpo init``: a commented starter spec written for one data file, so a first search is one command away.

What it decides from the data, and why:

- the task: a non-numeric or boolean target, or whole numbers with few distinct values, is classification;
  otherwise regression (``--task`` overrides);
- the features: numeric and boolean columns; text and date columns are listed under ``drop`` (the
  Pipeline scales and imputes numbers only), and an imputer goes in front of the models that need one
  when a feature has missing values;
- the models: a linear baseline (scaled), a random forest and XGBoost, each with log-scaled ranges where
  a parameter spans orders of magnitude, and a TPE budget of 10 trials per searched parameter (what
  ``hpo validate`` asks for);
- the CV: stratified for classification, group with ``--groups``, time series with ``--time``; folds
  lowered when the smallest class, the number of groups or the rows cannot fill five;
- a held-out test set (``test_size: 0.2``) and the ``$schema`` comment editors read.

The result passes ``hpo validate --strict`` (tested on every example data file and on new CSVs).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hpo_cli.core.errors import InputError, Location
from hpo_cli.core.options import InitOptions
from hpo_cli.core.text import suggest

TEST_SIZE = 0.2
MAX_FOLDS = 5
#: A whole-number target with at most this many distinct values is read as class labels.
MAX_CLASSES = 20
SCHEMA_FILE = "hpo.schema.json"


@dataclass
class StarterSpec:
    """The spec's text and what was inferred (the CLI prints the latter)."""

    text: str
    task: str
    n_rows: int
    features: list[str]
    dropped: list[str]
    folds: int
    cv: str
    schema: Path | None  # a schema file the ``$schema`` comment points to that does not exist yet


def starter_spec(options: InitOptions) -> StarterSpec:
    """Read the data, infer the task and write a spec that fits it; bad input is an ``InputError``."""
    source = options.data or "sklearn:breast_cancer"
    frame, shown = _frame(source, options.output)
    target = options.target or ("target" if source.startswith("sklearn:") else None)
    columns = [str(c) for c in frame.columns]
    if target is None:
        raise InputError(f"name the column to predict with --target (columns: {', '.join(columns[:30])})",
                         Location("--target"))
    if options.groups and options.time:
        raise InputError("give --groups (group CV) or --time (time-series CV), not both", Location("--time"))
    for option, name in (("--target", target), ("--groups", options.groups), ("--time", options.time)):
        if name is not None and name not in columns:
            raise InputError(f"{shown} has no column '{name}'{suggest(name, columns)} (columns: "
                             f"{', '.join(columns[:30])})", Location(option))
    y = frame[target].dropna()
    if y.empty:
        raise InputError(f"the target column '{target}' of {shown} is empty", Location("--target"))
    task = options.task or _infer_task(y)
    if task not in ("classification", "regression"):
        raise InputError(f"must be classification or regression, got {task!r}", Location("--task"))
    if task == "regression" and not _numeric(y):
        raise InputError(f"the target '{target}' is not numeric: regression needs numbers", Location("--task"))
    keys = {target, options.groups, options.time}
    features = [c for c in columns if c not in keys and _numeric(frame[c])]
    dropped = [c for c in columns if c not in keys and c not in features]
    if not features:
        raise InputError(f"{shown} has no numeric feature column besides the target", Location(str(shown)))
    missing = bool(frame[features].isna().to_numpy().any())
    n_classes = int(y.nunique()) if task == "classification" else 0
    coded = task == "regression" or _coded(y)
    folds, cv = _cv(frame, y, task, options)
    name = re.sub(r"[^A-Za-z0-9_.-]+", "-", Path(source.removeprefix("sklearn:")).stem).strip("-") or "spec"
    schema_ref, schema_missing = _schema(options.output)
    text = _render(source=shown, name=name, target=target, task=task, inferred=options.task is None,
                   n_classes=n_classes, n_rows=len(frame), dropped=dropped, missing=missing, folds=folds, cv=cv,
                   options=options, schema=schema_ref, coded=coded)
    return StarterSpec(text, task, len(frame), features, dropped, folds, cv, schema_missing)


def default_output(options: InitOptions) -> Path:
    """``<data file stem>.yaml`` in the current folder (``breast_cancer.yaml`` without data)."""
    stem = Path((options.data or "sklearn:breast_cancer").removeprefix("sklearn:")).name.split(".")[0]
    return Path(f"{stem or 'spec'}.yaml")


def _frame(source: str, output: Path | None) -> tuple[Any, str]:
    """The data as a frame, and the source as the spec will name it (relative to the spec's folder)."""
    if source.startswith("sklearn:"):
        from hpo_cli.problem.data import SKLEARN_DATASETS

        name = source.removeprefix("sklearn:")
        if name not in SKLEARN_DATASETS:
            raise InputError(f"unknown scikit-learn dataset '{name}'{suggest(name, SKLEARN_DATASETS)} (bundled: "
                             f"{', '.join(SKLEARN_DATASETS)})", Location("DATA"))
        import sklearn.datasets

        return getattr(sklearn.datasets, f"load_{name}")(as_frame=True).frame, source
    from hpo_cli.problem.data import read_table, unreadable_file

    path = Path(source).expanduser()
    reason = unreadable_file(path)
    if reason:
        raise InputError(reason, Location("DATA"))
    try:
        frame = read_table(path)
    except ValueError as exc:
        raise InputError(f"{source}: {exc}", Location("DATA")) from None
    spec_dir = (output.parent if output is not None else Path.cwd()).resolve()
    relative = Path(os.path.relpath(path.resolve(), spec_dir))
    # beside or near the spec: relative, so the pair moves together; far away: where it is
    return frame, (relative if relative.parts[:3].count("..") < 3 else path.resolve()).as_posix()


def _numeric(column: Any) -> bool:
    import pandas as pd

    return bool(pd.api.types.is_numeric_dtype(column) or pd.api.types.is_bool_dtype(column))


def _infer_task(y: Any) -> str:
    """Labels (text, booleans, few whole numbers) mean classification; other numbers regression."""
    import pandas as pd

    if pd.api.types.is_bool_dtype(y) or not pd.api.types.is_numeric_dtype(y):
        return "classification"
    whole = bool((y == y.round()).all())
    return "classification" if whole and y.nunique() <= min(MAX_CLASSES, max(2, len(y) // 5)) else "regression"


def _coded(y: Any) -> bool:
    """Class labels 0..k-1 (what XGBoost and the binary scorers' default ``pos_label=1`` expect)."""
    import pandas as pd

    if not pd.api.types.is_numeric_dtype(y) or pd.api.types.is_bool_dtype(y):
        return False
    return sorted(y.unique().tolist()) == list(range(int(y.nunique())))


def _cv(frame: Any, y: Any, task: str, options: InitOptions) -> tuple[int, str]:
    """(folds, kind): five folds unless the training rows' smallest class or groups cannot fill them."""
    train = 1 - TEST_SIZE
    if options.time:
        return max(2, min(MAX_FOLDS, int(len(frame) * train) // 10)), "timeseries"
    if options.groups:
        return max(2, min(MAX_FOLDS, int(frame[options.groups].nunique() * train))), "group"
    if task == "classification":
        return max(2, min(MAX_FOLDS, int(y.value_counts().min() * train))), "stratified"
    return MAX_FOLDS, "kfold"


def _schema(output: Path | None) -> tuple[str, Path | None]:
    """The ``$schema`` reference (relative to the spec) and, when it must be written, the file.

    An hpo schema already in the spec's folder or above it (``hpo.schema.json``, a checkout's
    ``specs/schema.json``) is reused; otherwise ``hpo.schema.json`` beside the spec is to be written.
    """
    folder = (output.parent if output is not None else Path.cwd()).resolve()
    for base in (folder, *list(folder.parents)[:4]):
        for candidate in (base / SCHEMA_FILE, base / "specs" / "schema.json"):
            if candidate.is_file():
                return Path(os.path.relpath(candidate, folder)).as_posix(), None
    return SCHEMA_FILE, folder / SCHEMA_FILE


def _models(task: str, missing: bool, coded: bool) -> list[str]:
    """The three starter models as YAML lines: a linear baseline, a random forest, XGBoost."""
    impute = ["simple_imputer"] if missing else []
    linear_steps = ", ".join([*impute, "standard_scaler"])
    forest_steps = f"[{', '.join(impute)}]"
    if task == "classification":
        linear = ["  - name: logreg            # the linear baseline: a forest or XGBoost must beat it",
                  "    class: LogisticRegression",
                  "    init_params: {max_iter: 2000}",
                  f"    preprocess: [{linear_steps}]",
                  "    budget: {trials: 20}",
                  "    space:",
                  "      C: {type: float, low: 1.0e-3, high: 100.0, log: true}   # inverse regularization",
                  "      class_weight: [null, balanced]"]
        forest_class, xgb_class = "RandomForestClassifier", "XGBClassifier"
    else:
        linear = ["  - name: ridge             # the linear baseline: a forest or XGBoost must beat it",
                  "    class: Ridge",
                  f"    preprocess: [{linear_steps}]",
                  "    budget: {trials: 10}",
                  "    space:",
                  "      alpha: {type: float, low: 1.0e-3, high: 1.0e+3, log: true}"]
        forest_class, xgb_class = "RandomForestRegressor", "XGBRegressor"
    forest = ["  - name: forest",
              f"    class: {forest_class}",
              "    init_params: {n_estimators: 100, n_jobs: 1}",
              *([f"    preprocess: {forest_steps}"] if impute else []),
              "    budget: {trials: 30}",
              "    space:",
              "      max_depth: {type: int, low: 2, high: 32, log: true}",
              "      min_samples_leaf: {type: int, low: 1, high: 32, log: true}",
              "      max_features: [sqrt, 0.5, 1.0]"]
    xgb = ["  - name: xgb",
           f"    class: {xgb_class}",
           "    init_params: {n_jobs: 1, tree_method: hist}",
           "    budget: {trials: 50}",
           "    space:",
           "      n_estimators: {type: int, low: 50, high: 500, log: true}",
           "      learning_rate: {type: float, low: 0.01, high: 0.3, log: true}",
           "      max_depth: {type: int, low: 2, high: 10}",
           "      subsample: {type: float, low: 0.5, high: 1.0}",
           "      colsample_bytree: {type: float, low: 0.5, high: 1.0}"]
    if not coded:  # XGBoost refuses other labels
        xgb = ["  # XGBoost (XGBClassifier) needs the classes coded 0..k-1: encode the target to add it"]
    return [*linear, *forest, *xgb]


def _metrics(task: str, n_classes: int, coded: bool) -> tuple[str, str, str]:
    """(metric, extra metrics, why) for the task."""
    if task == "regression":
        return ("neg_root_mean_squared_error", "[neg_mean_absolute_error, r2]",
                "scikit-learn's negated RMSE: greater (closer to 0) is better")
    if n_classes > 2:
        return "roc_auc_ovr", "[balanced_accuracy, f1_macro]", f"{n_classes} classes: one-vs-rest ROC AUC"
    extra = "[balanced_accuracy, f1]" if coded else "[balanced_accuracy]"  # f1's positive class is 1
    return "roc_auc", extra, "threshold-free, robust to imbalanced classes"


def _render(*, source: str, name: str, target: str, task: str, inferred: bool, n_classes: int, n_rows: int,
            dropped: list[str], missing: bool, folds: int, cv: str, options: InitOptions, schema: str,
            coded: bool) -> str:
    metric, metrics, why = _metrics(task, n_classes, coded)
    how = "inferred from the target; pass --task to change" if inferred else "from --task"
    classes = f", {n_classes} classes" if task == "classification" else ""
    cv_line = {"stratified": f"{{kind: stratified, folds: {folds}, shuffle: true}}  # each fold keeps the class "
                             "shares",
               "kfold": f"{{kind: kfold, folds: {folds}, shuffle: true}}",
               "group": f"{{kind: group, folds: {folds}}}  # a group's rows stay in one fold (no leak "
                        "across folds)",
               "timeseries": f"{{kind: timeseries, folds: {folds}}}  # every fold validates on rows after "
                             "its training rows"}[cv]
    lines = [f"# yaml-language-server: $schema={schema}",
             f"# Starter spec written by `hpo init` for {source} ({n_rows} rows; task: {task}{classes}, {how}).",
             "# Check it, then:  hpo validate --strict THIS_FILE  &&  hpo tune THIS_FILE",
             "# Every key is described in the README's spec reference; `hpo schema` prints the JSON Schema.",
             f"name: {name}",
             "data:",
             f"  source: {_quote(source)}" + ("" if source.startswith("sklearn:") else "   # relative to this file"),
             f"  target: {_quote(target)}"]
    if options.groups:
        lines.append(f"  groups: {_quote(options.groups)}   # the test set and the folds keep each group whole")
    if options.time:
        lines.append(f"  time: {_quote(options.time)}   # rows are ordered by it; the test set is the last rows")
    if dropped:
        lines.append(f"  drop: [{', '.join(_quote(c) for c in dropped)}]   # not numeric: encode them yourself "
                     "(or a preprocess step) to use them")
    lines += [f"  test_size: {TEST_SIZE}   # held out: never seen by the search, scored once per model at the end",
              "defaults:",
              "  method: tpe                 # auto | grid | random | tpe | ...",
              f"  cv: {cv_line}",
              f"  metric: {metric}   # {why}",
              f"  metrics: {metrics}   # also computed and logged, not optimized",
              "  budget: {timeout: 30m}      # per model; each model below sets its trials",
              "  seed: 42",
              "models:" + ("   # simple_imputer: some features have missing values" if missing else ""),
              *_models(task, missing, coded),
              "tracking:",
              "  mlflow: true                # --no-mlflow turns it off; see the README for a remote server",
              f"output: runs/{name}"]
    return "\n".join(lines) + "\n"


def _quote(text: str) -> str:
    """A YAML scalar: bare when it reads back as the same string, else double-quoted."""
    import json

    import yaml

    try:
        if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_./:-]*", text) and yaml.safe_load(text) == text:
            return text
    except yaml.YAMLError:
        pass
    return json.dumps(text)

"""What a trial fits: the preprocessing steps a spec names and the estimator, in a Pipeline when there are steps.

Built fresh for every fold, so each step is fitted on that fold's train rows only (no leakage), and
seeded from the model's ``seed`` so a rerun of the same spec gives the same fits. Classes are resolved
through ``estimators``, the one gate between spec text and code; scikit-learn is imported inside the
functions.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from hpo_cli.core.text import suggest
from hpo_cli.problem.estimators import (
    SEED_PARAM,
    accepts_extra_params,
    effective_init_params,
    estimator_params,
    resolve_estimator,
    sklearn_class,
    sklearn_estimators,
)
from hpo_cli.problem.threads import thread_kwargs

if TYPE_CHECKING:
    from hpo_cli.spec.models import ModelSpec

# Short preprocessing names -> (class name, default init params). The median imputer and the
# ignore-unknown encoder are the defaults that do not break on the rows of an unseen fold.
PREPROCESS_STEPS: dict[str, tuple[str, dict[str, Any]]] = {
    "standard_scaler": ("StandardScaler", {}),
    "minmax_scaler": ("MinMaxScaler", {}),
    "robust_scaler": ("RobustScaler", {}),
    "maxabs_scaler": ("MaxAbsScaler", {}),
    "simple_imputer": ("SimpleImputer", {"strategy": "median"}),
    "one_hot": ("OneHotEncoder", {"handle_unknown": "ignore"}),
    "polynomial_features": ("PolynomialFeatures", {}),
    "pca": ("PCA", {}),
}


def _snake(name: str) -> str:
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])", "_", name).lower()


def _preprocess_class(name: str, allow_modules: Sequence[str]) -> tuple[str, type, dict[str, Any]]:
    """(step name, class, default params) of one step name; ``ValueError`` if unknown."""
    by_class = {cls_name: short for short, (cls_name, _) in PREPROCESS_STEPS.items()}
    if name in PREPROCESS_STEPS:
        cls_name, defaults = PREPROCESS_STEPS[name]
        return name, sklearn_class(cls_name), dict(defaults)
    try:
        cls = resolve_estimator(name, allow_modules)
    except ValueError:
        if "." in name:
            raise
        options = [*PREPROCESS_STEPS, *(n for n in sklearn_estimators() if n[0].isupper())]
        raise ValueError(f"unknown preprocessing step '{name}'{suggest(name, options)} (short names: "
                         f"{', '.join(PREPROCESS_STEPS)}; or a transformer class name)") from None
    if not callable(getattr(cls, "transform", None)):
        raise ValueError(f"'{name}' is not a transformer (it has no transform()); preprocess steps transform X")
    short = by_class.get(cls.__name__)
    if short is not None and cls is sklearn_class(cls.__name__):
        return short, cls, dict(PREPROCESS_STEPS[short][1])
    return _snake(cls.__name__), cls, {}


def resolve_preprocess(steps: Sequence[str | dict[str, Any]],
                       allow_modules: Sequence[str] = ()) -> list[tuple[str, Any]]:
    """Fresh ``(step name, transformer)`` pairs, fitted inside each fold by the Pipeline (no leakage).

    A step is a short name (``standard_scaler``), a class name (``StandardScaler``) or a one-key
    mapping of either to init params (``{StandardScaler: {with_mean: false}}``). Step names are the
    short/snake names; a repeated step gets ``_2``, ``_3``... so ``<step>__<param>`` stays unique.
    """
    out: list[tuple[str, Any]] = []
    used: set[str] = set()
    for i, step in enumerate(steps):
        if isinstance(step, dict):
            if len(step) != 1:
                raise ValueError(f"preprocess[{i}]: a step mapping has exactly one key, the step name, e.g. "
                                 f"{{StandardScaler: {{with_mean: false}}}}")
            name, params = next(iter(step.items()))
            params = dict(params or {})
        elif isinstance(step, str):
            name, params = step, {}
        else:
            raise ValueError(f"preprocess[{i}]: expected a step name or {{name: {{params}}}}, got {step!r}")
        step_name, cls, defaults = _preprocess_class(str(name), allow_modules)
        unknown = sorted(set(params) - estimator_params(cls))
        if unknown and not accepts_extra_params(cls):
            raise ValueError(f"preprocess step '{name}' has no parameter '{unknown[0]}'"
                             f"{suggest(unknown[0], sorted(estimator_params(cls)))}")
        out.append((unique_step_name(step_name, used), cls(**{**defaults, **params})))
    return out


def unique_step_name(name: str, used: set[str]) -> str:
    """The Pipeline name of a step: ``name``, else ``name_2``, ``name_3``... (``model`` is the estimator's).

    ``hpo validate`` names steps with this too, so ``<step>__<param>`` means the same step in both.
    """
    unique, n = name, 2
    while unique in used or unique == "model":
        unique, n = f"{name}_{n}", n + 1
    used.add(unique)
    return unique


def _set_thread_count(cls: type, kwargs: dict[str, Any], n_jobs: int | None) -> None:
    """The estimator's thread parameter (``n_jobs``, ``n_threads``, ``nthread``, ``thread_count``) = ``n_jobs``.

    Only when ``init_params`` left it unset. XGBoost/LightGBM/CatBoost default to every core, so they
    always get it. scikit-learn's ``n_jobs=None`` already means one thread and its linear models ignore
    ``n_jobs`` (with a FutureWarning since 1.8), so scikit-learn gets it only for more than one thread,
    linear models never.
    """
    if n_jobs is None:
        return
    if cls.__module__.startswith("sklearn") and (n_jobs <= 1 or cls.__module__.startswith("sklearn.linear_model")):
        return
    accepted = set(estimator_params(cls))
    extra = thread_kwargs(accepted, kwargs, n_jobs)
    if not extra and accepts_extra_params(cls) and cls.__module__.split(".")[0] in ("xgboost", "lightgbm"):
        extra = thread_kwargs({"n_jobs"}, kwargs, n_jobs)
    kwargs.update(dict(list(extra.items())[:1]))  # one name: XGBoost takes n_jobs and nthread for the same thing


def build_estimator(model: ModelSpec, params: dict[str, Any], allow_modules: Sequence[str] = (),
                    *, n_jobs: int | None = None) -> Any:
    """A fresh, unfitted estimator for one trial: ``class(**init_params, **params)``, in a Pipeline if needed.

    ``params`` (the trial's sampled values) win over ``init_params``. Names address the estimator
    by its own parameter names (``C``, not ``model__C``); ``<step>__<param>`` addresses a preprocess
    step, and any other ``a__b`` goes to the estimator's ``set_params`` (nested estimators). With
    preprocess steps the result is ``Pipeline([...steps, ("model", estimator)])``.

    Reproducibility: an estimator or step with a ``random_state`` the user left unset gets the
    model's ``seed``, so a rerun of the same spec gives the same fits; the estimator's init params are
    ``estimators.effective_init_params``, so what a run exports is what was fitted. ``n_jobs``, when
    given, is the trial's thread count (``problem.threads``), set as the estimator's thread parameter
    unless the user set it (``_set_thread_count``), which keeps parallel trials from oversubscribing the CPU.
    """
    cls = resolve_estimator(model.class_, allow_modules)
    steps = resolve_preprocess(model.preprocess, allow_modules)
    step_names = {name for name, _ in steps}
    merged = {**effective_init_params(model, allow_modules), **params}
    own: dict[str, Any] = {}
    nested: dict[str, Any] = {}
    step_params: dict[str, dict[str, Any]] = {}
    for key, value in merged.items():
        head, sep, rest = key.partition("__")
        if sep and head in step_names:
            step_params.setdefault(head, {})[rest] = value
        elif sep:
            nested[key] = value
        else:
            own[key] = value
    _set_thread_count(cls, own, n_jobs)
    estimator = cls(**own)
    if nested:
        estimator.set_params(**nested)
    if not steps:
        return estimator
    from sklearn.pipeline import Pipeline

    for name, step in steps:
        updates = step_params.get(name, {})
        if SEED_PARAM in step.get_params(deep=False) and SEED_PARAM not in updates \
                and step.get_params(deep=False)[SEED_PARAM] is None:
            updates = {**updates, SEED_PARAM: model.seed}
        if updates:
            step.set_params(**updates)
    return Pipeline([*steps, ("model", estimator)])

"""Estimator classes from spec text: short names, dotted paths, their task and their parameters.

A spec names classes as text, so this module is the one gate between a user's file and code that
runs: nothing is ``eval``-ed, only classes from scikit-learn, XGBoost, LightGBM and CatBoost resolve
unless the spec lists another package in ``allow_modules``, and whatever resolves must be a class
with ``fit``/``get_params``, so ``os.system`` or ``subprocess.Popen`` never get called. Preprocessing
steps and the estimator a trial fits are built from these classes in ``pipeline``.

Errors are ``ValueError``s with a full sentence (and a "did you mean"); callers holding a ``Spec``
turn them into located ``InputError``s (``checks.validate.check_spec`` does, so ``hpo tune`` never
reaches ``pipeline.build_estimator`` with a bad name). scikit-learn and XGBoost are imported inside
the functions.
"""

from __future__ import annotations

import functools
import importlib
import importlib.util
import inspect
import re
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from hpo_cli.core.text import suggest

if TYPE_CHECKING:
    from hpo_cli.spec.models import ModelSpec

TRUSTED_PACKAGES = ("sklearn", "xgboost", "lightgbm", "catboost")
_EXTRA_SHORT_NAMES = {
    "xgboost": ("XGBClassifier", "XGBRegressor", "XGBRanker", "XGBRFClassifier", "XGBRFRegressor"),
    "lightgbm": ("LGBMClassifier", "LGBMRegressor", "LGBMRanker"),
    "catboost": ("CatBoostClassifier", "CatBoostRegressor", "CatBoostRanker"),
}
#: Seeded with the model's ``seed`` wherever the user left it unset, so a rerun of a spec gives the same fits.
SEED_PARAM = "random_state"


# Where scikit-learn's estimators and transformers live, most used first. Short names are looked up
# here, importing module by module until one has it: ``all_estimators`` imports every module (and
# pytest), which cost ~0.2 s on every command; it is kept for "did you mean" on an unknown name.
_SKLEARN_MODULES = (
    "linear_model", "ensemble", "svm", "neighbors", "tree", "preprocessing", "naive_bayes", "neural_network",
    "dummy", "discriminant_analysis", "gaussian_process", "kernel_ridge", "decomposition", "impute",
    "feature_selection", "cross_decomposition", "isotonic", "semi_supervised", "multiclass", "multioutput",
    "calibration", "compose", "pipeline", "kernel_approximation", "random_projection", "cluster", "manifold",
    "mixture", "covariance", "feature_extraction", "feature_extraction.text", "feature_extraction.image",
    "frozen", "model_selection",
)


@functools.cache
def sklearn_class(name: str) -> type | None:
    """The public scikit-learn estimator class with this name, or None."""
    for module_name in _SKLEARN_MODULES:
        try:
            module = importlib.import_module(f"sklearn.{module_name}")
        except ImportError:
            continue
        public = getattr(module, "__all__", None)
        obj = getattr(module, name, None) if public is None or name in public else None
        if inspect.isclass(obj) and callable(getattr(obj, "get_params", None)):
            return obj
    return sklearn_estimators().get(name)  # anything the list above misses, at the full walk's price


@functools.cache
def sklearn_estimators() -> dict[str, type]:
    """Every public scikit-learn estimator by class name, for suggestions (walks the whole package)."""
    import warnings

    from sklearn.utils import all_estimators

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return dict(all_estimators())


def _installed(package: str) -> bool:
    return importlib.util.find_spec(package) is not None


def short_names() -> list[str]:
    """All short names that resolve here (scikit-learn's and those of the installed boosting libraries)."""
    names = list(sklearn_estimators())
    for package, extra in _EXTRA_SHORT_NAMES.items():
        if _installed(package):
            names.extend(extra)
    return names


def _check_estimator_class(obj: Any, name: str) -> type:
    if not inspect.isclass(obj):
        raise ValueError(f"'{name}' is not a class (it is {type(obj).__name__}); an estimator is a class "
                         f"with fit() and get_params()")
    if not (callable(getattr(obj, "fit", None)) and callable(getattr(obj, "get_params", None))):
        raise ValueError(f"'{name}' is not a scikit-learn compatible estimator (it has no fit()/get_params())")
    return obj


def _allowed(module: str, allow_modules: Sequence[str]) -> bool:
    top = module.split(".")[0]
    if top in TRUSTED_PACKAGES:
        return True
    return any(module == m or module.startswith(m + ".") or top == m for m in allow_modules)


def resolve_estimator(name: str, allow_modules: Sequence[str] = ()) -> type:
    """The estimator class a spec's ``class:`` names; ``ValueError`` (with did-you-mean) if none.

    Short names come from scikit-learn and the installed XGBoost/LightGBM/CatBoost; a dotted path
    may point into those packages, or into a package the spec lists in ``allow_modules``. Only
    ``importlib.import_module`` and ``getattr`` are used: no text is evaluated.
    """
    name = str(name).strip()
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*", name):
        raise ValueError(f"'{name}' is not a class name or dotted path (e.g. RandomForestClassifier or "
                         f"sklearn.ensemble.RandomForestClassifier)")
    if "." not in name:
        found = sklearn_class(name)
        if found is not None:
            return found
        for package, extra in _EXTRA_SHORT_NAMES.items():
            if name in extra:
                if not _installed(package):
                    raise ValueError(f"'{name}' needs the '{package}' package, which is not installed "
                                     f"(pip install {package})")
                return _check_estimator_class(getattr(importlib.import_module(package), name), name)
        raise ValueError(f"unknown estimator '{name}'{suggest(name, short_names())} (a short name of a "
                         f"scikit-learn/XGBoost estimator, or a dotted path such as mypkg.models.MyModel)")
    module_name, _, attr = name.rpartition(".")
    if not _allowed(module_name, allow_modules):
        top = module_name.split(".")[0]
        raise ValueError(f"'{name}' is refused: classes resolve from {', '.join(TRUSTED_PACKAGES)}; list "
                         f"'{top}' under allow_modules: only if you trust it")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise ValueError(f"cannot import module '{module_name}' for '{name}': {exc}") from None
    if not hasattr(module, attr):
        options = [n for n in dir(module) if not n.startswith("_")]
        raise ValueError(f"module '{module_name}' has no '{attr}'{suggest(attr, options)}")
    return _check_estimator_class(getattr(module, attr), name)


def estimator_path(cls: type) -> str:
    """``module.Class`` through the shortest public module exposing it (``sklearn.linear_model.X``)."""
    parts = cls.__module__.split(".")
    for i in range(1, len(parts) + 1):
        if parts[i - 1].startswith("_"):
            break
        prefix = ".".join(parts[:i])
        try:
            module = importlib.import_module(prefix)
        except ImportError:  # pragma: no cover - the class came from it
            break
        if getattr(module, cls.__name__, None) is cls:
            return f"{prefix}.{cls.__name__}"
    return f"{cls.__module__}.{cls.__qualname__}"


def _instance(cls: type) -> Any | None:
    import warnings

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return cls()
    except Exception:
        return None


def task_of(cls: type) -> str:
    """``"classification"`` or ``"regression"``; ``ValueError`` for estimators that are neither.

    Uses scikit-learn's ``is_classifier``/``is_regressor`` on an instance (they read the estimator
    tags, which XGBoost implements), falling back to the mixins when the class needs arguments.
    """
    from sklearn.base import ClassifierMixin, RegressorMixin, is_classifier, is_regressor

    obj = _instance(cls)
    if obj is not None:
        if is_classifier(obj):
            return "classification"
        if is_regressor(obj):
            return "regression"
    elif issubclass(cls, ClassifierMixin):
        return "classification"
    elif issubclass(cls, RegressorMixin):
        return "regression"
    raise ValueError(f"{cls.__name__} is neither a classifier nor a regressor; hpo tunes supervised "
                     f"estimators scored on held-out folds")


@functools.cache
def estimator_params(cls: type) -> frozenset[str]:
    """Names the estimator accepts (its ``get_params()``, else its ``__init__`` signature)."""
    obj = _instance(cls)
    if obj is not None:
        try:
            return frozenset(obj.get_params(deep=False))
        except Exception:  # noqa: S110 - fall back to the signature
            pass
    sig = inspect.signature(cls.__init__)
    kinds = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
    return frozenset(p for p, v in sig.parameters.items() if p != "self" and v.kind in kinds)


def accepts_extra_params(cls: type) -> bool:
    """True when ``__init__`` takes ``**kwargs`` (XGBoost passes unknown names to the booster).

    For such classes a name outside ``estimator_params`` may still be valid (``eta``, ``alpha``),
    so ``checks`` reports it as a warning instead of an error.
    """
    for klass in cls.__mro__:
        init = klass.__dict__.get("__init__")
        if init is not None:
            params = inspect.signature(init).parameters.values()
            return any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params)
    return False


def estimator_dotted(model: ModelSpec, allow_modules: Sequence[str] = ()) -> str:
    """The dotted path of a model's estimator class, as best_parameters.yaml and the study record it."""
    return estimator_path(resolve_estimator(model.class_, allow_modules))


def effective_init_params(model: ModelSpec, allow_modules: Sequence[str] = ()) -> dict[str, Any]:
    """``init_params`` as ``pipeline.build_estimator`` applies them: with the seeded ``random_state`` added.

    Export this (not ``model.init_params``) wherever a training stage must rebuild the scored model.
    """
    params = dict(model.init_params)
    if SEED_PARAM in estimator_params(resolve_estimator(model.class_, allow_modules)):
        params.setdefault(SEED_PARAM, model.seed)
    return params

"""Rewriting the dialects a spec may be written in into the one shape the models describe.

Users bring GridSearchCV ``param_grid`` files, Hydra + Optuna ``hyperparameters`` entries, ``min``/``max``
ranges, plain lists and a shared ``defaults`` block. Each rewrite here records where the rewritten
value was written (``rename``, ``Document.origins``), so a type error found later by pydantic still
points at the user's own text rather than at the canonical shape they never wrote.
"""

from __future__ import annotations

import copy
import re
from typing import Any

from hpo_cli.core.errors import InputError
from hpo_cli.spec.loader import Document, PathKey, dotted, rename
from hpo_cli.spec.models import (
    INTERNAL_FIELDS,
    BudgetSpec,
    CVSpec,
    DataSpec,
    MlflowSpec,
    ModelSpec,
    Spec,
    TrackingSpec,
)
from hpo_cli.spec.pruning import ConfirmSpec, pruner_fields

_PARAM_SYNONYMS = {"min": "low", "max": "high", "choices": "values"}
_SPACE_SYNONYMS = ("param_grid", "space", "hyperparameters")
_MERGED_MAPPINGS = ("cv", "budget")


def _normalize_entry(doc: Document, space: dict[str, Any], base: PathKey, name: str, typed: bool) -> None:
    """Bring one space entry to ``{type, low, high, ...}`` or ``{type: categorical, values}``."""
    path = base + (name,)
    entry = space[name]
    if isinstance(entry, list):
        doc.links[path + ("values",)] = path  # values[i] is where the list's item i was written
        space[name] = {"type": "categorical", "values": entry}
        return
    if not isinstance(entry, dict):
        return  # pydantic reports the wrong type at this exact place
    for old, new in _PARAM_SYNONYMS.items():
        if old in entry and new not in entry:
            rename(doc, entry, path, old, new)
    if typed:  # Hydra-style typed entries: {tune, type, low, high, step: null, log, values}
        entry.pop("tune", None)
        for key in ("value", "default"):
            entry.pop(key, None)
        if entry.get("step", 0) is None:
            entry.pop("step")
    if entry.get("type") == "bool":
        entry["type"] = "categorical"
        entry.setdefault("values", [True, False])
    elif "type" not in entry and "values" in entry:
        entry["type"] = "categorical"
    elif "type" not in entry and "low" in entry and "high" in entry:
        # {low: 1, high: 10} is an int range, {low: 0.1, high: 1} a float one: as written.
        ints = all(isinstance(entry[k], int) and not isinstance(entry[k], bool) for k in ("low", "high"))
        entry["type"] = "int" if ints and not isinstance(entry.get("step"), float) else "float"


def _bare_name(doc: Document, model: dict[str, Any], base: PathKey, key: str) -> None:
    """``pruner: median`` is ``pruner: {type: median}``; an error in the name still points at the name."""
    if isinstance(model.get(key), str):
        path = base + (key,)
        model[key] = {"type": model[key]}
        doc.values[path + ("type",)] = doc.values.get(path, (1, 1))
        doc.written[path + ("type",)] = path


def _normalize_model(doc: Document, model: dict[str, Any], base: PathKey) -> None:
    """One model (or ``defaults``): its space under ``space``; ``tune: false`` entries become fixed params."""
    _bare_name(doc, model, base, "pruner")
    present = [k for k in _SPACE_SYNONYMS if k in model]
    if len(present) > 1:
        loc = doc.locate(base + (present[1],), key=True)
        raise InputError(f"give the search space once: {' and '.join(present)} are synonyms",
                         loc, dotted(base + (present[1],)))
    if not present:
        return
    key = present[0]
    typed = key == "hyperparameters"
    space = model[key]
    if key != "space":
        rename(doc, model, base, key, "space")
    if not isinstance(space, dict):
        return
    if typed:
        fixed = {}
        for name in [n for n, e in space.items() if isinstance(e, dict) and e.get("tune") is False]:
            entry = space.pop(name)
            value = entry.get("value", entry.get("default"))
            if value is not None:
                fixed[name] = value
        if fixed:
            params = model.setdefault("init_params", {})
            if isinstance(params, dict):
                for name, value in fixed.items():
                    if name not in params:
                        params[name] = value
                        doc.origins[base + ("init_params", name)] = base + ("space", name)
    for name in list(space):
        _normalize_entry(doc, space, base + ("space",), name, typed)


def normalize(doc: Document, file_stem: str) -> dict[str, Any]:
    """Canonical shape of the raw tree; positions follow renamed keys."""
    data = doc.data
    if not isinstance(data, dict):
        raise InputError("a spec is a mapping with at least a `models:` list", doc.locate(()))
    data.pop("$schema", None)  # an editor's pointer to specs/schema.json (JSON files have no comments)
    for key in [k for k in data if isinstance(k, str) and k.startswith("x-")]:
        del data[key]  # a block shared through YAML anchors (`x-base: &base`), as in docker compose files
    data.setdefault("name", re.sub(r"[^A-Za-z0-9_.\-]", "-", file_stem))
    models = data.get("models")
    if isinstance(models, list):
        for i, model in enumerate(models):
            if isinstance(model, dict):
                _normalize_model(doc, model, ("models", i))
    if isinstance(data.get("defaults"), dict):
        _normalize_model(doc, data["defaults"], ("defaults",))
    return data


def merge_defaults(doc: Document, data: dict[str, Any]) -> None:
    """Copy ``defaults`` into each model; a model's own value wins (``cv`` and ``budget`` key by key)."""
    defaults = data.get("defaults")
    models = data.get("models")
    if not isinstance(defaults, dict) or not isinstance(models, list):
        return
    origins = doc.origins
    for i, model in enumerate(models):
        if not isinstance(model, dict):
            continue
        for key, value in defaults.items():
            if key == "name":
                continue
            own = model.get(key)
            if key not in model:
                model[key] = copy.deepcopy(value)
                origins[("models", i, key)] = ("defaults", key)
            elif key in _MERGED_MAPPINGS and isinstance(own, dict) and isinstance(value, dict):
                for sub, sub_value in value.items():
                    if sub not in own:
                        own[sub] = copy.deepcopy(sub_value)
                        origins[("models", i, key, sub)] = ("defaults", key, sub)


#: The keys each section accepts as written (synonyms included): the "did you mean" candidates.
FIELDS: dict[str, tuple[str, ...]] = {
    "spec": tuple(f for f in Spec.model_fields if f not in INTERNAL_FIELDS),
    "model": ("name", "class", "init_params", "preprocess", "space", "param_grid", "hyperparameters",
              *(f for f in ModelSpec.model_fields if f not in {"name", "class_", "init_params", "preprocess",
                                                                "space"})),
    "data": tuple(DataSpec.model_fields),
    "cv": tuple(CVSpec.model_fields),
    "budget": tuple(BudgetSpec.model_fields),
    "confirm": tuple(ConfirmSpec.model_fields),
    **{f"pruner.{name}": fields for name, fields in pruner_fields().items()},
    "tracking": tuple(TrackingSpec.model_fields),
    "mlflow": tuple(MlflowSpec.model_fields),
    "param": ("type", "low", "high", "log", "step", "values", "when", "min", "max"),
}


def param_grid_means_grid(doc: Document, data: dict[str, Any]) -> None:
    """``param_grid`` with no ``method`` (own or in ``defaults``) is a grid, as in GridSearchCV.

    The multi-model files users bring (``name, class, init_params, param_grid``) say no method; TPE's
    default would spend 50 trials re-drawing the same few points.
    """
    models = data.get("models")
    for i, model in enumerate(models if isinstance(models, list) else []):
        if isinstance(model, dict) and "method" not in model and doc.written.get(("models", i, "space")) == (
                "models", i, "param_grid"):
            model["method"] = "grid"
            doc.origins[("models", i, "method")] = ("models", i, "param_grid")


def objectives_metric(doc: Document, data: dict[str, Any]) -> None:
    """With ``objectives``, the first one is the model's ``metric`` (what ``mean_test_score`` holds).

    Copied into ``metric`` (linked, so a message about it points at the objective). A ``metric`` merged
    from ``defaults`` yields to the model's own ``objectives``, as any default does; one written beside
    them (both the model's own, or both from ``defaults``) is left for ``checks.objectives`` to compare.
    """
    models = data.get("models")
    for i, model in enumerate(models if isinstance(models, list) else []):
        objectives = model.get("objectives") if isinstance(model, dict) else None
        if not isinstance(objectives, list) or not objectives or not isinstance(objectives[0], dict) \
                or not isinstance(objectives[0].get("metric"), str):
            continue
        first = objectives[0]["metric"]
        metric_default = doc.origins.get(("models", i, "metric")) == ("defaults", "metric")
        objectives_own = ("models", i, "objectives") not in doc.origins
        if "metric" not in model or (metric_default and objectives_own):
            model["metric"] = first
            doc.origins[("models", i, "metric")] = ("models", i, "objectives", 0, "metric")

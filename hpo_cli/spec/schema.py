"""The JSON Schema of the spec language, for editors (``# yaml-language-server: $schema=...``).

It is generated from the same pydantic models that ``load_spec`` validates with, then widened by
what ``load_spec`` accepts beyond the fields' own types (``param_grid``/``hyperparameters``,
``min``/``max``, a list for a categorical, ``cv: 5``, ``mlflow: true``, durations as text), so an
editor never flags a spec that ``hpo validate`` accepts. ``specs/schema.json`` is this output, kept
equal by a test. The schema checks shape only; ``hpo validate`` does the semantic checks.
"""

from __future__ import annotations

import copy
from typing import Any

from hpo_cli.spec.duration import DURATION_PATTERN
from hpo_cli.spec.models import INTERNAL_FIELDS, Spec
from hpo_cli.spec.pruning import PRUNERS

_RANGE_KEYS = ("low", "high", "min", "max")


def _nullable(schema: dict[str, Any]) -> dict[str, Any]:
    return {"anyOf": [schema, {"type": "null"}]}


def _range_param(defs: dict[str, Any], name: str) -> dict[str, Any]:
    """A float/int range: ``type`` may be left out (inferred from low/high), ``min``/``max`` accepted."""
    out = copy.deepcopy(defs[name])
    props = out["properties"]
    props["min"], props["max"] = copy.deepcopy(props["low"]), copy.deepcopy(props["high"])
    out["required"] = []
    out["allOf"] = [{"anyOf": [{"required": ["low"]}, {"required": ["min"]}]},
                    {"anyOf": [{"required": ["high"]}, {"required": ["max"]}]}]
    return out


def _categorical_param(defs: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(defs["CategoricalParam"])
    out["properties"]["choices"] = copy.deepcopy(out["properties"]["values"])
    out["properties"]["type"] = {"enum": ["categorical"], "type": "string"}
    out["required"] = []
    out["anyOf"] = [{"required": ["values"]}, {"required": ["choices"]}]
    return out


def _hydra_param() -> dict[str, Any]:
    """The typed entries of Hydra + Optuna pipelines: ``{tune, type, low, high, step: null, log, values}``."""
    number = {"type": "number"}
    return {
        "type": "object",
        "additionalProperties": False,
        "description": "A typed entry; `tune: false` entries are not searched and their default is fixed.",
        "properties": {
            "tune": {"type": "boolean", "default": True},
            "type": {"enum": ["float", "int", "bool", "categorical"], "type": "string"},
            **{k: number for k in _RANGE_KEYS},
            "step": _nullable({"exclusiveMinimum": 0, "type": "number"}),
            "log": {"type": "boolean"},
            "values": {"type": "array", "minItems": 1},
            "choices": {"type": "array", "minItems": 1},
            "default": {}, "value": {},
            "when": _nullable({"type": "object"}),
        },
    }


def spec_json_schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of a spec file, internal fields (path, sha256, doc) excluded."""
    schema = Spec.model_json_schema(mode="validation")
    defs: dict[str, Any] = schema["$defs"]
    for key in INTERNAL_FIELDS:
        schema["properties"].pop(key, None)
    schema["required"] = [r for r in schema.get("required", []) if r != "name"]  # default: the file's stem
    schema["properties"] = {"$schema": {"type": "string", "description": "this schema, for editors"},
                            **schema["properties"]}
    schema["patternProperties"] = {"^x-": {"description": "ignored: a block shared through YAML anchors and "
                                           "merge keys (x-base: &base, then <<: *base in a model)"}}
    defs["FloatParam"] = _range_param(defs, "FloatParam")
    defs["IntParam"] = _range_param(defs, "IntParam")
    defs["CategoricalParam"] = _categorical_param(defs)
    defs["HydraParam"] = _hydra_param()
    param = {"anyOf": [{"type": "array", "minItems": 1, "description": "a categorical choice (a grid axis)"},
                       {"$ref": "#/$defs/FloatParam"}, {"$ref": "#/$defs/IntParam"},
                       {"$ref": "#/$defs/CategoricalParam"}]}
    space = {"type": "object", "additionalProperties": param}

    budget = defs["BudgetSpec"]["properties"]
    budget["timeout"] = {"anyOf": [{"exclusiveMinimum": 0, "type": "number"},
                                   {"type": "string", "pattern": DURATION_PATTERN}, {"type": "null"}],
                         "default": None, "description": "seconds, or a duration such as 90s, 20m, 2h"}
    defs["TrackingSpec"]["properties"]["mlflow"] = {"anyOf": [{"type": "boolean"}, {"$ref": "#/$defs/MlflowSpec"}]}

    model = defs["ModelSpec"]
    props = model["properties"]
    props["space"] = space
    props["param_grid"] = copy.deepcopy(space)
    props["hyperparameters"] = {"type": "object", "additionalProperties": {"$ref": "#/$defs/HydraParam"}}
    props["cv"] = {"anyOf": [{"type": "integer", "minimum": 2, "description": "number of folds"},
                             {"$ref": "#/$defs/CVSpec"}]}
    props["pruner"] = {"anyOf": [{"type": "string", "enum": list(PRUNERS), "description": "a pruner's name, its "
                                  "parameters at their defaults"}, props["pruner"]], "default": "none"}
    props["objectives"] = {"type": "array", "items": {"$ref": "#/$defs/ObjectiveSpec"}, "minItems": 2, "maxItems": 2,
                           "description": "two objectives: a scikit-learn scorer, then a scorer or a cost "
                                          "(fit_time, model_size); no pruner, target or confirm with them"}
    duration = {"anyOf": [{"exclusiveMinimum": 0, "type": "number"}, {"type": "string", "pattern": DURATION_PATTERN}]}
    limits = {"type": "object", "minProperties": 1, "maxProperties": 1, "additionalProperties": False,
              "properties": {"max_fit_time": duration, "max_model_size": {"exclusiveMinimum": 0, "type": "number"}}}
    props["select"] = {"anyOf": [{"type": "string", "enum": ["best_first", "knee"]},
                                 {"type": "string", "pattern": r"^\s*max_(fit_time|model_size)\s*:"}, limits],
                       "default": "best_first", "description": "which point of the Pareto front is exported "
                                                              "(objectives only)"}
    model["not"] = {"anyOf": [{"required": ["space", "param_grid"]}, {"required": ["space", "hyperparameters"]},
                              {"required": ["param_grid", "hyperparameters"]}]}
    defaults = copy.deepcopy(model)
    defaults["properties"].pop("name")
    defaults.pop("required", None)
    defaults["title"] = "Defaults"
    defaults["description"] = "Any model-level key; a model's own value wins (cv and budget merge key by key)."
    defs["Defaults"] = defaults
    schema["properties"]["defaults"] = {"$ref": "#/$defs/Defaults"}
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", "title": "hpo spec",
            "description": "A declarative hyperparameter search: data, models and their spaces, CV, metric, "
                           "budget, tracking. See README.md, 'Spec reference'.",
            **{k: v for k, v in schema.items() if k != "title"}}

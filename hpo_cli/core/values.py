"""Values as YAML and JSON can hold them: what the run folder, the study attributes and MLflow all store.

Mapping keys keep their type where the format can carry it: YAML holds ``{0: 1, 1: 3}`` (a
``class_weight``) with integer keys, so ``plain`` keeps scalar keys as they are. JSON makes every key a
string; where a value must come back from JSON with its key types (Optuna's study attributes and the
JSON text of categorical choices), ``to_typed_json`` writes a mapping with non-string keys as
``{"__hpo_map__": [[key, value], ...]}`` and ``from_typed_json`` turns it back.
"""

from __future__ import annotations

import math
from typing import Any

_SCALAR_KEYS = (str, int, float, bool, type(None))
MAP_TAG = "__hpo_map__"


def plain(value: Any) -> Any:
    """numpy scalars and tuples → plain Python, non-finite floats → None, so YAML/JSON stay safe and readable.

    Keys that are scalars (ints, floats, bools, None, strings) keep their type; any other key becomes its text.
    """
    if hasattr(value, "item") and callable(value.item):
        try:
            return value.item()
        except (ValueError, AttributeError):
            pass
    if isinstance(value, tuple | list):
        return [plain(v) for v in value]
    if isinstance(value, dict):
        out = {}
        for k, v in value.items():
            key = plain(k)
            out[key if isinstance(key, _SCALAR_KEYS) else str(key)] = plain(v)
        return out
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def to_typed_json(value: Any) -> Any:
    """``value`` ready for ``json.dumps`` with its mapping keys' types kept (see the module docstring)."""
    if isinstance(value, tuple | list):
        return [to_typed_json(v) for v in value]
    if isinstance(value, dict):
        if all(isinstance(k, str) for k in value) and MAP_TAG not in value:
            return {k: to_typed_json(v) for k, v in value.items()}
        return {MAP_TAG: [[to_typed_json(k), to_typed_json(v)] for k, v in value.items()]}
    return value


def from_typed_json(value: Any) -> Any:
    """The inverse of ``to_typed_json`` on what ``json.loads`` gave back; other values pass unchanged."""
    if isinstance(value, list):
        return [from_typed_json(v) for v in value]
    if isinstance(value, dict):
        pairs = value.get(MAP_TAG)
        if len(value) == 1 and isinstance(pairs, list) and all(isinstance(p, list) and len(p) == 2 for p in pairs):
            out = {}
            for k, v in pairs:
                key = from_typed_json(k)
                out[key if isinstance(key, _SCALAR_KEYS) else str(key)] = from_typed_json(v)
            return out
        return {k: from_typed_json(v) for k, v in value.items()}
    return value

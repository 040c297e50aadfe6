"""Values as YAML and JSON can hold them: what the run folder, the study attributes and MLflow all store."""

from __future__ import annotations

import math
from typing import Any


def plain(value: Any) -> Any:
    """numpy scalars and tuples → plain Python, non-finite floats → None, so YAML/JSON stay safe and readable."""
    if hasattr(value, "item") and callable(value.item):
        try:
            return value.item()
        except (ValueError, AttributeError):
            pass
    if isinstance(value, tuple | list):
        return [plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value

"""Durations such as ``90s``, ``20m``, ``2h`` or ``1h30m``: one pattern for the parser and the JSON Schema.

The spec's ``budget.timeout``, the CLI's ``--timeout`` and the schema an editor checks against must
agree on what a duration is, so ``DURATION_PATTERN`` is written once, in a dialect both Python's ``re``
and JSON Schema (ECMA-262) read the same way.
"""

from __future__ import annotations

import re
from typing import Any

#: ``[<n>h][<n>m][<n>s]``, spaces allowed around each part; ``specs/schema.json`` embeds this exact text.
DURATION_PATTERN = r"^\s*(\d+(\.\d+)?\s*h)?\s*(\d+(\.\d+)?\s*m)?\s*(\d+(\.\d+)?\s*s)?\s*$"
_DURATION = re.compile(DURATION_PATTERN)
_PARTS = (1, 3, 5)  # the groups holding "<n>h", "<n>m" and "<n>s", unit included
_SECONDS = (3600.0, 60.0, 1.0)
_PLAIN_NUMBER = re.compile(r"\d+(\.\d+)?")


def parse_duration(value: Any) -> float | None:
    """Seconds from ``90``, ``90s``, ``20m``, ``2h`` or ``1h30m``; the CLI's ``--timeout`` uses it too."""
    if value is None:
        return None
    if isinstance(value, bool):
        raise ValueError("expected a duration such as 90s, 20m or 2h")
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        text = value.strip().lower()
        if _PLAIN_NUMBER.fullmatch(text):
            return float(text)
        m = _DURATION.match(text)
        parts = m.group(*_PARTS) if m else ()
        if any(parts):
            # Each part is "<number><spaces><unit>": dropping the unit leaves what float() reads.
            return sum(float(part[:-1]) * unit for part, unit in zip(parts, _SECONDS, strict=True) if part)
    raise ValueError(f"expected a duration such as 90s, 20m or 2h, got {value!r}")

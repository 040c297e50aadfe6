"""How the report writes a number, a parameter value, a time and a score with its spread.

One place, so a score reads the same in the summary, the leaderboards and the comparison.
"""

from __future__ import annotations

import math
from typing import Any

from hpo_cli.core.results import TrialRecord


def fmt_num(x: Any) -> str:
    """A score for a table: 4 decimals, or 4 significant digits for very large/small magnitudes."""
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "—"
    x = float(x)
    if x != 0 and (abs(x) >= 1e4 or abs(x) < 1e-3):
        return f"{x:.4g}"
    return f"{x:.4f}"


def fmt_value(v: Any) -> str:
    """A parameter value for a table cell."""
    if isinstance(v, float):
        return f"{v:.4g}"
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "true" if v else "false"
    return str(v)


def fmt_seconds(seconds: float | None) -> str:
    """A short time: ``0.52 ms``, ``0.31 s``, ``4m 05s``."""
    if seconds is None:
        return "—"
    if seconds < 1e-3:
        return f"{seconds * 1e3:.2g} ms"
    if seconds < 1:
        return f"{seconds * 1e3:.3g} ms" if seconds < 0.1 else f"{seconds:.2f} s"
    if seconds < 60:
        return f"{seconds:.1f} s"
    return fmt_duration(seconds)


def fmt_duration(seconds: float | None) -> str:
    """A wall time: seconds below a minute, else ``4m 05s`` or ``1h 02m`` (a reviewer wants the order of magnitude)."""
    if seconds is None:
        return "—"
    if seconds < 60:
        return fmt_seconds(seconds)
    seconds = round(seconds)
    h, rem = divmod(seconds, 3600)
    m, s = divmod(rem, 60)
    return f"{h}h {m:02d}m" if h else (f"{m}m {s:02d}s" if m else f"{s}s")


def mean_std(record: TrialRecord | None) -> str:
    """``0.9800 ± 0.0163``: the spread says how much of a gap between two scores is fold noise."""
    if record is None or record.mean_test_score is None:
        return "—"
    if record.std_test_score is None:
        return fmt_num(record.mean_test_score)
    return f"{fmt_num(record.mean_test_score)} ± {fmt_num(record.std_test_score)}"


def confirmed_mean_std(record: TrialRecord | None) -> str:
    """The ``confirm:`` mean ± std over the further CV shuffles, or "—" for a trial that was not re-scored."""
    if record is None or record.confirmed_mean is None:
        return "—"
    return f"{fmt_num(record.confirmed_mean)} ± {fmt_num(record.confirmed_std)}"

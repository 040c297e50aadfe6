"""Waiting for the writer's backlog: how long silence is tolerated, and what the user sees meanwhile.

A long search with cheap trials can queue thousands of child runs faster than MLflow writes them; the end
of the run then waits for the writer. It waits as long as the writer makes progress (any reply), since a
fixed deadline turned healthy runs into exit 1; ``HPO_TRACKING_STALL`` seconds (default 120) without a
reply mean the store is lost.
"""

from __future__ import annotations

import logging
import os
import time

STALL_ENV = "HPO_TRACKING_STALL"
DEFAULT_STALL = 120.0  # seconds without any answer from the writer before the store counts as lost
_log = logging.getLogger("hpo.tracking")


def stall_seconds() -> float:
    """``HPO_TRACKING_STALL`` seconds, else 120: how long a silent writer is waited for (a model upload is slow)."""
    try:
        value = float(os.environ.get(STALL_ENV, DEFAULT_STALL))
    except ValueError:
        return DEFAULT_STALL
    return value if value > 0 else DEFAULT_STALL


class DrainProgress:
    """What the user sees while the run waits for queued writes: a line after 3 s, then every 10 s."""

    def __init__(self, quiet: bool) -> None:
        self.quiet = quiet
        self.start = time.monotonic()
        self.last: float | None = None

    def __call__(self, pending: int) -> None:
        now = time.monotonic()
        if self.quiet or now - self.start < 3 or (self.last is not None and now - self.last < 10):
            return
        self.last = now
        _log.warning("MLflow: writing the queued runs, %d left (%.0fs; Ctrl-C stops, --resume logs the rest)",
                     max(pending - 1, 0), now - self.start)

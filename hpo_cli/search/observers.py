"""Telling observers what happens: the search's channel to the outside (the user's stop is ``stopping``).

The search knows observers only as ``core.results.RunObserver``s (the progress display, MLflow tracking,
a test's recorder): it emits events by name and never calls an observer's own methods.
"""

from __future__ import annotations

import logging
from typing import Any

log = logging.getLogger("hpo")


class Observers:
    """Fans events out; an observer that raises is reported once and never stops the search."""

    def __init__(self, observers: list[Any], warnings_out: list[str]) -> None:
        self.observers = [o for o in observers if o is not None]
        self.broken: set[int] = set()
        self.warnings_out = warnings_out

    @property
    def want_best_model(self) -> bool:
        """Some observer keeps the refitted best model (MLflow logs it)."""
        return any(getattr(o, "wants_best_model", False) for o in self.observers)

    def emit(self, event: str, *args: Any) -> None:
        for obs in self.observers:
            method = getattr(obs, event, None)
            if method is None:
                continue
            try:
                method(*args)
            except Exception as exc:
                if id(obs) not in self.broken:
                    self.broken.add(id(obs))
                    text = f"{type(obs).__name__}.{event} failed: {type(exc).__name__}: {exc}"
                    log.warning(text)
                    self.warnings_out.append(text)

    def close(self, abort: bool = False) -> None:
        """``close()`` on every observer once; a failure is logged, never raised over the run's own outcome.

        ``abort``: a Ctrl-C outside the search (writing files, draining): observers that have ``abort()``
        (the tracker) drop their pending work at once instead of waiting for it.
        """
        observers, self.observers = self.observers, []
        for obs in observers:
            close = (getattr(obs, "abort", None) if abort else None) or getattr(obs, "close", None)
            if close is None:
                continue
            try:
                close()
            except Exception as exc:
                log.warning("closing %s failed: %s: %s", type(obs).__name__, type(exc).__name__, exc)

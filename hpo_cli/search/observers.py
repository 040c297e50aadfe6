"""Telling observers what happens, and hearing the user stop: the search's two channels to the outside.

The search knows observers only as ``core.results.RunObserver``s (the progress display, MLflow tracking,
a test's recorder): it emits events by name and never calls an observer's own methods.
"""

from __future__ import annotations

import logging
import signal
import threading
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

    def close(self) -> None:
        """``close()`` on every observer; a failure is logged, never raised over the run's own outcome."""
        for obs in self.observers:
            close = getattr(obs, "close", None)
            if close is None:
                continue
            try:
                close()
            except Exception as exc:
                log.warning("closing %s failed: %s: %s", type(obs).__name__, type(exc).__name__, exc)


class StopSignal:
    """First Ctrl-C/SIGTERM: finish the current fold, save, exit 130. Second: stop at once."""

    def __init__(self) -> None:
        self.requested = False
        self._old: dict[int, Any] = {}

    def _handle(self, signum: int, frame: Any) -> None:
        if self.requested:
            raise KeyboardInterrupt
        self.requested = True

    def __enter__(self) -> StopSignal:
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGINT, signal.SIGTERM):
                self._old[sig] = signal.signal(sig, self._handle)
        return self

    def __exit__(self, *exc: object) -> None:
        for sig, old in self._old.items():
            signal.signal(sig, old)

    def is_set(self) -> bool:
        return self.requested

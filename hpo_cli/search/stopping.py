"""Hearing the user stop, and making sure a stop ends the run even when a fit never returns.

First Ctrl-C or SIGTERM: the search finishes the current fold, saves and exits 130; ``--resume`` continues.
Second: stop at once (``KeyboardInterrupt`` in the fit).

A fit that never returns (``n_estimators: 10**9``, a C loop that never looks at signals) would otherwise keep
the process alive until SIGKILL and leave its trial RUNNING. So the first stop also starts a grace period
(``HPO_STOP_GRACE`` seconds, default 10; a second stop shortens it to one second). If the search has not
ended by then, a watchdog thread marks the running trial interrupted in the storage (the reason in its
``error``), lets the run write its folder (``on_force``), says so on stderr and ends the process with exit
130. The watchdog hears signals through ``signal.set_wakeup_fd``, which the interpreter writes from its C
signal handler: it works even while the main thread is stuck in C code and Python handlers cannot run.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

from hpo_cli.core.errors import EXIT_INTERRUPTED

GRACE_ENV = "HPO_STOP_GRACE"
DEFAULT_GRACE = 10.0
_SIGNALS = (signal.SIGINT, signal.SIGTERM)
_WAKE = b"\0"  # not a signal number: __exit__ wakes the watchdog to end it


def grace_seconds() -> float:
    """``HPO_STOP_GRACE`` (seconds, for tests and impatient operators), else 10; a bad value is the default."""
    try:
        value = float(os.environ.get(GRACE_ENV, DEFAULT_GRACE))
    except ValueError:
        return DEFAULT_GRACE
    return value if value >= 0 else DEFAULT_GRACE


def abandon_trial(study: Any, trial: Any, reason: str = "interrupted before it finished") -> None:
    """A trial cut short by a stop: FAIL, flagged ``interrupted`` so it is neither counted nor shown."""
    from optuna.trial import TrialState

    from hpo_cli.storage import attrs as st

    trial.set_user_attr(st.ATTR_INTERRUPTED, True)
    trial.set_user_attr(st.ATTR_ERROR, reason)
    study.tell(trial, state=TrialState.FAIL, skip_if_finished=True)


class StopSignal:
    """The user's stop request for one run (``with StopSignal(on_force=...) as stop``).

    The search calls ``trial_started``/``trial_ended`` around each evaluation so that the watchdog knows
    which trial to mark; ``on_force()`` writes the run folder and returns the hint printed last (the
    resume command). Outside the main thread (a test driving the search) no handler is installed.
    """

    def __init__(self, on_force: Callable[[], str] | None = None, grace: float | None = None) -> None:
        self.requested = False
        self.on_force = on_force
        self.grace = grace_seconds() if grace is None else grace
        self._old: dict[int, Any] = {}
        self._old_wakeup: int | None = None
        self._pipe: tuple[int, int] | None = None
        self._lock = threading.Lock()  # held by the watchdog from its decision to the exit
        self._current: tuple[Any, Any, str] | None = None  # (study, trial, model) being evaluated
        self._ended = False

    def _handle(self, signum: int, frame: Any) -> None:
        if self.requested:
            raise KeyboardInterrupt
        self.requested = True

    def __enter__(self) -> StopSignal:
        if threading.current_thread() is not threading.main_thread():
            return self
        for sig in _SIGNALS:
            self._old[sig] = signal.signal(sig, self._handle)
        read, write = os.pipe()
        os.set_blocking(write, False)
        self._pipe = (read, write)
        self._old_wakeup = signal.set_wakeup_fd(write, warn_on_full_buffer=False)
        threading.Thread(target=self._watch, args=(read,), name="hpo-stop-watchdog", daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        with self._lock:
            self._ended = True
        if self._pipe is not None:
            signal.set_wakeup_fd(self._old_wakeup if self._old_wakeup is not None else -1)
            write_end = self._pipe[1]
            with contextlib.suppress(OSError):
                os.write(write_end, _WAKE)  # the watchdog closes the read end
            os.close(write_end)
            self._pipe = None
        for sig, old in self._old.items():
            signal.signal(sig, old)
        self._old.clear()

    def is_set(self) -> bool:
        return self.requested

    def trial_started(self, study: Any, trial: Any, model: str) -> None:
        with self._lock:
            self._current = (study, trial, model)

    def trial_ended(self) -> None:
        """The search is about to record the trial itself; blocks forever once the watchdog took over."""
        with self._lock:
            self._current = None

    # --- the watchdog thread -------------------------------------------------------------------------

    def _watch(self, read: int) -> None:
        try:
            deadline: float | None = None
            while True:
                timeout = None if deadline is None else max(deadline - time.monotonic(), 0.0)
                if not _readable(read, timeout):
                    break  # the grace period is over
                data = os.read(read, 64)
                if _WAKE in data or not data:
                    return  # the run ended by itself
                stops = sum(data.count(bytes([s])) for s in _SIGNALS)
                if stops and deadline is None:
                    deadline = time.monotonic() + self.grace
                    stops -= 1
                if stops:  # a second stop: the user means it
                    deadline = min(deadline, time.monotonic() + 1.0)
        finally:
            os.close(read)
        self._force()

    def _force(self) -> None:
        with self._lock:  # never released: the search must not record this trial after we marked it
            if self._ended:
                return
            lines = [f"hpo: the running fit did not return within {self.grace:g}s of the stop request"]
            if self._current is not None:
                study, trial, model = self._current
                reason = f"interrupted: the fit did not return within {self.grace:g}s of the stop request"
                try:
                    abandon_trial(study, trial, reason)
                    lines[0] += f"; trial {trial.number} of {model} is marked interrupted"
                except Exception as exc:  # the storage is gone too: --resume marks it later
                    lines[0] += f"; could not mark trial {trial.number} of {model}: {type(exc).__name__}: {exc}"
            if self.on_force is not None:
                try:
                    lines.append(self.on_force())
                except Exception as exc:
                    lines.append(f"the run folder could not be written ({type(exc).__name__}: {exc})")
            with contextlib.suppress(Exception):  # the process is about to end: nobody above can render this
                sys.stderr.write("\n" + "\n".join(line for line in lines if line) + "\n")
                sys.stderr.flush()
            os._exit(EXIT_INTERRUPTED)


def _readable(fd: int, timeout: float | None) -> bool:
    import select

    ready, _, _ = select.select([fd], [], [], timeout)
    return bool(ready)

"""The search's side of the tracking writer process: start it, send it requests, collect its replies.

The process is started first thing in ``hpo tune`` (``tune.run``), before the spec is even read: it
imports MLflow and its SQL store at once (``worker.preload``), then scikit-learn, skops and what logging
the best model needs, on the other core while the search process checks the spec and loads the data —
measured (bench/bench_mlflow_fixed.py), those imports were most of tracking's fixed cost. It learns its
store only from ``open``, after every check passed: bad input still writes nothing, not even a SQLite
file. A writer never opened (bad input, ``tracking: {mlflow: false}``) is killed by ``abort``; it had
touched nothing.
"""

from __future__ import annotations

import contextlib
import os
import pickle
import queue
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from hpo_cli.core.trace import clock, trace
from hpo_cli.problem.threads import thread_env

_EARLY: list[Channel] = []  # the writer cli.entry started, until start_writer takes it


def prestart() -> None:
    """Start the writer before the command line is parsed (``cli.entry``); ``start_writer`` takes it."""
    since = clock()
    _EARLY.append(Channel())
    trace("search", "start writer", since)


def discard_early() -> None:
    """Kill a writer ``prestart`` started that no command took (bad options, ``hpo tune`` never ran)."""
    while _EARLY:
        _EARLY.pop().abort()


def start_writer(mlflow: bool) -> Channel | None:
    """The writer process unless tracking is off on the command line (``--no-mlflow``); see the module docstring.

    The one ``prestart`` started, if any, else a new one.
    """
    if _EARLY:
        early = _EARLY.pop()
        if mlflow:
            return early
        early.abort()
    if not mlflow:
        return None
    since = clock()
    writer = Channel()
    trace("search", "start writer", since)
    return writer


class Lost(Exception):
    """A synchronous request failed, or the writer process is gone."""


class Channel:
    """The search's side: start the writer process, send it requests, collect its replies on a thread.

    A plain ``python -m hpo_cli.tracking.worker`` child talking pickles over two pipes: unlike
    multiprocessing's spawn it never re-imports the caller's ``__main__``. ``send`` never waits (a
    sender thread writes the pipe); ``call`` waits for the reply as long as the writer makes progress
    (a backlog of thousands of child runs is fine; a writer silent for ``stall`` seconds is not).
    ``on_error(message, critical)`` (given to ``open``) hears about every failed request (not skipped ones).
    """

    def __init__(self) -> None:
        """Start the writer process; it imports MLflow meanwhile and waits for ``open``."""
        req_read, req_write = os.pipe()
        rep_read, rep_write = os.pipe()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "hpo_cli.tracking.worker", str(req_read), str(rep_write)],
            pass_fds=(req_read, rep_write), stdin=subprocess.DEVNULL, stdout=2,  # stdout is the search's summary
            # One thread: the writer must never spin on a core a trial needs (problem.threads).
            env={**thread_env(1, override=True),
                 "PYTHONPATH": os.pathsep.join(p for p in sys.path if p and Path(p).is_dir())})
        os.close(req_read)
        os.close(rep_write)
        self._out = os.fdopen(req_write, "wb")
        self._in = os.fdopen(rep_read, "rb")
        self._on_error: Callable[[str, bool], None] = lambda message, critical: None
        self._lock = threading.Lock()
        self._next = 1
        self._pending: dict[int, tuple[bool, Any, list[Any]]] = {}  # id -> (critical, event, [ok, value])
        self._outbox: queue.Queue[Any] = queue.Queue()
        self._connected = threading.Event()
        self._connection: list[Any] = [False, "the writer process did not start"]
        self._stopped = False
        self.opened = False
        self._progress_at = time.monotonic()  # the last reply, or when the writer last became busy
        threading.Thread(target=self._write, name="hpo-mlflow-send", daemon=True).start()
        threading.Thread(target=self._read, name="hpo-mlflow-replies", daemon=True).start()

    def open(self, uri: str, experiment: str, on_error: Callable[[str, bool], None]) -> None:
        """Give the writer its store (the first message: the URI never goes on a command line)."""
        self._on_error = on_error
        self.opened = True  # from here on the tracker ends it (``stop``/``abort``)
        self._outbox.put((uri, experiment))

    def connect(self, timeout: float) -> str:
        """The experiment id, or raise Lost with the reason the store is unusable."""
        if not self._connected.wait(timeout):
            raise Lost(f"no answer within {timeout:.0f}s")
        ok, value = self._connection
        if not ok:
            raise Lost(str(value))
        return str(value)

    def _write(self) -> None:
        while True:
            item = self._outbox.get()
            try:
                pickle.dump(item, self._out, protocol=pickle.HIGHEST_PROTOCOL)
                self._out.flush()
            except (OSError, ValueError):
                if not self._stopped:
                    self._fail_all("the tracking writer process ended")
                return
            if item is None:
                with contextlib.suppress(OSError):
                    self._out.close()
                return

    def _read(self) -> None:
        while True:
            try:
                job_id, ok, value = pickle.load(self._in)
            except Exception:  # EOF: the process ended
                if not self._stopped:
                    self._fail_all("the tracking writer process ended")
                return
            self._progress_at = time.monotonic()
            if job_id == 0:
                self._connection = [ok, value]
                self._connected.set()
                continue
            with self._lock:
                critical, event, box = self._pending.pop(job_id, (True, None, []))
            if not ok and value != "skipped":
                self._on_error(str(value), critical)
            if event is not None:
                box[:] = [ok, value]
                event.set()

    def _fail_all(self, message: str) -> None:
        if not self._connected.is_set():
            self._connection = [False, message]
            self._connected.set()
        with self._lock:
            pending, self._pending = self._pending, {}
        if pending:
            self._on_error(message, True)
        for _critical, event, box in pending.values():
            if event is not None:
                box[:] = [False, message]
                event.set()

    def _put(self, op: str, args: tuple[Any, ...], critical: bool, event: Any = None, box: Any = None) -> None:
        payload = pickle.dumps(args, protocol=pickle.HIGHEST_PROTOCOL)  # raises here, in the caller
        with self._lock:
            if not self._pending:
                self._progress_at = time.monotonic()  # idle until now: silence counts from here
            job_id = self._next
            self._next += 1
            self._pending[job_id] = (critical, event, box if box is not None else [])
        self._outbox.put((job_id, op, payload, critical))

    def send(self, op: str, *args: Any, critical: bool = True) -> None:
        self._put(op, args, critical)

    @property
    def pending(self) -> int:
        """Requests sent and not answered yet."""
        return len(self._pending)

    def call(self, op: str, *args: Any, stall: float = 120.0, critical: bool = True,
             progress: Callable[[int], None] | None = None) -> Any:
        """Send a request and wait for its reply behind everything queued before it.

        Raises Lost when the writer answers nothing for ``stall`` seconds (or fails the request);
        ``progress(pending)`` is called about once a second while waiting.
        """
        event, box = threading.Event(), []
        self._put(op, args, critical, event, box)
        while not event.wait(1.0):
            if time.monotonic() - self._progress_at > stall:
                raise Lost(f"{op}: the tracking writer answered nothing for {stall:.0f}s")
            if progress is not None:
                progress(self.pending)
        ok, value = box
        if not ok:
            raise Lost(str(value))
        return value

    def abort(self) -> None:
        """End the writer now, dropping what it still holds (Ctrl-C while draining)."""
        self._stopped = True
        with contextlib.suppress(OSError):
            self.process.kill()
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(timeout=5)

    def stop(self) -> None:
        """Let the process finish what it holds and exit (EOF); kill it only if it hangs."""
        self._stopped = True
        self._outbox.put(None)
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=5)

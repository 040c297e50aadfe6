"""The coordinator's end of the worker template (``tune.worker_main``): start it, ask it for workers, follow them.

Kept apart from ``tune.parallel`` (which decides *when* workers start, stop and are replaced): this is the
pipe protocol and a ``subprocess.Popen``-like handle for a process the coordinator did not start itself.
"""

from __future__ import annotations

import contextlib
import os
import pickle
import select
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from hpo_cli.core.options import TuneOptions
from hpo_cli.problem.threads import thread_env
from hpo_cli.tune.worker_main import HEADER, TemplateOrders


def queue_mode(options: TuneOptions, spec: Any = None) -> bool:
    """Workers and a queue: several workers, a joining process, or a storage other processes may share.

    Without the spec (``spec=None``: the CLI, before reading it) only what the command line says.
    """
    return options.workers > 1 or options.join or bool(options.storage or getattr(spec, "storage", None))


class WorkerTemplate:
    """The process that forks this machine's workers (``tune.worker_main``): started early, see there why.

    ``start`` it as soon as the run is known to need workers: it imports and loads the data while the
    invoking process runs its own checks. ``close`` (idempotent) ends it; workers it forked stop after
    their trial when they find their parent gone.
    """

    def __init__(self, options: TuneOptions, threads: int) -> None:
        env = thread_env(threads, override=options.threads is not None)
        env["PYTHONPATH"] = os.pathsep.join(p for p in sys.path if p and Path(p).is_dir())
        self.proc = subprocess.Popen([sys.executable, "-m", "hpo_cli.tune.worker_main"], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, env=env, start_new_session=True)
        assert self.proc.stdin is not None and self.proc.stdout is not None
        blob = pickle.dumps(TemplateOrders(options, threads))
        self._send(f"{len(blob):0{HEADER}d}".encode() + blob)
        self._out = self.proc.stdout.fileno()
        os.set_blocking(self._out, False)
        self._buffer = b""
        self._eof = False
        self.spawned = False
        self.pids: dict[int, int] = {}  # worker number -> pid
        self.codes: dict[int, int] = {}  # worker number -> exit code

    def _send(self, data: bytes) -> None:
        assert self.proc.stdin is not None
        with contextlib.suppress(BrokenPipeError, OSError):  # the template died: its workers show as exited
            self.proc.stdin.write(data)
            self.proc.stdin.flush()

    def spawn(self, n: int, seed_offset: int, owner: str) -> ForkedWorker:
        self.spawned = True
        self._send(f"{n} {seed_offset} {owner}\n".encode())
        return ForkedWorker(self, n)

    def read(self) -> None:
        """Take in the template's answers so far (never blocks)."""
        while not self._eof:
            try:
                data = os.read(self._out, 65536)
            except BlockingIOError:
                return
            if not data:
                self._eof = True
                return
            self._buffer += data
            *lines, self._buffer = self._buffer.split(b"\n")
            for line in lines:
                what, n, value = line.decode().split()
                (self.pids if what == "started" else self.codes)[int(n)] = int(value)

    def wait(self, timeout: float) -> None:
        """Sleep up to ``timeout`` seconds, less when the template says something (a worker started or exited):
        a worker that ran out of trials wakes the coordinator at once instead of at its next look."""
        if self._eof:
            time.sleep(timeout)
            return
        with contextlib.suppress(OSError, ValueError):
            select.select([self._out], [], [], timeout)
        self.read()

    def exit_code(self, n: int) -> int | None:
        """Worker ``n``'s exit code; None while it runs (or is about to start)."""
        self.read()
        if n in self.codes:
            return self.codes[n]
        if not self._eof:
            return None
        # The template is gone: nobody reaps its workers' codes. A worker is done when its pid is.
        code = self.proc.wait()
        pid = self.pids.get(n)
        if pid is not None and _alive(pid):
            return None
        return self.codes.setdefault(n, code if code and pid is None else 1)

    def close(self) -> None:
        """The run ended: a template that forked workers exits when its stdin closes; one that did not
        (bad input found by the invoking process) is stopped at once, wherever its imports are."""
        if not self.spawned and self.proc.poll() is None:
            self.proc.kill()
        if self.proc.poll() is None:
            with contextlib.suppress(OSError):
                assert self.proc.stdin is not None
                self.proc.stdin.close()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        with contextlib.suppress(OSError):
            assert self.proc.stdout is not None
            self.proc.stdout.close()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    with contextlib.suppress(OSError):  # a zombie (exited, its parent gone before reaping it) is not alive
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    return True


class ForkedWorker:
    """One worker the template forked, with the part of ``subprocess.Popen``'s interface the coordinator uses."""

    def __init__(self, template: WorkerTemplate, n: int) -> None:
        self.template, self.n = template, n
        self._pending: int | None = None  # a signal sent before the pid was known

    @property
    def pid(self) -> int | None:
        self.template.read()
        return self.template.pids.get(self.n)

    def poll(self) -> int | None:
        code = self.template.exit_code(self.n)
        if code is None and self._pending is not None and self.pid is not None:
            self.send_signal(self._pending)
        return code

    def send_signal(self, sig: int) -> None:
        pid = self.pid
        if pid is None:
            self._pending = sig
            return
        self._pending = None
        if self.template.exit_code(self.n) is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, sig)

    def kill(self) -> None:
        self.send_signal(signal.SIGKILL)

    def wait(self, timeout: float | None = None) -> int:
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            code = self.poll()
            if code is not None:
                return code
            if deadline is not None and time.monotonic() >= deadline:
                raise subprocess.TimeoutExpired(f"worker {self.n}", timeout or 0.0)
            time.sleep(0.01)

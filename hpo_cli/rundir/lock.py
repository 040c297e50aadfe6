"""One ``hpo tune`` per run folder at a time: an advisory lock that the operating system drops with its holder.

Two runs writing one folder would delete each other's study (fresh) or fail each other's running trials
(resume). ``flock`` is released when the process ends, however it ends (SIGKILL included), so a crashed
run never leaves the folder locked; the file keeps the holder's PID for the message.
"""

from __future__ import annotations

import os
from pathlib import Path

from hpo_cli.core.errors import InputError, Location

LOCK_FILE = ".hpo.lock"


def held_by(run_dir: Path) -> int | None:
    """The PID of the ``hpo tune`` writing ``run_dir`` now (0 if unreadable), or None when none is.

    How the report tells a run still going from one that was killed: a killed run's lock is gone with it.
    """
    import fcntl

    try:
        fd = os.open(run_dir / LOCK_FILE, os.O_RDONLY)
    except OSError:
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        text = os.pread(fd, 32, 0).decode("ascii", "replace").strip()
        return int(text) if text.isdigit() else 0
    finally:
        os.close(fd)  # also drops our shared lock
    return None


class RunFolderLock:
    """Hold a run folder for this process (``acquire``/``release``; also a context manager)."""

    def __init__(self, run_dir: Path) -> None:
        self.run_dir = run_dir
        self._fd: int | None = None

    def acquire(self) -> None:
        """Take the lock; InputError (exit 2) naming the PID that holds it already, or why the folder is unusable."""
        import fcntl

        try:
            self.run_dir.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.run_dir / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            raise InputError(f"cannot write the run folder {self.run_dir}: {exc.strerror or exc}",
                             Location(str(self.run_dir))) from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 32, 0).decode("ascii", "replace").strip() or "unknown"
            os.close(fd)
            raise InputError(f"another `hpo tune` (PID {holder}) is writing this run folder; wait for it to end, "
                             f"or give this run its own --output", Location(str(self.run_dir))) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode("ascii"), 0)
        self._fd = fd

    def release(self) -> None:
        """Let the next run in; closing the descriptor drops the lock (idempotent)."""
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> RunFolderLock:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()

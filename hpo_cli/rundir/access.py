"""Can a run folder be written where the user asked? Answered before any trial runs, with the reason.

A run folder may be an existing folder, or not exist yet below some existing folder. What can be in
the way: the path (or one of its parents) is a file; a loop of symbolic links; a file system that takes
no new folders (read-only mounts, ``/proc``); permissions. Permission bits prove little when running as
root, so the answer comes from trying: a probe folder is created in the nearest existing folder and
removed at once, which is exactly what the run's first write would do.
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
import tempfile
from pathlib import Path


def _nearest_existing(path: Path) -> tuple[Path | None, str | None]:
    """(the nearest existing folder at or above ``path``, or why there is none usable)."""
    for candidate in (path, *path.parents):
        try:
            mode = candidate.stat().st_mode
        except OSError as exc:
            if exc.errno == errno.ELOOP:
                return None, f"{candidate} is a loop of symbolic links"
            if exc.errno in (errno.ENOENT, errno.ENOTDIR):
                continue
            return None, f"cannot inspect {candidate}: {exc.strerror}"
        if stat.S_ISDIR(mode):
            return candidate, None
        if candidate == path:
            return None, "it is a file, not a folder"
        return None, f"{candidate} is a file, so no folder can be created below it"
    return None, "no existing parent folder"


def unwritable_dir(path: Path) -> str | None:
    """Why a run folder cannot be created or written at ``path``; None when it can (nothing is left behind)."""
    path = Path(os.path.abspath(path))
    folder, reason = _nearest_existing(path)
    if folder is None:
        return reason
    try:
        probe = tempfile.mkdtemp(prefix=".hpo-write-probe-", dir=folder)
    except OSError as exc:
        return f"cannot create anything in {folder}: {exc.strerror or exc}"
    with contextlib.suppress(OSError):  # a probe left behind is harmless; its failure is no verdict
        os.rmdir(probe)
    return None

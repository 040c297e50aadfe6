"""The journal file checked before Optuna reads it: a torn last line repaired, anything else damaged refused.

Why: a crash (SIGKILL, power loss, full disk) can cut the journal's last line mid-write. Optuna's reader
skips such a line, but its next append lands right after the partial bytes, gluing two records into one
line that no later read can parse: every ``--resume`` after that failed, the one situation resume exists
for. So before a run appends, a torn tail is dropped (said on stderr) under the journal's own file lock,
where no live writer can be mid-line (each append is one write under that lock). A tail that is a whole
record missing only its newline gets the newline instead of being dropped.

Anything else is bad input with its line (exit 2, never Optuna's ``assert False`` or a JSONDecodeError):
a line in the middle that is not a record, a record whose ``op_code`` this Optuna does not know (a newer
Optuna or another program wrote it), and ``study.journal`` being a folder or another kind of file.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

from hpo_cli.core.errors import InputError, Location

_log = logging.getLogger("hpo")
_KNOWN_OPS = range(0, 11)  # optuna.storages.journal._storage.JournalOperation 0..10 (Optuna 4.x)
_HINT = "move the file away (or choose another --output) to start over"


def _record_problem(line: bytes) -> str | None:
    """Why ``line`` (without its newline) is not a journal record Optuna can apply, or None."""
    try:
        record: Any = json.loads(line)
    except (ValueError, RecursionError):
        return "is not a journal record (not JSON)"
    op = record.get("op_code") if isinstance(record, dict) else None
    if not isinstance(op, int) or isinstance(op, bool):
        return "is not a journal record (no op_code)"
    if op not in _KNOWN_OPS:
        return (f"holds a record this Optuna cannot read (op_code {op}): written by a newer Optuna or "
                f"another program")
    return None


def check_journal(path: Path, repair: bool) -> str | None:
    """Refuse a damaged journal (InputError) and, with ``repair``, fix a torn last line; the note said, or None.

    Reads line by line (memory stays one line). ``repair`` is for the processes about to append (``hpo
    tune``); a reader (``hpo report``) leaves the file as it is, and Optuna skips the torn line anyway.
    """
    if not path.exists():
        return None
    if not path.is_file():
        kind = "a folder" if path.is_dir() else "not a regular file"
        raise InputError(f"{path.name} is {kind}, not an Optuna journal file; {_HINT}", Location(str(path)))
    if not repair:
        _scan(path)
        return None
    from optuna.storages.journal import JournalFileOpenLock
    from optuna.storages.journal._file import get_lock_file

    with get_lock_file(JournalFileOpenLock(str(path))):
        end, tail = _scan(path)
        if not tail:
            return None
        whole = _record_problem(tail) is None
        with path.open("r+b") as fh:
            if whole:
                fh.seek(0, 2)
                fh.write(b"\n")
            else:
                fh.truncate(end)
    if whole:
        note = f"{path}: the last record lacked its line end (a crash); completed it"
    else:
        note = (f"{path}: dropped a torn last line ({len(tail)} bytes a crash cut mid-write); "
                f"its trial, if any, runs again")
    _log.warning("warning: %s", note)
    return note


def _scan(path: Path) -> tuple[int, bytes]:
    """``(end of the last complete line, the torn tail)``; InputError on a damaged complete line."""
    end = 0
    with path.open("rb") as fh:
        for number, line in enumerate(fh, start=1):
            if not line.endswith(b"\n"):
                return end, line
            problem = _record_problem(line)
            if problem is not None:
                raise InputError(f"line {number} {problem}; {_HINT}", Location(str(path), number))
            end += len(line)
    return end, b""

"""Errors that carry their exit code, so the CLI maps them to the contract without guessing.

Bad input must reach the user as one line ``FILE:LINE:COL: field.path: message`` and never as a
traceback; everything that can go wrong with a spec, a data file or an option is an ``InputError``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")  # what str.splitlines() or a terminal would act on
MAX_MESSAGE = 1000  # characters of one problem's line: a message quotes a short prefix of the input at most


def one_line(text: str, limit: int = MAX_MESSAGE) -> str:
    """A message as one printable line: control characters from the input escaped, the length bounded."""
    text = _CONTROL.sub(lambda m: repr(m.group())[1:-1], text)
    return text if len(text) <= limit else text[:limit] + f"... ({len(text):,} characters)"

EXIT_OK = 0
EXIT_RUN_FAILED = 1
EXIT_BAD_INPUT = 2
EXIT_INTERRUPTED = 130


@dataclass(frozen=True)
class Location:
    """Where in a user's file a problem sits; line and column are 1-based, absent when unknown."""

    file: str
    line: int | None = None
    col: int | None = None

    def __str__(self) -> str:
        if self.line is None:
            return self.file
        if self.col is None:
            return f"{self.file}:{self.line}"
        return f"{self.file}:{self.line}:{self.col}"


@dataclass(frozen=True)
class Problem:
    """One finding about the input: an error (exit 2) or a best-practice warning."""

    message: str
    location: Location | None = None
    path: str = ""
    severity: str = "error"  # "error" | "warning"

    def __str__(self) -> str:
        parts = []
        if self.location is not None:
            parts.append(str(self.location))
        if self.path:
            parts.append(self.path)
        parts.append(self.message)
        return one_line(": ".join(parts))


class HpoError(Exception):
    """Base of every error hpo raises on purpose; ``exit_code`` is what the process returns."""

    exit_code = EXIT_RUN_FAILED


class InputError(HpoError):
    """Bad input (spec, data, option): exit 2, one clear located message per problem, nothing written."""

    exit_code = EXIT_BAD_INPUT

    def __init__(self, problems: Problem | str | list[Problem], location: Location | None = None,
                 path: str = "") -> None:
        if isinstance(problems, str):
            problems = [Problem(problems, location, path)]
        elif isinstance(problems, Problem):
            problems = [problems]
        self.problems: list[Problem] = list(problems)
        super().__init__("\n".join(str(p) for p in self.problems))


class RunFailed(HpoError):
    """The run itself failed (every trial of a model failed, tracking lost mid-run): exit 1."""

    exit_code = EXIT_RUN_FAILED


def resume_command(spec: str | None, run_dir: str | None, storage: str | None = None) -> str:
    """``hpo tune SPEC -o RUN_DIR --resume``: the one place that spells how to continue a stopped run.

    Printed when a run is stopped and by the report of an interrupted or killed run. ``storage`` only when
    the run was given ``--storage`` (the spec's own storage comes back with the spec); a password shows as ``***``.
    """
    import shlex

    words = ["hpo", "tune", spec or "SPEC"]
    if run_dir:
        words += ["-o", run_dir]
    if storage:
        from hpo_cli.core.redact import redact

        words += ["--storage", redact(storage)]  # a password shows as ***: the user puts it back (or PGPASSWORD)
    return " ".join(shlex.quote(w) if w != "SPEC" else w for w in [*words, "--resume"])


class Interrupted(HpoError):
    """The user stopped the run; what finished is saved and ``--resume`` continues."""

    exit_code = EXIT_INTERRUPTED

    def __init__(self, run_dir: str = "", command: str | None = None) -> None:
        self.run_dir = run_dir
        self.command = command or resume_command(None, run_dir or None)
        super().__init__(f"interrupted; continue with: {self.command}")

"""``hpo ARGS`` in-process for the hostile-input tests: through ``main()``, which maps errors to exit codes.

In-process (typer's CliRunner isolation) because a subprocess per case costs seconds of imports; the
few cases that are about a real process's stderr run one on their own.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from typer.testing import CliRunner

_runner = CliRunner()


def run(*args: str, cwd: Path | None = None, env: dict[str, str] | None = None) -> tuple[int, str, str]:
    """(exit code, stdout, stderr) of ``hpo ARGS`` run in ``cwd``."""
    from hpo_cli.cli import app as cli

    old_argv, old_cwd = sys.argv, os.getcwd()
    with _runner.isolation(env=env) as (out, err, _):
        sys.argv = ["hpo", *args]
        if cwd:
            os.chdir(cwd)
        try:
            cli.main()
            code = 0
        except SystemExit as exc:
            code = int(exc.code or 0)
        finally:
            sys.stdout.flush()  # plain writes (hpo report, hpo best) sit in the wrapper's buffer until flushed
            sys.stderr.flush()
            sys.argv = old_argv
            os.chdir(old_cwd)
        return code, out.getvalue().decode(), err.getvalue().decode()

"""The console script's first line: ``hpo tune`` starts its tracking writer before anything else loads.

The writer's imports (MLflow and its SQL store, ~2.3 s of CPU) are the longest chain of a tracked run:
every step the search takes waits for it at the store's first answer (measured, ``HPO_TRACE``,
bench/bench_mlflow_fixed.py). Started here, after ~0.05 s of interpreter start-up instead of after
typer, rich and hpo's command modules (~0.3 s), the chain ends that much sooner. Only for a ``tune`` that
will track (no ``--no-mlflow``, no help, no shell completion); a spec with tracking off ends it at once
(``tune.early``), and a command that fails before it takes the writer kills it here.
"""

from __future__ import annotations

import os
import sys


def _tracked_tune(argv: list[str]) -> bool:
    return (bool(argv) and argv[0] == "tune" and "--no-mlflow" not in argv and "--help" not in argv
            and "_HPO_COMPLETE" not in os.environ)


def main() -> None:
    """``hpo``: ``cli.app.main`` behind the early writer of a tracked ``hpo tune``."""
    early = _tracked_tune(sys.argv[1:])
    if early:
        from hpo_cli.tracking import channel

        channel.prestart()
    try:
        from hpo_cli.cli.app import main as run

        run()
    finally:
        if early:
            channel.discard_early()  # bad options, or an import failed: the writer was never taken

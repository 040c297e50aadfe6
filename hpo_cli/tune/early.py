"""The processes ``hpo tune`` starts before it imports the search stack, so that their start-up overlaps its own.

The CLI calls ``start_helpers`` first thing: the tracking writer (it imports MLflow, ``tracking.channel``) and,
when the command line alone says there will be workers (``--workers N``, ``--join``, ``--storage``), the
workers' template (``tune.template``: it imports scikit-learn & co. and loads the data). Both then run
while this process imports pandas & co. (~0.5 s on an idle two-core machine) and runs the checks; measured
(HPO_TRACE, bench/bench_workers.py), the template was the critical path to the first trial when it was
started only after the spec was read. A spec's own ``storage:`` is known later: ``run_tune`` starts the
template then. Next the spec is read (light): tracking off in it ends the writer at once, whose imports
would otherwise take a core from the template and the checks until ``run_tune`` read the spec.
"""

from __future__ import annotations

from typing import Any

from hpo_cli.core.options import TuneOptions
from hpo_cli.core.trace import clock, trace
from hpo_cli.tune.template import WorkerTemplate, queue_mode


def start_helpers(options: TuneOptions) -> tuple[Any, WorkerTemplate | None]:
    """``(writer or None, template or None)``, see the module docstring; ``run_tune`` ends both.

    A spec that does not load is left to ``run_tune``, which says what is wrong and ends both.
    """
    from hpo_cli.problem.threads import threads_per_worker
    from hpo_cli.tracking.channel import start_writer

    writer = start_writer(options.mlflow)
    template = None
    if queue_mode(options):
        since = clock()
        template = WorkerTemplate(options, threads_per_worker(options.workers, options.threads))
        trace("search", "start template", since)
    if writer is not None:
        from hpo_cli.spec.load import load_spec

        try:
            spec = load_spec(options.spec, options.data)
        except Exception:  # noqa: BLE001 - run_tune reads the spec again and says what is wrong
            return writer, template
        writer = writer_for(spec, options, writer)
    return writer, template


def writer_for(spec: Any, options: TuneOptions, writer: Any) -> Any:
    """The writer this run needs once its spec is read: ended when tracking is off in it, started when on
    and none runs yet (``run_tune`` called without the CLI's early start)."""
    from hpo_cli.tracking.setup import tracking_enabled

    enabled = tracking_enabled(spec, options)
    if writer is not None and not enabled:
        since = clock()
        writer.abort()  # it never got a store; its imports would only take a core from the template and checks
        trace("search", "end writer: tracking off", since)
        return None
    if writer is None and enabled:
        from hpo_cli.tracking.channel import start_writer

        return start_writer(options.mlflow)
    return writer

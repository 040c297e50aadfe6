"""The tracking writer process: the only place that talks to the MLflow store during a search.

Why a process and not a thread: a child run costs ~14 ms of Python CPU in MLflow/SQLAlchemy, and in a
thread that work holds the GIL against the search (measured: more than it costs alone, the convoy
effect). In its own process it runs on another core; the search only pickles a small message.

Started before the search process reads its spec (``channel``), it imports MLflow and its SQL store
(``publish.preload_client``, ``preload_store``) before it waits for its store, then the rest on a thread
(``publish.warm_imports``): the first request is then a query, not seconds of imports.

Protocol (pickles over two pipes): first ``(uri, experiment)`` (through the pipe, never the command line,
which every user can read with ``ps``: the URI may hold a password), then requests ``(job_id, op, args,
critical)`` in FIFO order; replies ``(job_id, ok, value)``.
``op`` names a function of ``OPS``. After a failed *critical* op the store is taken as lost: every
later op is answered ``(job_id, False, "skipped")`` without touching the network, so a dead server
costs seconds once, not per trial. SIGINT/SIGTERM are ignored (the search handles them and then closes
us); the process exits on ``None`` or EOF, i.e. also when the search process is gone.
"""

from __future__ import annotations

import contextlib
import os
import pickle
import select
import signal
import sys
import threading
from pathlib import Path
from typing import Any, BinaryIO

from hpo_cli.core.trace import clock
from hpo_cli.core.trace import trace as trace_step
from hpo_cli.tracking import names as ml
from hpo_cli.tracking import publish


class Context:
    """The worker's MLflow client and experiment, and the thread importing what the best model needs.

    ``warm_error``: why that thread could not set MLflow's global store (``global_store``); the model is
    then not logged rather than logged into experiment 0.
    """

    def __init__(self, client: Any, experiment_id: str, uri: str = "",
                 preloaded: threading.Thread | None = None) -> None:
        self.client = client
        self.experiment_id = experiment_id
        self.uri = uri
        self.warm: threading.Thread | None = None
        self.warm_error: Exception | None = None
        self._preloaded = preloaded  # the import thread started while the writer waited for its store

    def start_warm(self) -> None:
        """Start the warm-up (imports, then MLflow's global store) unless it runs: once the first parent is
        bound (``serve``), as until then the search waits for each reply and the warm-up's ~0.3 s of imports
        would hold this process's GIL against them (measured: bind 0.1 -> 0.37 s); or when a model must be
        logged."""
        if self.warm is None:
            self.warm = global_store(self, self.uri, self._preloaded or publish.warm_imports(trace))

    def warmed(self) -> None:
        """Wait for the warm-up (starting it first if needed); raise why it could not set the global store."""
        self.start_warm()
        if self.warm is not None:
            self.warm.join()
        if self.warm_error is not None:
            raise self.warm_error


def trace(what: str, since: tuple[float, float]) -> None:
    trace_step("writer", what, since)


def connect(uri: str, experiment: str, env: dict[str, str],
            preloaded: threading.Thread | None = None) -> tuple[Context, str]:
    from hpo_cli.tracking.setup import connect_store

    client, experiment_id = connect_store(uri, experiment, env)
    return Context(client, experiment_id, uri, preloaded), experiment_id


def global_store(ctx: Context, uri: str, warm: threading.Thread) -> threading.Thread:
    """Set MLflow's global URI and experiment (where ``mlflow.<flavour>.log_model`` puts logged models) on a
    thread after ``warm``; ``op_best_model`` waits for it.

    Off the connection: ``set_tracking_uri`` resets MLflow's tracing provider, which imports OpenTelemetry's
    SDK (~0.25 s of CPU, measured), and the search waits for the connection before its first trial.
    """
    def work() -> None:
        warm.join()
        started = clock()
        try:
            import mlflow

            mlflow.set_tracking_uri(uri)
            mlflow.set_experiment(experiment_id=ctx.experiment_id)
        except Exception as exc:  # noqa: BLE001 - reported by the model's logging, which needs it
            ctx.warm_error = exc
        trace("set global store", started)

    thread = threading.Thread(target=work, name="hpo-mlflow-global", daemon=True)
    thread.start()
    return thread


def op_child(ctx: Context, p: dict[str, Any]) -> None:
    """Create (or complete) one trial's child run: one create, one log_batch, one terminate."""
    if p["partial"] is None:
        run = ctx.client.create_run(ctx.experiment_id, start_time=p["start"], tags=p["tags"], run_name=p["name"])
        run_id = run.info.run_id
        ml.batches(ctx.client, run_id, metrics=p["metrics"], params=p["params"], timestamp=p["end"])
    else:  # a child a crash left RUNNING: only what it lacks
        run_id, has_params, has_metrics = p["partial"]
        ml.batches(ctx.client, run_id, metrics=None if has_metrics else p["metrics"],
                   params={k: v for k, v in p["params"].items() if k not in has_params}, tags=p["tags"],
                   timestamp=p["end"])
    ctx.client.set_terminated(run_id, p["status"], end_time=p["end"])


def op_usable_parent(ctx: Context, run_id: str) -> bool:
    try:
        run = ctx.client.get_run(run_id)
    except Exception as exc:
        if "RESOURCE_DOES_NOT_EXIST" in str(exc) or "not found" in str(exc).lower():
            return False
        raise
    return run.info.lifecycle_stage == "active" and run.info.experiment_id == ctx.experiment_id


def op_create_parent(ctx: Context, name: str, tags: dict[str, str], params: dict[str, str]) -> str:
    run = ctx.client.create_run(ctx.experiment_id, run_name=name, tags=tags)
    if params:
        ml.batches(ctx.client, run.info.run_id, params=params)
    return str(run.info.run_id)


def op_children(ctx: Context, parent_id: str) -> list[tuple[int, str, str, str, list[str], bool, float | None]]:
    """The parent's children as (trial, run id, status, hpo.state, params, has metrics, mean_test_score)."""
    out = []
    token = None
    while True:
        page = ctx.client.search_runs([ctx.experiment_id], f"tags.mlflow.parentRunId = '{parent_id}'",
                                      max_results=1000, page_token=token)
        for run in page:
            try:
                number = int(run.data.tags.get("hpo.trial", ""))
            except ValueError:
                continue
            out.append((number, run.info.run_id, run.info.status, run.data.tags.get("hpo.state", ""),
                        list(run.data.params), bool(run.data.metrics), run.data.metrics.get("mean_test_score")))
        token = page.token
        if not token:
            return out


def op_status(ctx: Context, run_id: str, status: str) -> None:
    if status == "RUNNING":
        ctx.client.update_run(run_id, status="RUNNING")
    else:
        ctx.client.set_terminated(run_id, status)


def op_delete(ctx: Context, run_id: str) -> None:
    ctx.client.delete_run(run_id)


def op_log(ctx: Context, run_id: str, metrics: dict[str, float] | None, tags: dict[str, str] | None) -> None:
    ml.batches(ctx.client, run_id, metrics=metrics, tags=tags)


def op_artifacts(ctx: Context, run_id: str, paths: list[str], artifact_path: str | None) -> None:
    for path in paths:
        if Path(path).is_file():
            ctx.client.log_artifact(run_id, path, artifact_path)


def op_flush(ctx: Context) -> None:
    """Nothing: its reply says every earlier request is done."""


OPS = {name.removeprefix("op_"): fn for name, fn in globals().items() if name.startswith("op_")} | publish.OPS


def _ready(requests: BinaryIO) -> bool:
    """Whether the search sent something yet (only before the first read: the buffer is empty, the pipe tells)."""
    return bool(select.select([requests], [], [], 0)[0])


def _first_message(requests: BinaryIO) -> tuple[str, str] | None:
    """``(uri, experiment)``, or None when the search closed us first (bad input: nothing to write)."""
    try:
        uri, experiment = pickle.load(requests)
    except (EOFError, OSError, ValueError, pickle.UnpicklingError):
        return None
    return str(uri), str(experiment)


def serve(requests: BinaryIO, replies: BinaryIO) -> None:
    """The process's main loop; the first reply answers the connection (job id 0). EOF ends it."""
    for sig in (signal.SIGINT, signal.SIGTERM):  # the search handles both, then closes us (EOF)
        signal.signal(sig, signal.SIG_IGN)
    started = clock()
    publish.preload_client()
    trace("preload mlflow", started)
    first = _first_message(requests) if _ready(requests) else False  # None: closed before it was opened
    started = clock()
    publish.preload_store(first[0] if first else None)  # SQLite is the default: worth it while waiting
    trace("preload store", started)
    if first is False and _ready(requests):
        first = _first_message(requests)
    # The search waits for the connection: when its URI is here already, connect before the import thread starts.
    warm = publish.warm_imports(trace) if first is False else None
    first = _first_message(requests) if first is False else first
    if first is None:
        return  # closed before it was opened: bad input, nothing to write

    def reply(job_id: int, ok: bool, value: Any) -> None:
        pickle.dump((job_id, ok, value), replies, protocol=pickle.HIGHEST_PROTOCOL)
        replies.flush()

    started = clock()
    try:
        ctx, experiment_id = connect(*first, {}, warm)
    except Exception as exc:
        from hpo_cli.tracking.setup import describe_error

        reply(0, False, describe_error(exc))
        return
    reply(0, True, experiment_id)
    trace("connect", started)
    lost = niced = False
    while True:
        try:
            item = pickle.load(requests)
        except (EOFError, OSError):
            return  # the search closed us, or died
        if item is None:
            return
        job_id, op, payload, critical = item
        if lost and op != "flush":
            reply(job_id, False, "skipped")
            continue
        started = clock()
        try:
            args = pickle.loads(payload)  # apart, so an unloadable estimator fails its job, not the stream
            reply(job_id, True, OPS[op](ctx, *args))
        except Exception as exc:
            from hpo_cli.tracking.setup import describe_error

            lost = lost or critical
            reply(job_id, False, f"{op}: {describe_error(exc)}")
        trace(op, started)
        if op == "children" and not niced:  # the first parent is bound, trials start: they come first (issue 9)
            ctx.start_warm()
            with contextlib.suppress(OSError):  # this thread (Linux): until now the search waited for it
                os.nice(10)
            niced = True


def main(argv: list[str]) -> None:
    """``python -m hpo_cli.tracking.worker REQ_FD REP_FD`` (started by ``Channel``; the URI comes by the pipe)."""
    requests = os.fdopen(int(argv[0]), "rb")
    replies = os.fdopen(int(argv[1]), "wb")
    started = clock()
    with contextlib.suppress(BrokenPipeError):  # the search is gone: nobody to answer
        serve(requests, replies)
    # What the writer did not need to import: the search process serialises the model and draws the plots.
    heavy = ",".join(m for m in ("sklearn", "skops", "matplotlib", "xgboost") if m in sys.modules) or "none"
    trace(f"exit imported={heavy}", started)


if __name__ == "__main__":
    main(sys.argv[1:])
    # Every request was synchronous and answered: skip the interpreter's teardown of mlflow (its telemetry
    # threads joined, thousands of modules released), which `hpo tune` waited for at its end: ~5 s of wall
    # time on a loaded 2-core machine (bench/bench_mlflow_fixed.py), a fraction of a second otherwise.
    sys.stderr.flush()
    os._exit(0)

"""The tracking writer process: the only place that talks to the MLflow store during a search.

Why a process and not a thread: a child run costs ~14 ms of Python CPU in MLflow/SQLAlchemy, and in a
thread that work holds the GIL against the search (measured: more than it costs alone, the convoy
effect). In its own process it runs on another core; the search only pickles a small message.

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
import queue
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, BinaryIO

from hpo_cli.problem.threads import thread_env
from hpo_cli.tracking import names as ml
from hpo_cli.tracking import publish


class Context:
    """The worker's MLflow client and experiment."""

    def __init__(self, client: Any, experiment_id: str) -> None:
        self.client = client
        self.experiment_id = experiment_id


def connect(uri: str, experiment: str, env: dict[str, str]) -> tuple[Context, str]:
    from hpo_cli.tracking.setup import connect_store

    client, experiment_id = connect_store(uri, experiment, env)
    import mlflow

    mlflow.set_experiment(experiment_id=experiment_id)  # where mlflow.<flavour>.log_model puts logged models
    return Context(client, experiment_id), experiment_id


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


def serve(requests: BinaryIO, replies: BinaryIO) -> None:
    """The process's main loop; the first reply answers the connection (job id 0). EOF ends it."""
    for sig in (signal.SIGINT, signal.SIGTERM):  # the search handles both, then closes us (EOF)
        signal.signal(sig, signal.SIG_IGN)
    try:
        uri, experiment = pickle.load(requests)
    except (EOFError, OSError, ValueError, pickle.UnpicklingError):
        return

    def reply(job_id: int, ok: bool, value: Any) -> None:
        pickle.dump((job_id, ok, value), replies, protocol=pickle.HIGHEST_PROTOCOL)
        replies.flush()

    try:
        ctx, experiment_id = connect(uri, experiment, {})
    except Exception as exc:
        from hpo_cli.tracking.setup import describe_error

        reply(0, False, describe_error(exc))
        return
    reply(0, True, experiment_id)
    with contextlib.suppress(OSError):  # imports done: from now on the search comes first (issue 9)
        os.nice(10)
    publish.warm_imports()  # while the search runs: logging the best model needs them at its end
    lost = False
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
        try:
            args = pickle.loads(payload)  # apart, so an unloadable estimator fails its job, not the stream
            reply(job_id, True, OPS[op](ctx, *args))
        except Exception as exc:
            from hpo_cli.tracking.setup import describe_error

            lost = lost or critical
            reply(job_id, False, f"{op}: {describe_error(exc)}")


class Lost(Exception):
    """A synchronous request failed, or the writer process is gone."""


class Channel:
    """The search's side: start the writer process, send it requests, collect its replies on a thread.

    A plain ``python -m hpo_cli.tracking.worker`` child talking pickles over two pipes: unlike
    multiprocessing's spawn it never re-imports the caller's ``__main__``. ``send`` never waits (a
    sender thread writes the pipe); ``call`` waits for the reply as long as the writer makes progress
    (a backlog of thousands of child runs is fine; a writer silent for ``stall`` seconds is not).
    ``on_error(message, critical)`` hears about every failed request (not skipped ones).
    """

    def __init__(self, uri: str, experiment: str, on_error: Any) -> None:
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
        self._on_error = on_error
        self._lock = threading.Lock()
        self._next = 1
        self._pending: dict[int, tuple[bool, Any, list[Any]]] = {}  # id -> (critical, event, [ok, value])
        self._outbox: queue.Queue[Any] = queue.Queue()
        self._outbox.put((uri, experiment))  # the first message: the URI never goes on a command line
        self._connected = threading.Event()
        self._connection: list[Any] = [False, "the writer process did not start"]
        self._stopped = False
        self._progress_at = time.monotonic()  # the last reply, or when the writer last became busy
        threading.Thread(target=self._write, name="hpo-mlflow-send", daemon=True).start()
        threading.Thread(target=self._read, name="hpo-mlflow-replies", daemon=True).start()

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


def main(argv: list[str]) -> None:
    """``python -m hpo_cli.tracking.worker REQ_FD REP_FD`` (started by ``Channel``; the URI comes by the pipe)."""
    requests = os.fdopen(int(argv[0]), "rb")
    replies = os.fdopen(int(argv[1]), "wb")
    with contextlib.suppress(BrokenPipeError):  # the search is gone: nobody to answer
        serve(requests, replies)


if __name__ == "__main__":
    main(sys.argv[1:])
    # Every request was synchronous and answered: skip the interpreter's teardown of mlflow (its telemetry
    # threads joined, thousands of modules released), which `hpo tune` waited for at its end: ~5 s of wall
    # time on a loaded 2-core machine (bench/bench_mlflow_fixed.py), a fraction of a second otherwise.
    sys.stderr.flush()
    os._exit(0)

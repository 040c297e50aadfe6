"""The workers of ``--workers N``: ``python -m hpo_cli.tune.worker_main``, a template process that forks them.

Why a template: a worker's start-up is the interpreter, the imports of scikit-learn/XGBoost and the data
(2-3 s each, measured on two cores, for a search that may last 10 s). The coordinator starts one template
process as soon as it knows it will need workers, *before* its own checks, so that both import at the
same time on two cores; the template prepares the spec as the invoking process does (same options:
overrides, data, folds) and then, per ``spawn`` order, forks a worker that only opens the storage and runs
``search.worker.work`` (a few ms). Forking a fresh template is safe where forking the coordinator is not:
the template never started a thread (the coordinator has its stop watchdog and the MLflow writer's pipes)
nor ran an OpenMP region (GNU OpenMP's pool does not survive a fork), and it is a plain subprocess so its
environment (the thread variables of ``problem.threads``) is set before NumPy or scikit-learn load; each
worker still caps its pools per trial (``problem.threads.limited``). Secrets in the storage URL travel
on a pipe, never on a command line, and the caller's ``__main__`` is never re-imported.

Protocol (``tune.parallel.WorkerTemplate`` is the other end): stdin carries one pickled ``TemplateOrders``
(its length first, ``HEADER``), then one line per worker to start, ``<n> <seed_offset> <owner>``; stdout
answers ``started <n> <pid>`` and ``exited <n> <code>`` lines. The template runs in a session of its own
(the coordinator forwards Ctrl-C as SIGTERM to each worker: finish the current fold, abandon the trial).
When its stdin closes (the coordinator is done or gone) the template exits at once: a worker whose parent
disappeared stops after its trial. A preparation error (bad input) is printed once, by the first worker
asked for; the coordinator usually refused the run before that, with the same message.

Exit codes of a worker: 0 done, 2 bad input (one line on stderr), 130 stopped, 1 anything else (one line).
"""

from __future__ import annotations

import os
import pickle
import selectors
import sys
from dataclasses import dataclass
from typing import Any

from hpo_cli.core.options import TuneOptions
from hpo_cli.core.trace import clock, trace

HEADER = 16  # the pickled orders' length, as zero-padded ASCII digits, precedes them on stdin


@dataclass
class TemplateOrders:
    """What the coordinator tells the template once."""

    options: TuneOptions
    threads: int


@dataclass
class WorkerOrders:
    """What one forked worker runs."""

    options: TuneOptions
    worker: int  # 0..N-1 on this machine (restarts get the next numbers)
    owner: str  # host:pid:n, written on each trial the worker takes
    threads: int
    seed_offset: int = 0  # joining processes draw other seeds than the first one's workers


@dataclass
class Prepared:
    """The template's preparation, shared by every worker it forks (copy-on-write)."""

    spec: Any
    models: list[Any]


def prepare(orders: TemplateOrders) -> Prepared:
    """The spec, the data and each selected model prepared, as the coordinator did; no storage yet."""
    import optuna

    import hpo_cli.search.worker
    import hpo_cli.storage.backend  # noqa: F401 - imported once here, not in every forked worker
    from hpo_cli.problem.data import load_dataset
    from hpo_cli.search.plan import prepare_model
    from hpo_cli.spec.load import load_spec
    from hpo_cli.tune.prepare import apply_overrides, task_of_models

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    options = orders.options
    spec = apply_overrides(load_spec(options.spec, options.data), options)
    selected = [i for i, m in enumerate(spec.models) if not options.models or m.name in options.models]
    dataset = load_dataset(spec, task_of_models(spec, selected))
    return Prepared(spec, [prepare_model(spec, i, dataset, orders.threads) for i in selected])


def run_worker(ready: Prepared, orders: WorkerOrders) -> int:
    """One worker's life in the forked process: open the storage, take queued trials until none is left."""
    from hpo_cli.core.errors import HpoError
    from hpo_cli.search.stopping import StopSignal
    from hpo_cli.search.worker import work
    from hpo_cli.storage.backend import open_storage

    options = orders.options
    try:
        with StopSignal() as stop:
            since = clock()
            storage = open_storage(ready.spec.output_dir, options.storage or ready.spec.storage)
            trace(f"worker{orders.worker}", "open storage", since)
            work(ready.spec, ready.models, storage, worker=orders.worker, owner=orders.owner, stop=stop,
                 seed_offset=orders.seed_offset)
            return 130 if stop.is_set() else 0
    except HpoError as exc:
        sys.stderr.write(f"worker {orders.worker}: {exc}\n")
        return exc.exit_code
    except KeyboardInterrupt:
        return 130
    except Exception as exc:  # one line, the password in a URL hidden; the coordinator retries the trial
        return _unexpected(orders.worker, exc)


def _unexpected(worker: int, exc: BaseException) -> int:
    from hpo_cli.core.redact import redact

    sys.stderr.write(redact(f"worker {worker}: {type(exc).__name__}: {exc}") + "\n")
    return 1


def _fork_worker(ready: Prepared | BaseException, orders: WorkerOrders, proto: int) -> int:
    """Fork one worker; its pid. The child never returns: it exits with the worker's code."""
    pid = os.fork()
    if pid:
        return pid
    code = 1
    try:
        # The protocol pipes are the template's: a worker holding them would hide the template's end.
        os.close(proto)
        # A session of its own, as a separately started worker had: with the kernel's autogroup scheduling
        # each session gets a fair share of a busy machine's cores; workers sharing one would share one share.
        os.setsid()
        os.dup2(os.open(os.devnull, os.O_RDONLY), 0)
        if "numpy" in sys.modules:  # fresh entropy, as a separately started worker had (random reseeds itself)
            sys.modules["numpy"].random.seed()
        if isinstance(ready, BaseException):
            raise ready
        code = run_worker(ready, orders)
    except BaseException as exc:  # noqa: BLE001 - the child must end here, never in the template's loop
        from hpo_cli.core.errors import HpoError

        if isinstance(exc, HpoError):
            sys.stderr.write(f"worker {orders.worker}: {exc}\n")
            code = exc.exit_code
        elif isinstance(exc, KeyboardInterrupt):
            code = 130
        else:
            code = _unexpected(orders.worker, exc)
    finally:
        sys.stderr.flush()
        os._exit(code)  # no interpreter teardown (~0.2-1 s with scikit-learn loaded): the storage has it all


def serve(orders: TemplateOrders, proto: int) -> None:
    """Prepare, then fork a worker per order line until stdin closes; report pids and exit codes on ``proto``."""
    ready: Prepared | BaseException
    since = clock()
    try:
        ready = prepare(orders)
    except Exception as exc:  # reported by the first worker asked for (see the module docstring)
        ready = exc
    trace("template", "prepare", since)
    children: dict[int, int] = {}  # pid -> worker number
    selector = selectors.DefaultSelector()
    selector.register(0, selectors.EVENT_READ)
    pending = b""
    while True:
        if selector.select(timeout=0.02 if children else 1.0):  # a worker's exit is told within 20 ms
            data = os.read(0, 4096)
            if not data:  # the coordinator closed the pipe (done) or is gone: the workers stop after their trial
                return
            pending += data
            while b"\n" in pending:
                line, pending = pending.split(b"\n", 1)
                n, offset, owner = line.decode().split(" ", 2)
                pid = _fork_worker(ready, WorkerOrders(orders.options, int(n), owner, orders.threads, int(offset)),
                                   proto)
                children[pid] = int(n)
                os.write(proto, f"started {n} {pid}\n".encode())
        while children:
            pid, status = os.waitpid(-1, os.WNOHANG)
            if not pid:
                break
            n = children.pop(pid, None)
            if n is not None:
                os.write(proto, f"exited {n} {os.waitstatus_to_exitcode(status)}\n".encode())


def _read_exact(fd: int, n: int) -> bytes:
    data = b""
    while len(data) < n:
        chunk = os.read(fd, n - len(data))
        if not chunk:
            raise SystemExit(0)  # the coordinator went away before giving orders
        data += chunk
    return data


def main() -> None:
    # Unbuffered reads: a buffered pickle.load could swallow the order lines that follow the orders.
    orders = pickle.loads(_read_exact(0, int(_read_exact(0, HEADER))))
    proto = os.dup(1)  # the answers' pipe; stdout itself goes nowhere, as a library's print must not break it
    os.dup2(os.open(os.devnull, os.O_WRONLY), 1)
    serve(orders, proto)
    os._exit(0)  # no teardown of the libraries it imported: the coordinator waits for this exit at its end


if __name__ == "__main__":
    main()

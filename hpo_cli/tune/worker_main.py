"""The worker process of ``--workers N``: ``python -m hpo_cli.tune.worker_main``, its orders pickled on stdin.

Why a plain subprocess: its environment (the thread variables of ``problem.threads``) is set before
NumPy or scikit-learn load; secrets in the storage URL travel on a pipe, never on a command line; and
it never re-imports the caller's ``__main__``. It prepares the spec as the invoking process did (same
options: overrides, data, folds), opens the same storage, and runs ``search.worker.work``. It runs in a
session of its own: the coordinator forwards Ctrl-C (SIGTERM: finish the current fold, abandon the
trial), and a worker whose coordinator disappeared stops after its trial.

Exit codes: 0 done, 2 bad input (one line on stderr), 130 stopped, 1 anything else (one line).
"""

from __future__ import annotations

import pickle
import sys
from dataclasses import dataclass

from hpo_cli.core.options import TuneOptions


@dataclass
class WorkerOrders:
    """What the coordinator tells one worker process."""

    options: TuneOptions
    worker: int  # 0..N-1 on this machine (restarts get the next numbers)
    owner: str  # host:pid:n, written on each trial the worker takes
    threads: int
    seed_offset: int = 0  # joining processes draw other seeds than the first one's workers


def run(orders: WorkerOrders) -> int:
    import optuna

    from hpo_cli.core.errors import HpoError
    from hpo_cli.problem.data import load_dataset
    from hpo_cli.search.plan import prepare_model
    from hpo_cli.search.stopping import StopSignal
    from hpo_cli.search.worker import work
    from hpo_cli.spec.load import load_spec
    from hpo_cli.storage.backend import open_storage
    from hpo_cli.tune.prepare import apply_overrides, task_of_models

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    options = orders.options
    try:
        with StopSignal() as stop:
            spec = apply_overrides(load_spec(options.spec, options.data), options)
            selected = [i for i, m in enumerate(spec.models) if not options.models or m.name in options.models]
            dataset = load_dataset(spec, task_of_models(spec, selected))
            prepared = [prepare_model(spec, i, dataset, orders.threads) for i in selected]
            storage = open_storage(spec.output_dir, options.storage or spec.storage)
            work(spec, prepared, storage, worker=orders.worker, owner=orders.owner, stop=stop,
                 seed_offset=orders.seed_offset)
            return 130 if stop.is_set() else 0
    except HpoError as exc:
        sys.stderr.write(f"worker {orders.worker}: {exc}\n")
        return exc.exit_code
    except KeyboardInterrupt:
        return 130
    except Exception as exc:  # one line, the password in a URL hidden; the coordinator retries the trial
        from hpo_cli.core.redact import redact

        sys.stderr.write(redact(f"worker {orders.worker}: {type(exc).__name__}: {exc}") + "\n")
        return 1


def main() -> None:
    orders = pickle.load(sys.stdin.buffer)
    sys.exit(run(orders))


if __name__ == "__main__":
    main()

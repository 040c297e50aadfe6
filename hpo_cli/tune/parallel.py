"""``--workers N`` and ``--join``: one coordinating process, N worker processes, one shared study per model.

The invoking process coordinates (``Coordinator``):

1. ``prepare``: each model's study once, before any worker starts — attributes and identity recorded,
   the MLflow parent bound (``study_opened``), the work enqueued (``search.queue``) and the queue marked
   ready. A joining process (``--join``) prepares nothing: ``tune.ownership.wait_for_join`` waited for the
   first process's queue and checked the identity; it only binds the shared MLflow parent.
2. ``start``: N worker processes, forked by the template process ``run_tune`` started early
   (``tune.template``, ``tune.worker_main``), each with its thread variables and seed.
3. ``results``: per model in order, polls the storage and tells the observers (progress, MLflow) about
   the trials *its* workers finished (the ``hpo_worker`` attribute; a joined machine logs its own), sets
   ``hpo_stop`` when the model's timeout, target or max_failed is reached (every worker of every
   process obeys it), replaces a dead worker after failing and re-queueing its trials (on the journal,
   where there is no heartbeat), and yields the model's result read from the storage once no trial of it
   is left queued or running — so every process's run folder sees the same trials.

Ctrl-C: the coordinator forwards SIGTERM once (workers finish their fold, abandon the trial, exit) and
yields the models as interrupted; ``--resume`` queues the abandoned trials again.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
import zlib
from collections.abc import Iterator
from typing import Any

from hpo_cli.core import trace as tr
from hpo_cli.core.errors import InputError, Location
from hpo_cli.core.options import TuneOptions
from hpo_cli.core.results import COMPLETE, FAIL, ModelResult
from hpo_cli.core.values import to_typed_json
from hpo_cli.search import queue
from hpo_cli.search.loop import open_study, stored_result, study_name
from hpo_cli.search.observers import Observers
from hpo_cli.search.plan import Prepared, model_info
from hpo_cli.search.stopping import StopSignal
from hpo_cli.spec.models import Spec
from hpo_cli.storage import attrs as st
from hpo_cli.storage.heartbeat import fail_stale, heartbeat_enabled
from hpo_cli.storage.identity import record_identity
from hpo_cli.tune.template import ForkedWorker, WorkerTemplate, queue_mode

__all__ = ["Coordinator", "poll_pause", "queue_mode"]

# Seconds between looks at the storage (each takes the journal's lock the workers write under) for progress,
# budgets and dead workers; a worker's exit (it found the queue empty: the model's end) wakes it at once.
POLL = 0.5
POLL_SHARE = 0.2  # at most this share of the time spent looking (a look costs O(queue) on a database)
STOP_WAIT = 60.0  # seconds workers get to finish their fold after Ctrl-C before they are killed


def poll_pause(took: float) -> float:
    """Seconds to wait after a look at the storage that took ``took`` seconds (wall: the database's share too).

    A look lists every trial of the study; on a database storage Optuna's cache reads every unfinished
    trial, i.e. every queued ticket, again (1,000 tickets on PostgreSQL: 0.45 s wall, 0.24 s of the
    coordinator's CPU per look, measured under load): at ``POLL`` the coordinator and the database would
    take a core from the workers. So the pause grows with the look (O(queue) per look, at most
    ``POLL_SHARE`` of the time), which delays the progress events and a timeout's stop as much, never a trial.
    """
    return max(POLL, took * (1 - POLL_SHARE) / POLL_SHARE)


class Coordinator:
    """See the module docstring; a context manager that always stops its workers."""

    def __init__(self, spec: Spec, options: TuneOptions, prepared: list[Prepared], storage: Any,
                 events: Observers, identities: dict[str, dict[str, Any]], threads: int, stop: StopSignal,
                 warnings_out: list[str], template: WorkerTemplate) -> None:
        self.spec, self.options, self.prepared, self.storage = spec, options, prepared, storage
        self.events, self.identities, self.threads, self.stop = events, identities, threads, stop
        self.warnings_out = warnings_out
        self.studies: dict[str, Any] = {}
        self.before: dict[str, list[Any]] = {}
        self.prefix = f"{socket.gethostname()}:{os.getpid()}:"
        self.template = template
        self.workers: dict[int, ForkedWorker] = {}
        self.finished_workers: set[int] = set()
        self.next_worker = 0
        self.restarts_left = 2 * max(1, options.workers)
        self.failure: str | None = None
        self._signalled = False
        # Joining processes draw seeds apart from the first one's workers (and from each other).
        self.seed_offset = 0 if not options.join else 1 + zlib.crc32(self.prefix.encode()) % 100_000

    # --- before the workers --------------------------------------------------------------------------

    def prepare(self) -> None:
        """Open (first process: set up and fill) each model's queue; bind the MLflow parents."""
        import optuna

        for prep in self.prepared:
            model, name = prep.model, study_name(self.spec, prep.model)
            if self.options.join:
                study = optuna.load_study(study_name=name, storage=self.storage)
            else:
                study = open_study(self.storage, name, prep.model)
                if self.options.resume:
                    self._clean_leftovers(study)
                study.set_user_attr(st.STUDY_MODEL, to_typed_json(model_info(self.spec, model, prep.evaluator)))
                record_identity(study, self.identities[model.name])
                if st.STUDY_FORMAT not in study.user_attrs:
                    study.set_user_attr(st.STUDY_FORMAT, st.FORMAT_VERSION)
            self.events.emit("study_opened", model.name, study)  # the shared MLflow parent, before any trial
            if not self.options.join:
                queue.enqueue_missing(study, prep)
                queue.mark_ready(study, prep.budget)
            self.studies[model.name] = study
            self.before[model.name] = st.finished_trials(study)  # what this run found; the rest it reports

    def _clean_leftovers(self, study: Any) -> None:
        """``--resume``: trials a killed run left RUNNING or queued. Live workers elsewhere are never touched:
        with heartbeats only stale trials fail; without (a journal), the storage is this run's alone."""
        if heartbeat_enabled(self.storage):
            fail_stale(study)
        else:
            st.fail_stale_trials(study)

    def start(self) -> None:
        for _ in range(self.options.workers):
            self._spawn()

    def _spawn(self) -> None:
        n = self.next_worker
        self.next_worker += 1
        self.workers[n] = self.template.spawn(n, self.seed_offset, f"{self.prefix}{n}")

    def __enter__(self) -> Coordinator:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Stop every worker still alive: SIGTERM, then SIGKILL after ``STOP_WAIT``; then the template."""
        self._signal_workers()
        deadline = time.monotonic() + STOP_WAIT
        for proc in self.workers.values():
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        self.template.close()

    def _signal_workers(self) -> None:
        if self._signalled:
            return
        self._signalled = True
        for proc in self.workers.values():
            if proc.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    proc.send_signal(signal.SIGTERM)

    # --- while they work -----------------------------------------------------------------------------

    def _live(self) -> list[int]:
        return [n for n, p in self.workers.items() if p.poll() is None]

    def _check_workers(self) -> None:
        """A worker that died: fail and re-queue its trials (heartbeats do it on a database), replace it."""
        for n, proc in list(self.workers.items()):
            code = proc.poll()
            if code is None or n in self.finished_workers:
                continue
            self.finished_workers.add(n)
            if code in (0, 130) or self.stop.is_set():
                continue
            for study in self.studies.values():
                queue.fail_worker_trials(study, f"{self.prefix}{n}")
            if code == 2:
                raise InputError("a worker process refused the run (its message is above)", Location("--workers"))
            self.warnings_out.append(f"worker {n} died (exit code {code}); its trial was queued again")
            if self.restarts_left > 0:
                self.restarts_left -= 1
                self._spawn()
            else:
                self.failure = f"workers keep dying (the last with exit code {code})"

    def results(self) -> Iterator[tuple[ModelResult, Any]]:
        """Each model's result, in order, once no trial of it is queued or running (see the module docstring)."""
        for prep in self.prepared:
            result = self._follow(prep)
            yield result, self.studies[prep.model.name]
            if self.stop.is_set():
                return

    def _follow(self, prep: Prepared) -> ModelResult:
        from optuna.trial import TrialState

        model, study = prep.model, self.studies[prep.model.name]
        counted = self.before[model.name]
        self.events.emit("model_started", model.name, study_name(self.spec, model), prep.budget, len(counted))
        seen = {t.number for t in counted}
        before = set(seen)
        clock: float | None = None
        best = max((t.values[0] for t in counted if t.state == TrialState.COMPLETE and t.values), default=None)
        n_failed = sum(t.state == TrialState.FAIL for t in counted)
        started = time.perf_counter()
        reason = ""
        since, polls = tr.clock(), 0
        while True:
            polls += 1
            looked = time.perf_counter()
            self._check_workers()
            trials = study._storage.get_all_trials(study._study_id, deepcopy=False)
            for t in trials:
                if t.number in seen or not t.state.is_finished() or st.is_interrupted(t):
                    continue
                seen.add(t.number)
                record = st.record_from_trial(model.name, t)
                n_failed += record.state == FAIL
                if record.state == COMPLETE and record.mean_test_score is not None:
                    best = record.mean_test_score if best is None else max(best, record.mean_test_score)
                if str(t.user_attrs.get(st.ATTR_WORKER, "")).startswith(self.prefix):
                    self.events.emit("trial_finished", record)
            budget = model.budget
            if clock is None and any(t.state != TrialState.WAITING and t.number not in before for t in trials):
                clock = time.perf_counter()  # the time budget runs from the first trial, not the workers' start-up
            if budget.timeout is not None and clock is not None and time.perf_counter() - clock >= budget.timeout:
                queue.request_stop(study, "timeout")
            if budget.target is not None and best is not None and best >= budget.target:
                queue.request_stop(study, "target")
            if budget.max_failed is not None and n_failed >= budget.max_failed:
                queue.request_stop(study, "max_failed")
            if self.stop.is_set():
                self._signal_workers()
            running = [t for t in trials if t.state == TrialState.RUNNING]
            active = running or [t for t in trials if t.state == TrialState.WAITING]
            reason = queue.stop_reason(study)
            if self.stop.is_set() and not self._live():
                reason = "interrupted"
                break
            if not active or (reason and not running):
                break
            if self.failure and not self._live():
                reason = "workers failed"
                break
            self.template.wait(poll_pause(time.perf_counter() - looked))
        tr.trace("search", f"follow {model.name} ({polls} polls)", since)  # the coordinator's CPU while workers run
        if reason and reason != "interrupted" and self._owns_storage():
            queue.cancel_waiting(study)  # nobody will run them; a later --resume queues afresh
        since = tr.clock()
        result = stored_result(self.spec, model, study)
        tr.trace("search", f"read back {model.name}", since)
        result.stop_reason = reason or ("grid exhausted" if prep.grid is not None and prep.budget >= len(prep.grid)
                                        else "budget")
        result.wall_time = time.perf_counter() - started
        if self.failure:
            self.warnings_out.append(f"{model.name}: {self.failure}")
        return result

    def _owns_storage(self) -> bool:
        """The run folder's own journal: no other process can be using its queue."""
        return not self.options.join and not (self.options.storage or self.spec.storage)

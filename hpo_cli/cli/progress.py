"""What ``hpo tune`` shows while it runs, and the summary at the end.

On a terminal: a Rich progress bar per model (trials done / budget, best so far, elapsed, ETA).
Elsewhere (CI logs, pipes): plain lines, throttled to one every few seconds plus every new best and a
line per model, so logs stay readable for 1,000-trial studies. ``--quiet``: nothing but errors.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from typing import Any

from rich.console import Console
from rich.table import Table

from hpo_cli.core.results import COMPLETE, ModelResult, RunResult, TrialRecord

_PLAIN_EVERY = 5.0  # seconds between routine progress lines when not on a terminal


def _fmt(x: float | None) -> str:
    return "-" if x is None else f"{x:.4f}"


class _Quiet:
    def model_started(self, model: str, study_name: str, budget: int | None, n_existing: int) -> None: ...

    def trial_finished(self, record: TrialRecord) -> None: ...

    def model_finished(self, result: ModelResult) -> None: ...

    def run_finished(self, result: RunResult) -> None: ...


class _Plain(_Quiet):
    """Line-oriented progress for logs: a line per model, new bests, and a heartbeat."""

    def __init__(self, console: Console) -> None:
        self.console = console
        self.budget: int | None = None
        self.done = 0
        self.best: float | None = None
        self.last = 0.0
        self.start = 0.0

    def model_started(self, model: str, study_name: str, budget: int | None, n_existing: int) -> None:
        self.budget, self.done, self.best = budget, n_existing, None
        self.start = self.last = time.monotonic()
        resumed = f", {n_existing} already done" if n_existing else ""
        self.console.print(f"{model}: searching ({budget} trials{resumed}; study {study_name})", markup=False)

    def trial_finished(self, record: TrialRecord) -> None:
        self.done += 1
        new_best = record.state == COMPLETE and record.mean_test_score is not None and (
            self.best is None or record.mean_test_score > self.best)
        if new_best:
            self.best = record.mean_test_score
        now = time.monotonic()
        if new_best or now - self.last >= _PLAIN_EVERY or self.done == self.budget:
            self.last = now
            status = "" if record.state == COMPLETE else f" {record.state}"
            self.console.print(f"{record.model}: trial {record.number}{status} {_fmt(record.mean_test_score)} "
                               f"[{self.done}/{self.budget}] best {_fmt(self.best)} "
                               f"({now - self.start:.1f}s)", markup=False)

    def model_finished(self, result: ModelResult) -> None:
        best = result.best.mean_test_score if result.best else None
        self.console.print(f"{result.name}: done, best {_fmt(best)} over {len(result.trials)} trials "
                           f"({result.n_failed} failed, {result.n_pruned} pruned; {result.stop_reason}, "
                           f"{result.wall_time:.1f}s)", markup=False)


class _Rich(_Quiet):
    """A Rich progress bar per model, with the best score so far."""

    def __init__(self, console: Console) -> None:
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )

        self.progress = Progress(
            TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
            TextColumn("best {task.fields[best]}"), TimeElapsedColumn(), TextColumn("ETA"), TimeRemainingColumn(),
            console=console, transient=False,
        )
        self.task: Any = None
        self.best: float | None = None

    def model_started(self, model: str, study_name: str, budget: int | None, n_existing: int) -> None:
        self.best = None
        self.task = self.progress.add_task(model, total=budget, completed=n_existing, best="-")

    def trial_finished(self, record: TrialRecord) -> None:
        if record.state == COMPLETE and record.mean_test_score is not None and (
                self.best is None or record.mean_test_score > self.best):
            self.best = record.mean_test_score
        self.progress.update(self.task, advance=1, best=_fmt(self.best))

    def model_finished(self, result: ModelResult) -> None:
        if self.task is not None:
            done = len(result.trials)
            self.progress.update(self.task, completed=done, total=max(done, 1) if result.stop_reason != "budget"
                                 else None)


@contextlib.contextmanager
def progress_observer(quiet: bool, console: Console) -> Iterator[Any]:
    """The RunObserver that ``hpo tune`` hands to the search, for the duration of the run."""
    if quiet:
        yield _Quiet()
        return
    if console.is_terminal:
        observer = _Rich(console)
        with observer.progress:
            yield observer
        return
    yield _Plain(console)


_REASONS = {"grid exhausted": "grid done", "max_failed": "max failed"}


def render_run_summary(result: RunResult, console: Console) -> None:
    """A short table per model, the winner, where the run folder is, and why the run ended."""
    table = Table(title=f"{result.spec_name}: {result.metric} (greater is better)", title_justify="left")
    pruned = any(m.n_pruned for m in result.models)
    columns = ["model", "best", "std", "test", "trials", "failed", *(["pruned"] if pruned else []), "stopped"]
    for column in columns:
        table.add_column(column, justify="left" if column in ("model", "stopped") else "right", no_wrap=True)
    for m in result.models:
        mark = " *" if m.name == result.best_model else ""
        row = [m.name + mark, _fmt(m.best.mean_test_score if m.best else None),
               _fmt(m.best.std_test_score if m.best else None), _fmt(m.test_score), str(len(m.trials)),
               str(m.n_failed), *([str(m.n_pruned)] if pruned else []), _REASONS.get(m.stop_reason, m.stop_reason)]
        table.add_row(*row)
    console.print(table)
    if result.best_model:
        console.print(f"Best model: {result.best_model}", markup=False)
    for warning in result.warnings:
        console.print(f"warning: {warning}", markup=False)
    console.print(f"Run folder: {result.run_dir}", markup=False)
    if result.failed_models:
        console.print(f"Run failed: every trial of {', '.join(result.failed_models)} failed (exit 1).", markup=False)
